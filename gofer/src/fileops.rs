//! The file operations of the server, one method per request.
//!
//! Each check that Linux makes before touching the file system is made here
//! in Linux's order, so that the errno is the one a native call would give
//! (for example `EEXIST` before `EROFS` for mkdir, `EXDEV` before `EROFS` for
//! rename). Read-only mounts are refused here whatever the host mount says.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags, openat, readlinkat, renameat2};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmodat, mkdirat, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchownat, ftruncate, linkat, symlinkat, unlinkat};

use crate::hostfs;
use crate::names::{self, NameKind};
use crate::protocol::{HandleId, Owner, SetAttr, TimeSet};
use crate::reply::{DirBatch, Node, Reply, WalkReply, XattrData};
use crate::server::Server;
use crate::wire::MAX_MESSAGE;

/// Flags a client may pass to `Open` / `Create`; the rest are dropped.
const OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_DIRECTORY
    | libc::O_NOATIME
    | libc::O_LARGEFILE
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_DIRECT
    | libc::O_NONBLOCK;

/// Linux's `PATH_MAX`, which bounds a symlink target with its NUL.
const PATH_MAX: usize = 4096;
/// Linux's `XATTR_SIZE_MAX`.
const XATTR_SIZE_MAX: usize = 65536;
/// Linux's `XATTR_NAME_MAX`.
const XATTR_NAME_MAX: usize = 255;

fn open_flags(flags: u32) -> Result<OFlag, Errno> {
    let f = flags as i32;
    if f & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    Ok(OFlag::from_bits_truncate(f & OPEN_FLAGS))
}

fn writes(flags: OFlag) -> bool {
    flags.bits() & libc::O_ACCMODE != libc::O_RDONLY || flags.contains(OFlag::O_TRUNC)
}

fn time_spec(t: TimeSet) -> TimeSpec {
    match t {
        TimeSet::Omit => TimeSpec::UTIME_OMIT,
        TimeSet::Now => TimeSpec::UTIME_NOW,
        TimeSet::At { sec, nsec } => TimeSpec::new(sec, nsec),
    }
}

impl Server {
    /// Makes a node of `fd`, which is in mount `mount`.
    fn node(&mut self, fd: OwnedFd, mount: u32) -> Result<Node, Errno> {
        let stat = hostfs::stat(fd.as_fd())?;
        let handle = self.insert(fd, mount, stat.file_type())?;
        Ok(Node { handle, stat })
    }

    /// For calls that create `name`: Linux reports an existing name before
    /// a read-only mount.
    fn check_create(&self, dir: HandleId, name: &[u8]) -> Result<(), Errno> {
        names::check_new(name)?;
        let e = self.dir_entry(dir)?;
        if self.readonly(e.mount) {
            return match hostfs::stat_at(e.fd.as_fd(), name) {
                Ok(_) => Err(Errno::EEXIST),
                Err(Errno::ENOENT) => Err(Errno::EROFS),
                Err(err) => Err(err),
            };
        }
        Ok(())
    }

    /// Gives a newly made file its owner, unless it has it already. The
    /// sandbox's file is made with that owner at once, so the set-id bits
    /// the host's chown clears are put back (the Sentry decided them).
    fn set_owner(&self, fd: &OwnedFd, owner: Owner) -> Result<(), Errno> {
        let st = hostfs::stat(fd.as_fd())?;
        if (st.uid, st.gid) != (owner.uid, owner.gid) {
            fchownat(
                fd,
                "",
                Some(Uid::from_raw(owner.uid)),
                Some(Gid::from_raw(owner.gid)),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
            let after = hostfs::stat(fd.as_fd())?;
            if after.mode != st.mode && st.file_type() == libc::S_IFREG {
                let path = hostfs::proc_path(&self.proc_fd_dir, fd.as_fd());
                let m = Mode::from_bits_truncate(st.mode & 0o7777);
                fchmodat(nix::fcntl::AT_FDCWD, &path, m, FchmodatFlags::FollowSymlink)?;
            }
        }
        Ok(())
    }

    pub(crate) fn attach(&mut self, mount: u32) -> Result<Reply, Errno> {
        let root = self.mounts.get(mount as usize).ok_or(Errno::ENOENT)?;
        let fd = root.fd.try_clone().map_err(|_| Errno::EMFILE)?;
        self.node(fd, mount).map(Reply::Node)
    }

    pub(crate) fn walk(&mut self, dir: HandleId, names: &[Vec<u8>]) -> Result<Reply, Errno> {
        self.entry(dir)?;
        if names.len() > crate::protocol::MAX_WALK_NAMES {
            return Err(Errno::E2BIG);
        }
        let mut cur = dir;
        let mut nodes = Vec::with_capacity(names.len());
        let mut errno = 0;
        for name in names {
            match self.walk_one(cur, name) {
                Ok(node) => {
                    nodes.push(node);
                    if node.stat.is_symlink() {
                        break;
                    }
                    cur = node.handle;
                }
                Err(e) => {
                    errno = e as i32;
                    break;
                }
            }
        }
        Ok(Reply::Walk(WalkReply { nodes, errno }))
    }

    /// One step of a walk from directory handle `cur`. `..` at the root of
    /// a mount stays there, as `..` at a process's root does.
    fn walk_one(&mut self, cur: HandleId, name: &[u8]) -> Result<Node, Errno> {
        let e = self.dir_entry(cur)?;
        let mount = e.mount;
        let fd = match names::check(name)? {
            NameKind::Normal => hostfs::open_path(e.fd.as_fd(), name)?,
            NameKind::Dot => e.fd.try_clone().map_err(|_| Errno::EMFILE)?,
            NameKind::DotDot => {
                let here = hostfs::stat(e.fd.as_fd())?;
                let root = self.mounts.get(mount as usize).ok_or(Errno::EBADF)?;
                if (here.dev, here.ino) == (root.dev, root.ino) {
                    e.fd.try_clone().map_err(|_| Errno::EMFILE)?
                } else {
                    let parent = hostfs::open_path(e.fd.as_fd(), b"..")?;
                    // A directory moved out of the mount (by the host, or
                    // through an enclosing mount) must not lead above it.
                    if !hostfs::is_under(parent.as_fd(), (root.dev, root.ino))? {
                        return Err(Errno::ENOENT);
                    }
                    parent
                }
            }
        };
        self.node(fd, mount)
    }

    pub(crate) fn stat(&mut self, handle: HandleId) -> Result<Reply, Errno> {
        hostfs::stat(self.entry(handle)?.fd.as_fd()).map(Reply::Stat)
    }

    pub(crate) fn open(&mut self, handle: HandleId, flags: u32) -> Result<OwnedFd, Errno> {
        let flags = open_flags(flags)?;
        let e = self.entry(handle)?;
        match e.kind {
            libc::S_IFREG | libc::S_IFDIR => {}
            libc::S_IFLNK => return Err(Errno::ELOOP),
            libc::S_IFSOCK => return Err(Errno::ENXIO),
            // The Sentry serves FIFOs itself, and device nodes of an image
            // never reach the host's devices.
            libc::S_IFIFO => return Err(Errno::EOPNOTSUPP),
            _ => return Err(Errno::EACCES),
        }
        if flags.contains(OFlag::O_DIRECTORY) && e.kind != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if writes(flags) {
            if e.kind == libc::S_IFDIR {
                return Err(Errno::EISDIR);
            }
            if self.readonly(e.mount) {
                return Err(Errno::EROFS);
            }
        }
        hostfs::reopen(&self.proc_fd_dir, e.fd.as_fd(), flags)
    }

    pub(crate) fn create(
        &mut self,
        dir: HandleId,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> Result<(Reply, OwnedFd), Errno> {
        let flags = open_flags(flags)? & !OFlag::O_DIRECTORY;
        self.check_create(dir, name)?;
        let e = self.dir_entry(dir)?;
        let mount = e.mount;
        let fd = openat(
            e.fd.as_fd(),
            name,
            flags | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode & 0o7777),
        )?;
        self.set_owner(&fd, owner)?;
        let path_fd = hostfs::reopen(&self.proc_fd_dir, fd.as_fd(), OFlag::O_PATH)?;
        let node = self.node(path_fd, mount)?;
        Ok((Reply::Node(node), fd))
    }

    /// After a call made `name` in `dir`: its handle, with its owner set.
    fn made(&mut self, dir: HandleId, name: &[u8], owner: Owner) -> Result<Reply, Errno> {
        let e = self.dir_entry(dir)?;
        let mount = e.mount;
        let fd = hostfs::open_path(e.fd.as_fd(), name)?;
        self.set_owner(&fd, owner)?;
        self.node(fd, mount).map(Reply::Node)
    }

    pub(crate) fn mkdir(&mut self, dir: HandleId, name: &[u8], mode: u32, owner: Owner) -> Result<Reply, Errno> {
        self.check_create(dir, name)?;
        mkdirat(self.dir_entry(dir)?.fd.as_fd(), name, Mode::from_bits_truncate(mode & 0o7777))?;
        self.made(dir, name, owner)
    }

    pub(crate) fn mknod(&mut self, dir: HandleId, name: &[u8], mode: u32, owner: Owner) -> Result<Reply, Errno> {
        let kind = match mode & libc::S_IFMT {
            libc::S_IFIFO => SFlag::S_IFIFO,
            libc::S_IFSOCK => SFlag::S_IFSOCK,
            // Without CAP_MKNOD, as the Gofer runs, Linux says EPERM.
            libc::S_IFCHR | libc::S_IFBLK => return Err(Errno::EPERM),
            _ => return Err(Errno::EINVAL),
        };
        self.check_create(dir, name)?;
        let perm = Mode::from_bits_truncate(mode & 0o7777);
        mknodat(self.dir_entry(dir)?.fd.as_fd(), name, kind, perm, 0)?;
        self.made(dir, name, owner)
    }

    pub(crate) fn symlink(&mut self, dir: HandleId, name: &[u8], target: &[u8], owner: Owner) -> Result<Reply, Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if target.contains(&0) {
            return Err(Errno::EINVAL);
        }
        self.check_create(dir, name)?;
        symlinkat(target, self.dir_entry(dir)?.fd.as_fd(), name)?;
        self.made(dir, name, owner)
    }

    pub(crate) fn link(&mut self, dir: HandleId, name: &[u8], target: HandleId) -> Result<Reply, Errno> {
        let t = self.entry(target)?;
        let target_mount = t.mount;
        self.check_create(dir, name)?;
        let d = self.dir_entry(dir)?;
        if d.mount != target_mount {
            return Err(Errno::EXDEV);
        }
        let t = self.entry(target)?;
        linkat(t.fd.as_fd(), "", d.fd.as_fd(), name, AtFlags::AT_EMPTY_PATH)?;
        let mount = d.mount;
        let fd = hostfs::open_path(d.fd.as_fd(), name)?;
        self.node(fd, mount).map(Reply::Node)
    }

    pub(crate) fn unlink(&mut self, dir: HandleId, name: &[u8], flags: u32) -> Result<Reply, Errno> {
        let rmdir = match flags as i32 {
            0 => false,
            libc::AT_REMOVEDIR => true,
            _ => return Err(Errno::EINVAL),
        };
        let e = self.dir_entry(dir)?;
        match (names::check(name)?, rmdir) {
            (NameKind::Normal, _) => {}
            (NameKind::Dot, true) => return Err(Errno::EINVAL),
            (NameKind::DotDot, true) => return Err(Errno::ENOTEMPTY),
            (_, false) => return Err(Errno::EISDIR),
        }
        if self.readonly(e.mount) {
            return Err(Errno::EROFS);
        }
        let how = if rmdir { UnlinkatFlags::RemoveDir } else { UnlinkatFlags::NoRemoveDir };
        unlinkat(e.fd.as_fd(), name, how)?;
        Ok(Reply::Empty)
    }

    pub(crate) fn rename(
        &mut self,
        old_dir: HandleId,
        old_name: &[u8],
        new_dir: HandleId,
        new_name: &[u8],
        flags: u32,
    ) -> Result<Reply, Errno> {
        let known = RenameFlags::RENAME_NOREPLACE | RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT;
        let flags = RenameFlags::from_bits(flags).ok_or(Errno::EINVAL)?;
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        if !known.contains(flags)
            || (exchange && flags.intersects(RenameFlags::RENAME_NOREPLACE | RenameFlags::RENAME_WHITEOUT))
        {
            return Err(Errno::EINVAL);
        }
        let (od, nd) = (self.dir_entry(old_dir)?, self.dir_entry(new_dir)?);
        if names::check(old_name)? != NameKind::Normal {
            return Err(Errno::EBUSY);
        }
        if names::check(new_name)? != NameKind::Normal {
            return Err(if flags.contains(RenameFlags::RENAME_NOREPLACE) { Errno::EEXIST } else { Errno::EBUSY });
        }
        if od.mount != nd.mount {
            return Err(Errno::EXDEV);
        }
        if self.readonly(od.mount) {
            return Err(Errno::EROFS);
        }
        renameat2(od.fd.as_fd(), old_name, nd.fd.as_fd(), new_name, flags)?;
        Ok(Reply::Empty)
    }

    pub(crate) fn readlink(&mut self, handle: HandleId) -> Result<Reply, Errno> {
        let e = self.entry(handle)?;
        if e.kind != libc::S_IFLNK {
            return Err(Errno::EINVAL);
        }
        let target = readlinkat(e.fd.as_fd(), "")?;
        Ok(Reply::Target(target.into_encoded_bytes()))
    }

    pub(crate) fn readdir(&mut self, dir: HandleId, offset: u64, max_entries: u32) -> Result<Reply, Errno> {
        let e = self.dir_entry(dir)?;
        let root = self.mounts.get(e.mount as usize).ok_or(Errno::EBADF)?;
        let fd = hostfs::reopen(&self.proc_fd_dir, e.fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        if offset != 0 {
            hostfs::seek(fd.as_fd(), offset)?;
        }
        let max = if max_entries == 0 { usize::MAX } else { max_entries as usize };
        let (mut entries, eof) = hostfs::read_dir(fd.as_fd(), max, MAX_MESSAGE - 64)?;
        // `..` of a mount root is outside the mount; report the root itself.
        let here = hostfs::stat(e.fd.as_fd())?;
        if (here.dev, here.ino) == (root.dev, root.ino) {
            for de in entries.iter_mut().filter(|de| de.name == b"..") {
                de.ino = root.ino;
            }
        }
        Ok(Reply::Dir(DirBatch { entries, eof }))
    }

    pub(crate) fn set_attr(&mut self, handle: HandleId, attr: &SetAttr) -> Result<Reply, Errno> {
        let e = self.entry(handle)?;
        let times = attr.atime != TimeSet::Omit || attr.mtime != TimeSet::Omit;
        let any = attr.mode.is_some() || attr.uid.is_some() || attr.gid.is_some() || attr.size.is_some() || times;
        if !any {
            return Ok(Reply::Empty);
        }
        // truncate(2) checks the file type before the mount.
        if attr.size.is_some() {
            match e.kind {
                libc::S_IFREG => {}
                libc::S_IFDIR => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        if self.readonly(e.mount) {
            return Err(Errno::EROFS);
        }
        let path = hostfs::proc_path(&self.proc_fd_dir, e.fd.as_fd());
        if let Some(size) = attr.size {
            let len = i64::try_from(size).map_err(|_| Errno::EINVAL)?;
            let wfd = hostfs::reopen(&self.proc_fd_dir, e.fd.as_fd(), OFlag::O_WRONLY)?;
            ftruncate(&wfd, len)?;
        }
        if attr.uid.is_some() || attr.gid.is_some() {
            fchownat(
                &e.fd,
                "",
                attr.uid.map(Uid::from_raw),
                attr.gid.map(Gid::from_raw),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            )?;
        }
        if let Some(mode) = attr.mode {
            if e.kind == libc::S_IFLNK {
                return Err(Errno::EOPNOTSUPP);
            }
            let m = Mode::from_bits_truncate(mode & 0o7777);
            fchmodat(nix::fcntl::AT_FDCWD, &path, m, FchmodatFlags::FollowSymlink)?;
        }
        if times {
            let (a, m) = (time_spec(attr.atime), time_spec(attr.mtime));
            utimensat(nix::fcntl::AT_FDCWD, &path, &a, &m, UtimensatFlags::FollowSymlink)?;
        }
        Ok(Reply::Empty)
    }

    pub(crate) fn statfs(&mut self, handle: HandleId) -> Result<Reply, Errno> {
        hostfs::statfs(self.entry(handle)?.fd.as_fd()).map(Reply::StatFs)
    }

    fn xattr_target(&self, handle: HandleId, name: Option<&[u8]>) -> Result<(std::path::PathBuf, u32), Errno> {
        if let Some(n) = name
            && (n.is_empty() || n.len() > XATTR_NAME_MAX)
        {
            return Err(Errno::ERANGE);
        }
        let e = self.entry(handle)?;
        Ok((hostfs::proc_path(&self.proc_fd_dir, e.fd.as_fd()), e.mount))
    }

    pub(crate) fn get_xattr(&mut self, handle: HandleId, name: &[u8], size: u32) -> Result<Reply, Errno> {
        let (path, _) = self.xattr_target(handle, Some(name))?;
        let mut buf = vec![0u8; (size as usize).min(XATTR_SIZE_MAX)];
        let n = hostfs::getxattr(&path, name, &mut buf)?;
        buf.truncate(if size == 0 { 0 } else { n });
        Ok(Reply::Xattr(XattrData { len: n as u32, data: buf }))
    }

    pub(crate) fn set_xattr(
        &mut self,
        handle: HandleId,
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<Reply, Errno> {
        let (path, mount) = self.xattr_target(handle, Some(name))?;
        if value.len() > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        if flags & !((libc::XATTR_CREATE | libc::XATTR_REPLACE) as u32) != 0 {
            return Err(Errno::EINVAL);
        }
        if self.readonly(mount) {
            return Err(Errno::EROFS);
        }
        hostfs::setxattr(&path, name, value, flags as i32)?;
        Ok(Reply::Empty)
    }

    pub(crate) fn list_xattr(&mut self, handle: HandleId, size: u32) -> Result<Reply, Errno> {
        let (path, _) = self.xattr_target(handle, None)?;
        let mut buf = vec![0u8; (size as usize).min(XATTR_SIZE_MAX)];
        let n = hostfs::listxattr(&path, &mut buf)?;
        buf.truncate(if size == 0 { 0 } else { n });
        Ok(Reply::Xattr(XattrData { len: n as u32, data: buf }))
    }

    pub(crate) fn remove_xattr(&mut self, handle: HandleId, name: &[u8]) -> Result<Reply, Errno> {
        let (path, mount) = self.xattr_target(handle, Some(name))?;
        if self.readonly(mount) {
            return Err(Errno::EROFS);
        }
        hostfs::removexattr(&path, name)?;
        Ok(Reply::Empty)
    }
}
