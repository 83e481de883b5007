//! Container state under `--root`: one directory per container holding
//! `state.json` (replaced atomically) and the Sentry's control socket. An
//! flock on the directory serialises the commands acting on one container.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// OCI status, as stored; [`Container::status`] checks it against reality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is setting the sandbox up.
    Creating,
    /// The sandbox is ready; init waits for `start`.
    Created,
    /// Init runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Init has ended (or the sandbox was killed).
    Stopped,
}

impl Status {
    /// The name OCI and runc use.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A host process of the sandbox, named so that a recycled pid is not
/// mistaken for it: its pid and its start time in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostProcess {
    /// Host pid.
    pub pid: i32,
    /// `starttime` from /proc/PID/stat.
    pub start: u64,
}

impl HostProcess {
    /// The live process `pid` (None if it is gone).
    pub fn of(pid: i32) -> Option<HostProcess> {
        let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
        Some(HostProcess { pid, start: stat.starttime })
    }

    /// Waits up to `limit` for it to end (not be alive), without polling:
    /// a pidfd becomes readable when the process exits.
    pub fn wait_gone(&self, limit: std::time::Duration) -> bool {
        if !self.alive() {
            return true;
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor or -1; nix has no wrapper for it.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) } as i32;
        if fd < 0 {
            return !self.alive();
        }
        // SAFETY: fd was just returned by pidfd_open and nothing else owns it.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // The pid may have been reused between alive() and pidfd_open.
        if !self.alive() {
            return true;
        }
        let mut fds = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&fd), nix::poll::PollFlags::POLLIN)];
        let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
        let _ = nix::poll::poll(&mut fds, ms);
        !self.alive()
    }

    /// Whether it still runs: same pid, same start time, not a zombie.
    pub fn alive(&self) -> bool {
        if self.pid <= 0 {
            return false;
        }
        match procfs::process::Process::new(self.pid).and_then(|p| p.stat()) {
            Ok(s) => s.starttime == self.start && s.state != 'Z' && s.state != 'X',
            Err(_) => false,
        }
    }
}

/// Everything moat keeps about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    /// Container id.
    pub id: String,
    /// Bundle directory (absolute).
    pub bundle: PathBuf,
    /// Root file system (absolute).
    pub rootfs: PathBuf,
    /// Stored status.
    pub status: Status,
    /// The Sentry: the process whose exit is the container's.
    pub sentry: HostProcess,
    /// The container's Gofer.
    pub gofer: HostProcess,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Annotations from config.json.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Cgroup directories made for the sandbox (to remove at delete).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// The spec's hooks, kept for poststop (the bundle may be gone by then).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

impl Container {
    /// The status as it is now: a sandbox whose Sentry is gone is stopped,
    /// whatever was stored.
    pub fn status(&self) -> Status {
        match self.status {
            Status::Creating | Status::Created | Status::Running | Status::Paused if !self.sentry.alive() => {
                Status::Stopped
            }
            s => s,
        }
    }

    /// The OCI state document (`moat state`, and hooks' standard input).
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.status();
        let pid = if status == Status::Stopped { 0 } else { self.sentry.pid };
        serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "pid": pid,
            "status": status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": "",
            "annotations": self.annotations,
        })
    }
}

/// The `--root` directory.
pub struct StateRoot {
    root: PathBuf,
}

/// One container's directory, locked for the life of this value.
pub struct Locked {
    dir: PathBuf,
    _lock: Flock<File>,
}

/// Checks a container id as runc does: letters, digits, `_+-.`, and not
/// `.` or `..`.
pub fn check_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !ok {
        bail!("invalid container id {id:?}: use letters, digits and _+-. only");
    }
    Ok(())
}

fn lock_dir(dir: &Path) -> anyhow::Result<Flock<File>> {
    let f = File::open(dir).with_context(|| format!("open state directory {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| e).with_context(|| format!("lock {}", dir.display()))
}

impl StateRoot {
    /// The state root at `root`, made if missing (mode 0711, as runc's).
    pub fn new(root: &Path) -> anyhow::Result<StateRoot> {
        std::fs::create_dir_all(root).with_context(|| format!("create state root {}", root.display()))?;
        Ok(StateRoot { root: root.to_path_buf() })
    }

    /// The directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Makes and locks the directory of a new container.
    pub fn create(&self, id: &str) -> anyhow::Result<Locked> {
        check_id(id)?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!("container with id {id} already exists"),
            Err(e) => return Err(e).with_context(|| format!("create state directory {}", dir.display())),
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("chmod {}", dir.display()))?;
        Ok(Locked { _lock: lock_dir(&dir)?, dir })
    }

    /// Locks the directory of an existing container.
    pub fn open(&self, id: &str) -> anyhow::Result<Locked> {
        check_id(id)?;
        let dir = self.dir(id);
        if !dir.join("state.json").exists() {
            bail!("container {id} does not exist");
        }
        let locked = Locked { _lock: lock_dir(&dir)?, dir };
        // It may have been deleted while this waited for the lock.
        if !locked.dir.join("state.json").exists() {
            bail!("container {id} does not exist");
        }
        Ok(locked)
    }

    /// Every container with a readable state, sorted by id.
    pub fn list(&self) -> anyhow::Result<Vec<Container>> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&self.root).with_context(|| format!("read state root {}", self.root.display()))?;
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read(e.path().join("state.json"))
                && let Ok(c) = serde_json::from_slice::<Container>(&text)
            {
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

impl Locked {
    /// Where the Sentry's control socket is.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control")
    }

    /// Reads `state.json`.
    pub fn read(&self) -> anyhow::Result<Container> {
        let p = self.dir.join("state.json");
        let text = std::fs::read(&p).with_context(|| format!("read {}", p.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("parse {}", p.display()))
    }

    /// Replaces `state.json` atomically (a reader sees the old or the new).
    pub fn write(&self, c: &Container) -> anyhow::Result<()> {
        let text = serde_json::to_vec_pretty(c).context("encode state")?;
        write_atomically(&self.dir.join("state.json"), &text)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> anyhow::Result<()> {
        std::fs::remove_dir_all(&self.dir).with_context(|| format!("remove {}", self.dir.display()))
    }
}

/// Writes `path` through a temporary file and a rename: a reader sees the
/// old content or the new, never a part. Not synced: state lives on
/// /run, which does not outlive a crash, and a sync cost milliseconds of
/// every lifecycle step.
pub fn write_atomically(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(data).with_context(|| format!("write {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("rename {} to {}", tmp.display(), path.display())
    })
}

/// `t` as RFC 3339 in UTC with nanoseconds, as runc writes `created`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runcs() {
        for ok in ["a", "abc-1.2_x+y", "0123456789abcdef"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "\u{e9}"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        let at = |s: u64| rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000000000Z");
        assert_eq!(at(1_795_000_000), "2026-11-18T11:06:40.000000000Z");
    }

    #[test]
    fn a_dead_or_recycled_pid_is_not_alive() {
        let me = HostProcess::of(std::process::id() as i32).unwrap();
        assert!(me.alive());
        assert!(!HostProcess { start: me.start + 1, ..me }.alive(), "same pid, other start time");
        assert!(!HostProcess { pid: 0, start: 0 }.alive());
    }
}
