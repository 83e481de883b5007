//! The sandbox's /sys: the few files programs read to size themselves
//! (glibc's `get_nprocs` reads `devices/system/cpu/online`), and empty
//! directories where a container expects mount points. Nothing here
//! reaches a host device or lets the sandbox change anything.

use nix::errno::Errno;

use super::synth::{DirEntries, SynthFs, SynthNode};

/// `f_type` of sysfs (SYSFS_MAGIC).
const MAGIC: u64 = 0x6265_6572;

/// The CPU lists, as the host's own (the same CPUs /proc/cpuinfo shows).
const CPU_FILES: [&str; 3] = ["online", "possible", "present"];

/// The system file system.
#[derive(Debug, Default)]
pub struct SysFs;

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
            ["fs", "cgroup"] | ["kernel"] | ["class"] => Ok(dir(&[])),
            _ => Err(Errno::ENOENT),
        }
    }

    fn magic(&self) -> u64 {
        MAGIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_the_hosts_and_the_rest_is_absent() {
        let fs = SysFs;
        let path = |p: &str| p.split('/').map(|c| c.as_bytes().to_vec()).collect::<Vec<_>>();
        let host = std::fs::read("/sys/devices/system/cpu/online").unwrap();
        assert_eq!(fs.lookup(&path("devices/system/cpu/online")), Ok(SynthNode::File(host)));
        assert_eq!(fs.lookup(&path("devices/system/cpu/kernel_max")), Err(Errno::ENOENT));
        assert_eq!(fs.lookup(&path("class/net")), Err(Errno::ENOENT));
        assert!(matches!(fs.lookup(&[]), Ok(SynthNode::Dir(_))));
    }
}
