//! The messages between the Sentry (client) and the Gofer (server).
//!
//! One request is one `SOCK_SEQPACKET` message: a u16 opcode and its fields.
//! One reply is one message: a u32 errno (0 for success) and, on success, the
//! fields of that opcode's reply; `Open` and `Create` also carry the donated
//! host descriptor as `SCM_RIGHTS`. Names are raw bytes, as Linux file names are.

use crate::wire::{Decoder, Encoder, WireError};

/// A server-side reference to one file, held by the Gofer as an `O_PATH`
/// descriptor. Ids are never reused, so a stale id is always refused.
pub type HandleId = u64;

/// Most components one walk takes (more is `E2BIG`): the reply for this
/// many always fits in a message. Longer paths take several walks.
pub const MAX_WALK_NAMES: usize = 1000;

/// Operation codes. The numbers are the wire format: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Opcode {
    /// Get the root handle of a mount.
    Attach = 1,
    /// Walk several components from a directory.
    Walk = 2,
    /// Stat a handle.
    Stat = 3,
    /// Open a handle, donating a host fd.
    Open = 4,
    /// Create and open a regular file.
    Create = 5,
    /// Make a directory.
    Mkdir = 6,
    /// Make a FIFO or socket node.
    Mknod = 7,
    /// Make a symbolic link.
    Symlink = 8,
    /// Make a hard link.
    Link = 9,
    /// Unlink a file or remove a directory.
    Unlink = 10,
    /// Rename, with renameat2 flags.
    Rename = 11,
    /// Read a symbolic link.
    Readlink = 12,
    /// Read directory entries.
    Readdir = 13,
    /// Set attributes.
    SetAttr = 14,
    /// File system statistics.
    StatFs = 15,
    /// Read an extended attribute.
    GetXattr = 16,
    /// Write an extended attribute.
    SetXattr = 17,
    /// List extended attributes.
    ListXattr = 18,
    /// Remove an extended attribute.
    RemoveXattr = 19,
    /// Drop handles.
    Release = 20,
}

impl Opcode {
    /// The opcode of a wire value, if it is one.
    pub fn from_u16(v: u16) -> Option<Self> {
        use Opcode::*;
        Some(match v {
            1 => Attach,
            2 => Walk,
            3 => Stat,
            4 => Open,
            5 => Create,
            6 => Mkdir,
            7 => Mknod,
            8 => Symlink,
            9 => Link,
            10 => Unlink,
            11 => Rename,
            12 => Readlink,
            13 => Readdir,
            14 => SetAttr,
            15 => StatFs,
            16 => GetXattr,
            17 => SetXattr,
            18 => ListXattr,
            19 => RemoveXattr,
            20 => Release,
            _ => return None,
        })
    }
}

/// Owner given to a new file (the creating task's fsuid / fsgid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// A time to set, as `utimensat` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSet {
    /// Leave unchanged (`UTIME_OMIT`).
    Omit,
    /// The current time (`UTIME_NOW`).
    Now,
    /// This time.
    At {
        /// Seconds since the epoch.
        sec: i64,
        /// Nanoseconds, below 1e9.
        nsec: i64,
    },
}

/// Attributes to change; `None` / `Omit` fields are left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetAttr {
    /// Permission bits (07777).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (truncate).
    pub size: Option<u64>,
    /// Access time.
    pub atime: TimeSet,
    /// Modification time.
    pub mtime: TimeSet,
}

impl Default for SetAttr {
    fn default() -> Self {
        Self { mode: None, uid: None, gid: None, size: None, atime: TimeSet::Omit, mtime: TimeSet::Omit }
    }
}

/// A request from the Sentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Root of mount number `mount` (0 is the container's root).
    Attach { mount: u32 },
    /// Walk `names` one at a time from `dir`, stopping at a symlink, a
    /// missing name or a non-directory.
    Walk { dir: HandleId, names: Vec<Vec<u8>> },
    /// Attributes of a handle.
    Stat { handle: HandleId },
    /// Open with `flags` (access mode, O_TRUNC, O_APPEND, O_DIRECTORY, ...).
    Open { handle: HandleId, flags: u32 },
    /// Create `name` exclusively in `dir` and open it with `flags`.
    Create { dir: HandleId, name: Vec<u8>, flags: u32, mode: u32, owner: Owner },
    /// Make directory `name`.
    Mkdir { dir: HandleId, name: Vec<u8>, mode: u32, owner: Owner },
    /// Make a FIFO or socket `name`; `mode` includes the file type.
    Mknod { dir: HandleId, name: Vec<u8>, mode: u32, owner: Owner },
    /// Make symlink `name` pointing at `target`.
    Symlink { dir: HandleId, name: Vec<u8>, target: Vec<u8>, owner: Owner },
    /// Make `name` in `dir` a hard link to `target`.
    Link { dir: HandleId, name: Vec<u8>, target: HandleId },
    /// Remove `name`; `flags` is 0 or `AT_REMOVEDIR`.
    Unlink { dir: HandleId, name: Vec<u8>, flags: u32 },
    /// Rename with renameat2 `flags`.
    Rename { old_dir: HandleId, old_name: Vec<u8>, new_dir: HandleId, new_name: Vec<u8>, flags: u32 },
    /// Target of a symlink.
    Readlink { handle: HandleId },
    /// Entries of `dir` after position `offset` (0: from the start).
    Readdir { dir: HandleId, offset: u64, max_entries: u32 },
    /// Change attributes.
    SetAttr { handle: HandleId, attr: SetAttr },
    /// File system statistics.
    StatFs { handle: HandleId },
    /// Value of xattr `name`; `size` 0 asks only for its length.
    GetXattr { handle: HandleId, name: Vec<u8>, size: u32 },
    /// Set xattr `name` (`flags`: XATTR_CREATE / XATTR_REPLACE).
    SetXattr { handle: HandleId, name: Vec<u8>, value: Vec<u8>, flags: u32 },
    /// Names of the xattrs; `size` 0 asks only for the length.
    ListXattr { handle: HandleId, size: u32 },
    /// Remove xattr `name`.
    RemoveXattr { handle: HandleId, name: Vec<u8> },
    /// Forget these handles.
    Release { handles: Vec<HandleId> },
}

fn time_set(e: &mut Encoder, t: TimeSet) {
    match t {
        TimeSet::Omit => e.u8(0),
        TimeSet::Now => e.u8(1),
        TimeSet::At { sec, nsec } => e.u8(2).i64(sec).i64(nsec),
    };
}

fn get_time_set(d: &mut Decoder<'_>) -> Result<TimeSet, WireError> {
    Ok(match d.u8()? {
        0 => TimeSet::Omit,
        1 => TimeSet::Now,
        2 => TimeSet::At { sec: d.i64()?, nsec: d.i64()? },
        v => return Err(WireError::Invalid { field: "time", value: v.into() }),
    })
}

fn opt_u32(e: &mut Encoder, v: Option<u32>) {
    match v {
        None => e.u8(0),
        Some(x) => e.u8(1).u32(x),
    };
}

fn get_opt_u32(d: &mut Decoder<'_>) -> Result<Option<u32>, WireError> {
    match d.u8()? {
        0 => Ok(None),
        1 => Ok(Some(d.u32()?)),
        v => Err(WireError::Invalid { field: "option", value: v.into() }),
    }
}

impl Request {
    /// The opcode of this request.
    pub fn opcode(&self) -> Opcode {
        match self {
            Request::Attach { .. } => Opcode::Attach,
            Request::Walk { .. } => Opcode::Walk,
            Request::Stat { .. } => Opcode::Stat,
            Request::Open { .. } => Opcode::Open,
            Request::Create { .. } => Opcode::Create,
            Request::Mkdir { .. } => Opcode::Mkdir,
            Request::Mknod { .. } => Opcode::Mknod,
            Request::Symlink { .. } => Opcode::Symlink,
            Request::Link { .. } => Opcode::Link,
            Request::Unlink { .. } => Opcode::Unlink,
            Request::Rename { .. } => Opcode::Rename,
            Request::Readlink { .. } => Opcode::Readlink,
            Request::Readdir { .. } => Opcode::Readdir,
            Request::SetAttr { .. } => Opcode::SetAttr,
            Request::StatFs { .. } => Opcode::StatFs,
            Request::GetXattr { .. } => Opcode::GetXattr,
            Request::SetXattr { .. } => Opcode::SetXattr,
            Request::ListXattr { .. } => Opcode::ListXattr,
            Request::RemoveXattr { .. } => Opcode::RemoveXattr,
            Request::Release { .. } => Opcode::Release,
        }
    }

    /// The wire form of this request.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.u16(self.opcode() as u16);
        match self {
            Request::Attach { mount } => {
                e.u32(*mount);
            }
            Request::Walk { dir, names } => {
                e.u64(*dir).u32(names.len() as u32);
                for n in names {
                    e.bytes(n);
                }
            }
            Request::Stat { handle } | Request::Readlink { handle } | Request::StatFs { handle } => {
                e.u64(*handle);
            }
            Request::Open { handle, flags } => {
                e.u64(*handle).u32(*flags);
            }
            Request::Create { dir, name, flags, mode, owner } => {
                e.u64(*dir).bytes(name).u32(*flags).u32(*mode).u32(owner.uid).u32(owner.gid);
            }
            Request::Mkdir { dir, name, mode, owner } | Request::Mknod { dir, name, mode, owner } => {
                e.u64(*dir).bytes(name).u32(*mode).u32(owner.uid).u32(owner.gid);
            }
            Request::Symlink { dir, name, target, owner } => {
                e.u64(*dir).bytes(name).bytes(target).u32(owner.uid).u32(owner.gid);
            }
            Request::Link { dir, name, target } => {
                e.u64(*dir).bytes(name).u64(*target);
            }
            Request::Unlink { dir, name, flags } => {
                e.u64(*dir).bytes(name).u32(*flags);
            }
            Request::Rename { old_dir, old_name, new_dir, new_name, flags } => {
                e.u64(*old_dir).bytes(old_name).u64(*new_dir).bytes(new_name).u32(*flags);
            }
            Request::Readdir { dir, offset, max_entries } => {
                e.u64(*dir).u64(*offset).u32(*max_entries);
            }
            Request::SetAttr { handle, attr } => {
                e.u64(*handle);
                opt_u32(&mut e, attr.mode);
                opt_u32(&mut e, attr.uid);
                opt_u32(&mut e, attr.gid);
                match attr.size {
                    None => e.u8(0),
                    Some(s) => e.u8(1).u64(s),
                };
                time_set(&mut e, attr.atime);
                time_set(&mut e, attr.mtime);
            }
            Request::GetXattr { handle, name, size } => {
                e.u64(*handle).bytes(name).u32(*size);
            }
            Request::SetXattr { handle, name, value, flags } => {
                e.u64(*handle).bytes(name).bytes(value).u32(*flags);
            }
            Request::ListXattr { handle, size } => {
                e.u64(*handle).u32(*size);
            }
            Request::RemoveXattr { handle, name } => {
                e.u64(*handle).bytes(name);
            }
            Request::Release { handles } => {
                e.u32(handles.len() as u32);
                for h in handles {
                    e.u64(*h);
                }
            }
        }
        e.finish()
    }

    /// Decodes a request. `Ok(None)` is an opcode this server does not know.
    pub fn decode(buf: &[u8]) -> Result<Option<Request>, WireError> {
        let mut d = Decoder::new(buf);
        let Some(op) = Opcode::from_u16(d.u16()?) else {
            return Ok(None);
        };
        let owner = |d: &mut Decoder<'_>| -> Result<Owner, WireError> { Ok(Owner { uid: d.u32()?, gid: d.u32()? }) };
        let req = match op {
            Opcode::Attach => Request::Attach { mount: d.u32()? },
            Opcode::Walk => {
                let dir = d.u64()?;
                let n = d.count(4)?;
                let mut names = Vec::with_capacity(n);
                for _ in 0..n {
                    names.push(d.bytes()?.to_vec());
                }
                Request::Walk { dir, names }
            }
            Opcode::Stat => Request::Stat { handle: d.u64()? },
            Opcode::Readlink => Request::Readlink { handle: d.u64()? },
            Opcode::StatFs => Request::StatFs { handle: d.u64()? },
            Opcode::Open => Request::Open { handle: d.u64()?, flags: d.u32()? },
            Opcode::Create => Request::Create {
                dir: d.u64()?,
                name: d.bytes()?.to_vec(),
                flags: d.u32()?,
                mode: d.u32()?,
                owner: owner(&mut d)?,
            },
            Opcode::Mkdir => {
                Request::Mkdir { dir: d.u64()?, name: d.bytes()?.to_vec(), mode: d.u32()?, owner: owner(&mut d)? }
            }
            Opcode::Mknod => {
                Request::Mknod { dir: d.u64()?, name: d.bytes()?.to_vec(), mode: d.u32()?, owner: owner(&mut d)? }
            }
            Opcode::Symlink => Request::Symlink {
                dir: d.u64()?,
                name: d.bytes()?.to_vec(),
                target: d.bytes()?.to_vec(),
                owner: owner(&mut d)?,
            },
            Opcode::Link => Request::Link { dir: d.u64()?, name: d.bytes()?.to_vec(), target: d.u64()? },
            Opcode::Unlink => Request::Unlink { dir: d.u64()?, name: d.bytes()?.to_vec(), flags: d.u32()? },
            Opcode::Rename => Request::Rename {
                old_dir: d.u64()?,
                old_name: d.bytes()?.to_vec(),
                new_dir: d.u64()?,
                new_name: d.bytes()?.to_vec(),
                flags: d.u32()?,
            },
            Opcode::Readdir => Request::Readdir { dir: d.u64()?, offset: d.u64()?, max_entries: d.u32()? },
            Opcode::SetAttr => {
                let handle = d.u64()?;
                let mode = get_opt_u32(&mut d)?;
                let uid = get_opt_u32(&mut d)?;
                let gid = get_opt_u32(&mut d)?;
                let size = match d.u8()? {
                    0 => None,
                    1 => Some(d.u64()?),
                    v => return Err(WireError::Invalid { field: "size", value: v.into() }),
                };
                let atime = get_time_set(&mut d)?;
                let mtime = get_time_set(&mut d)?;
                Request::SetAttr { handle, attr: SetAttr { mode, uid, gid, size, atime, mtime } }
            }
            Opcode::GetXattr => Request::GetXattr { handle: d.u64()?, name: d.bytes()?.to_vec(), size: d.u32()? },
            Opcode::SetXattr => Request::SetXattr {
                handle: d.u64()?,
                name: d.bytes()?.to_vec(),
                value: d.bytes()?.to_vec(),
                flags: d.u32()?,
            },
            Opcode::ListXattr => Request::ListXattr { handle: d.u64()?, size: d.u32()? },
            Opcode::RemoveXattr => Request::RemoveXattr { handle: d.u64()?, name: d.bytes()?.to_vec() },
            Opcode::Release => {
                let n = d.count(8)?;
                let mut handles = Vec::with_capacity(n);
                for _ in 0..n {
                    handles.push(d.u64()?);
                }
                Request::Release { handles }
            }
        };
        d.end()?;
        Ok(Some(req))
    }
}
