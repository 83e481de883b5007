//! The real-time interval timer of a process (setitimer ITIMER_REAL,
//! alarm): a Sentry thread sleeps until the deadline and sends SIGALRM.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::sigqueue::SigInfo;
use super::{Kernel, KernelRef};

#[derive(Debug, Default)]
struct State {
    /// When it next fires, if armed.
    deadline: Option<Instant>,
    /// Re-arm period (zero: one shot).
    interval: Duration,
    /// Bumped at each change, so a stale timer thread stops.
    generation: u64,
}

/// A process's ITIMER_REAL.
#[derive(Debug, Default)]
pub struct RealTimer {
    state: Mutex<State>,
    changed: Condvar,
}

impl RealTimer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The time left and the interval (zero, zero: disarmed).
    pub fn get(&self) -> (Duration, Duration) {
        let s = self.lock();
        let left = s.deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(Instant::now()));
        (left, s.interval)
    }

    /// Arms (value > 0) or disarms the timer for process `pid`, and
    /// returns what was set before.
    pub fn set(self: &Arc<Self>, k: &KernelRef, pid: i32, value: Duration, interval: Duration) -> (Duration, Duration) {
        let old = self.get();
        let generation = {
            let mut s = self.lock();
            s.generation += 1;
            s.deadline = (!value.is_zero()).then(|| Instant::now() + value);
            s.interval = interval;
            s.generation
        };
        self.changed.notify_all();
        if !value.is_zero() {
            let me = self.clone();
            let kernel = Arc::downgrade(k);
            let _ = std::thread::Builder::new()
                .name(format!("itimer-{pid}"))
                .spawn(move || me.run(kernel, pid, generation));
        }
        old
    }

    fn run(&self, kernel: Weak<Kernel>, pid: i32, generation: u64) {
        let mut s = self.lock();
        loop {
            if s.generation != generation {
                return;
            }
            let Some(deadline) = s.deadline else { return };
            let now = Instant::now();
            if now < deadline {
                s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
                continue;
            }
            s.deadline = (!s.interval.is_zero()).then(|| deadline + s.interval);
            drop(s);
            let Some(k) = kernel.upgrade() else { return };
            let info = SigInfo { signo: libc::SIGALRM, code: libc::SI_KERNEL, ..SigInfo::default() };
            if k.send_signal(pid, info).is_err() {
                return;
            }
            s = self.lock();
        }
    }
}
