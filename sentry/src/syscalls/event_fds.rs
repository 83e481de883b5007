//! signalfd (`kernel::signalfd`), whose reads take the task's signals.
//! eventfd and timerfd: host objects, read and written by the Sentry for
//! the task like a pipe (interruptibly, `kernel::blocking`), polled and
//! epolled through their host descriptors. The host keeps their semantics
//! (counter, semaphore mode, expirations, clocks, TFD_TIMER_ABSTIME and
//! cancel-on-set); the host descriptor is always non-blocking, the
//! application's O_NONBLOCK is the Sentry's to honour.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::{KernelRef, Task};

fn install(t: &mut Task, r: libc::c_int, path: &[u8], nonblock: bool, cloexec: bool) -> SysResult {
    Errno::result(r)?;
    // SAFETY: the host call just returned this new descriptor, owned by no one.
    let fd = unsafe { OwnedFd::from_raw_fd(r) };
    let status = if nonblock { libc::O_NONBLOCK } else { 0 };
    let file = OpenFile::new(fd, path.to_vec(), libc::O_RDWR | status);
    Ok(t.fds.insert(file, cloexec, 0)? as i64)
}

fn eventfd_with(t: &mut Task, initval: u64, flags: i32) -> SysResult {
    if flags & !(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let host = libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | (flags & libc::EFD_SEMAPHORE);
    // SAFETY: a plain system call without pointers.
    let r = unsafe { libc::eventfd(initval as u32, host) };
    install(t, r, b"anon_inode:[eventfd]", flags & libc::EFD_NONBLOCK != 0, flags & libc::EFD_CLOEXEC != 0)
}

pub(super) fn eventfd(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    eventfd_with(t, a[0], 0)
}

pub(super) fn eventfd2(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    eventfd_with(t, a[0], int(a[1]))
}

pub(super) fn timerfd_create(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (clock, flags) = (int(a[0]), int(a[1]));
    if flags & !(libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    // SAFETY: a plain system call without pointers; the host checks the clock.
    let r = unsafe { libc::timerfd_create(clock, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) };
    install(t, r, b"anon_inode:[timerfd]", flags & libc::TFD_NONBLOCK != 0, flags & libc::TFD_CLOEXEC != 0)
}

/// `struct itimerspec` (two timespecs) from application memory, as the
/// host takes it.
fn read_itimerspec(t: &Task, addr: u64) -> Result<libc::itimerspec, Errno> {
    let b = t.mm.copy_in(addr, 32)?;
    let word = |i: usize| i64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
    Ok(libc::itimerspec {
        it_interval: libc::timespec { tv_sec: word(0), tv_nsec: word(8) },
        it_value: libc::timespec { tv_sec: word(16), tv_nsec: word(24) },
    })
}

fn write_itimerspec(t: &Task, addr: u64, v: &libc::itimerspec) -> Result<(), Errno> {
    let mut b = Vec::with_capacity(32);
    for w in [v.it_interval.tv_sec, v.it_interval.tv_nsec, v.it_value.tv_sec, v.it_value.tv_nsec] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    t.mm.copy_out(addr, &b)
}

pub(super) fn timerfd_settime(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let new = read_itimerspec(t, a[2])?;
    let mut old = libc::itimerspec {
        it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
        it_value: libc::timespec { tv_sec: 0, tv_nsec: 0 },
    };
    // SAFETY: both structs are valid for the call; the host checks that the
    // descriptor is a timerfd, the flags and the values.
    let r = unsafe { libc::timerfd_settime(f.fd.as_raw_fd(), int(a[1]), &new, &mut old) };
    Errno::result(r)?;
    if a[3] != 0 {
        write_itimerspec(t, a[3], &old)?;
    }
    Ok(0)
}

pub(super) fn timerfd_gettime(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let mut cur = libc::itimerspec {
        it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
        it_value: libc::timespec { tv_sec: 0, tv_nsec: 0 },
    };
    // SAFETY: `cur` is valid for the call; the host checks the descriptor.
    let r = unsafe { libc::timerfd_gettime(f.fd.as_raw_fd(), &mut cur) };
    Errno::result(r)?;
    write_itimerspec(t, a[1], &cur)?;
    Ok(0)
}

fn signalfd_with(t: &mut Task, fd: i32, mask_addr: u64, size: u64, flags: i32) -> SysResult {
    if flags & !(libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) != 0 || size != 8 {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(mask_addr, 8)?;
    // SIGKILL and SIGSTOP are never read through a signalfd.
    let unreadable = crate::kernel::signals::bit(libc::SIGKILL) | crate::kernel::signals::bit(libc::SIGSTOP);
    let mask = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?) & !unreadable;
    if fd != -1 {
        let f = t.fds.get(fd)?;
        let s = f.signalfd.as_ref().ok_or(Errno::EINVAL)?;
        s.set_mask(mask);
        t.queue.watch(s);
        return Ok(fd as i64);
    }
    let (s, host) = crate::kernel::signalfd::SignalFd::new(mask)?;
    t.queue.watch(&s);
    let status = if flags & libc::SFD_NONBLOCK != 0 { libc::O_NONBLOCK } else { 0 };
    let file = OpenFile::signal_fd(host, libc::O_RDWR | status, s);
    Ok(t.fds.insert(file, flags & libc::SFD_CLOEXEC != 0, 0)? as i64)
}

pub(super) fn signalfd(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    signalfd_with(t, int(a[0]), a[1], a[2], 0)
}

pub(super) fn signalfd4(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    signalfd_with(t, int(a[0]), a[1], a[2], int(a[3]))
}

/// read of a signalfd: the caller's pending signals of its mask, as many
/// `signalfd_siginfo` records as fit, waiting for one unless non-blocking.
pub(super) fn read_signalfd(t: &Task, f: &OpenFile, buf: u64, count: u64) -> SysResult {
    use crate::kernel::signalfd::{SIGINFO_SIZE, siginfo_bytes};
    let Some(s) = &f.signalfd else { return Err(Errno::EINVAL.into()) };
    let room = count as usize / SIGINFO_SIZE;
    if room == 0 {
        return Err(Errno::EINVAL.into());
    }
    loop {
        let mask = s.mask();
        let mut out = Vec::new();
        {
            let mut pending = t.queue.lock();
            while out.len() < room * SIGINFO_SIZE {
                match pending.take(!mask) {
                    Some(info) => out.extend_from_slice(&siginfo_bytes(&info)),
                    None => break,
                }
            }
            if pending.set() & mask == 0 {
                s.reset();
            }
        }
        if !out.is_empty() {
            t.mm.copy_out(buf, &out)?;
            return Ok(out.len() as i64);
        }
        if f.flags() & libc::O_NONBLOCK != 0 {
            return Err(Errno::EAGAIN.into());
        }
        if crate::kernel::blocking::wait(t, Some(f.fd.as_fd()), libc::POLLIN, None).is_err() {
            return Err(super::SysError::Restart(crate::kernel::blocking::Restart::Sys));
        }
    }
}
