//! seccomp filters: classic BPF programs checked as Linux checks them
//! (`bpf_check_classic` and `seccomp_check_filter`) and run against a
//! system call's `seccomp_data`, and the rule that picks one action among
//! stacked filters.
//!
//! Not wired to system calls yet: this is the evaluator the OCI profile
//! (compiled by libseccomp) and seccomp(2) will share.

use nix::errno::Errno;

/// Most instructions in one filter (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;
/// Scratch memory words (`BPF_MEMWORDS`).
const MEM_WORDS: u32 = 16;
/// Size of `struct seccomp_data`.
const DATA_LEN: u32 = 64;

/// SECCOMP_RET_KILL_PROCESS.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// SECCOMP_RET_KILL_THREAD.
pub const RET_KILL_THREAD: u32 = 0;
/// SECCOMP_RET_TRAP.
pub const RET_TRAP: u32 = 0x0003_0000;
/// SECCOMP_RET_ERRNO.
pub const RET_ERRNO: u32 = 0x0005_0000;
/// SECCOMP_RET_USER_NOTIF.
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// SECCOMP_RET_TRACE.
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// SECCOMP_RET_LOG.
pub const RET_LOG: u32 = 0x7ffc_0000;
/// SECCOMP_RET_ALLOW.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// The action part of a return value (`SECCOMP_RET_ACTION_FULL`).
pub const ACTION_FULL: u32 = 0xffff_0000;

// Classic BPF opcode fields.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const SRC_X: u16 = 0x08;
const RVAL_A: u16 = 0x10;

/// One instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    /// Opcode.
    pub code: u16,
    /// Jump offset when true.
    pub jt: u8,
    /// Jump offset when false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// What a filter sees of a call (`struct seccomp_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompData {
    /// System call number.
    pub nr: i32,
    /// AUDIT_ARCH_* value.
    pub arch: u32,
    /// Address of the instruction after the call.
    pub ip: u64,
    /// The six arguments, full 64 bits.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `off` (aligned, inside the struct).
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => self.ip as u32,
            12 => (self.ip >> 32) as u32,
            _ => {
                let i = ((off - 16) / 8) as usize;
                let v = self.args[i.min(5)];
                if (off - 16) % 8 == 0 { v as u32 } else { (v >> 32) as u32 }
            }
        }
    }
}

/// A checked filter program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    prog: Vec<SockFilter>,
}

fn alu_op(op: u16) -> bool {
    // ADD SUB MUL DIV OR AND LSH RSH NEG MOD XOR
    matches!(op, 0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0x90 | 0xa0)
}

impl Filter {
    /// Checks `prog` as Linux does before installing it: EINVAL for an
    /// empty or too long program, an instruction seccomp does not allow, a
    /// jump out of the program, a division by a constant zero, a load of
    /// scratch memory never stored, or a last instruction that is not a
    /// return.
    pub fn new(prog: Vec<SockFilter>) -> Result<Filter, Errno> {
        let len = prog.len();
        if len == 0 || len > MAX_INSNS {
            return Err(Errno::EINVAL);
        }
        // Scratch words certainly stored on every path to each instruction;
        // jumps only go forward, so one pass in order suffices.
        let mut stored = vec![u16::MAX; len];
        stored[0] = 0;
        for (pc, ins) in prog.iter().enumerate() {
            let class = ins.code & 0x07;
            let mut now = stored[pc];
            let next = |off: u32| -> Result<usize, Errno> {
                let to = pc as u64 + 1 + u64::from(off);
                if to < len as u64 { Ok(to as usize) } else { Err(Errno::EINVAL) }
            };
            let successors: Vec<usize> = match class {
                LD | LDX => {
                    match ins.code & !0x07 {
                        m if m == W | ABS && class == LD => {
                            if ins.k % 4 != 0 || ins.k >= DATA_LEN {
                                return Err(Errno::EINVAL);
                            }
                        }
                        m if m == W | LEN || m == W | IMM => {}
                        m if m == W | MEM => {
                            if ins.k >= MEM_WORDS || now & (1 << ins.k) == 0 {
                                return Err(Errno::EINVAL);
                            }
                        }
                        _ => return Err(Errno::EINVAL),
                    }
                    vec![next(0)?]
                }
                ST | STX => {
                    if ins.code != class || ins.k >= MEM_WORDS {
                        return Err(Errno::EINVAL);
                    }
                    now |= 1 << ins.k;
                    vec![next(0)?]
                }
                ALU => {
                    let op = ins.code & 0xf0;
                    if !alu_op(op) || ins.code & !(0xf0 | SRC_X | 0x07) != 0 {
                        return Err(Errno::EINVAL);
                    }
                    if (op == 0x30 || op == 0x90) && ins.code & SRC_X == 0 && ins.k == 0 {
                        return Err(Errno::EINVAL);
                    }
                    vec![next(0)?]
                }
                JMP => match ins.code & 0xf0 {
                    0x00 if ins.code == JMP => vec![next(ins.k)?],
                    0x10..=0x40 if ins.code & !(0xf0 | SRC_X | 0x07) == 0 => {
                        vec![next(u32::from(ins.jt))?, next(u32::from(ins.jf))?]
                    }
                    _ => return Err(Errno::EINVAL),
                },
                RET => {
                    if ins.code != RET && ins.code != RET | RVAL_A {
                        return Err(Errno::EINVAL);
                    }
                    Vec::new()
                }
                // MISC: TAX (0x00) and TXA (0x80) only.
                _ => {
                    if ins.code != MISC && ins.code != MISC | 0x80 {
                        return Err(Errno::EINVAL);
                    }
                    vec![next(0)?]
                }
            };
            for s in successors {
                stored[s] &= now;
            }
        }
        if prog[len - 1].code & 0x07 != RET {
            return Err(Errno::EINVAL);
        }
        Ok(Filter { prog })
    }

    /// Instructions in the program.
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    /// Whether the program is empty (never, once checked).
    pub fn is_empty(&self) -> bool {
        self.prog.is_empty()
    }

    /// Runs the program on `data`; its return value.
    pub fn run(&self, data: &SeccompData) -> u32 {
        let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; MEM_WORDS as usize]);
        let mut pc = 0usize;
        while let Some(ins) = self.prog.get(pc) {
            pc += 1;
            let class = ins.code & 0x07;
            let src = if ins.code & SRC_X != 0 { x } else { ins.k };
            match class {
                LD => {
                    a = match ins.code & !0x07 {
                        m if m == W | ABS => data.word(ins.k),
                        m if m == W | LEN => DATA_LEN,
                        m if m == W | MEM => mem[ins.k as usize % 16],
                        _ => ins.k,
                    }
                }
                LDX => {
                    x = match ins.code & !0x07 {
                        m if m == W | LEN => DATA_LEN,
                        m if m == W | MEM => mem[ins.k as usize % 16],
                        _ => ins.k,
                    }
                }
                ST => mem[ins.k as usize % 16] = a,
                STX => mem[ins.k as usize % 16] = x,
                ALU => {
                    a = match ins.code & 0xf0 {
                        0x00 => a.wrapping_add(src),
                        0x10 => a.wrapping_sub(src),
                        0x20 => a.wrapping_mul(src),
                        0x30 if src == 0 => return 0,
                        0x30 => a / src,
                        0x40 => a | src,
                        0x50 => a & src,
                        0x60 => a.checked_shl(src).unwrap_or(0),
                        0x70 => a.checked_shr(src).unwrap_or(0),
                        0x80 => a.wrapping_neg(),
                        0x90 if src == 0 => return 0,
                        0x90 => a % src,
                        _ => a ^ src,
                    }
                }
                JMP => {
                    let taken = match ins.code & 0xf0 {
                        0x00 => {
                            pc += ins.k as usize;
                            continue;
                        }
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        _ => a & src != 0,
                    };
                    pc += usize::from(if taken { ins.jt } else { ins.jf });
                }
                RET => return if ins.code & RVAL_A != 0 { a } else { ins.k },
                _ => {
                    if ins.code & 0x80 != 0 {
                        a = x;
                    } else {
                        x = a;
                    }
                }
            }
        }
        // Unreachable for a checked program, whose last instruction returns.
        RET_KILL_PROCESS
    }
}

/// The value of the filters' results that takes effect: the lowest action
/// compared as a signed number (KILL_PROCESS first, ALLOW last), the
/// newest filter's on a tie. `results` runs from the newest filter to the
/// oldest; none means ALLOW.
pub fn combine(results: impl IntoIterator<Item = u32>) -> u32 {
    let mut best: Option<u32> = None;
    for r in results {
        let rank = |v: u32| (v & ACTION_FULL) as i32;
        if best.is_none_or(|b| rank(r) < rank(b)) {
            best = Some(r);
        }
    }
    best.unwrap_or(RET_ALLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(code: u16, k: u32) -> SockFilter {
        SockFilter { code, jt: 0, jf: 0, k }
    }

    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    /// ERRNO(`errno`) for call `nr` on x86-64, ALLOW otherwise.
    fn deny(nr: u32, errno: u32) -> Filter {
        Filter::new(vec![
            stmt(LD | W | ABS, 4),
            jump(JMP | 0x10, 0xc000_003e, 1, 0),
            stmt(RET, RET_KILL_PROCESS),
            stmt(LD | W | ABS, 0),
            jump(JMP | 0x10, nr, 0, 1),
            stmt(RET, RET_ERRNO | errno),
            stmt(RET, RET_ALLOW),
        ])
        .unwrap()
    }

    #[test]
    fn a_filter_decides_by_number_and_architecture() {
        let f = deny(110, 1);
        let call = |nr, arch| SeccompData { nr, arch, ..SeccompData::default() };
        assert_eq!(f.run(&call(110, 0xc000_003e)), RET_ERRNO | 1);
        assert_eq!(f.run(&call(39, 0xc000_003e)), RET_ALLOW);
        assert_eq!(f.run(&call(110, 0x4000_0003)), RET_KILL_PROCESS);
    }

    #[test]
    fn arguments_are_read_as_two_halves() {
        // ERRNO when args[0]'s low half is 5 and its high half 0.
        let f = Filter::new(vec![
            stmt(LD | W | ABS, 16),
            jump(JMP | 0x10, 5, 0, 3),
            stmt(LD | W | ABS, 20),
            jump(JMP | 0x10, 0, 0, 1),
            stmt(RET, RET_ERRNO | 25),
            stmt(RET, RET_ALLOW),
        ])
        .unwrap();
        let with = |a0| SeccompData { args: [a0, 0, 0, 0, 0, 0], ..SeccompData::default() };
        assert_eq!(f.run(&with(5)), RET_ERRNO | 25);
        assert_eq!(f.run(&with(5 | 1 << 32)), RET_ALLOW);
    }

    #[test]
    fn linux_refuses_the_same_programs() {
        let bad = |p: Vec<SockFilter>| Filter::new(p).unwrap_err();
        assert_eq!(bad(vec![]), Errno::EINVAL);
        assert_eq!(bad(vec![stmt(LD | W | ABS, 0)]), Errno::EINVAL, "no final return");
        assert_eq!(bad(vec![jump(JMP | 0x10, 0, 5, 0), stmt(RET, 0)]), Errno::EINVAL, "jump past the end");
        assert_eq!(bad(vec![stmt(LD | W | 0x40, 0), stmt(RET, 0)]), Errno::EINVAL, "BPF_IND");
        assert_eq!(bad(vec![stmt(LD | W | ABS, 64), stmt(RET, 0)]), Errno::EINVAL, "past seccomp_data");
        assert_eq!(bad(vec![stmt(LD | W | ABS, 2), stmt(RET, 0)]), Errno::EINVAL, "misaligned");
        assert_eq!(bad(vec![stmt(ALU | 0x30, 0), stmt(RET, 0)]), Errno::EINVAL, "divide by constant 0");
        assert_eq!(bad(vec![stmt(LD | W | MEM, 3), stmt(RET, 0)]), Errno::EINVAL, "memory never stored");
        assert_eq!(bad(vec![stmt(RET, 0); MAX_INSNS + 1]), Errno::EINVAL);
        let stored = vec![stmt(ST, 3), stmt(LD | W | MEM, 3), stmt(RET | RVAL_A, 0)];
        assert_eq!(Filter::new(stored).unwrap().run(&SeccompData::default()), 0);
    }

    #[test]
    fn the_strictest_action_wins_and_the_newest_breaks_ties() {
        assert_eq!(combine([RET_ERRNO | 13, RET_ERRNO | 1]), RET_ERRNO | 13);
        assert_eq!(combine([RET_LOG, RET_ERRNO | 1]), RET_ERRNO | 1);
        assert_eq!(combine([RET_ERRNO | 1, RET_TRAP]), RET_TRAP);
        assert_eq!(combine([RET_ALLOW, RET_KILL_PROCESS]), RET_KILL_PROCESS);
        assert_eq!(combine([RET_KILL_THREAD, RET_TRAP]), RET_KILL_THREAD);
        assert_eq!(combine([]), RET_ALLOW);
    }
}
