//! Process creation, waiting, groups and sessions.

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::fork::{self, CloneArgs, ForkError};
use crate::kernel::process::{WaitFor, WaitOutcome, WaitWhat};
use crate::kernel::{ExitStatus, KernelRef, Task};

impl From<ForkError> for SysError {
    fn from(e: ForkError) -> Self {
        match e {
            ForkError::Errno(e) => SysError::Errno(e),
            ForkError::Fatal(k) => SysError::Fatal(k),
        }
    }
}

fn do_clone(k: &KernelRef, t: &mut Task, args: CloneArgs) -> SysResult {
    Ok(fork::clone_process(k, t, args)? as i64)
}

pub(super) fn fork(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    do_clone(k, t, CloneArgs { flags: libc::SIGCHLD as u64, ..CloneArgs::default() })
}

pub(super) fn vfork(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64;
    do_clone(k, t, CloneArgs { flags, ..CloneArgs::default() })
}

pub(super) fn clone(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls.
    do_clone(k, t, CloneArgs { flags: a[0], stack: a[1], parent_tid: a[2], child_tid: a[3], tls: a[4] })
}

/// `CLONE_ARGS_SIZE_VER0`: the smallest `struct clone_args`.
const CLONE_ARGS_VER0: u64 = 64;

pub(super) fn clone3(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let size = a[1];
    if !(CLONE_ARGS_VER0..=4096).contains(&size) {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(a[0], size as usize)?;
    let word = |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    // A larger struct than this kernel knows must be zero past what it knows.
    let known = raw.len().min(88);
    if raw[known..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG.into());
    }
    // The pidfd field counts only with CLONE_PIDFD (glibc fills it anyway).
    let (flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) =
        (word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7));
    let set_tid_size = if raw.len() >= 80 { word(9) } else { 0 };
    let cgroup = if raw.len() >= 88 { word(10) } else { 0 };
    // Signals and flags clone's low byte cannot carry, CLONE_PIDFD, a pid to
    // choose or a cgroup to start in: not for sandboxed processes yet.
    if exit_signal > 64 || flags & 0xff != 0 || flags & libc::CLONE_PIDFD as u64 != 0 {
        return Err(Errno::EINVAL.into());
    }
    if set_tid_size != 0 || cgroup != 0 || flags & 0x2_0000_0000 != 0 {
        return Err(Errno::EINVAL.into());
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL.into());
    }
    let top = if stack == 0 { 0 } else { stack.checked_add(stack_size).ok_or(Errno::EINVAL)? };
    do_clone(k, t, CloneArgs { flags: flags | exit_signal, stack: top, parent_tid, child_tid, tls })
}

/// The wait status word of an exit, as wait4 reports it. moat writes no
/// core dumps, so the core bit is never set.
fn status_word(s: ExitStatus) -> i32 {
    match s {
        ExitStatus::Code(c) => (c & 0xff) << 8,
        ExitStatus::Signal(sig) => sig & 0x7f,
    }
}

const WAIT_OPTIONS: i32 =
    libc::WNOHANG | libc::WUNTRACED | libc::WCONTINUED | libc::__WALL | libc::__WCLONE | libc::__WNOTHREAD;

pub(super) fn wait4(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, status, options, rusage) = (int(a[0]), a[1], int(a[2]), a[3]);
    if options & !WAIT_OPTIONS != 0 {
        return Err(Errno::EINVAL.into());
    }
    let sel = match pid {
        -1 => WaitFor::Any,
        0 => WaitFor::Group(0),
        p if p > 0 => WaitFor::Pid(p),
        p if p == i32::MIN => return Err(Errno::ESRCH.into()),
        p => WaitFor::Group(-p),
    };
    let what = WaitWhat {
        exited: true,
        stopped: options & libc::WUNTRACED != 0,
        continued: options & libc::WCONTINUED != 0,
        keep: false,
    };
    let outcome = match k.wait_child(t, sel, what, options & libc::WNOHANG != 0) {
        Err(Errno::EINTR) => return Err(SysError::Restart(crate::kernel::blocking::Restart::Sys)),
        other => other?,
    };
    // A stopped or continued child reports no usage here (Linux fills
    // its current use; the stub's is not at hand in the table).
    let (child, word, usage) = match outcome {
        WaitOutcome::NotYet => return Ok(0),
        WaitOutcome::Exited(child, st, usage) => (child, status_word(st), usage),
        WaitOutcome::Stopped(child, sig) => (child, (sig << 8) | 0x7f, Default::default()),
        WaitOutcome::Continued(child) => (child, 0xffff, Default::default()),
    };
    if status != 0 {
        t.mm.copy_out(status, &word.to_le_bytes())?;
    }
    if rusage != 0 {
        t.mm.copy_out(rusage, &usage.rusage_bytes())?;
    }
    Ok(child as i64)
}

pub(super) fn waitid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (idtype, id, infop, options) = (int(a[0]) as u32, int(a[1]), a[2], int(a[3]));
    let known = libc::WNOHANG
        | libc::WEXITED
        | libc::WSTOPPED
        | libc::WCONTINUED
        | libc::WNOWAIT
        | libc::__WALL
        | libc::__WCLONE
        | libc::__WNOTHREAD;
    if options & !known != 0 || options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) == 0 {
        return Err(Errno::EINVAL.into());
    }
    let sel = match idtype {
        libc::P_ALL => WaitFor::Any,
        libc::P_PID if id > 0 => WaitFor::Pid(id),
        libc::P_PGID if id >= 0 => WaitFor::Group(id),
        _ => return Err(Errno::EINVAL.into()),
    };
    let what = WaitWhat {
        exited: options & libc::WEXITED != 0,
        stopped: options & libc::WSTOPPED != 0,
        continued: options & libc::WCONTINUED != 0,
        keep: options & libc::WNOWAIT != 0,
    };
    let outcome = match k.wait_child(t, sel, what, options & libc::WNOHANG != 0) {
        Err(Errno::EINTR) => return Err(SysError::Restart(crate::kernel::blocking::Restart::Sys)),
        other => other?,
    };
    let mut info = [0u8; 128];
    if a[4] != 0 {
        // The raw call's fifth argument: the child's rusage, as wait4 gives.
        let usage = match outcome {
            WaitOutcome::Exited(_, _, usage) => usage,
            _ => Default::default(),
        };
        t.mm.copy_out(a[4], &usage.rusage_bytes())?;
    }
    let reported = match outcome {
        WaitOutcome::NotYet => None,
        WaitOutcome::Exited(child, ExitStatus::Code(c), _) => Some((child, libc::CLD_EXITED, c & 0xff)),
        WaitOutcome::Exited(child, ExitStatus::Signal(s), _) => Some((child, libc::CLD_KILLED, s)),
        WaitOutcome::Stopped(child, sig) => Some((child, libc::CLD_STOPPED, sig)),
        WaitOutcome::Continued(child) => Some((child, libc::CLD_CONTINUED, libc::SIGCONT)),
    };
    if let Some((child, code, status)) = reported {
        info[0..4].copy_from_slice(&libc::SIGCHLD.to_le_bytes());
        info[8..12].copy_from_slice(&code.to_le_bytes());
        info[16..20].copy_from_slice(&child.to_le_bytes());
        info[20..24].copy_from_slice(&t.creds.uid.to_le_bytes());
        info[24..28].copy_from_slice(&status.to_le_bytes());
    }
    if infop != 0 {
        t.mm.copy_out(infop, &info)?;
    }
    Ok(0)
}

pub(super) fn getppid(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(k.procs().get(t.pid).map_or(0, |p| p.ppid) as i64)
}

fn proc_field(k: &KernelRef, t: &Task, pid: i32, f: fn(&crate::kernel::process::Proc) -> i32) -> SysResult {
    let pid = if pid == 0 { t.pid } else { pid };
    let procs = k.procs();
    Ok(f(procs.get(pid).ok_or(Errno::ESRCH)?) as i64)
}

pub(super) fn getpgid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    proc_field(k, t, int(a[0]), |p| p.pgid)
}

pub(super) fn getpgrp(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    proc_field(k, t, 0, |p| p.pgid)
}

pub(super) fn getsid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    proc_field(k, t, int(a[0]), |p| p.sid)
}

pub(super) fn setpgid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    k.procs().setpgid(t.pid, int(a[0]), int(a[1]))?;
    Ok(0)
}

pub(super) fn setsid(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(k.procs().setsid(t.pid)? as i64)
}
