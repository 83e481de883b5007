//! x86-64: registers and the system call ABI. Data and pure functions only.

/// The general registers of a thread, as ptrace reads them. `fs_base` and
/// `gs_base` ride along, so TLS needs no extra call.
pub type Regs = libc::user_regs_struct;

/// Page size of x86-64.
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `v` down to a page boundary.
pub fn page_down(v: u64) -> u64 {
    v & !(PAGE_SIZE - 1)
}

/// Rounds `v` up to a page boundary, `None` on overflow.
pub fn page_up(v: u64) -> Option<u64> {
    v.checked_add(PAGE_SIZE - 1).map(page_down)
}

/// The first address above user space (47-bit addresses).
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// A system call as the application made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallArgs {
    /// System call number (`orig_rax`).
    pub nr: u64,
    /// Arguments: rdi, rsi, rdx, r10, r8, r9.
    pub args: [u64; 6],
}

impl SyscallArgs {
    /// Reads the call from registers stopped at system call entry.
    pub fn from_regs(r: &Regs) -> Self {
        SyscallArgs { nr: r.orig_rax, args: [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9] }
    }
}

/// Loads a system call into registers, for injection.
pub fn set_syscall(r: &mut Regs, nr: i64, args: [u64; 6]) {
    r.rax = nr as u64;
    r.orig_rax = nr as u64;
    r.rdi = args[0];
    r.rsi = args[1];
    r.rdx = args[2];
    r.r10 = args[3];
    r.r8 = args[4];
    r.r9 = args[5];
}

/// Decodes a raw system call return: negative errno values in -4095..-1
/// are errors, anything else is a value.
pub fn syscall_result(rax: u64) -> Result<u64, i32> {
    let v = rax as i64;
    if (-4095..0).contains(&v) { Err(-v as i32) } else { Ok(rax) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_results() {
        assert_eq!(page_down(0x1fff), 0x1000);
        assert_eq!(page_up(0x1001), Some(0x2000));
        assert_eq!(page_up(u64::MAX), None);
        assert_eq!(syscall_result((-2i64) as u64), Err(2));
        assert_eq!(syscall_result(0x7f00_0000_0000), Ok(0x7f00_0000_0000));
        assert_eq!(syscall_result((-4096i64) as u64), Ok((-4096i64) as u64));
    }
}
