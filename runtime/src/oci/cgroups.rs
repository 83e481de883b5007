//! The sandbox's cgroups. Every host process of a sandbox (Sentry, Gofer,
//! stubs) is placed in the spec's `cgroupsPath`, in every mounted
//! hierarchy: cgroup v1 controllers, a v2 unified hierarchy, or this
//! machine's hybrid of both. Limits apply to the sandbox as a whole, since
//! the stubs holding the application's memory sit there with the Sentry.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use oci_spec::runtime::LinuxResources;

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Mount point.
    pub mount: PathBuf,
    /// Controllers bound to it (v1), or those it offers (v2).
    pub controllers: Vec<String>,
    /// cgroup v2.
    pub unified: bool,
}

/// The hierarchies mounted in this mount namespace.
pub fn hierarchies() -> anyhow::Result<Vec<Hierarchy>> {
    let info = procfs::process::Process::myself().and_then(|p| p.mountinfo()).context("read mountinfo")?;
    let mut out = Vec::new();
    for m in info {
        match m.fs_type.as_str() {
            "cgroup" => {
                let controllers = m
                    .super_options
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "rw" | "ro" | "relatime" | "noprefix" | "clone_children"))
                    .cloned()
                    .collect();
                out.push(Hierarchy { mount: m.mount_point.clone(), controllers, unified: false });
            }
            "cgroup2" => {
                let offered = std::fs::read_to_string(m.mount_point.join("cgroup.controllers")).unwrap_or_default();
                let controllers = offered.split_whitespace().map(str::to_string).collect();
                out.push(Hierarchy { mount: m.mount_point.clone(), controllers, unified: true });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A `cgroupsPath` as a path below each hierarchy's root. systemd's
/// `slice:prefix:name` form (there is no systemd to ask here) becomes
/// `/slice/prefix-name.scope`, the directory systemd would make.
pub fn relative_path(cgroups_path: &str, systemd: bool) -> anyhow::Result<PathBuf> {
    let p = if systemd || (cgroups_path.matches(':').count() == 2 && !cgroups_path.starts_with('/')) {
        let parts: Vec<&str> = cgroups_path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            bail!("config.json: linux.cgroupsPath: {cgroups_path:?} is not slice:prefix:name");
        };
        let slice = if slice.is_empty() { "system.slice" } else { slice };
        format!("{slice}/{prefix}-{name}.scope")
    } else {
        cgroups_path.to_string()
    };
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if parts.is_empty() || parts.contains(&"..") {
        bail!("config.json: linux.cgroupsPath: {cgroups_path:?} is not a usable path");
    }
    Ok(parts.iter().collect())
}

fn write(dir: &Path, file: &str, value: &str) -> anyhow::Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).with_context(|| format!("write {value:?} to {}", p.display()))
}

/// cpuset v1 refuses tasks until `cpus` and `mems` are set: each new level
/// copies its parent's.
fn init_cpuset(dir: &Path) -> anyhow::Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        if mine.trim().is_empty()
            && let Some(parent) = dir.parent()
        {
            let theirs = std::fs::read_to_string(parent.join(f)).with_context(|| format!("read {f}"))?;
            write(dir, f, theirs.trim())?;
        }
    }
    Ok(())
}

/// Makes the sandbox's cgroup in every hierarchy and returns the leaf
/// directories (what `delete` removes).
pub fn create(rel: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for h in hierarchies()? {
        // A parent another container's delete removes meanwhile (moat's
        // default parent goes with its last container) is made again.
        let mut tries = 0;
        loop {
            match create_in(&h, rel) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 10 => tries += 1,
                r => {
                    r.with_context(|| format!("create cgroup {}", h.mount.join(rel).display()))?;
                    break;
                }
            }
        }
        made.push(h.mount.join(rel));
    }
    Ok(made)
}

fn create_in(h: &Hierarchy, rel: &Path) -> std::io::Result<()> {
    let mut at = h.mount.clone();
    for c in rel.components() {
        at.push(c);
        match std::fs::create_dir(&at) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if !h.unified && h.controllers.iter().any(|c| c == "cpuset") {
            init_cpuset(&at).map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

/// Applies the spec's memory, cpu and pids limits where a hierarchy has
/// the controller.
pub fn apply(dirs: &[PathBuf], res: &LinuxResources) -> anyhow::Result<()> {
    let hs = hierarchies()?;
    for d in dirs {
        let Some(h) = hs.iter().find(|h| d.starts_with(&h.mount)) else { continue };
        let has = |c: &str| h.controllers.iter().any(|x| x == c);
        if h.unified {
            apply_v2(d, h, res)?;
            continue;
        }
        if has("memory")
            && let Some(limit) = res.memory().as_ref().and_then(|m| m.limit())
        {
            write(d, "memory.limit_in_bytes", &limit.to_string())?;
        }
        if has("cpu")
            && let Some(cpu) = res.cpu()
        {
            if let Some(s) = cpu.shares() {
                write(d, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = cpu.period() {
                write(d, "cpu.cfs_period_us", &p.to_string())?;
            }
            if let Some(q) = cpu.quota() {
                write(d, "cpu.cfs_quota_us", &q.to_string())?;
            }
        }
        if has("pids")
            && let Some(p) = res.pids()
        {
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".to_string() };
            write(d, "pids.max", &v)?;
        }
    }
    Ok(())
}

fn apply_v2(dir: &Path, h: &Hierarchy, res: &LinuxResources) -> anyhow::Result<()> {
    let mut wanted = Vec::new();
    let mem = res.memory().as_ref().and_then(|m| m.limit());
    let cpu = res.cpu().as_ref();
    let pids = res.pids().as_ref();
    if mem.is_some() {
        wanted.push("memory");
    }
    if cpu.is_some_and(|c| c.quota().is_some() || c.shares().is_some()) {
        wanted.push("cpu");
    }
    if pids.is_some() {
        wanted.push("pids");
    }
    wanted.retain(|c| h.controllers.iter().any(|x| x == c));
    if wanted.is_empty() {
        return Ok(());
    }
    // Each ancestor hands the controllers down.
    let enable: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).take_while(|a| a.starts_with(&h.mount)).collect();
    ancestors.reverse();
    for a in ancestors {
        write(a, "cgroup.subtree_control", &enable.join(" "))?;
    }
    if let Some(limit) = mem.filter(|_| wanted.contains(&"memory")) {
        write(dir, "memory.max", &if limit < 0 { "max".to_string() } else { limit.to_string() })?;
    }
    if let Some(c) = cpu.filter(|_| wanted.contains(&"cpu")) {
        if let Some(q) = c.quota() {
            let quota = if q < 0 { "max".to_string() } else { q.to_string() };
            write(dir, "cpu.max", &format!("{quota} {}", c.period().unwrap_or(100_000)))?;
        }
        if let Some(s) = c.shares() {
            // runc's conversion of shares (2..262144) to weight (1..10000).
            let weight = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
            write(dir, "cpu.weight", &weight.to_string())?;
        }
    }
    if let Some(p) = pids.filter(|_| wanted.contains(&"pids")) {
        write(dir, "pids.max", &if p.limit() > 0 { p.limit().to_string() } else { "max".to_string() })?;
    }
    Ok(())
}

/// Removes the sandbox's cgroups once their processes are gone (a cgroup
/// whose last process has just exited may refuse for a moment).
pub fn remove(dirs: &[PathBuf]) -> anyhow::Result<()> {
    for d in dirs {
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 1000 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", d.display())),
            }
        }
    }
    Ok(())
}

/// The parent of containers whose spec names no cgroupsPath. It stays, as
/// runc leaves a cgroupsPath's parents: making and removing it again for
/// every container doubled the cgroup work of a short container's life.
pub const DEFAULT_PARENT: &str = "moat";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_paths_become_relative_paths() {
        assert_eq!(relative_path("/docker/abc", false).unwrap(), PathBuf::from("docker/abc"));
        assert_eq!(
            relative_path("system.slice:docker:abc", true).unwrap(),
            PathBuf::from("system.slice/docker-abc.scope")
        );
        assert!(relative_path("/a/../b", false).is_err());
        assert!(relative_path("/", false).is_err());
    }

    #[test]
    fn this_machines_hierarchies_are_found() {
        let hs = hierarchies().unwrap();
        // Whatever the layout, a cgroup file system is mounted on a machine
        // that runs containers.
        assert!(!hs.is_empty());
        for h in &hs {
            assert!(h.mount.join("cgroup.procs").exists(), "{h:?}");
        }
    }
}
