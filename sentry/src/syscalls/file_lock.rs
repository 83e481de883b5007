//! flock: a thin decoder over the Sentry's own lock table
//! (`kernel::flock_table`); a blocked lock tries again at short intervals,
//! waiting interruptibly in between.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::{KernelRef, Task};

/// How often a blocked flock tries again.
const RETRY: Duration = Duration::from_millis(5);

pub(super) fn flock(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (fd, op) = (int(a[0]), int(a[1]));
    let f = t.fds.get(fd)?;
    let wait = op & libc::LOCK_NB == 0;
    let exclusive = match op & !libc::LOCK_NB {
        libc::LOCK_SH => false,
        libc::LOCK_EX => true,
        libc::LOCK_UN => {
            *f.flock.lock().unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(0);
        }
        _ => return Err(Errno::EINVAL.into()),
    };
    let st = nix::sys::stat::fstat(f.fd.as_fd())?;
    let key = (st.st_dev, st.st_ino);
    // The open file's address names it while it lives, and its lock dies
    // with it.
    let owner = std::sync::Arc::as_ptr(&f) as usize;
    loop {
        let mut held = f.flock.lock().unwrap_or_else(|p| p.into_inner());
        match k.flocks.try_lock(key, owner, exclusive) {
            Ok(()) => {
                if held.is_none() {
                    *held = Some(k.flocks.guard(key, owner));
                }
                return Ok(0);
            }
            Err(e) => {
                // A failed conversion dropped the old lock already; its
                // guard's release finds nothing left to remove.
                *held = None;
                if !wait {
                    return Err(e.into());
                }
            }
        }
        drop(held);
        if blocking::sleep_until(t, Instant::now() + RETRY).is_err() {
            // ERESTARTSYS in Linux: SA_RESTART handlers restart it.
            return Err(SysError::Restart(Restart::Sys));
        }
    }
}
