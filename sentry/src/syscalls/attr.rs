//! File attributes: stat, lstat, fstat, newfstatat.

use moat_gofer::Stat;
use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};
use crate::vfs::PATH_MAX;
use crate::vfs::access::Actor;

/// The x86-64 `struct stat`, 144 bytes, field by field.
pub(crate) fn stat_bytes(s: &Stat) -> [u8; 144] {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(0, &s.dev.to_le_bytes());
    put(8, &s.ino.to_le_bytes());
    put(16, &s.nlink.to_le_bytes());
    put(24, &s.mode.to_le_bytes());
    put(28, &s.uid.to_le_bytes());
    put(32, &s.gid.to_le_bytes());
    put(40, &s.rdev.to_le_bytes());
    put(48, &s.size.to_le_bytes());
    put(56, &s.blksize.to_le_bytes());
    put(64, &s.blocks.to_le_bytes());
    for (i, (sec, nsec)) in [s.atime, s.mtime, s.ctime].into_iter().enumerate() {
        put(72 + i * 16, &sec.to_le_bytes());
        put(80 + i * 16, &nsec.to_le_bytes());
    }
    b
}

/// Attributes of an open file's host descriptor.
pub(crate) fn fd_stat(task: &Task, fd: i32) -> Result<Stat, Errno> {
    let f = task.fds.get(fd)?;
    if let Some(st) = f.synth_stat {
        return Ok(st);
    }
    let st = nix::sys::stat::fstat(&f.fd)?;
    Ok(Stat::from_host(&st))
}

/// Attributes of `path` in the sandbox.
pub(crate) fn path_stat(k: &KernelRef, base: &[u8], path: &[u8], follow: bool, who: &Actor) -> Result<Stat, Errno> {
    let found = k.vfs.lookup(base, path, follow, who)?;
    let st = k.vfs.fresh_stat(&found);
    k.vfs.release(found.handle);
    st
}

/// Attributes of `path` as seen by `task`, where a name of one of its
/// descriptors (/proc/self/fd/N, /dev/fd/N, /dev/stdin, …) followed is the
/// open file itself, as Linux's magic links are: a pipe or a terminal
/// inherited from outside has no path in the sandbox to walk to.
pub(crate) fn task_path_stat(k: &KernelRef, t: &Task, base: &[u8], path: &[u8], follow: bool) -> Result<Stat, Errno> {
    if follow && let Some(n) = super::fs::fd_link(t, path) {
        return fd_stat(t, n).map_err(|_| Errno::ENOENT);
    }
    path_stat(k, base, path, follow, &t.creds.actor())
}

fn out(task: &Task, addr: u64, st: &Stat) -> SysResult {
    task.mm.copy_out(addr, &stat_bytes(st))?;
    Ok(0)
}

pub(super) fn fstat(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let st = fd_stat(t, int(a[0]))?;
    out(t, a[1], &st)
}

fn by_path(k: &KernelRef, t: &mut Task, path: u64, buf: u64, follow: bool) -> SysResult {
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    t.refresh_proc(k, &p);
    let st = task_path_stat(k, t, &t.cwd, &p, follow)?;
    out(t, buf, &st)
}

pub(super) fn stat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    by_path(k, t, a[0], a[1], true)
}

pub(super) fn lstat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    by_path(k, t, a[0], a[1], false)
}

pub(super) fn newfstatat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (dirfd, flags) = (int(a[0]), int(a[3]));
    if flags & !(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let p = t.mm.copy_in_cstr(a[1], PATH_MAX - 1)?;
    if p.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        let st = if dirfd == libc::AT_FDCWD {
            path_stat(k, b"/", &t.cwd.clone(), true, &Actor::root())?
        } else {
            fd_stat(t, dirfd)?
        };
        return out(t, a[2], &st);
    }
    t.refresh_proc(k, &p);
    let base = super::fs::base_dir(t, dirfd, &p)?;
    let st = task_path_stat(k, t, &base, &p, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    out(t, a[2], &st)
}
