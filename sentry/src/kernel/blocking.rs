//! Blocking on behalf of a task, interruptible by its signals.
//!
//! Every wait on a host descriptor (a pipe, a terminal) or on time is a
//! host poll on that descriptor and the task's interrupt eventfd, which a
//! sender writes after queuing a signal. I/O itself is tried without
//! blocking first (`RWF_NOWAIT`), so a wake-up that another reader took
//! first never leaves the task stuck in the host.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::Task;

/// How a call interrupted by a signal resumes, as Linux's ERESTART codes
/// say: `Sys` restarts after a handler with SA_RESTART, `NoHand` only when
/// no handler ran; otherwise the call returns EINTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// ERESTARTSYS.
    Sys,
    /// ERESTARTNOHAND.
    NoHand,
}

/// Why a wait ended without its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// A signal the task does not block is pending.
    Signal,
    /// The timeout passed.
    Timeout,
}

/// Waits until `fd` has one of `events` (POLLIN, POLLOUT), a signal is
/// pending for the task, or `deadline` passes. With no `fd`, only the last
/// two end it (a sleep).
pub fn wait(task: &Task, fd: Option<BorrowedFd<'_>>, events: i16, deadline: Option<Instant>) -> Result<(), Woken> {
    let intr = task.queue.interrupt_fd();
    loop {
        // Drain first, then look: a signal queued after the drain writes
        // the eventfd again, so none is missed.
        task.queue.drain_interrupt();
        if task.queue.has_unblocked(task.signals.not_waking()) {
            return Err(Woken::Signal);
        }
        let timeout_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Woken::Timeout);
                }
                i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX)
            }
        };
        let mut fds = [
            libc::pollfd { fd: intr.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: fd.map_or(-1, |f| f.as_raw_fd()), events, revents: 0 },
        ];
        // SAFETY: `fds` is a valid array of two pollfds whose descriptors
        // are open for the duration of the call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        if r < 0 && Errno::last() != Errno::EINTR {
            // A poll that cannot run cannot wait either: let the caller's
            // own call report the descriptor's error.
            return Ok(());
        }
        if fds[1].revents != 0 {
            return Ok(());
        }
    }
}

/// Sleeps until `deadline`; `Err(Woken::Signal)` if a signal came first.
pub fn sleep_until(task: &Task, deadline: Instant) -> Result<(), Woken> {
    match wait(task, None, 0, Some(deadline)) {
        Err(Woken::Timeout) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The time left until `deadline`.
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// One read or write attempt that never blocks: `RWF_NOWAIT`, or
/// EOPNOTSUPP where the file does not support it (terminals).
fn try_io(fd: BorrowedFd<'_>, buf: *mut u8, len: usize, write: bool) -> Result<usize, Errno> {
    let iov = libc::iovec { iov_base: buf.cast(), iov_len: len };
    // SAFETY: `iov` describes `len` bytes at `buf`, which the caller owns
    // (readable for a write, writable for a read) for the call.
    let r = unsafe {
        if write {
            libc::pwritev2(fd.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT)
        } else {
            libc::preadv2(fd.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT)
        }
    };
    Errno::result(r).map(|n| n as usize)
}

/// Reads into `buf` from a file that may block (pipe, socket, terminal),
/// waiting interruptibly. `nonblocking`: the application opened it
/// O_NONBLOCK, so EAGAIN is its answer.
pub fn read(task: &Task, fd: BorrowedFd<'_>, buf: &mut [u8], nonblocking: bool) -> Result<usize, BlockError> {
    loop {
        match try_io(fd, buf.as_mut_ptr(), buf.len(), false) {
            Ok(n) => return Ok(n),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if nonblocking => return Err(BlockError::Errno(Errno::EAGAIN)),
            Err(Errno::EAGAIN) => {}
            Err(Errno::EOPNOTSUPP) => {
                // No RWF_NOWAIT (a terminal): wait for data, then a plain
                // read returns what is there.
                if !nonblocking {
                    wait(task, Some(fd), libc::POLLIN, None).map_err(|_| BlockError::Interrupted)?;
                }
                return nix::unistd::read(fd, buf).map_err(BlockError::Errno);
            }
            Err(e) => return Err(BlockError::Errno(e)),
        }
        wait(task, Some(fd), libc::POLLIN, None).map_err(|_| BlockError::Interrupted)?;
    }
}

/// Writes all of `data` to a file that may block, waiting interruptibly
/// for room. Interrupted after some bytes went, it returns their count, as
/// Linux does.
pub fn write(task: &Task, fd: BorrowedFd<'_>, data: &[u8], nonblocking: bool) -> Result<usize, BlockError> {
    let mut done = 0;
    while done < data.len() {
        let rest = &data[done..];
        match try_io(fd, rest.as_ptr().cast_mut(), rest.len(), true) {
            Ok(n) => {
                done += n;
                continue;
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if nonblocking => {
                return if done > 0 { Ok(done) } else { Err(BlockError::Errno(Errno::EAGAIN)) };
            }
            Err(Errno::EAGAIN) => {}
            Err(Errno::EOPNOTSUPP) => {
                if !nonblocking && wait(task, Some(fd), libc::POLLOUT, None).is_err() {
                    return if done > 0 { Ok(done) } else { Err(BlockError::Interrupted) };
                }
                return match nix::unistd::write(fd, rest) {
                    Ok(n) => Ok(done + n),
                    Err(_) if done > 0 => Ok(done),
                    Err(e) => Err(BlockError::Errno(e)),
                };
            }
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(BlockError::Errno(e)),
        }
        if wait(task, Some(fd), libc::POLLOUT, None).is_err() {
            return if done > 0 { Ok(done) } else { Err(BlockError::Interrupted) };
        }
    }
    Ok(done)
}

/// A blocking I/O failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The call's errno.
    Errno(Errno),
    /// A signal came before any byte moved.
    Interrupted,
}

/// Whether reads and writes of `fd` can block: pipes, sockets, character
/// devices (terminals) and anonymous-inode objects (eventfd, timerfd,
/// whose type bits are 0) can; regular files and directories not.
pub fn may_block(fd: impl AsFd) -> bool {
    nix::sys::stat::fstat(fd)
        .is_ok_and(|st| matches!(st.st_mode & libc::S_IFMT, 0 | libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR))
}
