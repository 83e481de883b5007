//! Signal calls: actions, masks, sending, waiting, frames.

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::process::ProcState;
use crate::kernel::signal_frame::{self, FrameError};
use crate::kernel::signals::{AltStack, SigAction};
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::{KernelRef, Task};

const SIGSET_SIZE: u64 = 8;

pub(super) fn rt_sigaction(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (sig, act, oact) = (int(a[0]), a[1], a[2]);
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let new = if act != 0 { Some(SigAction::from_bytes(&t.mm.copy_in(act, 32)?)?) } else { None };
    let old = match new {
        Some(n) => {
            let old = t.signals.set_action(sig, n)?;
            t.queue.set_no_child_stops(t.signals.no_child_stops());
            old
        }
        None => t.signals.action(sig)?,
    };
    if oact != 0 {
        t.mm.copy_out(oact, &old.to_bytes())?;
    }
    Ok(0)
}

pub(super) fn rt_sigprocmask(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (how, set, oset) = (int(a[0]), a[1], a[2]);
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let old = if set != 0 {
        let raw = t.mm.copy_in(set, 8)?;
        let s = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
        t.signals.change_mask(how, s)?
    } else {
        t.signals.mask()
    };
    if oset != 0 {
        t.mm.copy_out(oset, &old.to_le_bytes())?;
    }
    Ok(0)
}

fn check_signo(sig: i32) -> Result<(), Errno> {
    if (0..=64).contains(&sig) { Ok(()) } else { Err(Errno::EINVAL) }
}

/// Whether `t` may signal process `pid`: by its credentials (or
/// CAP_KILL), or SIGCONT within its session, as Linux's kill permits.
fn permitted(k: &KernelRef, t: &Task, pid: i32, signo: i32) -> bool {
    let Some(target) = k.proc_infos.creds(pid) else { return true };
    if t.creds.may_signal(&target) {
        return true;
    }
    let procs = k.procs();
    let sid = |p: i32| procs.get(p).map(|x| x.sid);
    signo == libc::SIGCONT && sid(pid).is_some() && sid(pid) == sid(t.pid)
}

/// Sends `sig` from `t` to each pid of `targets`; ESRCH if there are none.
fn send_to(k: &KernelRef, t: &Task, targets: Vec<i32>, info: SigInfo) -> SysResult {
    if targets.is_empty() {
        return Err(Errno::ESRCH.into());
    }
    let mut sent = false;
    let mut err = Errno::ESRCH;
    for pid in targets {
        if !permitted(k, t, pid, info.signo) {
            err = Errno::EPERM;
            continue;
        }
        if info.signo == 0 {
            sent = true;
            continue;
        }
        match k.send_signal(pid, SigInfo { pid: t.pid, uid: t.creds.ruid, ..info }) {
            Ok(()) => sent = true,
            Err(e) => err = e,
        }
    }
    if sent { Ok(0) } else { Err(err.into()) }
}

pub(super) fn kill(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, sig) = (int(a[0]), int(a[1]));
    check_signo(sig)?;
    let targets: Vec<i32> = {
        let procs = k.procs();
        let alive = |p: i32| procs.get(p).is_some_and(|x| x.state == ProcState::Running);
        match pid {
            p if p > 0 => procs.get(p).map(|_| p).into_iter().collect(),
            -1 => procs.pids().filter(|&p| p != 1 && p != t.pid && alive(p)).collect(),
            p => {
                let group = if p == 0 { procs.get(t.pid).map_or(0, |x| x.pgid) } else { -p };
                procs.pids().filter(|&q| procs.get(q).is_some_and(|x| x.pgid == group) && alive(q)).collect()
            }
        }
    };
    send_to(k, t, targets, SigInfo::user(sig, 0, 0))
}

pub(super) fn tgkill(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (tgid, tid, sig) = (int(a[0]), int(a[1]), int(a[2]));
    check_signo(sig)?;
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL.into());
    }
    to_thread(k, t, Some(tgid), tid, sig)
}

pub(super) fn tkill(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (tid, sig) = (int(a[0]), int(a[1]));
    check_signo(sig)?;
    if tid <= 0 {
        return Err(Errno::EINVAL.into());
    }
    to_thread(k, t, None, tid, sig)
}

/// Sends `sig` to thread `tid` alone (of process `tgid`, if given).
fn to_thread(k: &KernelRef, t: &Task, tgid: Option<i32>, tid: i32, sig: i32) -> SysResult {
    let exists = match tgid {
        Some(g) => k.group(g).is_some_and(|grp| grp.thread(tid).is_some()),
        None => k.tasks().contains_key(&tid),
    };
    if !exists {
        return Err(Errno::ESRCH.into());
    }
    let pid = tgid.or_else(|| k.process_of(tid)).unwrap_or(tid);
    if !permitted(k, t, pid, sig) {
        return Err(Errno::EPERM.into());
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = SigInfo { signo: sig, code: libc::SI_TKILL, pid: t.pid, uid: t.creds.ruid, ..SigInfo::default() };
    k.send_to_thread(tgid, tid, info)?;
    Ok(0)
}

pub(super) fn rt_sigreturn(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    match signal_frame::restore(t) {
        Ok(mask) => {
            t.signals.set_mask(mask);
            Ok(t.regs.rax as i64)
        }
        Err(FrameError::Platform(p)) => Err(SysError::Fatal(p.into())),
        Err(FrameError::Bad) => {
            // A frame that cannot be read back: Linux forces SIGSEGV.
            t.exit_group(crate::kernel::ExitStatus::Signal(libc::SIGSEGV));
            Ok(0)
        }
    }
}

pub(super) fn rt_sigsuspend(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[1] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(a[0], 8)?;
    let mask = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
    t.set_temporary_mask(mask);
    t.queue.wait_unblocked(t.signals.mask());
    // The handler's frame restores the old mask; without one, delivery does
    // and the call goes on waiting.
    Err(SysError::Restart(crate::kernel::blocking::Restart::NoHand))
}

pub(super) fn pause(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    t.queue.wait_unblocked(t.signals.mask());
    Err(SysError::Restart(crate::kernel::blocking::Restart::NoHand))
}

pub(super) fn rt_sigpending(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[1] > SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let set = t.queue.lock().set() & t.signals.mask();
    t.mm.copy_out(a[0], &set.to_le_bytes()[..a[1] as usize])?;
    Ok(0)
}

/// `MINSIGSTKSZ` of x86-64.
const MINSIGSTKSZ: u64 = 2048;

pub(super) fn sigaltstack(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (ss, old) = (a[0], a[1]);
    let on = t.altstack.contains(t.regs.rsp);
    let current = t.altstack;
    if ss != 0 {
        let b = t.mm.copy_in(ss, 24)?;
        let sp = u64::from_le_bytes(b[0..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = i32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_le_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
        if on {
            return Err(Errno::EPERM.into());
        }
        let mode = flags & !(1 << 31); // SS_AUTODISARM is accepted
        let cur_flags = if current.flags & libc::SS_DISABLE != 0 { 0 } else { current.flags };
        // Linux changes nothing, and checks nothing, when nothing would change.
        let unchanged = sp == current.sp && size == current.size && flags == cur_flags;
        t.altstack = match mode {
            _ if unchanged => current,
            libc::SS_DISABLE => AltStack::default(),
            0 | libc::SS_ONSTACK => {
                if size < MINSIGSTKSZ {
                    return Err(Errno::ENOMEM.into());
                }
                AltStack { sp, size, flags: 0 }
            }
            _ => return Err(Errno::EINVAL.into()),
        };
    }
    if old != 0 {
        let mut b = [0u8; 24];
        let flags = if on { libc::SS_ONSTACK } else { current.flags };
        b[0..8].copy_from_slice(&current.sp.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&current.size.to_le_bytes());
        t.mm.copy_out(old, &b)?;
    }
    Ok(0)
}

pub(super) fn rt_sigtimedwait(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(a[0], 8)?;
    let set = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?)
        & !crate::kernel::signals::bit(libc::SIGKILL)
        & !crate::kernel::signals::bit(libc::SIGSTOP);
    let deadline = if a[2] == 0 { None } else { Some(std::time::Instant::now() + super::read_timespec(t, a[2])?) };
    loop {
        // A signal of `set` is taken even while blocked, as sigwait does;
        // a signal for the process that another thread blocks too.
        if let Some(info) = t.queue.lock().take(!set).or_else(|| from_other_threads(t, set)) {
            if a[1] != 0 {
                t.mm.copy_out(a[1], &info.to_bytes())?;
            }
            return Ok(info.signo as i64);
        }
        // Another signal the task does not block ends the wait with EINTR
        // (it is delivered on the way back).
        let mask = t.signals.mask();
        if t.queue.has_unblocked(mask) {
            return Err(Errno::EINTR.into());
        }
        // With other threads, whose queues may get a signal of `set`, look
        // again every 10 ms.
        let step = (t.group.len() > 1).then(|| std::time::Instant::now() + std::time::Duration::from_millis(10));
        let until = match (deadline, step) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        if !t.queue.wait_unblocked_until(mask & !set, until) && until == deadline {
            return Err(Errno::EAGAIN.into());
        }
    }
}

/// A signal of `set` sent to `t`'s process and queued on another of its
/// threads that blocks it.
fn from_other_threads(t: &Task, set: u64) -> Option<SigInfo> {
    if t.group.len() < 2 {
        return None;
    }
    t.group.tids().into_iter().filter(|&tid| tid != t.tid).find_map(|tid| {
        let q = t.group.thread(tid)?;
        let blocked = q.published_mask();
        q.lock().take_process_signal(set & blocked)
    })
}

pub(super) fn rt_sigqueueinfo(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, sig) = (int(a[0]), int(a[1]));
    check_signo(sig)?;
    let b = t.mm.copy_in(a[2], 128)?;
    let code = i32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
    let value = u64::from_le_bytes(b[24..32].try_into().map_err(|_| Errno::EFAULT)?);
    if (code >= 0 || code == libc::SI_TKILL) && pid != t.pid {
        // Only the kernel may claim those codes, as Linux says.
        return Err(Errno::EPERM.into());
    }
    let targets = if k.procs().get(pid).is_some() { vec![pid] } else { vec![] };
    send_to(k, t, targets, SigInfo { signo: sig, code, value, ..SigInfo::default() })
}
