//! CPU time and peak memory of application processes. A process runs in
//! its stub, a host process, so the host's own accounting of the stub is
//! the process's: user and system time (the system time includes the
//! ptrace stops the Sentry serves) and the peak resident set.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::platform::ptrace::HostUsage;

/// A process's CPU clock, shared by its task and its CPU-time interval
/// timers: which stub runs it now, and what earlier stubs (before execve)
/// used.
#[derive(Debug)]
pub struct ProcessCpu {
    stub: AtomicI32,
    before_exec: Mutex<CpuUsage>,
}

impl ProcessCpu {
    /// The clock of a process that starts now in host process `stub`.
    pub fn new(stub: i32) -> Arc<ProcessCpu> {
        Arc::new(ProcessCpu { stub: AtomicI32::new(stub), before_exec: Mutex::new(CpuUsage::default()) })
    }

    fn before_exec(&self) -> CpuUsage {
        *self.before_exec.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Times and peak memory so far.
    pub fn usage(&self) -> CpuUsage {
        let mut u = CpuUsage::of_host_process(self.stub.load(Ordering::Acquire));
        u.absorb(self.before_exec());
        u
    }

    /// User plus system time so far, to the nanosecond for the current stub.
    pub fn clock(&self) -> Duration {
        let before = self.before_exec();
        CpuUsage::host_cpu_clock(self.stub.load(Ordering::Acquire)) + before.user + before.system
    }

    /// At execve, once the old stub has ended with `old`: its time and
    /// counters carry over, its peak memory (as the host shows) does not.
    pub fn exec(&self, new_stub: i32, old: HostUsage) {
        let mut before = self.before_exec.lock().unwrap_or_else(|p| p.into_inner());
        before.absorb(CpuUsage { max_rss_kib: 0, ..CpuUsage::from(old) });
        before.max_rss_kib = 0;
        self.stub.store(new_stub, Ordering::Release);
    }

    /// The whole life's usage, once the last stub has ended with `last`.
    pub fn finish(&self, last: HostUsage) -> CpuUsage {
        let mut u = CpuUsage::from(last);
        u.absorb(self.before_exec());
        u
    }
}

/// What `getrusage` and `times` report for a process or its reaped children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuUsage {
    /// Time spent running application code.
    pub user: Duration,
    /// Time spent in the kernel on the process's behalf.
    pub system: Duration,
    /// Peak resident set, in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// Minor and major page faults (`ru_minflt`, `ru_majflt`).
    pub faults: (u64, u64),
    /// Voluntary and involuntary context switches (`ru_nvcsw`, `ru_nivcsw`).
    pub switches: (u64, u64),
}

impl From<HostUsage> for CpuUsage {
    fn from(h: HostUsage) -> Self {
        CpuUsage { user: h.user, system: h.system, max_rss_kib: h.max_rss_kib, faults: h.faults, switches: h.switches }
    }
}

impl CpuUsage {
    /// The host's accounting of host process `pid`; zero if it cannot be
    /// read (the stub is already gone).
    pub fn of_host_process(pid: i32) -> CpuUsage {
        let Ok(proc) = ::procfs::process::Process::new(pid) else {
            return CpuUsage::default();
        };
        let ticks = ::procfs::ticks_per_second().max(1);
        let as_time = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000) / ticks);
        let (user, system, faults) = proc.stat().map_or((Duration::ZERO, Duration::ZERO, (0, 0)), |s| {
            (as_time(s.utime), as_time(s.stime), (s.minflt, s.majflt))
        });
        let status = proc.status().ok();
        let max_rss_kib = status.as_ref().and_then(|s| s.vmhwm).unwrap_or(0);
        let switches = status
            .map_or((0, 0), |s| (s.voluntary_ctxt_switches.unwrap_or(0), s.nonvoluntary_ctxt_switches.unwrap_or(0)));
        CpuUsage { user, system, max_rss_kib, faults, switches }
    }

    /// CPU time of host process `pid` to the nanosecond (the scheduler's
    /// own sum, finer than the tick counts of `of_host_process`); zero if it
    /// cannot be read.
    pub fn host_cpu_clock(pid: i32) -> Duration {
        ::procfs::process::Process::new(pid)
            .and_then(|p| p.schedstat())
            .map_or(Duration::ZERO, |s| Duration::from_nanos(s.sum_exec_runtime))
    }

    /// Adds a reaped child's usage: times add up, the peak is the largest.
    pub fn absorb(&mut self, other: CpuUsage) {
        self.user += other.user;
        self.system += other.system;
        self.max_rss_kib = self.max_rss_kib.max(other.max_rss_kib);
        self.faults = (self.faults.0 + other.faults.0, self.faults.1 + other.faults.1);
        self.switches = (self.switches.0 + other.switches.0, self.switches.1 + other.switches.1);
    }

    /// `struct rusage` bytes: the two times, the peak, the fault and
    /// context-switch counters; the rest (swaps, block and message
    /// counts) read zero.
    pub fn rusage_bytes(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        let timeval = |d: Duration| {
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(&d.as_secs().to_le_bytes());
            t[8..].copy_from_slice(&u64::from(d.subsec_micros()).to_le_bytes());
            t
        };
        b[..16].copy_from_slice(&timeval(self.user));
        b[16..32].copy_from_slice(&timeval(self.system));
        b[32..40].copy_from_slice(&self.max_rss_kib.to_le_bytes());
        b[64..72].copy_from_slice(&self.faults.0.to_le_bytes());
        b[72..80].copy_from_slice(&self.faults.1.to_le_bytes());
        b[128..136].copy_from_slice(&self.switches.0.to_le_bytes());
        b[136..144].copy_from_slice(&self.switches.1.to_le_bytes());
        b
    }

    /// Clock ticks (`sysconf(_SC_CLK_TCK)`) of the user and system times.
    pub fn ticks(&self) -> (u64, u64) {
        let per_sec = u128::from(::procfs::ticks_per_second().max(1));
        let tick = |d: Duration| (d.as_nanos() * per_sec / 1_000_000_000) as u64;
        (tick(self.user), tick(self.system))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentrys_own_usage_reads_and_encodes() {
        // Burn 60 ms of this thread's CPU (by the host's own thread clock, not
        // wall time: other tests share the CPUs) so there is something to report.
        let thread_cpu = || {
            let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
            Duration::from(ts)
        };
        let mut x = 0u64;
        while thread_cpu() < Duration::from_millis(60) {
            for _ in 0..10_000 {
                x = x.wrapping_mul(31).wrapping_add(1);
            }
        }
        assert_ne!(x, 1);
        let me = CpuUsage::of_host_process(std::process::id() as i32);
        assert!(me.user + me.system > Duration::ZERO, "{me:?}");
        assert!(me.max_rss_kib > 0);
        let bytes = me.rusage_bytes();
        assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()), me.user.as_secs());
        assert_eq!(u64::from_le_bytes(bytes[32..40].try_into().unwrap()), me.max_rss_kib);
        let mut sum = me;
        sum.absorb(CpuUsage { user: Duration::from_secs(1), max_rss_kib: 1, faults: (2, 0), ..CpuUsage::default() });
        assert_eq!(sum.faults.0, me.faults.0 + 2);
        assert_eq!(sum.user, me.user + Duration::from_secs(1));
        assert_eq!(sum.max_rss_kib, me.max_rss_kib);
        assert_eq!(CpuUsage::of_host_process(-5), CpuUsage::default());
        // schedstat is per thread: this test's thread burned the time.
        assert!(CpuUsage::host_cpu_clock(nix::unistd::gettid().as_raw()) >= Duration::from_millis(40));
        assert_eq!(CpuUsage::host_cpu_clock(-5), Duration::ZERO);
    }
}
