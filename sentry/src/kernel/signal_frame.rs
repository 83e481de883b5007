//! The x86-64 signal frame (`struct rt_sigframe`): built on the
//! application's stack when a handler runs, read back by rt_sigreturn.
//!
//! Layout, from the frame's start (where rsp points at handler entry):
//! the restorer address (8), the ucontext (uc_flags, uc_link, uc_stack,
//! the 256-byte sigcontext, uc_sigmask: 304 bytes), the siginfo (128).
//! Above it, 64-byte aligned, the XSAVE image of the FPU/SSE/AVX state,
//! ended by FP_XSTATE_MAGIC2, as Linux lays it out.

use nix::errno::Errno;

use super::Task;
use super::signals::SigAction;
use super::sigqueue::SigInfo;
use crate::platform::ptrace::PlatformError;

const UC_OFF: u64 = 8;
const SC_OFF: u64 = UC_OFF + 40;
const MASK_OFF: u64 = SC_OFF + 256;
const INFO_OFF: u64 = MASK_OFF + 8;
const FRAME_SIZE: u64 = INFO_OFF + 128;
const RED_ZONE: u64 = 128;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;
/// Flags the application may change through a signal frame.
const FIX_EFLAGS: u64 = 0x40000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x10000;
/// Largest XSAVE image accepted back from a frame.
const XSTATE_MAX: usize = 16 * 1024;

/// Why a frame could not be built or restored.
#[derive(Debug)]
pub enum FrameError {
    /// The stack or frame was not writable/readable, or was malformed:
    /// Linux forces SIGSEGV.
    Bad,
    /// The platform failed.
    Platform(PlatformError),
}

impl From<Errno> for FrameError {
    fn from(_: Errno) -> Self {
        FrameError::Bad
    }
}

fn put(b: &mut [u8], off: u64, v: u64) {
    let o = off as usize;
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Builds the frame for `info` with action `act` on `task`'s stack and
/// points its registers at the handler. `old_mask` is the mask to restore
/// at rt_sigreturn.
pub fn build(task: &mut Task, info: &SigInfo, act: &SigAction, old_mask: u64) -> Result<(), FrameError> {
    let xstate = task.mm.stub().get_xstate().map_err(FrameError::Platform)?;
    let r = task.regs;
    let on_alt = task.altstack.contains(r.rsp);
    let use_alt = act.flags & libc::SA_ONSTACK as u64 != 0 && task.altstack.flags & libc::SS_DISABLE == 0 && !on_alt;
    let mut sp = if use_alt { task.altstack.sp + task.altstack.size } else { r.rsp.wrapping_sub(RED_ZONE) };
    let xlen = xstate.len() as u64;
    sp = sp.wrapping_sub(xlen + 4) & !63;
    let fp_at = sp;
    let frame = (sp.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);

    let mut fp = xstate;
    // The software-reserved bytes of the FXSAVE area say the image is a
    // full XSAVE one, and how long; MAGIC2 follows it.
    if fp.len() >= 512 {
        let xfeatures = get(&fp, 512);
        fp[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
        fp[468..472].copy_from_slice(&((xlen + 4) as u32).to_le_bytes());
        fp[472..480].copy_from_slice(&xfeatures.to_le_bytes());
        fp[480..484].copy_from_slice(&(xlen as u32).to_le_bytes());
    }
    fp.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());

    let mut f = vec![0u8; FRAME_SIZE as usize];
    put(&mut f, 0, act.restorer);
    put(&mut f, UC_OFF, UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    put(&mut f, UC_OFF + 16, task.altstack.sp);
    let ss_flags = if on_alt { libc::SS_ONSTACK } else { task.altstack.flags };
    f[(UC_OFF + 24) as usize..(UC_OFF + 28) as usize].copy_from_slice(&ss_flags.to_le_bytes());
    put(&mut f, UC_OFF + 32, task.altstack.size);
    let gprs = [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp,
        r.rip, r.eflags,
    ];
    for (i, v) in gprs.iter().enumerate() {
        put(&mut f, SC_OFF + i as u64 * 8, *v);
    }
    let segs = (r.cs & 0xffff) | ((r.gs & 0xffff) << 16) | ((r.fs & 0xffff) << 32) | ((r.ss & 0xffff) << 48);
    put(&mut f, SC_OFF + 144, segs);
    put(&mut f, SC_OFF + 152, 0); // err
    let trapno = if info.signo == libc::SIGSEGV || info.signo == libc::SIGBUS { 14 } else { 0 };
    put(&mut f, SC_OFF + 160, trapno);
    put(&mut f, SC_OFF + 168, old_mask);
    put(&mut f, SC_OFF + 176, if trapno == 14 { info.addr } else { 0 }); // cr2
    put(&mut f, SC_OFF + 184, fp_at);
    put(&mut f, MASK_OFF, old_mask);
    f[INFO_OFF as usize..].copy_from_slice(&info.to_bytes());

    task.mm.copy_out(fp_at, &fp)?;
    task.mm.copy_out(frame, &f)?;
    let regs = &mut task.regs;
    regs.rsp = frame;
    regs.rip = act.handler;
    regs.rdi = info.signo as u64;
    regs.rsi = frame + INFO_OFF;
    regs.rdx = frame + UC_OFF;
    regs.rax = 0;
    regs.orig_rax = u64::MAX;
    // The handler runs with DF, TF and RF clear, as on Linux.
    regs.eflags &= !(0x400 | 0x100 | 0x10000);
    Ok(())
}

/// rt_sigreturn: restores registers, FPU state and mask from the frame
/// whose ucontext is at the stack pointer. Returns the mask to set.
pub fn restore(task: &mut Task) -> Result<u64, FrameError> {
    let frame = task.regs.rsp.wrapping_sub(8);
    let f = task.mm.copy_in(frame, FRAME_SIZE as usize)?;
    let mut r = task.regs;
    let g = |i: u64| get(&f, SC_OFF + i * 8);
    (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) = (g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7));
    (r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp, r.rip) =
        (g(8), g(9), g(10), g(11), g(12), g(13), g(14), g(15), g(16));
    r.eflags = (r.eflags & !FIX_EFLAGS) | (g(17) & FIX_EFLAGS);
    r.orig_rax = u64::MAX;
    let fp_at = get(&f, SC_OFF + 184);
    if fp_at != 0 {
        // The image's own header says how long it is; bounded here.
        let head = task.mm.copy_in(fp_at, 512)?;
        let len = u32::from_le_bytes([head[480], head[481], head[482], head[483]]) as usize;
        let magic = u32::from_le_bytes([head[464], head[465], head[466], head[467]]);
        let img = if magic == FP_XSTATE_MAGIC1 && (512..=XSTATE_MAX).contains(&len) {
            task.mm.copy_in(fp_at, len)?
        } else {
            head
        };
        task.mm.stub().set_xstate(&img).map_err(|_| FrameError::Bad)?;
    }
    task.regs = r;
    Ok(get(&f, MASK_OFF))
}
