//! poll, ppoll, select and pselect6 over the task's descriptors. Every file is host-backed so
//! far, so the wait is one host poll on their host descriptors.

use std::os::fd::AsRawFd;
use std::time::Instant;

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::Restart;
use crate::kernel::{KernelRef, Task};

/// One host poll of `host` (whose descriptors the caller keeps open) with
/// the task's interrupt eventfd riding along, so a signal ends the wait:
/// the ready count, or a restart when a signal came and nothing was ready.
pub(super) fn host_poll(t: &Task, host: &mut Vec<libc::pollfd>, timeout_ms: i32) -> Result<i32, SysError> {
    t.queue.drain_interrupt();
    if timeout_ms != 0 && t.queue.has_unblocked(t.signals.not_waking()) {
        return Err(SysError::Restart(Restart::NoHand));
    }
    host.push(libc::pollfd { fd: t.queue.interrupt_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 });
    let n = loop {
        // SAFETY: `host` is a valid array of pollfds for its length; the
        // caller and the queue keep its descriptors open for the call.
        let r = unsafe { libc::poll(host.as_mut_ptr(), host.len() as libc::nfds_t, timeout_ms) };
        match Errno::result(r) {
            Err(Errno::EINTR) => continue,
            other => break other?,
        }
    };
    let interrupted = host.pop().is_some_and(|p| p.revents != 0);
    let n = n - i32::from(interrupted);
    if n == 0 && interrupted && t.queue.has_unblocked(t.signals.not_waking()) {
        return Err(SysError::Restart(Restart::NoHand));
    }
    Ok(n)
}

/// Polls `nfds` entries at `addr`; `timeout_ms` < 0 waits for ever.
fn do_poll(t: &mut Task, addr: u64, nfds: u64, timeout_ms: i32) -> SysResult {
    let limit = t.rlimits.get(libc::RLIMIT_NOFILE)?.cur;
    if nfds > limit {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(addr, nfds as usize * 8)?;
    let mut host: Vec<libc::pollfd> = Vec::with_capacity(nfds as usize);
    let mut files = Vec::with_capacity(nfds as usize);
    let mut invalid = vec![false; nfds as usize];
    for (i, e) in raw.chunks_exact(8).enumerate() {
        let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
        let events = i16::from_le_bytes([e[4], e[5]]);
        let file = if fd >= 0 { t.fds.get(fd).ok() } else { None };
        invalid[i] = fd >= 0 && file.is_none();
        let host_fd = file.as_ref().map_or(-1, |f| f.fd.as_raw_fd());
        host.push(libc::pollfd { fd: host_fd, events, revents: 0 });
        files.push(file);
    }
    let ready = if invalid.iter().any(|&b| b) { 0 } else { timeout_ms };
    let n = host_poll(t, &mut host, ready)?;
    drop(files);
    let mut out = Vec::with_capacity(raw.len());
    let mut count = n;
    for (i, (p, e)) in host.iter().zip(raw.chunks_exact(8)).enumerate() {
        let revents = if invalid[i] {
            count += 1;
            libc::POLLNVAL
        } else {
            p.revents
        };
        out.extend_from_slice(&e[..6]);
        out.extend_from_slice(&revents.to_le_bytes());
    }
    t.mm.copy_out(addr, &out)?;
    Ok(count as i64)
}

pub(super) fn poll(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_poll(t, a[0], a[1], int(a[2]))
}

pub(super) fn ppoll(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let timeout = if a[2] == 0 { None } else { Some(super::read_timespec(t, a[2])?) };
    let deadline = timeout.map(|d| Instant::now() + d);
    let r = with_sigmask(t, a[3], a[4], |t| do_poll(t, a[0], a[1], super::poll_ms(timeout)));
    write_time_left(t, a[2], deadline, Unit::Nanos);
    r
}

/// How a timeout is spelled in application memory.
#[derive(Clone, Copy)]
enum Unit {
    /// `struct timespec`.
    Nanos,
    /// `struct timeval`.
    Micros,
}

/// As Linux, ppoll, select and pselect6 leave the time still to wait in
/// their timeout argument, whatever ended the wait; a restarted call then
/// waits only for the rest. A timeout in read-only memory is no error.
fn write_time_left(t: &Task, addr: u64, deadline: Option<Instant>, unit: Unit) {
    let Some(deadline) = deadline else { return };
    let left = deadline.saturating_duration_since(Instant::now());
    let frac = match unit {
        Unit::Nanos => u64::from(left.subsec_nanos()),
        Unit::Micros => u64::from(left.subsec_micros()),
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&left.as_secs().to_le_bytes());
    b[8..].copy_from_slice(&frac.to_le_bytes());
    let _ = t.mm.copy_out(addr, &b);
}

/// Runs a wait under the signal mask at `mask_addr` (none if 0), as ppoll
/// and pselect6 do. If a signal interrupts the wait, the old mask stays in
/// `saved_mask`: the handler's frame records it, or delivery restores it
/// when no handler runs; otherwise it comes back here.
pub(super) fn with_sigmask(
    t: &mut Task,
    mask_addr: u64,
    size: u64,
    wait: impl FnOnce(&mut Task) -> SysResult,
) -> SysResult {
    if mask_addr == 0 {
        return wait(t);
    }
    if size != 8 {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(mask_addr, 8)?;
    let mask = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
    let old = t.set_temporary_mask(mask);
    let r = wait(t);
    if !matches!(r, Err(SysError::Restart(_))) {
        t.saved_mask = None;
        t.signals.set_mask(old);
    }
    r
}

/// select / pselect6 over `nfds` descriptors: read the three sets, poll
/// their host descriptors, write back the ready ones.
fn do_select(t: &mut Task, nfds: i32, sets: [u64; 3], timeout_ms: i32) -> SysResult {
    if !(0..=1024).contains(&nfds) {
        return Err(Errno::EINVAL.into());
    }
    let bytes = (nfds as usize).div_ceil(64) * 8;
    let mut bits: [Vec<u8>; 3] = [vec![0; bytes], vec![0; bytes], vec![0; bytes]];
    for (i, &addr) in sets.iter().enumerate() {
        if addr != 0 {
            bits[i] = t.mm.copy_in(addr, bytes)?;
        }
    }
    let is_set = |b: &[u8], fd: usize| b[fd / 8] & (1 << (fd % 8)) != 0;
    let mut host: Vec<libc::pollfd> = Vec::new();
    let mut which: Vec<usize> = Vec::new();
    let mut files = Vec::new();
    for fd in 0..nfds as usize {
        let mut events = 0;
        if is_set(&bits[0], fd) {
            events |= libc::POLLIN;
        }
        if is_set(&bits[1], fd) {
            events |= libc::POLLOUT;
        }
        if is_set(&bits[2], fd) {
            events |= libc::POLLPRI;
        }
        if events == 0 {
            continue;
        }
        let f = t.fds.get(fd as i32)?;
        host.push(libc::pollfd { fd: f.fd.as_raw_fd(), events, revents: 0 });
        files.push(f);
        which.push(fd);
    }
    host_poll(t, &mut host, timeout_ms)?;
    drop(files);
    let mut out: [Vec<u8>; 3] = [vec![0; bytes], vec![0; bytes], vec![0; bytes]];
    let mut count = 0;
    for (p, &fd) in host.iter().zip(&which) {
        let set = |b: &mut Vec<u8>| b[fd / 8] |= 1 << (fd % 8);
        let r = p.revents;
        if r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 && is_set(&bits[0], fd) {
            set(&mut out[0]);
            count += 1;
        }
        if r & (libc::POLLOUT | libc::POLLERR) != 0 && is_set(&bits[1], fd) {
            set(&mut out[1]);
            count += 1;
        }
        if r & libc::POLLPRI != 0 && is_set(&bits[2], fd) {
            set(&mut out[2]);
            count += 1;
        }
    }
    for (i, &addr) in sets.iter().enumerate() {
        if addr != 0 {
            t.mm.copy_out(addr, &out[i])?;
        }
    }
    Ok(count)
}

pub(super) fn select(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let timeout = if a[4] == 0 { None } else { Some(super::read_timeval(t, a[4])?) };
    let deadline = timeout.map(|d| Instant::now() + d);
    let r = do_select(t, int(a[0]), [a[1], a[2], a[3]], super::poll_ms(timeout));
    write_time_left(t, a[4], deadline, Unit::Micros);
    r
}

pub(super) fn pselect6(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let timeout = if a[4] == 0 { None } else { Some(super::read_timespec(t, a[4])?) };
    let deadline = timeout.map(|d| Instant::now() + d);
    // The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
    let (mask_addr, size) = if a[5] == 0 {
        (0, 0)
    } else {
        let raw = t.mm.copy_in(a[5], 16)?;
        let word = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().unwrap_or_default());
        (word(0), word(8))
    };
    let r = with_sigmask(t, mask_addr, size, |t| do_select(t, int(a[0]), [a[1], a[2], a[3]], super::poll_ms(timeout)));
    write_time_left(t, a[4], deadline, Unit::Nanos);
    r
}
