//! /proc/sys and the mount tables of the sandbox's /proc: what programs
//! read to learn the system's limits and names. The sandbox's own values
//! where it has them (host name, release, pid space, mounts), the host's
//! where they are the host's limits anyway (file-max, overcommit), and a
//! boot id of its own, so no host identifier leaks in.

use std::sync::OnceLock;

use nix::errno::Errno;

use super::Kernel;
use crate::vfs::synth::SynthNode;

/// /proc/mounts (and /proc/PID/mounts) of a sandbox.
pub const MOUNTS: &[u8] = b"rootfs / 9p rw 0 0\nproc /proc proc rw,nosuid,nodev,noexec 0 0\n\
devfs /dev devtmpfs rw,nosuid 0 0\ntmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n\
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0\n";

/// /proc/PID/mountinfo: the same mounts in mountinfo's form.
pub fn mountinfo() -> Vec<u8> {
    let mut out = String::new();
    let text = String::from_utf8_lossy(MOUNTS);
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [source, target, fstype, opts, ..] = f[..] else { continue };
        let id = 20 + i;
        let parent = if i == 0 { 1 } else { 20 };
        out.push_str(&format!("{id} {parent} 0:{id} / {target} {opts} - {fstype} {source} {opts}\n"));
    }
    out.into_bytes()
}

fn dir(names: &[(&str, u8)]) -> SynthNode {
    let mut e = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
    e.extend(names.iter().map(|(n, t)| (n.as_bytes().to_vec(), *t)));
    SynthNode::Dir(e)
}

fn line(v: impl std::fmt::Display) -> SynthNode {
    SynthNode::File(format!("{v}\n").into_bytes())
}

fn host(path: &str) -> Result<SynthNode, Errno> {
    std::fs::read(path).map(SynthNode::File).map_err(|_| Errno::ENOENT)
}

/// A random UUID in its text form.
fn uuid() -> String {
    let mut b = [0u8; 16];
    // SAFETY: `b` is writable for its length.
    let _ = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", h[..4].concat(), h[4..6].concat(), h[6..8].concat(), h[8..10].concat(), h[10..].concat())
}

/// The sandbox's boot id: one per Sentry.
fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(uuid)
}

/// The node at `rel` below /proc/sys.
pub fn lookup(k: &Kernel, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
    let parts: Vec<&[u8]> = rel.iter().map(|p| p.as_slice()).collect();
    Ok(match parts[..] {
        [] => dir(&[("kernel", libc::DT_DIR), ("vm", libc::DT_DIR), ("fs", libc::DT_DIR)]),
        [b"kernel"] => dir(&[
            ("hostname", libc::DT_REG),
            ("osrelease", libc::DT_REG),
            ("ostype", libc::DT_REG),
            ("pid_max", libc::DT_REG),
            ("ngroups_max", libc::DT_REG),
            ("cap_last_cap", libc::DT_REG),
            ("random", libc::DT_DIR),
        ]),
        [b"kernel", b"hostname"] => line(String::from_utf8_lossy(&k.hostname)),
        [b"kernel", b"osrelease"] => line(super::RELEASE),
        [b"kernel", b"ostype"] => line("Linux"),
        [b"kernel", b"pid_max"] => line(super::process::PID_MAX),
        [b"kernel", b"ngroups_max"] => line(65536),
        [b"kernel", b"cap_last_cap"] => host("/proc/sys/kernel/cap_last_cap")?,
        [b"kernel", b"random"] => dir(&[("boot_id", libc::DT_REG), ("uuid", libc::DT_REG)]),
        [b"kernel", b"random", b"boot_id"] => line(boot_id()),
        [b"kernel", b"random", b"uuid"] => line(uuid()),
        [b"vm"] => dir(&[("overcommit_memory", libc::DT_REG), ("max_map_count", libc::DT_REG)]),
        [b"vm", b"overcommit_memory"] => host("/proc/sys/vm/overcommit_memory")?,
        [b"vm", b"max_map_count"] => host("/proc/sys/vm/max_map_count")?,
        [b"fs"] => dir(&[("file-max", libc::DT_REG), ("nr_open", libc::DT_REG), ("pipe-max-size", libc::DT_REG)]),
        [b"fs", b"file-max"] => host("/proc/sys/fs/file-max")?,
        [b"fs", b"nr_open"] => host("/proc/sys/fs/nr_open")?,
        [b"fs", b"pipe-max-size"] => host("/proc/sys/fs/pipe-max-size")?,
        _ => return Err(Errno::ENOENT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_4_form() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid());
        assert_eq!(boot_id(), boot_id());
    }

    #[test]
    fn mountinfo_lists_every_mount() {
        let m = String::from_utf8(mountinfo()).unwrap();
        assert_eq!(m.lines().count(), String::from_utf8_lossy(MOUNTS).lines().count());
        assert!(m.lines().next().unwrap().contains(" / / rw - 9p rootfs rw"), "{m}");
    }
}
