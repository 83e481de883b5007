//! Setting the wall clock from inside the sandbox.
//!
//! The sandbox shares the host's clock, and its processes read it without
//! trapping (the vDSO), so a per-sandbox offset could not be applied to
//! every read. moat therefore never sets the host's clock: a caller
//! without CAP_SYS_TIME gets EPERM as on Linux, and one with it may "set"
//! the clock only to the time it already shows (within [`SLACK`]), which
//! succeeds and changes nothing. Any other time is EPERM, the one answer
//! here that Linux would not give (docs/security.md).

use std::time::{Duration, SystemTime};

use nix::errno::Errno;

use super::creds::Creds;

/// `CAP_SYS_TIME`.
pub const CAP_SYS_TIME: u32 = 25;

/// How far from the current time a requested time may be and still count
/// as the current time (a read, a computation and a call in between).
pub const SLACK: Duration = Duration::from_secs(1);

/// A requested wall-clock time, as seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallTime {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, below 10^9.
    pub nsec: i64,
}

impl WallTime {
    /// Linux's `timespec64_valid_settod`: a non-negative time with
    /// nanoseconds below a second (and not past the year 2262).
    pub fn valid(&self) -> bool {
        self.sec >= 0 && (0..1_000_000_000).contains(&self.nsec) && self.sec < i64::MAX / 1_000_000_000
    }
}

/// settimeofday / clock_settime(CLOCK_REALTIME) of `to` by `creds`.
pub fn set(creds: &Creds, to: WallTime) -> Result<(), Errno> {
    if !to.valid() {
        return Err(Errno::EINVAL);
    }
    if !creds.capable(CAP_SYS_TIME) {
        return Err(Errno::EPERM);
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let want = Duration::new(to.sec as u64, to.nsec as u32);
    let off = want.abs_diff(now);
    if off <= SLACK { Ok(()) } else { Err(Errno::EPERM) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> WallTime {
        let d = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
        WallTime { sec: d.as_secs() as i64, nsec: i64::from(d.subsec_nanos()) }
    }

    #[test]
    fn only_the_current_time_and_only_with_sys_time() {
        let root = Creds::new(0, 0, vec![]);
        assert_eq!(set(&root, now()), Ok(()));
        assert_eq!(set(&root, WallTime { sec: 1000, nsec: 0 }), Err(Errno::EPERM));
        assert_eq!(set(&root, WallTime { sec: 0, nsec: 1_000_000_000 }), Err(Errno::EINVAL));
        assert_eq!(set(&Creds::new(1000, 1000, vec![]), now()), Err(Errno::EPERM));
    }
}
