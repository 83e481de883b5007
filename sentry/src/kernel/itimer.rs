//! The interval timers of a process: ITIMER_REAL (and alarm), where a
//! Sentry thread sleeps until the deadline and sends SIGALRM, and the
//! CPU-time timers ITIMER_VIRTUAL and ITIMER_PROF.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::cputime::ProcessCpu;
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

/// Which CPU time a [`CpuTimer`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuTimerKind {
    /// ITIMER_VIRTUAL: user time; sends SIGVTALRM.
    Virtual,
    /// ITIMER_PROF: user and system time; sends SIGPROF.
    Prof,
}

#[derive(Debug, Default)]
struct CpuState {
    /// The process CPU time at which it next fires, if armed.
    target: Option<Duration>,
    interval: Duration,
    generation: u64,
}

/// A process's ITIMER_VIRTUAL or ITIMER_PROF. A process's CPU time never
/// runs faster than the wall clock (one thread per process), so the timer
/// thread sleeps for the CPU time still due, reads the clock again, and
/// fires once the process has used it: no polling while the process idles.
#[derive(Debug, Default)]
pub struct CpuTimer {
    state: Mutex<CpuState>,
    changed: Condvar,
}

/// The shortest sleep between two reads of the clock: user time moves in
/// host clock ticks, so a read may lag the truth by one.
const MIN_CPU_POLL: Duration = Duration::from_millis(1);

fn cpu_now(cpu: &ProcessCpu, kind: CpuTimerKind) -> Duration {
    match kind {
        CpuTimerKind::Virtual => cpu.usage().user,
        CpuTimerKind::Prof => cpu.clock(),
    }
}

impl CpuTimer {
    fn lock(&self) -> std::sync::MutexGuard<'_, CpuState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The CPU time left and the interval (zero, zero: disarmed).
    pub fn get(&self, cpu: &ProcessCpu, kind: CpuTimerKind) -> (Duration, Duration) {
        let s = self.lock();
        let left =
            s.target.map_or(Duration::ZERO, |t| t.saturating_sub(cpu_now(cpu, kind)).max(Duration::from_micros(1)));
        (left, s.interval)
    }

    /// Arms (value > 0) or disarms the timer of process `pid`, returning
    /// what was set before.
    pub fn set(
        self: &Arc<Self>,
        k: &KernelRef,
        pid: i32,
        cpu: &Arc<ProcessCpu>,
        kind: CpuTimerKind,
        value: Duration,
        interval: Duration,
    ) -> (Duration, Duration) {
        let old = self.get(cpu, kind);
        let generation = {
            let mut s = self.lock();
            s.generation += 1;
            s.target = (!value.is_zero()).then(|| cpu_now(cpu, kind) + value);
            s.interval = interval;
            s.generation
        };
        self.changed.notify_all();
        if !value.is_zero() {
            let (me, cpu) = (self.clone(), cpu.clone());
            let kernel = Arc::downgrade(k);
            let _ = std::thread::Builder::new()
                .name(format!("cputimer-{pid}"))
                .spawn(move || me.run(kernel, pid, &cpu, kind, generation));
        }
        old
    }

    fn run(&self, kernel: Weak<Kernel>, pid: i32, cpu: &ProcessCpu, kind: CpuTimerKind, generation: u64) {
        let mut s = self.lock();
        loop {
            if s.generation != generation {
                return;
            }
            let Some(target) = s.target else { return };
            // An idle process's clock stands still: stop with the process,
            // not when the timer would have fired.
            let alive = kernel.upgrade().is_some_and(|k| k.tasks().contains_key(&pid));
            if !alive {
                return;
            }
            let used = cpu_now(cpu, kind);
            if used < target {
                let nap = (target - used).max(MIN_CPU_POLL);
                s = self.changed.wait_timeout(s, nap).unwrap_or_else(|p| p.into_inner()).0;
                continue;
            }
            s.target = (!s.interval.is_zero()).then(|| target + s.interval);
            drop(s);
            let Some(k) = kernel.upgrade() else { return };
            let signo = match kind {
                CpuTimerKind::Virtual => libc::SIGVTALRM,
                CpuTimerKind::Prof => libc::SIGPROF,
            };
            let info = SigInfo { signo, code: libc::SI_KERNEL, ..SigInfo::default() };
            if k.send_signal(pid, info).is_err() {
                return;
            }
            s = self.lock();
        }
    }
}
