//! Clocks and sleeps. The sandbox shares the host's clocks.

use nix::errno::Errno;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::itimer::{IntervalTimer, TimerClock};
use crate::kernel::wall_clock::{self, WallTime};
use crate::kernel::{KernelRef, Task};

fn clock_id(id: i32) -> Result<libc::clockid_t, Errno> {
    match id {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_REALTIME_COARSE
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME => Ok(id),
        // The CPU-time clocks are the task's own (see `cpu_clock`); other
        // processes' clocks (negative ids) are not offered.
        _ => Err(Errno::EINVAL),
    }
}

fn now(id: libc::clockid_t) -> Result<libc::timespec, Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec to fill.
    Errno::result(unsafe { libc::clock_gettime(id, &mut ts) })?;
    Ok(ts)
}

fn timespec_bytes(ts: &libc::timespec) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
    b[8..].copy_from_slice(&ts.tv_nsec.to_le_bytes());
    b
}

fn read_timespec(t: &Task, addr: u64) -> Result<libc::timespec, Errno> {
    let d = super::read_timespec(t, addr)?;
    Ok(libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 })
}

pub(super) fn clock_gettime(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let ts = match cpu_clock(t, int(a[0])) {
        Some(ts) => ts,
        None => now(clock_id(int(a[0]))?)?,
    };
    t.mm.copy_out(a[1], &timespec_bytes(&ts))?;
    Ok(0)
}

/// The calling process's or thread's CPU-time clock, if `id` names one. One
/// thread per process so far: both read the same.
fn cpu_clock(t: &Task, id: i32) -> Option<libc::timespec> {
    if !is_cpu_clock(id) {
        return None;
    }
    let d = t.cpu.clock();
    Some(libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: i64::from(d.subsec_nanos()) })
}

fn is_cpu_clock(id: i32) -> bool {
    id == libc::CLOCK_PROCESS_CPUTIME_ID || id == libc::CLOCK_THREAD_CPUTIME_ID
}

pub(super) fn clock_getres(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if is_cpu_clock(int(a[0])) {
        if a[1] != 0 {
            // Nanosecond resolution, as Linux reports for these clocks.
            t.mm.copy_out(a[1], &timespec_bytes(&libc::timespec { tv_sec: 0, tv_nsec: 1 }))?;
        }
        return Ok(0);
    }
    let id = clock_id(int(a[0]))?;
    if a[1] != 0 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid timespec to fill.
        Errno::result(unsafe { libc::clock_getres(id, &mut ts) })?;
        t.mm.copy_out(a[1], &timespec_bytes(&ts))?;
    }
    Ok(0)
}

pub(super) fn gettimeofday(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[0] != 0 {
        let ts = now(libc::CLOCK_REALTIME)?;
        let usec = ts.tv_nsec / 1000;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&ts.tv_sec.to_le_bytes());
        b[8..].copy_from_slice(&usec.to_le_bytes());
        t.mm.copy_out(a[0], &b)?;
    }
    if a[1] != 0 {
        // struct timezone: always zero on Linux today.
        t.mm.copy_out(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

pub(super) fn time(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let secs = now(libc::CLOCK_REALTIME)?.tv_sec;
    if a[0] != 0 {
        t.mm.copy_out(a[0], &secs.to_le_bytes())?;
    }
    Ok(secs)
}

/// Sleeps for `req` (relative) or until it (absolute, on clock `id`),
/// interruptibly. Returns the time left when a signal came first.
fn sleep(t: &Task, id: libc::clockid_t, req: &libc::timespec, absolute: bool) -> Result<(), libc::timespec> {
    let mut dur = Duration::new(req.tv_sec as u64, req.tv_nsec as u32);
    if absolute {
        let n = now(id).unwrap_or(libc::timespec { tv_sec: 0, tv_nsec: 0 });
        let at = Duration::new(n.tv_sec.max(0) as u64, n.tv_nsec as u32);
        dur = dur.saturating_sub(at);
    }
    let deadline = Instant::now() + dur;
    match blocking::sleep_until(t, deadline) {
        Ok(()) => Ok(()),
        Err(_) => {
            let left = blocking::remaining(deadline);
            Err(libc::timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 })
        }
    }
}

pub(super) fn nanosleep(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let req = read_timespec(t, a[0])?;
    if let Err(left) = sleep(t, libc::CLOCK_MONOTONIC, &req, false) {
        if a[1] != 0 {
            t.mm.copy_out(a[1], &timespec_bytes(&left))?;
        }
        return Err(SysError::Restart(Restart::NoHand));
    }
    Ok(0)
}

pub(super) fn clock_nanosleep(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let id = clock_id(int(a[0]))?;
    let flags = int(a[1]);
    if flags & !libc::TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL.into());
    }
    let req = read_timespec(t, a[2])?;
    let absolute = flags & libc::TIMER_ABSTIME != 0;
    if let Err(left) = sleep(t, id, &req, absolute) {
        if a[3] != 0 && !absolute {
            t.mm.copy_out(a[3], &timespec_bytes(&left))?;
        }
        return Err(SysError::Restart(Restart::NoHand));
    }
    Ok(0)
}

fn timeval_bytes(d: Duration) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    b[8..].copy_from_slice(&(d.subsec_micros() as i64).to_le_bytes());
    b
}

/// The timer `which` names, with the clock it counts.
fn interval_timer(t: &Task, which: i32) -> Result<(Arc<IntervalTimer>, TimerClock), Errno> {
    match which {
        libc::ITIMER_REAL => Ok((t.real_timer.clone(), TimerClock::Real)),
        libc::ITIMER_VIRTUAL => Ok((t.virtual_timer.clone(), TimerClock::Virtual(t.cpu.clone()))),
        libc::ITIMER_PROF => Ok((t.prof_timer.clone(), TimerClock::Prof(t.cpu.clone()))),
        _ => Err(Errno::EINVAL),
    }
}

fn itimerval_bytes(interval: Duration, left: Duration) -> [u8; 32] {
    let mut b = [0u8; 32];
    b[..16].copy_from_slice(&timeval_bytes(interval));
    b[16..].copy_from_slice(&timeval_bytes(left));
    b
}

pub(super) fn getitimer(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (timer, clock) = interval_timer(t, int(a[0]))?;
    let (left, interval) = timer.get(&clock);
    t.mm.copy_out(a[1], &itimerval_bytes(interval, left))?;
    Ok(0)
}

pub(super) fn setitimer(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (timer, clock) = interval_timer(t, int(a[0]))?;
    let (interval, value) = if a[1] == 0 {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (super::read_timeval(t, a[1])?, super::read_timeval(t, a[1] + 16)?)
    };
    let (left, old_interval) = timer.set(k, t.pid, clock, value, interval);
    if a[2] != 0 {
        t.mm.copy_out(a[2], &itimerval_bytes(old_interval, left))?;
    }
    Ok(0)
}

pub(super) fn alarm(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let secs = a[0] as u32;
    let timer = t.real_timer.clone();
    let (left, _) = timer.set(k, t.pid, TimerClock::Real, Duration::from_secs(secs as u64), Duration::ZERO);
    // Rounded to the nearest second, and never 0 for a pending alarm.
    let mut r = left.as_secs() + u64::from(left.subsec_millis() >= 500);
    if r == 0 && !left.is_zero() {
        r = 1;
    }
    Ok(r as i64)
}

pub(super) fn settimeofday(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (tv, tz) = (a[0], a[1]);
    // Linux's order: the time's validity, the capability, then the zone.
    let to = if tv == 0 {
        None
    } else {
        let b = t.mm.copy_in(tv, 16)?;
        let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let usec = word(1);
        let to = WallTime { sec: word(0), nsec: usec.saturating_mul(1000) };
        if !(0..1_000_000).contains(&usec) || !to.valid() {
            return Err(Errno::EINVAL.into());
        }
        Some(to)
    };
    let west = if tz == 0 {
        None
    } else {
        // struct timezone: minutes west, then the obsolete DST type.
        let b = t.mm.copy_in(tz, 8)?;
        Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if !t.creds.capable(wall_clock::CAP_SYS_TIME) {
        return Err(Errno::EPERM.into());
    }
    if west.is_some_and(|w| !(-15 * 60..=15 * 60).contains(&w)) {
        return Err(Errno::EINVAL.into());
    }
    if let Some(to) = to {
        wall_clock::set(&t.creds, to)?;
    }
    Ok(0)
}

pub(super) fn clock_settime(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let b = t.mm.copy_in(a[1], 16)?;
    if int(a[0]) != libc::CLOCK_REALTIME {
        // The other clocks cannot be set (Linux says EINVAL too).
        return Err(Errno::EINVAL.into());
    }
    let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    wall_clock::set(&t.creds, WallTime { sec: word(0), nsec: word(1) })?;
    Ok(0)
}
