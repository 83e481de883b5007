//! Which CPU a stub and its Sentry thread are pinned to.
//!
//! The pair must share a CPU (a ptrace round trip across CPUs costs several
//! times one on the same CPU), but different processes should not all share
//! one: a pipeline's two ends, or a parallel build, then run one after the
//! other. So each new pair goes to the allowed CPU with the fewest live
//! pairs, as Linux balances a fork onto the idlest CPU; ties stay on the CPU
//! the caller runs on, so a parent that only waits keeps its child close.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu};
use nix::unistd::Pid;

/// Live pairs per allowed CPU, fixed at first use from the Sentry's own
/// affinity (the CPUs its cgroup or caller allows).
struct Cpus {
    ids: Vec<usize>,
    live: Vec<AtomicUsize>,
}

static CPUS: LazyLock<Cpus> = LazyLock::new(|| {
    let allowed = sched_getaffinity(Pid::from_raw(0)).unwrap_or_else(|_| CpuSet::new());
    let mut ids: Vec<usize> = (0..CpuSet::count()).filter(|&c| allowed.is_set(c).unwrap_or(false)).collect();
    if ids.is_empty() {
        ids.push(sched_getcpu().unwrap_or(0));
    }
    let live = ids.iter().map(|_| AtomicUsize::new(0)).collect();
    Cpus { ids, live }
});

/// The CPUs the sandbox may run on: the Sentry's affinity when it started,
/// before it pinned any thread (what the application's sched_getaffinity
/// reports, as a process started with that affinity sees natively).
pub fn allowed_cpus() -> &'static [usize] {
    &CPUS.ids
}

/// One pair's claim on a CPU, released when dropped.
#[derive(Debug)]
pub struct CpuClaim {
    slot: usize,
}

impl CpuClaim {
    /// Claims the allowed CPU with the fewest live pairs.
    pub fn choose() -> CpuClaim {
        let cpus = &*CPUS;
        let here = sched_getcpu().ok().and_then(|c| cpus.ids.iter().position(|&id| id == c));
        let count = |i: usize| cpus.live[i].load(Ordering::Relaxed);
        let mut best = here.unwrap_or(0);
        for i in 0..cpus.ids.len() {
            if count(i) < count(best) {
                best = i;
            }
        }
        cpus.live[best].fetch_add(1, Ordering::Relaxed);
        CpuClaim { slot: best }
    }

    /// The claimed CPU's number.
    pub fn cpu(&self) -> usize {
        CPUS.ids[self.slot]
    }
}

impl Drop for CpuClaim {
    fn drop(&mut self) {
        CPUS.live[self.slot].fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_spread_over_cpus_and_are_released() {
        let n = CPUS.ids.len();
        let claims: Vec<CpuClaim> = (0..2 * n).map(|_| CpuClaim::choose()).collect();
        for &id in &CPUS.ids {
            // Other tests may hold claims too, so only check that every CPU got
            // some of these, which a pin-to-the-caller's-CPU policy would not.
            assert!(claims.iter().any(|c| c.cpu() == id), "no claim on cpu {id}");
        }
        drop(claims);
    }
}
