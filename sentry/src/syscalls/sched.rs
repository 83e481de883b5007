//! Scheduling policy calls, answered consistently: a process's policy and
//! priority are recorded (in the process table) and reported back, as
//! Linux reports them, but not applied: the Sentry schedules its stubs on
//! the host itself, and a sandbox never gets real-time priority there.
//! Also the robust futex list head, recorded for get_robust_list.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};

/// `sizeof(struct robust_list_head)`.
const ROBUST_HEAD: u64 = 24;

fn realtime(policy: i32) -> bool {
    policy == libc::SCHED_FIFO || policy == libc::SCHED_RR
}

fn known(policy: i32) -> bool {
    matches!(policy, libc::SCHED_OTHER | libc::SCHED_FIFO | libc::SCHED_RR | libc::SCHED_BATCH | libc::SCHED_IDLE)
}

/// The process `pid` names (0: the caller): ESRCH if there is none.
fn target(k: &KernelRef, t: &Task, pid: i32) -> Result<i32, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let pid = if pid == 0 { t.pid } else { pid };
    k.procs().get(pid).map(|_| pid).ok_or(Errno::ESRCH)
}

pub(super) fn sched_get_priority_max(_k: &KernelRef, _t: &mut Task, a: &[u64; 6]) -> SysResult {
    let policy = int(a[0]);
    if !known(policy) {
        return Err(Errno::EINVAL.into());
    }
    Ok(if realtime(policy) { 99 } else { 0 })
}

pub(super) fn sched_get_priority_min(_k: &KernelRef, _t: &mut Task, a: &[u64; 6]) -> SysResult {
    let policy = int(a[0]);
    if !known(policy) {
        return Err(Errno::EINVAL.into());
    }
    Ok(if realtime(policy) { 1 } else { 0 })
}

pub(super) fn sched_getscheduler(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let pid = target(k, t, int(a[0]))?;
    Ok(k.procs().get(pid).map_or(0, |p| p.sched.0) as i64)
}

pub(super) fn sched_getparam(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EINVAL.into());
    }
    let pid = target(k, t, int(a[0]))?;
    let prio = k.procs().get(pid).map_or(0, |p| p.sched.1);
    t.mm.copy_out(a[1], &prio.to_le_bytes())?;
    Ok(0)
}

/// Sets `pid`'s policy (None: keep it) and priority from `param`.
fn set(k: &KernelRef, t: &Task, pid: i32, policy: Option<i32>, param: u64) -> SysResult {
    if param == 0 {
        return Err(Errno::EINVAL.into());
    }
    let pid = target(k, t, pid)?;
    let b = t.mm.copy_in(param, 4)?;
    let prio = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    // SCHED_RESET_ON_FORK may ride along with the policy.
    let policy = match policy {
        Some(p) => p & !libc::SCHED_RESET_ON_FORK,
        None => k.procs().get(pid).map_or(0, |p| p.sched.0),
    };
    if !known(policy) {
        return Err(Errno::EINVAL.into());
    }
    let valid = if realtime(policy) { (1..=99).contains(&prio) } else { prio == 0 };
    if !valid {
        return Err(Errno::EINVAL.into());
    }
    if let Some(p) = k.procs().get_mut(pid) {
        p.sched = (policy, prio);
    }
    Ok(0)
}

pub(super) fn sched_setscheduler(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set(k, t, int(a[0]), Some(int(a[1])), a[2])
}

pub(super) fn sched_setparam(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set(k, t, int(a[0]), None, a[1])
}

pub(super) fn sched_rr_get_interval(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let pid = target(k, t, int(a[0]))?;
    let policy = k.procs().get(pid).map_or(0, |p| p.sched.0);
    // SCHED_RR's quantum is Linux's 100 ms; others get the host's answer
    // for a normal thread (the Sentry thread asking is one).
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 100_000_000 };
    if policy != libc::SCHED_RR {
        // SAFETY: `ts` is valid for the call.
        let r = unsafe { libc::sched_rr_get_interval(0, &mut ts) };
        Errno::result(r)?;
    }
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&ts.tv_sec.to_le_bytes());
    b.extend_from_slice(&ts.tv_nsec.to_le_bytes());
    t.mm.copy_out(a[1], &b)?;
    Ok(0)
}

pub(super) fn set_robust_list(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[1] != ROBUST_HEAD {
        return Err(Errno::EINVAL.into());
    }
    t.robust_list = a[0];
    if t.tid == t.pid
        && let Some(p) = k.procs().get_mut(t.pid)
    {
        p.robust_list = a[0];
    }
    Ok(0)
}

pub(super) fn get_robust_list(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let asked = int(a[0]);
    let head = if asked == 0 || asked == t.tid {
        t.robust_list
    } else {
        let pid = target(k, t, asked)?;
        k.procs().get(pid).map_or(0, |p| p.robust_list)
    };
    t.mm.copy_out(a[1], &head.to_le_bytes())?;
    t.mm.copy_out(a[2], &ROBUST_HEAD.to_le_bytes())?;
    Ok(0)
}
