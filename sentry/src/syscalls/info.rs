//! System information and accounting: sysinfo, getrusage, times, CPU
//! affinity and the CPU a task runs on, groups, priorities.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};

pub(super) fn sysinfo(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    // The host's memory and uptime figures; the process count is the
    // sandbox's own.
    let mut host = std::mem::MaybeUninit::<libc::sysinfo>::zeroed();
    // SAFETY: `host` is a writable sysinfo structure.
    Errno::result(unsafe { libc::sysinfo(host.as_mut_ptr()) })?;
    // SAFETY: sysinfo succeeded and filled it.
    let h = unsafe { host.assume_init() };
    let procs = k.procs().pids().count() as u16;
    let mut b = [0u8; 112];
    let put = |b: &mut [u8], off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(&mut b, 0, h.uptime as u64);
    for (i, l) in h.loads.iter().enumerate() {
        put(&mut b, 8 + i * 8, *l);
    }
    put(&mut b, 32, h.totalram);
    put(&mut b, 40, h.freeram);
    put(&mut b, 48, h.sharedram);
    put(&mut b, 56, h.bufferram);
    put(&mut b, 64, h.totalswap);
    put(&mut b, 72, h.freeswap);
    b[80..82].copy_from_slice(&procs.to_le_bytes());
    put(&mut b, 88, h.totalhigh);
    put(&mut b, 96, h.freehigh);
    b[104..108].copy_from_slice(&h.mem_unit.to_le_bytes());
    t.mm.copy_out(a[0], &b)?;
    Ok(0)
}

pub(super) fn getrusage(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    match int(a[0]) {
        libc::RUSAGE_SELF | libc::RUSAGE_CHILDREN | libc::RUSAGE_THREAD => {}
        _ => return Err(Errno::EINVAL.into()),
    }
    let usage = match int(a[0]) {
        libc::RUSAGE_CHILDREN => k.procs().get(t.pid).map(|p| p.children_usage).unwrap_or_default(),
        _ => t.cpu.usage(),
    };
    t.mm.copy_out(a[1], &usage.rusage_bytes())?;
    Ok(0)
}

pub(super) fn times(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[0] != 0 {
        let (user, system) = t.cpu.usage().ticks();
        let children = k.procs().get(t.pid).map(|p| p.children_usage).unwrap_or_default();
        let (cuser, csystem) = children.ticks();
        let mut b = [0u8; 32];
        for (i, v) in [user, system, cuser, csystem].into_iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        t.mm.copy_out(a[0], &b)?;
    }
    // The return value is clock ticks since an arbitrary point: the host's.
    let mut tms = std::mem::MaybeUninit::<libc::tms>::zeroed();
    // SAFETY: `tms` is a writable tms structure.
    let r = unsafe { libc::times(tms.as_mut_ptr()) };
    Ok(r as i64)
}

/// The sandbox's CPUs as a mask of `len` bytes: those it was started
/// with, not the CPU the Sentry pinned the caller's thread to.
fn allowed_mask() -> Vec<u8> {
    let cpus = crate::platform::ptrace::placement::allowed_cpus();
    let top = cpus.iter().max().map_or(1, |m| m + 1);
    let mut mask = vec![0u8; top.div_ceil(64) * 8];
    for &c in cpus {
        mask[c / 8] |= 1 << (c % 8);
    }
    mask
}

pub(super) fn sched_getaffinity(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, len, addr) = (int(a[0]), a[1] as usize, a[2]);
    if pid != 0 && pid != t.pid {
        return Err(Errno::ESRCH.into());
    }
    let mask = allowed_mask();
    if len < mask.len() || len % 8 != 0 {
        return Err(Errno::EINVAL.into());
    }
    t.mm.copy_out(addr, &mask)?;
    Ok(mask.len() as i64)
}

pub(super) fn sched_setaffinity(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, len) = (int(a[0]), a[1] as usize);
    if pid != 0 && pid != t.pid {
        return Err(Errno::ESRCH.into());
    }
    let mask = t.mm.copy_in(a[2], len.min(128))?;
    let allowed = allowed_mask();
    let any = mask.iter().zip(&allowed).any(|(m, a)| m & a != 0);
    if !any {
        return Err(Errno::EINVAL.into());
    }
    // Accepted; the Sentry places its threads itself.
    Ok(0)
}

pub(super) fn getgroups(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let groups = &t.creds.groups;
    let size = int(a[0]);
    if size < 0 {
        return Err(Errno::EINVAL.into());
    }
    if size == 0 {
        return Ok(groups.len() as i64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL.into());
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    t.mm.copy_out(a[1], &bytes)?;
    Ok(groups.len() as i64)
}

pub(super) fn getpriority(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (which, who) = (a[0] as u32, int(a[1]));
    match which {
        libc::PRIO_PROCESS | libc::PRIO_PGRP | libc::PRIO_USER => {}
        _ => return Err(Errno::EINVAL.into()),
    }
    if which == libc::PRIO_PROCESS && who != 0 && who != t.pid {
        return Err(Errno::ESRCH.into());
    }
    // The kernel's form: 20 - nice.
    Ok(20 - t.nice as i64)
}

pub(super) fn setpriority(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (which, who, prio) = (a[0] as u32, int(a[1]), int(a[2]));
    if which != libc::PRIO_PROCESS {
        return Err(Errno::EINVAL.into());
    }
    if who != 0 && who != t.pid {
        return Err(Errno::ESRCH.into());
    }
    // Kept for getpriority; the Sentry does not reschedule for it.
    t.nice = prio.clamp(-20, 19);
    Ok(0)
}

pub(super) fn getcpu(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    // The Sentry thread serving a task is pinned to its stub's CPU, so the
    // CPU it runs on is the task's.
    // SAFETY: sched_getcpu takes no arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = u32::try_from(cpu).map_err(|_| Errno::EAGAIN)?;
    if a[0] != 0 {
        t.mm.copy_out(a[0], &cpu.to_le_bytes())?;
    }
    if a[1] != 0 {
        t.mm.copy_out(a[1], &0u32.to_le_bytes())?;
    }
    Ok(0)
}
