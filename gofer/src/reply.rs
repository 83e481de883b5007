//! The bodies of successful replies, and their wire forms.

use crate::protocol::HandleId;
use crate::wire::{Decoder, Encoder, WireError};

/// Attributes of a file, as `fstatat` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// Device of the file system.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Hard links.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number, for device nodes.
    pub rdev: u64,
    /// Size in bytes.
    pub size: i64,
    /// Preferred I/O size.
    pub blksize: i64,
    /// 512-byte blocks allocated.
    pub blocks: i64,
    /// Access time (seconds, nanoseconds).
    pub atime: (i64, i64),
    /// Modification time.
    pub mtime: (i64, i64),
    /// Status change time.
    pub ctime: (i64, i64),
}

impl Stat {
    /// The file type bits (`S_IFMT` part of `mode`).
    pub fn file_type(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == libc::S_IFLNK
    }

    /// Converts the host's `stat` structure.
    pub fn from_host(st: &libc::stat) -> Self {
        Stat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size,
            blksize: st.st_blksize,
            blocks: st.st_blocks,
            atime: (st.st_atime, st.st_atime_nsec),
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }

    /// Appends the wire form.
    pub fn encode(&self, e: &mut Encoder) {
        e.u64(self.dev).u64(self.ino).u32(self.mode).u64(self.nlink).u32(self.uid).u32(self.gid);
        e.u64(self.rdev).i64(self.size).i64(self.blksize).i64(self.blocks);
        for (s, ns) in [self.atime, self.mtime, self.ctime] {
            e.i64(s).i64(ns);
        }
    }

    /// Reads the wire form.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(Stat {
            dev: d.u64()?,
            ino: d.u64()?,
            mode: d.u32()?,
            nlink: d.u64()?,
            uid: d.u32()?,
            gid: d.u32()?,
            rdev: d.u64()?,
            size: d.i64()?,
            blksize: d.i64()?,
            blocks: d.i64()?,
            atime: (d.i64()?, d.i64()?),
            mtime: (d.i64()?, d.i64()?),
            ctime: (d.i64()?, d.i64()?),
        })
    }
}

/// A handle the server opened, with the file's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The new handle.
    pub handle: HandleId,
    /// Its attributes when it was opened.
    pub stat: Stat,
}

impl Node {
    /// Appends the wire form.
    pub fn encode(&self, e: &mut Encoder) {
        e.u64(self.handle);
        self.stat.encode(e);
    }

    /// Reads the wire form.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(Node { handle: d.u64()?, stat: Stat::decode(d)? })
    }
}

/// Result of a walk: the nodes reached, one per component walked, and why
/// the walk stopped early (0 when every component was walked). A walk also
/// stops, with no error, after a symlink, which the Sentry resolves itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkReply {
    /// One node per component walked, in order.
    pub nodes: Vec<Node>,
    /// The errno of the component that could not be walked, or 0.
    pub errno: i32,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// Position to resume after this entry.
    pub offset: u64,
    /// `DT_*` type.
    pub kind: u8,
    /// Name.
    pub name: Vec<u8>,
}

/// A batch of directory entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirBatch {
    /// Entries in directory order.
    pub entries: Vec<DirEntry>,
    /// True when the end of the directory was reached.
    pub eof: bool,
}

/// File system statistics, as `fstatfs` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFs {
    /// File system type magic.
    pub fs_type: u64,
    /// Block size.
    pub bsize: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks free to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Longest name.
    pub namelen: u64,
    /// Fragment size.
    pub frsize: u64,
    /// Mount flags (`ST_*`).
    pub flags: u64,
}

impl StatFs {
    /// Appends the wire form.
    pub fn encode(&self, e: &mut Encoder) {
        for v in [
            self.fs_type,
            self.bsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.namelen,
            self.frsize,
            self.flags,
        ] {
            e.u64(v);
        }
    }

    /// Reads the wire form.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(StatFs {
            fs_type: d.u64()?,
            bsize: d.u64()?,
            blocks: d.u64()?,
            bfree: d.u64()?,
            bavail: d.u64()?,
            files: d.u64()?,
            ffree: d.u64()?,
            namelen: d.u64()?,
            frsize: d.u64()?,
            flags: d.u64()?,
        })
    }
}

/// An xattr value or name list; `len` is the full length, which exceeds
/// `data` only when the request asked for the length alone (size 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XattrData {
    /// Length of the value or list.
    pub len: u32,
    /// The bytes, empty when only the length was asked for.
    pub data: Vec<u8>,
}

/// A successful reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing to report.
    Empty,
    /// A new handle (attach, create, mkdir, mknod, symlink, link).
    Node(Node),
    /// A walk's result.
    Walk(WalkReply),
    /// Attributes.
    Stat(Stat),
    /// A symlink's target.
    Target(Vec<u8>),
    /// Directory entries.
    Dir(DirBatch),
    /// File system statistics.
    StatFs(StatFs),
    /// An xattr value or list.
    Xattr(XattrData),
}

impl Reply {
    /// Appends the wire form of the body.
    pub fn encode(&self, e: &mut Encoder) {
        match self {
            Reply::Empty => {}
            Reply::Node(n) => n.encode(e),
            Reply::Walk(w) => {
                e.u32(w.errno as u32).u32(w.nodes.len() as u32);
                for n in &w.nodes {
                    n.encode(e);
                }
            }
            Reply::Stat(s) => s.encode(e),
            Reply::Target(t) => {
                e.bytes(t);
            }
            Reply::Dir(b) => {
                e.u8(b.eof as u8).u32(b.entries.len() as u32);
                for de in &b.entries {
                    e.u64(de.ino).u64(de.offset).u8(de.kind).bytes(&de.name);
                }
            }
            Reply::StatFs(s) => s.encode(e),
            Reply::Xattr(x) => {
                e.u32(x.len).bytes(&x.data);
            }
        }
    }
}

/// Decoders of each reply body, used by the client, which knows which body
/// its request expects.
pub mod decode {
    use super::*;

    /// A [`Node`] body.
    pub fn node(d: &mut Decoder<'_>) -> Result<Node, WireError> {
        Node::decode(d)
    }

    /// A [`WalkReply`] body.
    pub fn walk(d: &mut Decoder<'_>) -> Result<WalkReply, WireError> {
        let errno = d.u32()? as i32;
        let n = d.count(8)?;
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(Node::decode(d)?);
        }
        Ok(WalkReply { nodes, errno })
    }

    /// A [`DirBatch`] body.
    pub fn dir(d: &mut Decoder<'_>) -> Result<DirBatch, WireError> {
        let eof = d.u8()? != 0;
        let n = d.count(21)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(DirEntry { ino: d.u64()?, offset: d.u64()?, kind: d.u8()?, name: d.bytes()?.to_vec() });
        }
        Ok(DirBatch { entries, eof })
    }

    /// An [`XattrData`] body.
    pub fn xattr(d: &mut Decoder<'_>) -> Result<XattrData, WireError> {
        Ok(XattrData { len: d.u32()?, data: d.bytes()?.to_vec() })
    }
}
