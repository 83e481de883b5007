//! The sandbox's /dev: the harmless character devices, and /dev/shm (a
//! Gofer tmpfs mounted over it).

use nix::errno::Errno;

use super::synth::{Device, SynthFs, SynthNode};

/// `f_type` of a devtmpfs-like /dev (TMPFS_MAGIC, as Linux's devtmpfs).
const MAGIC: u64 = 0x0102_1994;

const DEVICES: [(&[u8], Device); 6] = [
    (b"null", Device::Null),
    (b"tty", Device::Tty),
    (b"zero", Device::Zero),
    (b"full", Device::Full),
    (b"random", Device::Random),
    (b"urandom", Device::Urandom),
];

/// The device file system.
#[derive(Debug, Default)]
pub struct DevFs;

impl SynthFs for DevFs {
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
        match rel {
            [] => {
                let mut entries: Vec<(Vec<u8>, u8)> =
                    vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                entries.extend(DEVICES.iter().map(|(n, _)| (n.to_vec(), libc::DT_CHR)));
                entries.push((b"shm".to_vec(), libc::DT_DIR));
                entries.push((b"fd".to_vec(), libc::DT_LNK));
                for n in ["stdin", "stdout", "stderr"] {
                    entries.push((n.as_bytes().to_vec(), libc::DT_LNK));
                }
                Ok(SynthNode::Dir(entries))
            }
            [name] => match name.as_slice() {
                b"shm" => Ok(SynthNode::Dir(vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)])),
                b"fd" => Ok(SynthNode::Symlink(b"/proc/self/fd".to_vec())),
                b"stdin" => Ok(SynthNode::Symlink(b"/proc/self/fd/0".to_vec())),
                b"stdout" => Ok(SynthNode::Symlink(b"/proc/self/fd/1".to_vec())),
                b"stderr" => Ok(SynthNode::Symlink(b"/proc/self/fd/2".to_vec())),
                n => DEVICES.iter().find(|(d, _)| *d == n).map(|(_, d)| SynthNode::Device(*d)).ok_or(Errno::ENOENT),
            },
            _ => Err(Errno::ENOENT),
        }
    }

    fn magic(&self) -> u64 {
        MAGIC
    }
}
