//! epoll over host descriptors. Every file a task can poll is host-backed
//! (pipes, sockets, terminals, eventfds, timerfds, a message queue's
//! readiness eventfd), so an epoll instance is a host epoll whose interest
//! list holds those host descriptors, with the application's `epoll_data`
//! stored as given. The host then supplies Linux's semantics whole: level
//! and edge triggering, EPOLLONESHOT, EPOLLEXCLUSIVE, nesting, EPERM for
//! regular files, and the removal of an entry when its open file
//! description closes (the Sentry holds one host descriptor per open file
//! description, as Linux ties an entry to it).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::{KernelRef, Task};

/// Size of `struct epoll_event` on x86-64 (packed: u32 events, u64 data).
const EVENT_SIZE: usize = 12;
/// Most events one wait may ask for (`EP_MAX_EVENTS`).
const MAX_EVENTS: i32 = i32::MAX / EVENT_SIZE as i32;

fn create(t: &mut Task, cloexec: bool) -> SysResult {
    // SAFETY: a plain system call without pointers.
    let r = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    Errno::result(r)?;
    // SAFETY: epoll_create1 returned a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(r) };
    let file = OpenFile::new(fd, b"anon_inode:[eventpoll]".to_vec(), libc::O_RDWR);
    Ok(t.fds.insert(file, cloexec, 0)? as i64)
}

pub(super) fn epoll_create(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if int(a[0]) <= 0 {
        return Err(Errno::EINVAL.into());
    }
    create(t, false)
}

pub(super) fn epoll_create1(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = int(a[0]);
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL.into());
    }
    create(t, flags & libc::EPOLL_CLOEXEC != 0)
}

pub(super) fn epoll_ctl(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (epfd, op, fd) = (int(a[0]), int(a[1]), int(a[2]));
    let ep = t.fds.get(epfd)?;
    let target = t.fds.get(fd)?;
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    if op != libc::EPOLL_CTL_DEL {
        let raw = t.mm.copy_in(a[3], EVENT_SIZE)?;
        event.events = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        event.u64 = u64::from_le_bytes([raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10], raw[11]]);
    }
    // SAFETY: `event` is a valid epoll_event; both descriptors stay open
    // (their files are held) for the call. The host rejects a non-epoll
    // `epfd`, a target equal to it, loops, and files it cannot poll.
    let r = unsafe { libc::epoll_ctl(ep.fd.as_raw_fd(), op, target.fd.as_raw_fd(), &mut event) };
    Errno::result(r)?;
    Ok(0)
}

/// Waits on epoll instance `epfd` for up to `max` events, copied to
/// `events`; `timeout_ms` < 0 waits for ever.
fn wait(t: &mut Task, epfd: i32, events: u64, max: i32, timeout_ms: i32) -> SysResult {
    if max <= 0 || max > MAX_EVENTS {
        return Err(Errno::EINVAL.into());
    }
    let ep = t.fds.get(epfd)?;
    let mut got = vec![libc::epoll_event { events: 0, u64: 0 }; max as usize];
    let deadline = (timeout_ms >= 0).then(|| Instant::now() + std::time::Duration::from_millis(timeout_ms as u64));
    let n = loop {
        // SAFETY: `got` holds `max` events; the host descriptor is held
        // open by `ep`. A non-epoll descriptor is the host's EINVAL.
        let r = unsafe { libc::epoll_wait(ep.fd.as_raw_fd(), got.as_mut_ptr(), max, 0) };
        let n = Errno::result(r)?;
        if n > 0 || timeout_ms == 0 {
            break n;
        }
        let left = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break 0;
                }
                super::poll_ms(Some(left))
            }
            None => -1,
        };
        let mut host = vec![libc::pollfd { fd: ep.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        // A signal ends the wait as ERESTARTNOHAND, as for ppoll: EINTR
        // once a handler ran (never restarted, even with SA_RESTART), and
        // epoll_pwait's mask stays until the signal is delivered.
        super::poll::host_poll(t, &mut host, left)?;
    };
    let mut out = Vec::with_capacity(n as usize * EVENT_SIZE);
    for e in &got[..n as usize] {
        let (ev, data) = (e.events, e.u64);
        out.extend_from_slice(&ev.to_le_bytes());
        out.extend_from_slice(&data.to_le_bytes());
    }
    t.mm.copy_out(events, &out)?;
    Ok(n as i64)
}

pub(super) fn epoll_wait(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    wait(t, int(a[0]), a[1], int(a[2]), int(a[3]))
}

pub(super) fn epoll_pwait(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (epfd, events, max, timeout) = (int(a[0]), a[1], int(a[2]), int(a[3]));
    super::poll::with_sigmask(t, a[4], a[5], |t| wait(t, epfd, events, max, timeout))
}

pub(super) fn epoll_pwait2(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let timeout = if a[3] == 0 { None } else { Some(super::read_timespec(t, a[3])?) };
    let (epfd, events, max) = (int(a[0]), a[1], int(a[2]));
    super::poll::with_sigmask(t, a[4], a[5], |t| wait(t, epfd, events, max, super::poll_ms(timeout)))
}
