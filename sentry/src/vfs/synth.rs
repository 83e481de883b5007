//! File systems the Sentry makes up itself (procfs, devfs): the traits
//! they implement, and the nodes they answer with.
//!
//! A synthetic node found by a lookup gets a handle from a range the Gofer
//! never uses, so the rest of the VFS passes it around like any other; the
//! operations that reach the node (open, stat, readlink, readdir) ask this
//! module first.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use moat_gofer::{HandleId, Stat};
use nix::errno::Errno;

/// Handles of synthetic nodes start here; the Gofer counts up from 1.
const FIRST_SYNTH_HANDLE: u64 = 1 << 62;

/// A directory's entries: name and `DT_*` type.
pub type DirEntries = Vec<(Vec<u8>, u8)>;

/// A mounted synthetic file system and where.
pub type SynthMount = (Vec<u8>, std::sync::Arc<dyn SynthFs>);

/// A device the Sentry provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// /dev/null
    Null,
    /// /dev/zero
    Zero,
    /// /dev/full
    Full,
    /// /dev/random
    Random,
    /// /dev/urandom
    Urandom,
    /// /dev/tty (opens are answered by the kernel's terminal record; the
    /// node is here for stat and readdir)
    Tty,
    /// /dev/ptmx (opens make a pair in the kernel's pty table)
    Ptmx,
}

impl Device {
    /// Major and minor numbers, as Linux gives them.
    fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Full => (1, 7),
            Device::Random => (1, 8),
            Device::Urandom => (1, 9),
            Device::Tty => (5, 0),
            Device::Ptmx => (5, 2),
        }
    }

    /// The host device behind it. These five hold no state and reach no
    /// resource of the host, so the Sentry opens the host's own.
    fn host_path(self) -> &'static str {
        match self {
            Device::Null => "/dev/null",
            Device::Zero => "/dev/zero",
            Device::Full => "/dev/full",
            Device::Random => "/dev/random",
            Device::Urandom => "/dev/urandom",
            // Never opened through here (see `Tty`, `Ptmx`); the null device if
            // they were.
            Device::Tty | Device::Ptmx => "/dev/null",
        }
    }
}

/// What a synthetic file system answers for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynthNode {
    /// A directory and its entries (name, `DT_*` type).
    Dir(DirEntries),
    /// A file with these contents (generated at lookup).
    File(Vec<u8>),
    /// A symbolic link.
    Symlink(Vec<u8>),
    /// A device.
    Device(Device),
    /// A pseudo-terminal's slave end (/dev/pts/N), a host terminal: its
    /// attributes are the host's, and opening it shares it.
    Pty(PtySlave),
}

/// The host descriptor behind a /dev/pts/N.
#[derive(Debug, Clone)]
pub struct PtySlave(pub std::sync::Arc<OwnedFd>);

impl PartialEq for PtySlave {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PtySlave {}

/// A file system made up by the Sentry.
pub trait SynthFs: Send + Sync + std::fmt::Debug {
    /// The node at `rel` (the components below the mount point), as the
    /// calling task sees it.
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno>;
    /// `f_type` of statfs and the device number its files report.
    fn magic(&self) -> u64;
}

/// The synthetic nodes handed out as handles.
#[derive(Debug, Default)]
pub struct SynthTable {
    nodes: Mutex<HashMap<HandleId, (SynthNode, Stat)>>,
    next: AtomicU64,
}

fn ino_of(path: &[u8]) -> u64 {
    // FNV-1a: stable inode numbers for the same path.
    path.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// The attributes of a synthetic node at canonical `path`.
pub fn stat_of(node: &SynthNode, path: &[u8], dev: u64) -> Stat {
    if let SynthNode::Pty(PtySlave(fd)) = node
        && let Ok(st) = moat_gofer::hostfs::stat(std::os::fd::AsFd::as_fd(&**fd))
    {
        return st;
    }
    let (mode, size, rdev) = match node {
        SynthNode::Dir(_) => (libc::S_IFDIR | 0o555, 0, 0),
        SynthNode::File(_) => (libc::S_IFREG | 0o444, 0, 0),
        SynthNode::Symlink(t) => (libc::S_IFLNK | 0o777, t.len() as i64, 0),
        SynthNode::Device(d) => {
            let (maj, min) = d.rdev();
            (libc::S_IFCHR | 0o666, 0, libc::makedev(maj, min))
        }
        SynthNode::Pty(_) => (libc::S_IFCHR | 0o620, 0, 0),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let t = (now.as_secs() as i64, 0);
    Stat {
        dev,
        ino: ino_of(path),
        mode,
        nlink: if matches!(node, SynthNode::Dir(_)) { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev,
        size,
        blksize: 4096,
        blocks: 0,
        atime: t,
        mtime: t,
        ctime: t,
    }
}

impl SynthTable {
    /// Registers `node` and returns its handle.
    pub fn insert(&self, node: SynthNode, stat: Stat) -> HandleId {
        let h = FIRST_SYNTH_HANDLE + self.next.fetch_add(1, Ordering::Relaxed);
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).insert(h, (node, stat));
        h
    }

    /// Whether `h` is a synthetic handle (possibly released).
    pub fn is_synth(h: HandleId) -> bool {
        h >= FIRST_SYNTH_HANDLE
    }

    /// The node behind `h`.
    pub fn get(&self, h: HandleId) -> Option<(SynthNode, Stat)> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).get(&h).cloned()
    }

    /// Forgets `h`.
    pub fn release(&self, h: HandleId) {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).remove(&h);
    }
}

/// What opening a synthetic node gives: a host descriptor to read, plus
/// directory entries for getdents when it is a directory.
#[derive(Debug)]
pub struct SynthOpen {
    /// A descriptor: a sealed memfd holding a file's contents (or empty
    /// for a directory), or the device.
    pub fd: OwnedFd,
    /// A directory's entries.
    pub entries: Option<DirEntries>,
}

/// Opens a synthetic node with open(2) `flags`.
pub fn open(node: &SynthNode, flags: i32) -> Result<SynthOpen, Errno> {
    let acc = flags & libc::O_ACCMODE;
    match node {
        SynthNode::Device(d) => {
            let f = flags & (libc::O_ACCMODE | libc::O_NONBLOCK | libc::O_APPEND);
            let fd = nix::fcntl::open(
                d.host_path(),
                nix::fcntl::OFlag::from_bits_truncate(f | libc::O_CLOEXEC | libc::O_NOCTTY),
                nix::sys::stat::Mode::empty(),
            )?;
            Ok(SynthOpen { fd, entries: None })
        }
        SynthNode::Pty(PtySlave(fd)) => {
            let fd = fd.try_clone().map_err(|_| Errno::EMFILE)?;
            if flags & libc::O_NONBLOCK != 0 {
                nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))?;
            }
            Ok(SynthOpen { fd, entries: None })
        }
        SynthNode::Symlink(_) => Err(Errno::ELOOP),
        _ if acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0 => {
            Err(if matches!(node, SynthNode::Dir(_)) { Errno::EISDIR } else { Errno::EACCES })
        }
        SynthNode::File(bytes) => {
            if flags & libc::O_DIRECTORY != 0 {
                return Err(Errno::ENOTDIR);
            }
            Ok(SynthOpen { fd: memfd_with(bytes)?, entries: None })
        }
        SynthNode::Dir(entries) => Ok(SynthOpen { fd: memfd_with(b"")?, entries: Some(entries.clone()) }),
    }
}

fn memfd_with(bytes: &[u8]) -> Result<OwnedFd, Errno> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create("moat-synth", MFdFlags::MFD_CLOEXEC)?;
    let mut done = 0;
    while done < bytes.len() {
        done += nix::sys::uio::pwrite(&fd, &bytes[done..], done as i64)?;
    }
    Ok(fd)
}

/// The `linux_dirent64` records of `entries` from index `start`, at most
/// `room` bytes; returns the bytes and the index after the last record.
pub fn dirents(entries: &[(Vec<u8>, u8)], dir_path: &[u8], start: usize, room: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while let Some((name, kind)) = entries.get(i) {
        let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
        if out.len() + reclen > room {
            break;
        }
        let mut rec = vec![0u8; reclen];
        rec[0..8].copy_from_slice(&ino_of(&super::dcache::child_path(dir_path, name)).to_le_bytes());
        rec[8..16].copy_from_slice(&((i + 1) as u64).to_le_bytes());
        rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
        rec[18] = *kind;
        rec[19..19 + name.len()].copy_from_slice(name);
        out.extend_from_slice(&rec);
        i += 1;
    }
    (out, i)
}
