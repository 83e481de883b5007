//! futex: a thin decoder into the kernel's futex table. Words are read in
//! application memory under the table's lock; words the kernel changes
//! (WAKE_OP, the PI and robust operations) are changed with an atomic
//! compare-and-exchange run in the application's own address space, so the
//! application's atomic operations on them stay atomic.

use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{Restart, Woken};
use crate::kernel::futex::FutexKey;
use crate::kernel::threads::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, futex_key};
use crate::kernel::{KernelRef, Task};

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAKE_OP: i32 = 5;
const FUTEX_LOCK_PI: i32 = 6;
const FUTEX_UNLOCK_PI: i32 = 7;
const FUTEX_TRYLOCK_PI: i32 = 8;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_LOCK_PI2: i32 = 13;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;

fn read_word(t: &Task, addr: u64) -> Result<u32, Errno> {
    let b = t.mm.copy_in(addr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A count argument: Linux takes it as an int and refuses negative ones.
fn count(v: u64) -> Result<usize, Errno> {
    usize::try_from(v as u32 as i32).map_err(|_| Errno::EINVAL)
}

/// The deadline of an absolute timeout on `clock`.
fn absolute(t: &Task, at: u64, clock: libc::clockid_t) -> Result<Option<Instant>, Errno> {
    if at == 0 {
        return Ok(None);
    }
    let d = super::read_timespec(t, at)?;
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to fill.
    unsafe { libc::clock_gettime(clock, &mut now) };
    let now = Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec as u32);
    Ok(Some(Instant::now() + d.saturating_sub(now)))
}

pub(super) fn futex(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (uaddr, op, val) = (a[0], int(a[1]), a[2] as u32);
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let clock = if op & FUTEX_CLOCK_REALTIME != 0 { libc::CLOCK_REALTIME } else { libc::CLOCK_MONOTONIC };
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_LOCK_PI2 {
        return Err(Errno::ENOSYS.into());
    }
    let key = |t: &Task, addr: u64| futex_key(t, addr, private);
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT { u32::MAX } else { a[5] as u32 };
            if bitset == 0 {
                return Err(Errno::EINVAL.into());
            }
            let deadline = if cmd == FUTEX_WAIT {
                // A relative timeout.
                match a[3] {
                    0 => None,
                    at => Some(Instant::now() + super::read_timespec(t, at)?),
                }
            } else {
                absolute(t, a[3], clock)?
            };
            wait(k, t, key(t, uaddr), uaddr, val, bitset, deadline)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE { u32::MAX } else { a[5] as u32 };
            if bitset == 0 {
                return Err(Errno::EINVAL.into());
            }
            // A bad address is EFAULT, as Linux finds when keying a shared
            // futex; a private key is the address alone.
            if !private {
                read_word(t, uaddr)?;
            }
            let n = count(a[2])?;
            Ok(k.futexes.lock().wake(&key(t, uaddr), n, bitset) as i64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let (n, m, uaddr2) = (count(a[2])?, count(a[3])?, a[4]);
            if uaddr2 % 4 != 0 {
                return Err(Errno::EINVAL.into());
            }
            let (from, to) = (key(t, uaddr), key(t, uaddr2));
            let mut table = k.futexes.lock();
            let word = read_word(t, uaddr)?;
            if cmd == FUTEX_CMP_REQUEUE && word != a[5] as u32 {
                return Err(Errno::EAGAIN.into());
            }
            Ok(table.requeue(&from, &to, n, m) as i64)
        }
        FUTEX_WAKE_OP => wake_op(k, t, a, private),
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 => {
            // FUTEX_LOCK_PI's timeout is on the realtime clock.
            let clock = if cmd == FUTEX_LOCK_PI { libc::CLOCK_REALTIME } else { clock };
            let deadline = absolute(t, a[3], clock)?;
            lock_pi(k, t, uaddr, key(t, uaddr), deadline)
        }
        FUTEX_TRYLOCK_PI => {
            let _table = k.futexes.lock();
            match try_take(t, uaddr, false)? {
                Taken::Yes => Ok(0),
                Taken::Held(_) => Err(Errno::EAGAIN.into()),
            }
        }
        FUTEX_UNLOCK_PI => unlock_pi(k, t, uaddr, key(t, uaddr)),
        _ => Err(Errno::ENOSYS.into()),
    }
}

fn wait(
    k: &KernelRef,
    t: &mut Task,
    key: FutexKey,
    uaddr: u64,
    val: u32,
    bitset: u32,
    deadline: Option<Instant>,
) -> SysResult {
    let waiter = {
        let mut table = k.futexes.lock();
        if read_word(t, uaddr)? != val {
            return Err(Errno::EAGAIN.into());
        }
        table.enqueue(key, bitset, t.tid, t.queue.clone())
    };
    match k.futexes.sleep(&waiter, &t.queue, t.signals.not_waking(), deadline) {
        Ok(()) => Ok(0),
        Err(Woken::Timeout) => Err(Errno::ETIMEDOUT.into()),
        Err(Woken::Signal) => Err(SysError::Restart(Restart::NoHand)),
    }
}

/// FUTEX_WAKE_OP: changes the second word atomically, wakes waiters of
/// the first, and of the second too if its old value passes the test.
fn wake_op(k: &KernelRef, t: &mut Task, a: &[u64; 6], private: bool) -> SysResult {
    let (uaddr, n, m, uaddr2, encoded) = (a[0], count(a[2])?, count(a[3])?, a[4], a[5] as u32);
    if uaddr2 % 4 != 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut op = (encoded >> 28) & 0xf;
    let cmp = (encoded >> 24) & 0xf;
    let mut oparg = ((encoded << 8) as i32) >> 20;
    let cmparg = ((encoded << 20) as i32) >> 20;
    if op & 8 != 0 {
        // FUTEX_OP_OPARG_SHIFT.
        op &= 7;
        if !(0..32).contains(&oparg) {
            return Err(Errno::EINVAL.into());
        }
        oparg = 1 << oparg;
    }
    let (k1, k2) = (futex_key(t, uaddr, private), futex_key(t, uaddr2, private));
    let mut table = k.futexes.lock();
    let old = loop {
        let old = read_word(t, uaddr2)?;
        let new = match op {
            0 => oparg as u32,
            1 => old.wrapping_add(oparg as u32),
            2 => old | oparg as u32,
            3 => old & !(oparg as u32),
            4 => old ^ oparg as u32,
            _ => return Err(Errno::ENOSYS.into()),
        };
        if t.mm.cmpxchg(uaddr2, old, new).map_err(mm_err)? == old {
            break old as i32;
        }
    };
    let pass = match cmp {
        0 => old == cmparg,
        1 => old != cmparg,
        2 => old < cmparg,
        3 => old <= cmparg,
        4 => old > cmparg,
        5 => old >= cmparg,
        _ => return Err(Errno::ENOSYS.into()),
    };
    let mut woken = table.wake(&k1, n, u32::MAX);
    if pass {
        woken += table.wake(&k2, m, u32::MAX);
    }
    Ok(woken as i64)
}

fn mm_err(e: crate::mm::MmError) -> SysError {
    match e {
        crate::mm::MmError::Errno(e) => SysError::Errno(e),
        crate::mm::MmError::Platform(p) => SysError::Fatal(p.into()),
    }
}

enum Taken {
    Yes,
    /// Held by another thread; the word as seen.
    Held(u32),
}

/// Takes a PI lock word for `t` if no one holds it (keeping an owner-died
/// mark, and the waiters bit if `waiters`); EDEADLK if `t` holds it.
fn try_take(t: &mut Task, uaddr: u64, waiters: bool) -> Result<Taken, SysError> {
    loop {
        let word = read_word(t, uaddr)?;
        let owner = word & FUTEX_TID_MASK;
        if owner == t.tid as u32 {
            return Err(Errno::EDEADLK.into());
        }
        if owner != 0 {
            return Ok(Taken::Held(word));
        }
        let mut new = (word & FUTEX_OWNER_DIED) | t.tid as u32;
        if waiters {
            new |= FUTEX_WAITERS;
        }
        if t.mm.cmpxchg(uaddr, word, new).map_err(mm_err)? == word {
            return Ok(Taken::Yes);
        }
    }
}

/// FUTEX_LOCK_PI: takes the lock, or marks it contended and sleeps until
/// its owner hands it over at unlock.
fn lock_pi(k: &KernelRef, t: &mut Task, uaddr: u64, key: FutexKey, deadline: Option<Instant>) -> SysResult {
    let waiter = {
        let mut table = k.futexes.lock();
        loop {
            let others = table.has_waiters(&key);
            match try_take(t, uaddr, others)? {
                Taken::Yes => return Ok(0),
                Taken::Held(word) => {
                    if word & FUTEX_WAITERS != 0
                        || t.mm.cmpxchg(uaddr, word, word | FUTEX_WAITERS).map_err(mm_err)? == word
                    {
                        // As Linux: an owner that is no thread is found
                        // after the waiters mark is set.
                        if !k.tasks().contains_key(&((word & FUTEX_TID_MASK) as i32)) {
                            return Err(Errno::ESRCH.into());
                        }
                        break;
                    }
                }
            }
        }
        table.enqueue(key, u32::MAX, t.tid, t.queue.clone())
    };
    match k.futexes.sleep(&waiter, &t.queue, t.signals.not_waking(), deadline) {
        // The unlocking owner made this thread the owner.
        Ok(()) => Ok(0),
        Err(Woken::Timeout) => Err(Errno::ETIMEDOUT.into()),
        Err(Woken::Signal) => Err(SysError::Restart(Restart::Sys)),
    }
}

/// FUTEX_UNLOCK_PI: hands the lock to the first waiter, or frees it.
fn unlock_pi(k: &KernelRef, t: &mut Task, uaddr: u64, key: FutexKey) -> SysResult {
    let mut table = k.futexes.lock();
    loop {
        let word = read_word(t, uaddr)?;
        if word & FUTEX_TID_MASK != t.tid as u32 {
            return Err(Errno::EPERM.into());
        }
        let next = table.first(&key);
        let new = match &next {
            Some(w) => w.tid as u32 | if table.waiters(&key) > 1 { FUTEX_WAITERS } else { 0 },
            None => 0,
        };
        if t.mm.cmpxchg(uaddr, word, new).map_err(mm_err)? == word {
            if let Some(w) = next {
                table.wake_one(&w);
            }
            return Ok(0);
        }
    }
}
