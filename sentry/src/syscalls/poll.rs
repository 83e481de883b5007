//! poll and ppoll over the task's descriptors. Every file is host-backed so
//! far, so the wait is one host poll on their host descriptors.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::Restart;
use crate::kernel::{KernelRef, Task};

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
    // The task's interrupt eventfd rides last: a signal ends the wait.
    t.queue.drain_interrupt();
    if ready != 0 && t.queue.has_unblocked(t.signals.mask()) {
        return Err(SysError::Restart(Restart::NoHand));
    }
    host.push(libc::pollfd { fd: t.queue.interrupt_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 });
    // SAFETY: `host` is a valid array of pollfds; the files behind its
    // descriptors are kept open by `files` (and the queue) for the call.
    let n = loop {
        let r = unsafe { libc::poll(host.as_mut_ptr(), host.len() as libc::nfds_t, ready) };
        match Errno::result(r) {
            Err(Errno::EINTR) => continue,
            other => break other?,
        }
    };
    drop(files);
    let interrupted = host.pop().is_some_and(|p| p.revents != 0);
    let n = n - interrupted as i32;
    if n == 0 && interrupted && t.queue.has_unblocked(t.signals.mask()) {
        return Err(SysError::Restart(Restart::NoHand));
    }
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
    let timeout = if a[2] == 0 {
        -1
    } else {
        let b = t.mm.copy_in(a[2], 16)?;
        let sec = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let nsec = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL.into());
        }
        let ms = sec.saturating_mul(1000).saturating_add((nsec + 999_999) / 1_000_000);
        i32::try_from(ms).unwrap_or(i32::MAX)
    };
    if a[3] != 0 && a[4] != 8 {
        return Err(Errno::EINVAL.into());
    }
    do_poll(t, a[0], a[1], timeout)
}
