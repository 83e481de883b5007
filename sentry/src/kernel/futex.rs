//! Futex waiters of the whole sandbox. A waiter is keyed by what its word
//! is: an address in one address space (private futexes, and private
//! mappings), or a place in a shared object (a shared mapping of a file or
//! of shared anonymous memory, which other processes map too). The word
//! itself lives in application memory; callers check it under the table's
//! lock, so a wake that follows a change of the word never misses a waiter
//! that saw the old value.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use nix::errno::Errno;

use super::blocking::Woken;
use super::sigqueue::SignalQueue;

/// How long a waiter spins before it sleeps, in microseconds.
const SPIN_US: u64 = 10;

/// What a futex word is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FutexKey {
    /// An address in address space `mm`.
    Private {
        /// `AddressSpace::id`.
        mm: u64,
        /// The word's address.
        addr: u64,
        /// Whether the call said FUTEX_PRIVATE_FLAG: as in Linux, a
        /// private and a shared call on a private mapping do not meet.
        flagged: bool,
    },
    /// An offset in a shared object (a file's path, or shared anonymous
    /// memory named by where it was first mapped, which forks keep).
    Shared {
        /// The object.
        object: Vec<u8>,
        /// The word's offset in it.
        offset: u64,
    },
}

/// One task waiting on a futex.
#[derive(Debug)]
pub struct Waiter {
    bitset: u32,
    woken: AtomicBool,
    queue: Arc<SignalQueue>,
    /// The waiter's thread id (for PI ownership hand-over).
    pub tid: i32,
}

impl Waiter {
    /// Whether a wake took this waiter.
    pub fn woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }

    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.queue.wake();
    }
}

/// The waiters, in arrival order.
#[derive(Debug, Default)]
pub struct FutexTable {
    waiters: Mutex<Vec<(FutexKey, Arc<Waiter>)>>,
}

/// The table, locked: word checks and wakes happen under it.
pub struct Locked<'a> {
    w: MutexGuard<'a, Vec<(FutexKey, Arc<Waiter>)>>,
}

impl FutexTable {
    /// Locks the table.
    pub fn lock(&self) -> Locked<'_> {
        Locked { w: self.waiters.lock().unwrap_or_else(|p| p.into_inner()) }
    }

    /// Takes `w` off the table if it is still there; false if a wake took
    /// it first.
    pub fn cancel(&self, w: &Arc<Waiter>) -> bool {
        let mut l = self.lock();
        let before = l.w.len();
        l.w.retain(|(_, x)| !Arc::ptr_eq(x, w));
        l.w.len() != before
    }

    /// Sleeps until `w` is woken, a signal outside `not_waking` is pending
    /// for the task of `queue`, or `deadline` passes. A waiter woken and
    /// signalled at once reports the wake, so no wake is lost.
    pub fn sleep(
        &self,
        w: &Arc<Waiter>,
        queue: &SignalQueue,
        not_waking: u64,
        deadline: Option<Instant>,
    ) -> Result<(), Woken> {
        // A wake often follows within microseconds (a lock handed over, a
        // ping-pong): a short spin saves the sleep and the cross-CPU wake-up
        // of a host poll.
        let spin_until = Instant::now() + std::time::Duration::from_micros(SPIN_US);
        while Instant::now() < spin_until {
            if w.woken() {
                return Ok(());
            }
            // Yield, not spin: the waker may need this very CPU.
            std::thread::yield_now();
        }
        loop {
            queue.drain_interrupt();
            if w.woken() {
                return Ok(());
            }
            let why = if queue.has_unblocked(not_waking) {
                Some(Woken::Signal)
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some(Woken::Timeout)
            } else {
                None
            };
            if let Some(why) = why {
                return if self.cancel(w) { Err(why) } else { Ok(()) };
            }
            let timeout_ms = deadline.map_or(-1, |d| {
                let left = d.saturating_duration_since(Instant::now());
                i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX)
            });
            let mut fds = [libc::pollfd { fd: queue.interrupt_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: `fds` is one valid pollfd whose descriptor is open for
            // the call.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) };
            if r < 0 && Errno::last() != Errno::EINTR {
                return if self.cancel(w) { Err(Woken::Signal) } else { Ok(()) };
            }
        }
    }
}

impl Locked<'_> {
    /// Queues a waiter on `key` for the task of `queue`.
    pub fn enqueue(&mut self, key: FutexKey, bitset: u32, tid: i32, queue: Arc<SignalQueue>) -> Arc<Waiter> {
        let w = Arc::new(Waiter { bitset, woken: AtomicBool::new(false), queue, tid });
        self.w.push((key, w.clone()));
        w
    }

    /// Wakes up to `n` waiters on `key` whose bitset meets `bitset`;
    /// returns how many.
    pub fn wake(&mut self, key: &FutexKey, n: usize, bitset: u32) -> usize {
        let mut woken = 0;
        self.w.retain(|(k, w)| {
            if woken < n && k == key && w.bitset & bitset != 0 {
                w.wake();
                woken += 1;
                false
            } else {
                true
            }
        });
        woken
    }

    /// Wakes up to `n` waiters on `from`, then moves up to `m` more to
    /// `to`; returns how many were woken plus moved.
    pub fn requeue(&mut self, from: &FutexKey, to: &FutexKey, n: usize, m: usize) -> usize {
        let woken = self.wake(from, n, u32::MAX);
        let mut moved = 0;
        for (k, _) in self.w.iter_mut() {
            if moved < m && k == from {
                *k = to.clone();
                moved += 1;
            }
        }
        woken + moved
    }

    /// The first waiter on `key`, if any (the next owner of a PI futex).
    pub fn first(&self, key: &FutexKey) -> Option<Arc<Waiter>> {
        self.w.iter().find(|(k, _)| k == key).map(|(_, w)| w.clone())
    }

    /// Wakes waiter `w` alone, if it still waits.
    pub fn wake_one(&mut self, w: &Arc<Waiter>) {
        self.w.retain(|(_, x)| {
            if Arc::ptr_eq(x, w) {
                x.wake();
                false
            } else {
                true
            }
        });
    }

    /// Whether anyone waits on `key`.
    pub fn has_waiters(&self, key: &FutexKey) -> bool {
        self.w.iter().any(|(k, _)| k == key)
    }

    /// How many wait on `key`.
    pub fn waiters(&self, key: &FutexKey) -> usize {
        self.w.iter().filter(|(k, _)| k == key).count()
    }
}
