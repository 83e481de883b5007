//! inotify (`kernel::inotify`): the calls, the read of events, and the
//! reports the other handlers make after a change they made.

use std::os::fd::AsFd;

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::{KernelRef, Task};
use crate::vfs::access::Actor;

fn init(k: &KernelRef, t: &mut Task, flags: i32) -> SysResult {
    if flags & !(libc::IN_CLOEXEC | libc::IN_NONBLOCK) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (i, host) = k.inotify.instance()?;
    let status = if flags & libc::IN_NONBLOCK != 0 { libc::O_NONBLOCK } else { 0 };
    let file = OpenFile::inotify(host, libc::O_RDONLY | status, i);
    Ok(t.fds.insert(file, flags & libc::IN_CLOEXEC != 0, 0)? as i64)
}

pub(super) fn inotify_init(k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    init(k, t, 0)
}

pub(super) fn inotify_init1(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    init(k, t, int(a[0]))
}

pub(super) fn inotify_add_watch(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let i = f.inotify.as_ref().ok_or(Errno::EINVAL)?;
    let mask = a[2] as u32;
    if mask & libc::IN_ALL_EVENTS == 0 {
        return Err(Errno::EINVAL.into());
    }
    let path = t.mm.copy_in_cstr(a[1], crate::vfs::PATH_MAX - 1)?;
    let who = t.creds.actor();
    let found = k.vfs.lookup(&t.cwd, &path, mask & libc::IN_DONT_FOLLOW == 0, &who)?;
    k.vfs.release(found.handle);
    // Watching needs read permission on the file, as on Linux.
    who.permission(&k.vfs.perm_stat(&found.stat), crate::vfs::access::MAY_READ)?;
    if mask & libc::IN_ONLYDIR != 0 && !found.stat.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    Ok(i.add_watch((found.stat.dev, found.stat.ino), mask) as i64)
}

pub(super) fn inotify_rm_watch(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let i = f.inotify.as_ref().ok_or(Errno::EINVAL)?;
    i.rm_watch(int(a[1]))?;
    Ok(0)
}

/// read of an inotify descriptor: whole events, waiting for one unless
/// non-blocking.
pub(super) fn read_events(t: &Task, f: &OpenFile, buf: u64, count: u64) -> SysResult {
    let Some(i) = &f.inotify else { return Err(Errno::EINVAL.into()) };
    loop {
        let out = i.take(count as usize)?;
        if !out.is_empty() {
            t.mm.copy_out(buf, &out)?;
            return Ok(out.len() as i64);
        }
        if f.flags() & libc::O_NONBLOCK != 0 {
            return Err(Errno::EAGAIN.into());
        }
        if crate::kernel::blocking::wait(t, Some(f.fd.as_fd()), libc::POLLIN, None).is_err() {
            return Err(super::SysError::Restart(crate::kernel::blocking::Restart::Sys));
        }
    }
}

/// The directory and last name of `path` (from `base`), as the directory's
/// inode and the name.
fn parent_of(k: &KernelRef, base: &[u8], path: &[u8]) -> Option<((u64, u64), Vec<u8>)> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let (dir, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/", &trimmed[1..]),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (b".", trimmed),
    };
    // The Sentry's own bookkeeping after a change that was allowed.
    let found = k.vfs.lookup(base, dir, true, &Actor::root()).ok()?;
    k.vfs.release(found.handle);
    Some(((found.stat.dev, found.stat.ino), name.to_vec()))
}

/// After a handler changed `path` (from `base`): reports `mask` to the
/// watches on it (when `file` is its inode) and on its directory.
pub(super) fn changed_path(k: &KernelRef, base: &[u8], path: &[u8], file: Option<(u64, u64)>, mask: u32, cookie: u32) {
    if !k.inotify.active() {
        return;
    }
    let dir = parent_of(k, base, path);
    k.inotify.report(file, dir.as_ref().map(|(d, n)| (*d, n.as_slice())), mask, cookie);
}

/// The inode of `path` (from `base`, not following a last symlink), while
/// watches exist, and whether removing this name removes the file (its
/// last link, or a directory).
pub(super) fn inode_of(k: &KernelRef, base: &[u8], path: &[u8]) -> Option<((u64, u64), bool)> {
    if !k.inotify.active() {
        return None;
    }
    let found = k.vfs.lookup(base, path, false, &Actor::root()).ok()?;
    k.vfs.release(found.handle);
    Some(((found.stat.dev, found.stat.ino), found.stat.is_dir() || found.stat.nlink <= 1))
}

/// After a handler changed the open file `f` (IN_MODIFY, IN_CLOSE_*).
pub(super) fn changed_file(k: &KernelRef, f: &OpenFile, mask: u32) {
    if !k.inotify.active() || f.inotify.is_some() {
        return;
    }
    let key = nix::sys::stat::fstat(f.fd.as_fd()).ok().map(|st| (st.st_dev, st.st_ino));
    changed_path(k, b"/", &f.path, key, mask, 0);
}
