//! File system calls: descriptors and paths.

use std::os::fd::AsRawFd;
use std::sync::Arc;

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::{KernelRef, Task};
use crate::vfs::PATH_MAX;
use crate::vfs::access::MAY_EXEC;
use crate::vfs::resolve::Resolve;

/// The directory a relative path of `*at` calls starts from.
pub(crate) fn base_dir(t: &Task, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.starts_with(b"/") || dirfd == libc::AT_FDCWD {
        return Ok(t.cwd.clone());
    }
    Ok(t.fds.get(dirfd)?.path.clone())
}

/// The descriptor a path names through /proc/self/fd/N, /dev/fd/N or
/// /dev/std{in,out,err}. Until /proc/PID/fd has magic links of its own,
/// these exact spellings are recognised here; opening one shares the open
/// file (as opening a pipe's or terminal's link does on Linux).
pub(crate) fn fd_link(t: &Task, path: &[u8]) -> Option<i32> {
    let s = std::str::from_utf8(path).ok()?;
    let me = t.pid.to_string();
    let n = match s {
        "/dev/stdin" => return Some(0),
        "/dev/stdout" => return Some(1),
        "/dev/stderr" => return Some(2),
        _ => s.strip_prefix("/dev/fd/").or_else(|| s.strip_prefix("/proc/self/fd/")).or_else(|| {
            s.strip_prefix("/proc/").and_then(|r| r.strip_prefix(me.as_str())).and_then(|r| r.strip_prefix("/fd/"))
        })?,
    };
    n.parse().ok()
}

pub(super) fn do_open(
    k: &KernelRef,
    t: &mut Task,
    dirfd: i32,
    path: u64,
    flags: i32,
    mode: u32,
    resolve: Resolve,
) -> SysResult {
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    t.refresh_proc(k, &p);
    if let Some(n) = fd_link(t, &p) {
        // These are symlinks to magic links: refused by any restriction on
        // either (and BENEATH refuses the absolute path first).
        if resolve.beneath {
            return Err(Errno::EXDEV.into());
        }
        if resolve.no_symlinks || resolve.no_magiclinks {
            return Err(Errno::ELOOP.into());
        }
        if !resolve.in_root {
            let f = t.fds.get(n).map_err(|_| Errno::ENOENT)?;
            return Ok(t.fds.insert(f, flags & libc::O_CLOEXEC != 0, 0)? as i64);
        }
    }
    let base = if resolve.anchored() && dirfd != libc::AT_FDCWD {
        t.fds.get(dirfd)?.path.clone()
    } else if resolve.anchored() {
        t.cwd.clone()
    } else {
        base_dir(t, dirfd, &p)?
    };
    let who = t.creds.actor();
    let creating = flags & libc::O_CREAT != 0 && k.inotify.active() && k.vfs.lookup(&base, &p, false, &who).is_err();
    let opened = loop {
        match k.vfs.open_resolved(&base, &p, flags, mode & !t.umask, &who, resolve) {
            Err(Errno::EAGAIN) => fifo_wait(t)?,
            r => break r?,
        }
    };
    if let Some(end) = &opened.fifo
        && flags & (libc::O_ACCMODE | libc::O_NONBLOCK) == libc::O_RDONLY
    {
        // A blocking open for reading waits for a writer.
        while !end.has_met_a_writer() {
            fifo_wait(t)?;
        }
    }
    if opened.path == b"/dev/ptmx" {
        // A new pseudo-terminal pair; the caller gets its master end.
        let (master, _) = k.ptys.open_master()?;
        let keep = flags & (libc::O_ACCMODE | libc::O_NONBLOCK);
        if flags & libc::O_NONBLOCK != 0 {
            nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))?;
        }
        let file = OpenFile::new(master, opened.path, keep);
        return Ok(t.fds.insert(file, flags & libc::O_CLOEXEC != 0, 0)? as i64);
    }
    if opened.path.starts_with(b"/dev/pts/") && flags & libc::O_NOCTTY == 0 {
        // A session leader without a controlling terminal takes the
        // terminal it opens, as on Linux.
        if let Some(sid) = k.procs().get(t.pid).map(|x| x.sid).filter(|&sid| sid == t.pid)
            && k.terminals.open_controlling(sid).is_err()
        {
            k.terminals.attach(&opened.fd, sid);
        }
    }
    if opened.path == b"/dev/tty" {
        // The caller's controlling terminal, whatever name reached it.
        let sid = k.procs().get(t.pid).map(|x| x.sid).ok_or(Errno::ESRCH)?;
        let fd = k.terminals.open_controlling(sid)?;
        let keep = flags & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK);
        let file = OpenFile::new(fd, opened.path, keep);
        return Ok(t.fds.insert(file, flags & libc::O_CLOEXEC != 0, 0)? as i64);
    }
    let keep =
        flags & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_DSYNC | libc::O_SYNC);
    if creating {
        super::inotify::changed_path(k, &base, &p, None, libc::IN_CREATE, 0);
    }
    let file = match (opened.synth_stat, opened.writer, opened.fifo) {
        (Some(st), _, _) => OpenFile::synthetic(opened.fd, opened.path, keep, st, opened.entries),
        (None, Some(w), _) => OpenFile::written(opened.fd, opened.path, keep, w),
        (None, None, Some(end)) => OpenFile::fifo_end(opened.fd, opened.path, keep, end),
        (None, None, None) => OpenFile::new(opened.fd, opened.path, keep),
    };
    Ok(t.fds.insert(file, flags & libc::O_CLOEXEC != 0, 0)? as i64)
}

/// A FIFO's open waiting for its other end: a short interruptible sleep
/// (ERESTARTSYS on a signal, as Linux's wait in fifo_open).
fn fifo_wait(t: &Task) -> Result<(), super::SysError> {
    let soon = std::time::Instant::now() + std::time::Duration::from_millis(5);
    crate::kernel::blocking::sleep_until(t, soon)
        .map_err(|_| super::SysError::Restart(crate::kernel::blocking::Restart::Sys))
}

pub(super) fn open(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_open(k, t, libc::AT_FDCWD, a[0], int(a[1]), a[2] as u32, Resolve::default())
}

pub(super) fn creat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    do_open(k, t, libc::AT_FDCWD, a[0], flags, a[1] as u32, Resolve::default())
}

pub(super) fn openat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_open(k, t, int(a[0]), a[1], int(a[2]), a[3] as u32, Resolve::default())
}

pub(super) fn close(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    super::record_lock::closing(k, t.pid, &f);
    t.fds.remove(int(a[0]))?;
    // The last close of the open file (this one, and the table's, being
    // the only references left).
    if k.inotify.active() && std::sync::Arc::strong_count(&f) == 1 {
        let written = f.flags() & libc::O_ACCMODE != libc::O_RDONLY;
        let mask = if written { libc::IN_CLOSE_WRITE } else { libc::IN_CLOSE_NOWRITE };
        super::inotify::changed_file(k, &f, mask);
    }
    Ok(0)
}

pub(super) fn lseek(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    if let Some(dir) = &f.synth_dir {
        // A synthetic directory's offset is an entry index.
        let mut d = dir.lock().unwrap_or_else(|p| p.into_inner());
        return match (int(a[2]), a[1] as i64) {
            (libc::SEEK_SET, off) if off >= 0 => {
                d.1 = off as usize;
                Ok(off)
            }
            (libc::SEEK_CUR, 0) => Ok(d.1 as i64),
            _ => Err(Errno::EINVAL.into()),
        };
    }
    let whence = match int(a[2]) {
        libc::SEEK_SET => nix::unistd::Whence::SeekSet,
        libc::SEEK_CUR => nix::unistd::Whence::SeekCur,
        libc::SEEK_END => nix::unistd::Whence::SeekEnd,
        libc::SEEK_DATA => nix::unistd::Whence::SeekData,
        libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
        _ => return Err(Errno::EINVAL.into()),
    };
    Ok(nix::unistd::lseek(&f.fd, a[1] as i64, whence)?)
}

fn dup_to(k: &KernelRef, t: &mut Task, old: i32, new: i32, cloexec: bool) -> SysResult {
    let f = t.fds.get(old)?;
    if let Ok(replaced) = t.fds.get(new) {
        super::record_lock::closing(k, t.pid, &replaced);
    }
    t.fds.set(new, f, cloexec)?;
    Ok(new as i64)
}

pub(super) fn dup(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    Ok(t.fds.insert(f, false, 0)? as i64)
}

pub(super) fn dup2(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (old, new) = (int(a[0]), int(a[1]));
    if old == new {
        t.fds.get(old)?;
        return Ok(new as i64);
    }
    dup_to(k, t, old, new, false)
}

pub(super) fn dup3(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (old, new, flags) = (int(a[0]), int(a[1]), int(a[2]));
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL.into());
    }
    dup_to(k, t, old, new, flags & libc::O_CLOEXEC != 0)
}

pub(super) fn fcntl(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let fd = int(a[0]);
    match int(a[1]) {
        cmd @ (libc::F_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | super::record_lock::F_OFD_GETLK
        | super::record_lock::F_OFD_SETLK
        | super::record_lock::F_OFD_SETLKW) => super::record_lock::fcntl_lock(k, t, fd, cmd, a[2]),
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(int(a[2])).map_err(|_| Errno::EINVAL)?;
            let f = t.fds.get(fd)?;
            Ok(t.fds.insert(f, int(a[1]) == libc::F_DUPFD_CLOEXEC, min)? as i64)
        }
        cmd @ (libc::F_SETPIPE_SZ | libc::F_GETPIPE_SZ | libc::F_ADD_SEALS | libc::F_GET_SEALS) => {
            // Properties of the host object itself (a pipe's buffer, a
            // memfd's seals): the host checks and keeps them.
            let f = t.fds.get(fd)?;
            // SAFETY: these commands take an int by value; the descriptor
            // is held open by `f`.
            let r = unsafe { libc::fcntl(f.fd.as_raw_fd(), cmd, a[2] as libc::c_int) };
            Ok(Errno::result(r)? as i64)
        }
        libc::F_GETFD => Ok(t.fds.cloexec(fd)? as i64),
        libc::F_SETFD => {
            t.fds.set_cloexec(fd, a[2] & libc::FD_CLOEXEC as u64 != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(t.fds.get(fd)?.flags() as i64),
        libc::F_SETFL => {
            let f = t.fds.get(fd)?;
            let settable = libc::O_APPEND | libc::O_NONBLOCK;
            let new = (f.flags() & !settable) | (int(a[2]) & settable);
            let host_flags = nix::fcntl::OFlag::from_bits_truncate(new & settable);
            // A message queue's host descriptor is its shared readiness
            // eventfd, which stays non-blocking; the flag is the Sentry's.
            if f.mqueue.is_none() {
                nix::fcntl::fcntl(&f.fd, nix::fcntl::FcntlArg::F_SETFL(host_flags))?;
            }
            f.flags.store(new, std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

pub(super) fn ioctl(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (fd, req) = (int(a[0]), a[1] as u32 as u64);
    let f = t.fds.get(fd)?;
    if super::tty::handles(req) {
        return super::tty::ioctl(k, t, &f, req, a[2]);
    }
    match req {
        libc::FIONREAD => {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int into `n`.
            let r = unsafe { libc::ioctl(f.fd.as_raw_fd(), libc::FIONREAD, &mut n) };
            Errno::result(r)?;
            t.mm.copy_out(a[2], &n.to_le_bytes())?;
            Ok(0)
        }
        libc::FIOCLEX | libc::FIONCLEX => {
            t.fds.set_cloexec(fd, req == libc::FIOCLEX)?;
            Ok(0)
        }
        libc::FIONBIO => {
            // Any file, as Linux: the open file's O_NONBLOCK, which the
            // Sentry honours (host descriptors are never left blocking on
            // the application's behalf).
            let on = t.mm.copy_in(a[2], 4)?.iter().any(|&b| b != 0);
            let bit = libc::O_NONBLOCK;
            let order = std::sync::atomic::Ordering::Relaxed;
            if on {
                f.flags.fetch_or(bit, order)
            } else {
                f.flags.fetch_and(!bit, order)
            };
            Ok(0)
        }
        _ => Err(Errno::ENOTTY.into()),
    }
}

pub(super) fn getcwd(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let mut cwd = t.cwd.clone();
    cwd.push(0);
    if (a[1] as usize) < cwd.len() {
        return Err(Errno::ERANGE.into());
    }
    t.mm.copy_out(a[0], &cwd)?;
    Ok(cwd.len() as i64)
}

pub(super) fn chdir(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let p = t.mm.copy_in_cstr(a[0], PATH_MAX - 1)?;
    let who = t.creds.actor();
    let found = k.vfs.lookup(&t.cwd, &p, true, &who)?;
    k.vfs.release(found.handle);
    if !found.stat.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    who.permission(&k.vfs.perm_stat(&found.stat), MAY_EXEC)?;
    k.proc_infos.update(t.pid, |i| i.cwd = found.path.clone());
    t.cwd = found.path;
    t.publish_fs();
    Ok(0)
}

fn do_readlink(k: &KernelRef, t: &mut Task, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if size as i64 <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    t.refresh_proc(k, &p);
    let base = base_dir(t, dirfd, &p)?;
    let found = k.vfs.lookup(&base, &p, false, &t.creds.actor())?;
    let r = k.vfs.readlink(&found);
    k.vfs.release(found.handle);
    let target = r?;
    let n = target.len().min(size as usize);
    t.mm.copy_out(buf, &target[..n])?;
    Ok(n as i64)
}

pub(super) fn readlink(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_readlink(k, t, libc::AT_FDCWD, a[0], a[1], a[2])
}

pub(super) fn readlinkat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_readlink(k, t, int(a[0]), a[1], a[2], a[3])
}

fn do_access(k: &KernelRef, t: &mut Task, dirfd: i32, path: u64, mode: i32, flags: i32) -> SysResult {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0
        || flags & !(libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0
    {
        return Err(Errno::EINVAL.into());
    }
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    if flags & libc::AT_SYMLINK_NOFOLLOW == 0
        && let Some(n) = fd_link(t, &p)
    {
        // A name of the caller's own open file (see `attr::task_path_stat`).
        t.fds.get(n).map_err(|_| Errno::ENOENT)?;
        return Ok(0);
    }
    let base = base_dir(t, dirfd, &p)?;
    // access(2) checks as the real ids unless AT_EACCESS says otherwise.
    let who = if flags & libc::AT_EACCESS != 0 { t.creds.actor() } else { t.creds.real_actor() };
    let found = k.vfs.lookup(&base, &p, flags & libc::AT_SYMLINK_NOFOLLOW == 0, &who)?;
    let st = k.vfs.perm_stat(&found.stat);
    k.vfs.release(found.handle);
    if mode == libc::F_OK {
        return Ok(0);
    }
    if mode & libc::W_OK != 0 && k.vfs.readonly_at(&found.path) && !found.stat.is_symlink() {
        return Err(Errno::EROFS.into());
    }
    // R_OK, W_OK and X_OK are MAY_READ, MAY_WRITE and MAY_EXEC.
    who.permission(&st, mode as u32)?;
    Ok(0)
}

pub(super) fn access(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_access(k, t, libc::AT_FDCWD, a[0], int(a[1]), 0)
}

pub(super) fn faccessat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_access(k, t, int(a[0]), a[1], int(a[2]), int(a[3]))
}

pub(super) fn getdents64(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f: Arc<OpenFile> = t.fds.get(int(a[0]))?;
    let count = (a[2] as usize).min(super::rw::MAX_RW);
    if let Some(dir) = &f.synth_dir {
        let mut d = dir.lock().unwrap_or_else(|p| p.into_inner());
        let (bytes, next) = crate::vfs::synth::dirents(&d.0, &f.path, d.1, count);
        if bytes.is_empty() && next < d.0.len() {
            return Err(Errno::EINVAL.into());
        }
        t.mm.copy_out(a[1], &bytes)?;
        d.1 = next;
        return Ok(bytes.len() as i64);
    }
    let mut buf = vec![0u8; count];
    // SAFETY: `buf` is writable for `count` bytes; nix has no getdents.
    let r = unsafe { libc::syscall(libc::SYS_getdents64, f.fd.as_raw_fd(), buf.as_mut_ptr(), count) };
    let n = Errno::result(r)? as usize;
    t.mm.copy_out(a[1], &buf[..n])?;
    Ok(n as i64)
}

fn do_pipe(t: &mut Task, fds_addr: u64, flags: i32) -> SysResult {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
        return Err(Errno::EINVAL.into());
    }
    // A host pipe gives Linux's pipe semantics exactly (capacity, PIPE_BUF
    // atomicity, EPIPE); the Sentry reads and writes it for the tasks.
    let host = nix::fcntl::OFlag::from_bits_truncate((flags & (libc::O_NONBLOCK | libc::O_DIRECT)) | libc::O_CLOEXEC);
    let (r, w) = nix::unistd::pipe2(host)?;
    let status = flags & libc::O_NONBLOCK;
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let rfd = t.fds.insert(OpenFile::new(r, b"pipe:".to_vec(), libc::O_RDONLY | status), cloexec, 0)?;
    let wfd = match t.fds.insert(OpenFile::new(w, b"pipe:".to_vec(), libc::O_WRONLY | status), cloexec, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.fds.remove(rfd);
            return Err(e.into());
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = t.mm.copy_out(fds_addr, &out) {
        let _ = t.fds.remove(rfd);
        let _ = t.fds.remove(wfd);
        return Err(e.into());
    }
    Ok(0)
}

pub(super) fn pipe(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_pipe(t, a[0], 0)
}

pub(super) fn pipe2(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_pipe(t, a[0], int(a[1]))
}
