//! The sandbox's /dev: the harmless character devices, and /dev/shm (a
//! Gofer tmpfs mounted over it).

use nix::errno::Errno;

use std::sync::Arc;

use super::devpts::Ptys;
use super::synth::{Device, PtySlave, SynthFs, SynthNode};

/// `f_type` of a devtmpfs-like /dev (TMPFS_MAGIC, as Linux's devtmpfs).
const MAGIC: u64 = 0x0102_1994;

const DEVICES: [(&[u8], Device); 7] = [
    (b"null", Device::Null),
    (b"ptmx", Device::Ptmx),
    (b"tty", Device::Tty),
    (b"zero", Device::Zero),
    (b"full", Device::Full),
    (b"random", Device::Random),
    (b"urandom", Device::Urandom),
];

/// The device file system.
#[derive(Debug, Default)]
pub struct DevFs {
    /// The pseudo-terminals under /dev/pts.
    pub ptys: Arc<Ptys>,
}

impl SynthFs for DevFs {
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
        match rel {
            [] => {
                let mut entries: Vec<(Vec<u8>, u8)> =
                    vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                entries.extend(DEVICES.iter().map(|(n, _)| (n.to_vec(), libc::DT_CHR)));
                entries.push((b"shm".to_vec(), libc::DT_DIR));
                entries.push((b"pts".to_vec(), libc::DT_DIR));
                entries.push((b"mqueue".to_vec(), libc::DT_DIR));
                entries.push((b"fd".to_vec(), libc::DT_LNK));
                for n in ["stdin", "stdout", "stderr"] {
                    entries.push((n.as_bytes().to_vec(), libc::DT_LNK));
                }
                Ok(SynthNode::Dir(entries))
            }
            [name] => match name.as_slice() {
                b"shm" => Ok(SynthNode::Dir(vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)])),
                b"pts" => {
                    let mut entries = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                    entries.extend(self.ptys.numbers().into_iter().map(|n| (n.to_string().into_bytes(), libc::DT_CHR)));
                    Ok(SynthNode::Dir(entries))
                }
                b"fd" => Ok(SynthNode::Symlink(b"/proc/self/fd".to_vec())),
                b"stdin" => Ok(SynthNode::Symlink(b"/proc/self/fd/0".to_vec())),
                b"stdout" => Ok(SynthNode::Symlink(b"/proc/self/fd/1".to_vec())),
                b"stderr" => Ok(SynthNode::Symlink(b"/proc/self/fd/2".to_vec())),
                n => DEVICES.iter().find(|(d, _)| *d == n).map(|(_, d)| SynthNode::Device(*d)).ok_or(Errno::ENOENT),
            },
            [dir, name] if dir.as_slice() == b"pts" => {
                let n: u32 = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()).ok_or(Errno::ENOENT)?;
                if name.starts_with(b"0") && name.len() > 1 {
                    return Err(Errno::ENOENT);
                }
                self.ptys.slave(n).map(|fd| SynthNode::Pty(PtySlave(fd))).ok_or(Errno::ENOENT)
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn magic(&self) -> u64 {
        MAGIC
    }
}
