//! Host calls on descriptors, each resolving at most one path component and
//! never following a symlink, plus the few calls `nix` does not offer.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, fstatat};

use crate::reply::{DirEntry, Stat, StatFs};

/// Attributes of the file `fd` refers to (an `O_PATH` descriptor is fine).
pub fn stat(fd: BorrowedFd<'_>) -> Result<Stat, Errno> {
    let st = fstatat(fd, "", AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW)?;
    Ok(Stat::from_host(&st))
}

/// Attributes of `name` in `dir`, not following a symlink.
pub fn stat_at(dir: BorrowedFd<'_>, name: &[u8]) -> Result<Stat, Errno> {
    let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    Ok(Stat::from_host(&st))
}

/// An `O_PATH` descriptor of `name` in `dir`; a symlink is opened itself.
pub fn open_path(dir: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    openat(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
}

/// Whether directory `dir` is `root` or below it: climbs with `..` until
/// it meets `root` (true) or the top of its file system (false), as the
/// kernel's own check for bind mounts does.
pub fn is_under(dir: BorrowedFd<'_>, root: (u64, u64)) -> Result<bool, Errno> {
    let mut cur = stat(dir)?;
    let mut fd: Option<OwnedFd> = None;
    loop {
        if (cur.dev, cur.ino) == root {
            return Ok(true);
        }
        let up = open_path(fd.as_ref().map_or(dir, |f| f.as_fd()), b"..")?;
        let st = stat(up.as_fd())?;
        if (st.dev, st.ino) == (cur.dev, cur.ino) {
            return Ok(false);
        }
        cur = st;
        fd = Some(up);
    }
}

/// The `/proc/self/fd/N` path of `fd`.
pub fn proc_path(proc_fd_dir: &Path, fd: BorrowedFd<'_>) -> std::path::PathBuf {
    proc_fd_dir.join(fd.as_raw_fd().to_string())
}

/// Opens the very file `fd` refers to with new `flags`. Going through the
/// proc magic link reaches that inode whatever its path is now, so no name
/// can be swapped in between.
pub fn reopen(proc_fd_dir: &Path, fd: BorrowedFd<'_>, flags: OFlag) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(&proc_path(proc_fd_dir, fd), flags | OFlag::O_CLOEXEC | OFlag::O_NOCTTY, Mode::empty())
}

/// File system statistics. `fstatvfs` adds the fragment size, which
/// `nix`'s `Statfs` does not expose.
pub fn statfs(fd: BorrowedFd<'_>) -> Result<StatFs, Errno> {
    let s = nix::sys::statfs::fstatfs(fd)?;
    let v = nix::sys::statvfs::fstatvfs(fd)?;
    Ok(StatFs {
        fs_type: s.filesystem_type().0 as u64,
        bsize: s.block_size() as u64,
        blocks: s.blocks(),
        bfree: s.blocks_free(),
        bavail: s.blocks_available(),
        files: s.files(),
        ffree: s.files_free(),
        namelen: s.maximum_name_length() as u64,
        frsize: v.fragment_size(),
        flags: s.flags().bits(),
    })
}

/// Reads entries of the open directory `dir` from its current position,
/// at most `max` of them and at most `budget` bytes of encoded entries.
/// Returns the entries and whether the end was reached.
pub fn read_dir(dir: BorrowedFd<'_>, max: usize, budget: usize) -> Result<(Vec<DirEntry>, bool), Errno> {
    let mut out = Vec::new();
    let mut used = 0usize;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = getdents64(dir, &mut buf)?;
        if n == 0 {
            return Ok((out, true));
        }
        let mut pos = 0usize;
        while pos + 19 <= n {
            let ino = u64::from_ne_bytes(buf[pos..pos + 8].try_into().unwrap_or_default());
            let off = u64::from_ne_bytes(buf[pos + 8..pos + 16].try_into().unwrap_or_default());
            let reclen = u16::from_ne_bytes([buf[pos + 16], buf[pos + 17]]) as usize;
            let kind = buf[pos + 18];
            if reclen < 19 || pos + reclen > n {
                return Err(Errno::EIO);
            }
            let raw_name = &buf[pos + 19..pos + reclen];
            let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(raw_name.len());
            let cost = 21 + name_len;
            if out.len() >= max || used + cost > budget {
                // The caller resumes from the last entry's offset with a
                // fresh descriptor, so this one's position does not matter.
                return Ok((out, false));
            }
            used += cost;
            out.push(DirEntry { ino, offset: off, kind, name: raw_name[..name_len].to_vec() });
            pos += reclen;
        }
    }
}

/// Positions an open directory at `offset` (a `d_off` cookie, 0 for start).
pub fn seek(dir: BorrowedFd<'_>, offset: u64) -> Result<(), Errno> {
    let off = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    nix::unistd::lseek(dir, off, nix::unistd::Whence::SeekSet)?;
    Ok(())
}

fn getdents64(dir: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length; nix has no getdents.
    let r = unsafe { libc::syscall(libc::SYS_getdents64, dir.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
    Errno::result(r).map(|n| n as usize)
}

fn cpath(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

fn cname(name: &[u8]) -> Result<CString, Errno> {
    CString::new(name).map_err(|_| Errno::EINVAL)
}

/// Reads xattr `name` of the file at `path` into `buf` (empty: length only).
/// `nix` has no xattr calls.
pub fn getxattr(path: &Path, name: &[u8], buf: &mut [u8]) -> Result<usize, Errno> {
    let (p, n) = (cpath(path)?, cname(name)?);
    // SAFETY: both strings are NUL-terminated; `buf` is writable for its length.
    let r = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    Errno::result(r).map(|n| n as usize)
}

/// Sets xattr `name` of the file at `path`.
pub fn setxattr(path: &Path, name: &[u8], value: &[u8], flags: i32) -> Result<(), Errno> {
    let (p, n) = (cpath(path)?, cname(name)?);
    // SAFETY: both strings are NUL-terminated; `value` is readable for its length.
    let r = unsafe { libc::setxattr(p.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), flags) };
    Errno::result(r).map(drop)
}

/// Lists xattr names of the file at `path` into `buf` (empty: length only).
pub fn listxattr(path: &Path, buf: &mut [u8]) -> Result<usize, Errno> {
    let p = cpath(path)?;
    // SAFETY: the path is NUL-terminated; `buf` is writable for its length.
    let r = unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    Errno::result(r).map(|n| n as usize)
}

/// Removes xattr `name` of the file at `path`.
pub fn removexattr(path: &Path, name: &[u8]) -> Result<(), Errno> {
    let (p, n) = (cpath(path)?, cname(name)?);
    // SAFETY: both strings are NUL-terminated.
    let r = unsafe { libc::removexattr(p.as_ptr(), n.as_ptr()) };
    Errno::result(r).map(drop)
}
