//! Executors of file operations for the Gofer conformance tests: the same
//! [`Op`] run directly with nix / libc on a native tree ([`Native`]) or
//! through a Gofer client ([`ViaGofer`]), reduced to a comparable
//! [`Outcome`].

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use moat_gofer::{GoferClient, HandleId, Owner, SetAttr, TimeSet};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{Mode, SFlag};

#[derive(Debug, Clone)]
pub enum Op {
    Stat(&'static str),
    Times(&'static str),
    Readdir(&'static str),
    Readlink(&'static str),
    Open(&'static str, i32),
    Read(&'static str),
    Write(&'static str, &'static str),
    Create(&'static str, u32),
    Mkdir(&'static str, u32),
    Mknod(&'static str, u32),
    Symlink(&'static str, &'static str),
    Link(&'static str, &'static str),
    Unlink(&'static str),
    Rmdir(&'static str),
    Rename(&'static str, &'static str, u32),
    Chmod(&'static str, u32),
    Chown(&'static str, u32, u32),
    Truncate(&'static str, u64),
    Utimes(&'static str, (i64, i64), (i64, i64)),
    SetXattr(&'static str, &'static str, &'static str, i32),
    GetXattr(&'static str, &'static str, u32),
    ListXattr(&'static str),
    RemoveXattr(&'static str, &'static str),
    StatFs(&'static str),
}

/// What an operation gave, reduced to what must match between twins.
#[derive(Debug, PartialEq, Eq)]
pub enum Value {
    Unit,
    Bytes(Vec<u8>),
    /// mode, nlink, uid, gid, size, rdev
    Stat(u32, u64, u32, u32, i64, u64),
    Times((i64, i64), (i64, i64)),
    Names(Vec<(Vec<u8>, u8)>),
    Len(u32),
    /// type, namelen, bsize
    StatFs(u64, u64, u64),
}

pub type Outcome = Result<Value, Errno>;

pub trait Fs {
    /// Runs one operation.
    fn run(&mut self, op: &Op) -> Outcome;
}

// ---------------------------------------------------------------- native

pub struct Native {
    /// Mount roots by number.
    pub mounts: Vec<PathBuf>,
}

impl Native {
    fn path(&self, p: &str) -> PathBuf {
        match p.strip_prefix('@') {
            Some(rest) => {
                let (n, tail) = rest.split_once('/').unwrap_or((rest, ""));
                self.mounts[n.parse::<usize>().unwrap()].join(tail)
            }
            None => self.mounts[0].join(p),
        }
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn errno_of(r: libc::c_long) -> Result<libc::c_long, Errno> {
    if r < 0 { Err(Errno::last()) } else { Ok(r) }
}

pub fn read_all(fd: OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut v).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(5)))?;
    Ok(v)
}

fn write_all(fd: OwnedFd, data: &str) -> Result<(), Errno> {
    std::fs::File::from(fd).write_all(data.as_bytes()).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(5)))
}

fn stat_value(st: &libc::stat) -> Value {
    Value::Stat(st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_size, st.st_rdev)
}

fn names_sorted(mut v: Vec<(Vec<u8>, u8)>) -> Value {
    v.retain(|(n, _)| n != b"." && n != b"..");
    v.sort();
    Value::Names(v)
}

fn xattr_names(buf: &[u8]) -> Value {
    let mut v: Vec<(Vec<u8>, u8)> = buf.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| (s.to_vec(), 0)).collect();
    v.sort();
    Value::Names(v)
}

impl Fs for Native {
    fn run(&mut self, op: &Op) -> Outcome {
        let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(match *op {
            Op::Stat(p) => stat_value(&nix::sys::stat::lstat(&self.path(p))?),
            Op::Times(p) => {
                let st = nix::sys::stat::lstat(&self.path(p))?;
                Value::Times((st.st_atime, st.st_atime_nsec), (st.st_mtime, st.st_mtime_nsec))
            }
            Op::Readdir(p) => {
                let fd =
                    nix::fcntl::open(&self.path(p), OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow, Mode::empty())?;
                let mut dir = nix::dir::Dir::from_fd(fd)?;
                let mut v = Vec::new();
                for e in dir.iter() {
                    let e = e?;
                    let kind = match e.file_type() {
                        Some(nix::dir::Type::Directory) => libc::DT_DIR,
                        Some(nix::dir::Type::File) => libc::DT_REG,
                        Some(nix::dir::Type::Symlink) => libc::DT_LNK,
                        Some(nix::dir::Type::Fifo) => libc::DT_FIFO,
                        Some(nix::dir::Type::Socket) => libc::DT_SOCK,
                        Some(nix::dir::Type::CharacterDevice) => libc::DT_CHR,
                        Some(nix::dir::Type::BlockDevice) => libc::DT_BLK,
                        None => libc::DT_UNKNOWN,
                    };
                    v.push((e.file_name().to_bytes().to_vec(), kind));
                }
                names_sorted(v)
            }
            Op::Readlink(p) => Value::Bytes(nix::fcntl::readlink(&self.path(p))?.as_bytes().to_vec()),
            Op::Open(p, flags) => {
                nix::fcntl::open(&self.path(p), OFlag::from_bits_truncate(flags) | nofollow, Mode::empty())?;
                Value::Unit
            }
            Op::Read(p) => {
                Value::Bytes(read_all(nix::fcntl::open(&self.path(p), OFlag::O_RDONLY | nofollow, Mode::empty())?)?)
            }
            Op::Write(p, data) => {
                let fd = nix::fcntl::open(&self.path(p), OFlag::O_WRONLY | OFlag::O_TRUNC | nofollow, Mode::empty())?;
                write_all(fd, data)?;
                Value::Unit
            }
            Op::Create(p, mode) => {
                let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | nofollow;
                nix::fcntl::open(&self.path(p), flags, Mode::from_bits_truncate(mode))?;
                Value::Unit
            }
            Op::Mkdir(p, mode) => {
                nix::unistd::mkdir(&self.path(p), Mode::from_bits_truncate(mode))?;
                Value::Unit
            }
            Op::Mknod(p, mode) => {
                let kind = SFlag::from_bits_truncate(mode & libc::S_IFMT);
                nix::sys::stat::mknod(&self.path(p), kind, Mode::from_bits_truncate(mode & 0o7777), 0)?;
                Value::Unit
            }
            Op::Symlink(target, p) => {
                nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, &self.path(p))?;
                Value::Unit
            }
            Op::Link(old, new) => {
                let (o, n) = (self.path(old), self.path(new));
                nix::unistd::linkat(nix::fcntl::AT_FDCWD, &o, nix::fcntl::AT_FDCWD, &n, AtFlags::empty())?;
                Value::Unit
            }
            Op::Unlink(p) => {
                let c = cstr(&self.path(p));
                // SAFETY: NUL-terminated path.
                errno_of(unsafe { libc::unlink(c.as_ptr()) } as libc::c_long)?;
                Value::Unit
            }
            Op::Rmdir(p) => {
                let c = cstr(&self.path(p));
                // SAFETY: NUL-terminated path.
                errno_of(unsafe { libc::rmdir(c.as_ptr()) } as libc::c_long)?;
                Value::Unit
            }
            Op::Rename(old, new, flags) => {
                let (o, n) = (self.path(old), self.path(new));
                let f = RenameFlags::from_bits_retain(flags);
                nix::fcntl::renameat2(nix::fcntl::AT_FDCWD, &o, nix::fcntl::AT_FDCWD, &n, f)?;
                Value::Unit
            }
            Op::Chmod(p, mode) => {
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    &self.path(p),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::NoFollowSymlink,
                )?;
                Value::Unit
            }
            Op::Chown(p, uid, gid) => {
                nix::unistd::fchownat(
                    nix::fcntl::AT_FDCWD,
                    &self.path(p),
                    Some(uid.into()),
                    Some(gid.into()),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                Value::Unit
            }
            Op::Truncate(p, size) => {
                nix::unistd::truncate(&self.path(p), size as i64)?;
                Value::Unit
            }
            Op::Utimes(p, a, m) => {
                let (a, m) = (nix::sys::time::TimeSpec::new(a.0, a.1), nix::sys::time::TimeSpec::new(m.0, m.1));
                nix::sys::stat::utimensat(
                    nix::fcntl::AT_FDCWD,
                    &self.path(p),
                    &a,
                    &m,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )?;
                Value::Unit
            }
            Op::SetXattr(p, name, value, flags) => {
                let (c, n) = (cstr(&self.path(p)), CString::new(name).unwrap());
                // SAFETY: NUL-terminated strings, value readable for its length.
                errno_of(
                    unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), flags) }
                        as libc::c_long,
                )?;
                Value::Unit
            }
            Op::GetXattr(p, name, size) => {
                let (c, n) = (cstr(&self.path(p)), CString::new(name).unwrap());
                let mut buf = vec![0u8; size as usize];
                // SAFETY: NUL-terminated strings, buf writable for its length.
                let len =
                    errno_of(unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
                        as libc::c_long)?;
                if size == 0 {
                    Value::Len(len as u32)
                } else {
                    buf.truncate(len as usize);
                    Value::Bytes(buf)
                }
            }
            Op::ListXattr(p) => {
                let c = cstr(&self.path(p));
                let mut buf = vec![0u8; 4096];
                // SAFETY: NUL-terminated path, buf writable for its length.
                let len = errno_of(
                    unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long
                )?;
                xattr_names(&buf[..len as usize])
            }
            Op::RemoveXattr(p, name) => {
                let (c, n) = (cstr(&self.path(p)), CString::new(name).unwrap());
                // SAFETY: NUL-terminated strings.
                errno_of(unsafe { libc::lremovexattr(c.as_ptr(), n.as_ptr()) } as libc::c_long)?;
                Value::Unit
            }
            Op::StatFs(p) => {
                let s = nix::sys::statfs::statfs(&self.path(p))?;
                Value::StatFs(s.filesystem_type().0 as u64, s.maximum_name_length() as u64, s.block_size() as u64)
            }
        })
    }
}

// ----------------------------------------------------------------- gofer

pub struct ViaGofer<'a> {
    /// The client.
    pub client: &'a GoferClient,
    /// Root handles by mount number.
    pub roots: Vec<HandleId>,
    /// Handles made by the last operations, for the caller to release.
    pub made: Vec<HandleId>,
}

pub const ROOT: Owner = Owner { uid: 0, gid: 0 };

impl ViaGofer<'_> {
    fn split<'p>(&self, p: &'p str) -> (HandleId, Vec<&'p [u8]>) {
        let (root, rest) = match p.strip_prefix('@') {
            Some(r) => {
                let (n, tail) = r.split_once('/').unwrap_or((r, ""));
                (self.roots[n.parse::<usize>().unwrap()], tail)
            }
            None => (self.roots[0], p),
        };
        (root, rest.split('/').filter(|c| !c.is_empty()).map(str::as_bytes).collect())
    }

    /// Walks every component, as the Sentry would for a path without
    /// symlinks before its last component.
    fn lookup(&mut self, p: &str) -> Result<HandleId, Errno> {
        let (root, comps) = self.split(p);
        self.walk(root, &comps)
    }

    fn walk(&mut self, root: HandleId, comps: &[&[u8]]) -> Result<HandleId, Errno> {
        if comps.is_empty() {
            return Ok(root);
        }
        let w = self.client.walk(root, comps).map_err(|e| e.errno())?;
        self.made.extend(w.nodes.iter().map(|n| n.handle));
        if w.errno != 0 {
            return Err(Errno::from_raw(w.errno));
        }
        assert_eq!(w.nodes.len(), comps.len(), "scenario paths have no symlink before the last component");
        Ok(w.nodes.last().map(|n| n.handle).unwrap_or(root))
    }

    /// The parent directory's handle and the last name.
    fn parent<'p>(&mut self, p: &'p str) -> Result<(HandleId, &'p [u8]), Errno> {
        let (root, comps) = self.split(p);
        let (last, dirs) = comps.split_last().expect("path has a last component");
        Ok((self.walk(root, dirs)?, last))
    }

    fn set(&mut self, p: &str, attr: SetAttr) -> Outcome {
        let h = self.lookup(p)?;
        self.client.set_attr(h, attr).map_err(|e| e.errno())?;
        Ok(Value::Unit)
    }
}

impl Fs for ViaGofer<'_> {
    fn run(&mut self, op: &Op) -> Outcome {
        let c = self.client;
        let e = |e: moat_gofer::ClientError| e.errno();
        let out = match *op {
            Op::Stat(p) => {
                let s = c.stat(self.lookup(p)?).map_err(e)?;
                Value::Stat(s.mode, s.nlink, s.uid, s.gid, s.size, s.rdev)
            }
            Op::Times(p) => {
                let s = c.stat(self.lookup(p)?).map_err(e)?;
                Value::Times(s.atime, s.mtime)
            }
            Op::Readdir(p) => {
                let h = self.lookup(p)?;
                let mut v = Vec::new();
                let mut off = 0;
                loop {
                    let b = c.readdir(h, off, 7).map_err(e)?;
                    if let Some(last) = b.entries.last() {
                        off = last.offset;
                    }
                    v.extend(b.entries.into_iter().map(|d| (d.name, d.kind)));
                    if b.eof {
                        break;
                    }
                }
                names_sorted(v)
            }
            Op::Readlink(p) => Value::Bytes(c.readlink(self.lookup(p)?).map_err(e)?),
            Op::Open(p, flags) => {
                c.open(self.lookup(p)?, flags).map_err(e)?;
                Value::Unit
            }
            Op::Read(p) => Value::Bytes(read_all(c.open(self.lookup(p)?, libc::O_RDONLY).map_err(e)?)?),
            Op::Write(p, data) => {
                write_all(c.open(self.lookup(p)?, libc::O_WRONLY | libc::O_TRUNC).map_err(e)?, data)?;
                Value::Unit
            }
            Op::Create(p, mode) => {
                let (d, name) = self.parent(p)?;
                let (n, _fd) = c.create(d, name, libc::O_RDWR, mode, ROOT).map_err(e)?;
                self.made.push(n.handle);
                Value::Unit
            }
            Op::Mkdir(p, mode) => {
                let (d, name) = self.parent(p)?;
                self.made.push(c.mkdir(d, name, mode, ROOT).map_err(e)?.handle);
                Value::Unit
            }
            Op::Mknod(p, mode) => {
                let (d, name) = self.parent(p)?;
                self.made.push(c.mknod(d, name, mode, ROOT).map_err(e)?.handle);
                Value::Unit
            }
            Op::Symlink(target, p) => {
                let (d, name) = self.parent(p)?;
                self.made.push(c.symlink(d, name, target.as_bytes(), ROOT).map_err(e)?.handle);
                Value::Unit
            }
            Op::Link(old, new) => {
                let t = self.lookup(old)?;
                let (d, name) = self.parent(new)?;
                self.made.push(c.link(d, name, t).map_err(e)?.handle);
                Value::Unit
            }
            Op::Unlink(p) | Op::Rmdir(p) => {
                let (d, name) = self.parent(p)?;
                let flags = if matches!(op, Op::Rmdir(_)) { libc::AT_REMOVEDIR } else { 0 };
                c.unlink(d, name, flags).map_err(e)?;
                Value::Unit
            }
            Op::Rename(old, new, flags) => {
                let (od, on) = self.parent(old)?;
                let (nd, nn) = self.parent(new)?;
                c.rename(od, on, nd, nn, flags).map_err(e)?;
                Value::Unit
            }
            Op::Chmod(p, mode) => return self.set(p, SetAttr { mode: Some(mode), ..SetAttr::default() }),
            Op::Chown(p, uid, gid) => {
                return self.set(p, SetAttr { uid: Some(uid), gid: Some(gid), ..SetAttr::default() });
            }
            Op::Truncate(p, size) => return self.set(p, SetAttr { size: Some(size), ..SetAttr::default() }),
            Op::Utimes(p, a, m) => {
                let atime = TimeSet::At { sec: a.0, nsec: a.1 };
                let mtime = TimeSet::At { sec: m.0, nsec: m.1 };
                return self.set(p, SetAttr { atime, mtime, ..SetAttr::default() });
            }
            Op::SetXattr(p, name, value, flags) => {
                c.set_xattr(self.lookup(p)?, name.as_bytes(), value.as_bytes(), flags).map_err(e)?;
                Value::Unit
            }
            Op::GetXattr(p, name, size) => {
                let x = c.get_xattr(self.lookup(p)?, name.as_bytes(), size).map_err(e)?;
                if size == 0 { Value::Len(x.len) } else { Value::Bytes(x.data) }
            }
            Op::ListXattr(p) => xattr_names(&c.list_xattr(self.lookup(p)?, 4096).map_err(e)?.data),
            Op::RemoveXattr(p, name) => {
                c.remove_xattr(self.lookup(p)?, name.as_bytes()).map_err(e)?;
                Value::Unit
            }
            Op::StatFs(p) => {
                let s = c.statfs(self.lookup(p)?).map_err(e)?;
                Value::StatFs(s.fs_type, s.namelen, s.bsize)
            }
        };
        Ok(out)
    }
}
