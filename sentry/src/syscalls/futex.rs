//! futex, for processes of one thread: a wake finds no waiter, and a wait
//! whose word still holds the expected value sleeps until a signal or its
//! timeout (no other thread exists to wake it). Threads, shared futexes,
//! requeue and PI come with the glibc workloads issue.

use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart, Woken};
use crate::kernel::{KernelRef, Task};

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;

pub(super) fn futex(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (uaddr, op, val, timeout) = (a[0], int(a[1]), a[2] as u32, a[3]);
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            if cmd == FUTEX_WAKE_BITSET && a[5] as u32 == 0 {
                return Err(Errno::EINVAL.into());
            }
            // Touch the word as Linux does: a bad address is EFAULT.
            t.mm.copy_in(uaddr, 4)?;
            Ok(0)
        }
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            if cmd == FUTEX_WAIT_BITSET && a[5] as u32 == 0 {
                return Err(Errno::EINVAL.into());
            }
            let word = t.mm.copy_in(uaddr, 4)?;
            if u32::from_le_bytes([word[0], word[1], word[2], word[3]]) != val {
                return Err(Errno::EAGAIN.into());
            }
            let deadline = if timeout == 0 {
                None
            } else {
                let d = super::read_timespec(t, timeout)?;
                if cmd == FUTEX_WAIT {
                    Some(Instant::now() + d)
                } else {
                    // FUTEX_WAIT_BITSET takes an absolute time on the
                    // monotonic (or, with the flag, realtime) clock.
                    let clock =
                        if op & FUTEX_CLOCK_REALTIME != 0 { libc::CLOCK_REALTIME } else { libc::CLOCK_MONOTONIC };
                    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                    // SAFETY: `now` is a valid timespec to fill.
                    unsafe { libc::clock_gettime(clock, &mut now) };
                    let now = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32);
                    Some(Instant::now() + d.saturating_sub(now))
                }
            };
            match blocking::wait(t, None, 0, deadline) {
                Err(Woken::Timeout) | Ok(()) => Err(Errno::ETIMEDOUT.into()),
                Err(Woken::Signal) => Err(SysError::Restart(Restart::NoHand)),
            }
        }
        _ => Err(Errno::ENOSYS.into()),
    }
}
