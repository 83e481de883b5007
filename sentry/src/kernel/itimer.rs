//! The interval timers of a process: ITIMER_REAL (and alarm), counted on
//! the wall clock, and ITIMER_VIRTUAL and ITIMER_PROF, counted on the
//! process's CPU time. An armed timer is a Sentry thread that sleeps for
//! the time still due, reads its clock again and fires once it is reached.
//! A process's CPU time never runs faster than the wall clock (one thread
//! per process), so the same sleep serves both: no polling of an idle
//! process.

use std::sync::{Arc, Condvar, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use super::cputime::ProcessCpu;
use super::sigqueue::SigInfo;
use super::{Kernel, KernelRef};

/// What a timer counts.
#[derive(Debug, Clone)]
pub enum TimerClock {
    /// Wall-clock time; sends SIGALRM.
    Real,
    /// The process's user time; sends SIGVTALRM.
    Virtual(Arc<ProcessCpu>),
    /// The process's user and system time; sends SIGPROF.
    Prof(Arc<ProcessCpu>),
}

/// The wall clock's zero, so that every clock reads as a Duration.
static REAL_EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

impl TimerClock {
    fn now(&self) -> Duration {
        match self {
            TimerClock::Real => REAL_EPOCH.elapsed(),
            TimerClock::Virtual(cpu) => cpu.usage().user,
            TimerClock::Prof(cpu) => cpu.clock(),
        }
    }

    fn signo(&self) -> i32 {
        match self {
            TimerClock::Real => libc::SIGALRM,
            TimerClock::Virtual(_) => libc::SIGVTALRM,
            TimerClock::Prof(_) => libc::SIGPROF,
        }
    }

    /// The shortest sleep between two reads: user time moves in host clock
    /// ticks, so a read of a CPU clock may lag the truth by one.
    fn min_nap(&self) -> Duration {
        match self {
            TimerClock::Real => Duration::ZERO,
            _ => Duration::from_millis(1),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The clock reading at which it next fires, if armed.
    target: Option<Duration>,
    /// Re-arm period (zero: one shot).
    interval: Duration,
    /// Bumped at each change, so a stale timer thread stops.
    generation: u64,
}

/// One interval timer of a process.
#[derive(Debug, Default)]
pub struct IntervalTimer {
    state: Mutex<State>,
    changed: Condvar,
}

impl IntervalTimer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The time left and the interval (zero, zero: disarmed). An armed
    /// timer that is due reads as one microsecond left, as in Linux.
    pub fn get(&self, clock: &TimerClock) -> (Duration, Duration) {
        let s = self.lock();
        let left = s.target.map_or(Duration::ZERO, |t| t.saturating_sub(clock.now()).max(Duration::from_micros(1)));
        (left, s.interval)
    }

    /// Arms (value > 0) or disarms the timer of process `pid`, returning
    /// what was set before.
    pub fn set(
        self: &Arc<Self>,
        k: &KernelRef,
        pid: i32,
        clock: TimerClock,
        value: Duration,
        interval: Duration,
    ) -> (Duration, Duration) {
        let old = self.get(&clock);
        let generation = {
            let mut s = self.lock();
            s.generation += 1;
            s.target = (!value.is_zero()).then(|| clock.now() + value);
            s.interval = interval;
            s.generation
        };
        self.changed.notify_all();
        if !value.is_zero() {
            let me = self.clone();
            let kernel = Arc::downgrade(k);
            let _ = std::thread::Builder::new()
                .name(format!("itimer-{pid}"))
                .spawn(move || me.run(kernel, pid, &clock, generation));
        }
        old
    }

    fn run(&self, kernel: Weak<Kernel>, pid: i32, clock: &TimerClock, generation: u64) {
        let mut s = self.lock();
        loop {
            if s.generation != generation {
                return;
            }
            let Some(target) = s.target else { return };
            // An idle process's CPU clock stands still: stop with the
            // process, not when the timer would have fired.
            let alive = kernel.upgrade().is_some_and(|k| k.tasks().contains_key(&pid));
            if !alive {
                return;
            }
            let now = clock.now();
            if now < target {
                let nap = (target - now).max(clock.min_nap());
                s = self.changed.wait_timeout(s, nap).unwrap_or_else(|p| p.into_inner()).0;
                continue;
            }
            s.target = (!s.interval.is_zero()).then(|| target + s.interval);
            drop(s);
            let Some(k) = kernel.upgrade() else { return };
            let info = SigInfo { signo: clock.signo(), code: libc::SI_KERNEL, ..SigInfo::default() };
            if k.send_signal(pid, info).is_err() {
                return;
            }
            s = self.lock();
        }
    }
}
