//! The sandbox's /sys: the few files programs read to size themselves
//! (glibc's `get_nprocs` reads `devices/system/cpu/online`; a JVM or a Go
//! runtime reads its cgroup's memory and cpu limits under `fs/cgroup`), and
//! empty directories where a container expects mount points. Nothing here
//! reaches a host device or lets the sandbox change anything.
//!
//! `fs/cgroup` shows the Sentry's own cgroups, read-only, as a container
//! with a cgroup namespace sees its own: one directory per hierarchy named
//! as on the host (`memory`, `cpu`, `pids`, … and `unified`), or the files
//! directly on a host with only the v2 hierarchy.

use std::path::PathBuf;

use nix::errno::Errno;

use super::synth::{DirEntries, SynthFs, SynthNode};

/// `f_type` of sysfs (SYSFS_MAGIC).
const MAGIC: u64 = 0x6265_6572;

/// The CPU lists, as the host's own (the same CPUs /proc/cpuinfo shows).
const CPU_FILES: [&str; 3] = ["online", "possible", "present"];

/// The system file system.
#[derive(Debug, Default)]
pub struct SysFs {
    /// The Sentry's cgroup directories: (name under fs/cgroup, host
    /// directory); one unnamed entry when the host has only cgroup v2.
    /// Found at the first look (most sandboxes never look), since reading
    /// the mount table costs every sandbox's start a millisecond.
    cgroups: std::sync::OnceLock<Vec<(String, PathBuf)>>,
    /// Whether `fs/cgroup` shows the Sentry's own cgroups at all.
    show_cgroups: bool,
}

impl SysFs {
    /// A sysfs whose `fs/cgroup` shows this process's own cgroups.
    pub fn for_own_cgroups() -> SysFs {
        SysFs { cgroups: std::sync::OnceLock::new(), show_cgroups: true }
    }

    fn cgroups(&self) -> &[(String, PathBuf)] {
        self.cgroups.get_or_init(|| if self.show_cgroups { own_cgroups().unwrap_or_default() } else { Vec::new() })
    }
}

/// This process's cgroup directories, from /proc/self/cgroup and the
/// mount table.
fn own_cgroups() -> Option<Vec<(String, PathBuf)>> {
    let me = procfs::process::Process::myself().ok()?;
    let mounts = me.mountinfo().ok()?;
    let groups = me.cgroups().ok()?;
    let mut out = Vec::new();
    for m in mounts.into_iter().filter(|m| m.fs_type == "cgroup" || m.fs_type == "cgroup2") {
        let v2 = m.fs_type == "cgroup2";
        let named = m.super_options.get("name").cloned().flatten();
        let Some(path) = groups.0.iter().find(|g| {
            if v2 {
                return g.hierarchy == 0;
            }
            g.controllers.iter().any(|c| {
                m.super_options.contains_key(c)
                    || (named.as_deref().is_some_and(|n| c.strip_prefix("name=") == Some(n)))
            })
        }) else {
            continue;
        };
        let rel = path.pathname.trim_start_matches('/');
        let root = m.root.trim_start_matches('/');
        let rel = rel.strip_prefix(root).unwrap_or(rel).trim_start_matches('/');
        let dir = m.mount_point.join(rel);
        let name = m.mount_point.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let name = if v2 && m.mount_point == std::path::Path::new("/sys/fs/cgroup") { String::new() } else { name };
        out.push((name, dir));
    }
    Some(out)
}

/// Control files that list host pids: never shown (the sandbox has pids of
/// its own, and the host's are none of its business).
const HOST_PID_FILES: [&str; 3] = ["cgroup.procs", "tasks", "cgroup.threads"];

/// The regular files of host directory `dir` (a cgroup's control files).
fn cgroup_files(dir: &std::path::Path) -> Vec<(String, u8)> {
    let mut names: Vec<(String, u8)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, libc::DT_REG)))
        .filter(|(n, _)| !HOST_PID_FILES.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

fn cgroup_file(dir: &std::path::Path, name: &str) -> Result<SynthNode, Errno> {
    if name.starts_with('.') || name.contains('/') || HOST_PID_FILES.contains(&name) {
        return Err(Errno::ENOENT);
    }
    let p = dir.join(name);
    if !p.is_file() {
        return Err(Errno::ENOENT);
    }
    // Some control files cannot be read (write-only ones): empty, as the
    // sandbox may not act on them anyway.
    Ok(SynthNode::File(std::fs::read(&p).unwrap_or_default()))
}

fn dir_owned(names: &[(String, u8)]) -> SynthNode {
    let mut entries: DirEntries = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
    entries.extend(names.iter().map(|(n, t)| (n.as_bytes().to_vec(), *t)));
    SynthNode::Dir(entries)
}

fn dir(names: &[(&str, u8)]) -> SynthNode {
    let mut entries: DirEntries = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
    entries.extend(names.iter().map(|(n, t)| (n.as_bytes().to_vec(), *t)));
    SynthNode::Dir(entries)
}

fn cpu_list(name: &str) -> Result<SynthNode, Errno> {
    // A fixed path under the host's /sys, named by a constant of this module.
    let text = std::fs::read(format!("/sys/devices/system/cpu/{name}")).map_err(|_| Errno::EIO)?;
    Ok(SynthNode::File(text))
}

impl SynthFs for SysFs {
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
        let parts: Vec<&str> = rel.iter().map(|c| std::str::from_utf8(c).unwrap_or("\u{0}")).collect();
        const D: u8 = libc::DT_DIR;
        const F: u8 = libc::DT_REG;
        match parts.as_slice() {
            [] => Ok(dir(&[("devices", D), ("fs", D), ("kernel", D), ("class", D)])),
            ["devices"] => Ok(dir(&[("system", D)])),
            ["devices", "system"] => Ok(dir(&[("cpu", D)])),
            ["devices", "system", "cpu"] => Ok(dir(&[("online", F), ("possible", F), ("present", F)])),
            ["devices", "system", "cpu", f] if CPU_FILES.contains(f) => cpu_list(f),
            ["fs"] => Ok(dir(&[("cgroup", D)])),
            ["fs", "cgroup", rest @ ..] => self.cgroup_lookup(rest),
            ["kernel"] | ["class"] => Ok(dir(&[])),
            _ => Err(Errno::ENOENT),
        }
    }

    fn magic(&self) -> u64 {
        MAGIC
    }
}

impl SysFs {
    fn cgroup_lookup(&self, rest: &[&str]) -> Result<SynthNode, Errno> {
        // Only cgroup v2 on the host: its files sit right in fs/cgroup.
        if let [(name, dir)] = self.cgroups()
            && name.is_empty()
        {
            return match rest {
                [] => Ok(dir_owned(&cgroup_files(dir))),
                [f] => cgroup_file(dir, f),
                _ => Err(Errno::ENOENT),
            };
        }
        match rest {
            [] => {
                let names: Vec<(String, u8)> = self.cgroups().iter().map(|(n, _)| (n.clone(), libc::DT_DIR)).collect();
                Ok(dir_owned(&names))
            }
            [h, more @ ..] => {
                let (_, dir) = self.cgroups().iter().find(|(n, _)| n == h).ok_or(Errno::ENOENT)?;
                match more {
                    [] => Ok(dir_owned(&cgroup_files(dir))),
                    [f] => cgroup_file(dir, f),
                    _ => Err(Errno::ENOENT),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_the_hosts_and_the_rest_is_absent() {
        let fs = SysFs::default();
        let path = |p: &str| p.split('/').map(|c| c.as_bytes().to_vec()).collect::<Vec<_>>();
        let host = std::fs::read("/sys/devices/system/cpu/online").unwrap();
        assert_eq!(fs.lookup(&path("devices/system/cpu/online")), Ok(SynthNode::File(host)));
        assert_eq!(fs.lookup(&path("devices/system/cpu/kernel_max")), Err(Errno::ENOENT));
        assert_eq!(fs.lookup(&path("class/net")), Err(Errno::ENOENT));
        assert!(matches!(fs.lookup(&[]), Ok(SynthNode::Dir(_))));
    }

    #[test]
    fn fs_cgroup_shows_this_processs_own_cgroups_read_only() {
        let fs = SysFs::for_own_cgroups();
        let path = |p: &str| p.split('/').map(|c| c.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(!fs.cgroups().is_empty(), "this machine mounts cgroups");
        for (name, dir) in fs.cgroups() {
            let prefix = if name.is_empty() { "fs/cgroup".to_string() } else { format!("fs/cgroup/{name}") };
            let Ok(SynthNode::Dir(entries)) = fs.lookup(&path(&prefix)) else { panic!("{prefix}") };
            // Host pids never show.
            assert!(!entries.iter().any(|(n, _)| n == b"cgroup.procs" || n == b"tasks"), "{prefix}: {entries:?}");
            assert_eq!(fs.lookup(&path(&format!("{prefix}/cgroup.procs"))), Err(Errno::ENOENT));
            // A control file reads as the host's.
            let (first, _) = entries.iter().find(|(n, _)| n.as_slice() != b"." && n.as_slice() != b"..").unwrap();
            let first = String::from_utf8(first.clone()).unwrap();
            let host = std::fs::read(dir.join(&first)).unwrap_or_default();
            assert_eq!(fs.lookup(&path(&format!("{prefix}/{first}"))), Ok(SynthNode::File(host)), "{first}");
            assert_eq!(fs.lookup(&path(&format!("{prefix}/..secret"))), Err(Errno::ENOENT));
        }
    }
}
