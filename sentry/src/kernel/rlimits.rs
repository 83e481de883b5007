//! Resource limits of a process.

use nix::errno::Errno;

/// Number of resources Linux defines (`RLIM_NLIMITS`).
pub const NLIMITS: usize = 16;
/// `RLIM_INFINITY`.
pub const INFINITY: u64 = u64::MAX;

/// One limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// Soft limit.
    pub cur: u64,
    /// Hard limit.
    pub max: u64,
}

/// All limits of a process.
#[derive(Debug, Clone)]
pub struct Rlimits {
    limits: [Rlimit; NLIMITS],
}

impl Rlimits {
    /// The limits a sandbox's init starts with: the caller's own, as a
    /// process started by the caller would have them.
    pub fn initial() -> Self {
        let mut limits = [Rlimit { cur: INFINITY, max: INFINITY }; NLIMITS];
        for (i, l) in limits.iter_mut().enumerate() {
            let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: r is a valid rlimit to fill; i is below RLIM_NLIMITS.
            if unsafe { libc::getrlimit(i as libc::__rlimit_resource_t, &mut r) } == 0 {
                *l = Rlimit { cur: r.rlim_cur, max: r.rlim_max };
            }
        }
        Rlimits { limits }
    }

    /// The limit of resource `res`.
    pub fn get(&self, res: u32) -> Result<Rlimit, Errno> {
        self.limits.get(res as usize).copied().ok_or(Errno::EINVAL)
    }

    /// Sets the limit of `res`, returning the old one. The soft limit may
    /// not exceed the hard one. (Raising the hard limit needs
    /// CAP_SYS_RESOURCE, which the sandbox's root has so far.)
    pub fn set(&mut self, res: u32, new: Rlimit) -> Result<Rlimit, Errno> {
        let slot = self.limits.get_mut(res as usize).ok_or(Errno::EINVAL)?;
        if new.cur > new.max {
            return Err(Errno::EINVAL);
        }
        if res == libc::RLIMIT_NOFILE && new.max > 1 << 20 {
            // Linux's nr_open.
            return Err(Errno::EPERM);
        }
        Ok(std::mem::replace(slot, new))
    }
}

/// /proc/PID/limits for `limits`, in Linux's layout.
pub fn limits_text(limits: &Rlimits) -> Vec<u8> {
    const ROWS: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let show = |v: u64| if v == INFINITY { "unlimited".to_string() } else { v.to_string() };
    let mut out = format!("{:<25} {:<20} {:<20} {:<10}\n", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (res, (name, unit)) in ROWS.iter().enumerate() {
        let Ok(l) = limits.get(res as u32) else { continue };
        out.push_str(&format!("{name:<25} {:<20} {:<20} {unit:<10}\n", show(l.cur), show(l.max)));
    }
    out.into_bytes()
}
