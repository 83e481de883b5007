//! File system calls: descriptors, reads and writes, paths.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use moat_gofer::Owner;
use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, BlockError, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::{KernelRef, Task};
use crate::vfs::PATH_MAX;
use crate::vfs::resolve::Resolve;

/// Most bytes moved by one read or write; larger requests return short,
/// as Linux's own cap (0x7ffff000) makes them.
const MAX_RW: usize = 1 << 20;
/// Most iovecs in one readv / writev (`IOV_MAX`).
const IOV_MAX: u64 = 1024;

/// The directory a relative path of `*at` calls starts from.
pub(crate) fn base_dir(t: &Task, dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.starts_with(b"/") || dirfd == libc::AT_FDCWD {
        return Ok(t.cwd.clone());
    }
    Ok(t.fds.get(dirfd)?.path.clone())
}

fn blocking_err(e: BlockError) -> SysError {
    match e {
        BlockError::Errno(e) => SysError::Errno(e),
        BlockError::Interrupted => SysError::Restart(Restart::Sys),
    }
}

fn read_host(t: &Task, f: &OpenFile, buf: &mut [u8], offset: Option<i64>) -> Result<usize, SysError> {
    if f.may_block && offset.is_none() {
        let nonblocking = f.flags() & libc::O_NONBLOCK != 0;
        return blocking::read(t, f.fd.as_fd(), buf, nonblocking).map_err(blocking_err);
    }
    loop {
        let r = match offset {
            Some(o) => nix::sys::uio::pread(&f.fd, buf, o),
            None => nix::unistd::read(&f.fd, buf),
        };
        match r {
            Err(Errno::EINTR) => continue,
            other => return other.map_err(SysError::Errno),
        }
    }
}

/// RLIMIT_FSIZE: how much of a `len`-byte write to a regular file may go
/// through. None (with SIGXFSZ sent, as Linux does) when nothing may.
fn fsize_room(t: &Task, f: &OpenFile, offset: Option<i64>, len: usize) -> Result<Option<usize>, Errno> {
    let limit = t.rlimits.get(libc::RLIMIT_FSIZE)?.cur;
    if limit == crate::kernel::rlimits::INFINITY || f.may_block || len == 0 {
        return Ok(Some(len));
    }
    let st = nix::sys::stat::fstat(&f.fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(Some(len));
    }
    let pos = match offset {
        Some(o) => o as u64,
        None if f.flags() & libc::O_APPEND != 0 => st.st_size as u64,
        None => nix::unistd::lseek(&f.fd, 0, nix::unistd::Whence::SeekCur)? as u64,
    };
    if pos >= limit {
        t.queue.send(SigInfo::user(libc::SIGXFSZ, t.tid, t.creds.uid));
        return Ok(None);
    }
    Ok(Some(len.min((limit - pos) as usize)))
}

fn write_host(t: &mut Task, f: &OpenFile, data: &[u8], offset: Option<i64>) -> Result<usize, SysError> {
    let data = match fsize_room(t, f, offset, data.len())? {
        Some(n) => &data[..n],
        None => return Err(Errno::EFBIG.into()),
    };
    let r = if f.may_block && offset.is_none() {
        let nonblocking = f.flags() & libc::O_NONBLOCK != 0;
        blocking::write(t, f.fd.as_fd(), data, nonblocking).map_err(blocking_err)
    } else {
        loop {
            let r = match offset {
                Some(o) => nix::sys::uio::pwrite(&f.fd, data, o),
                None => nix::unistd::write(&f.fd, data),
            };
            match r {
                Err(Errno::EINTR) => continue,
                other => break other.map_err(SysError::Errno),
            }
        }
    };
    if let Err(SysError::Errno(Errno::EPIPE)) = r {
        // As Linux, the writer also gets SIGPIPE.
        t.queue.send(SigInfo::user(libc::SIGPIPE, t.tid, t.creds.uid));
    }
    r
}

fn readable(f: &OpenFile) -> Result<(), Errno> {
    if f.flags() & libc::O_ACCMODE == libc::O_WRONLY { Err(Errno::EBADF) } else { Ok(()) }
}

fn writable(f: &OpenFile) -> Result<(), Errno> {
    if f.flags() & libc::O_ACCMODE == libc::O_RDONLY { Err(Errno::EBADF) } else { Ok(()) }
}

thread_local! {
    /// Each Sentry thread's staging buffer for reads and writes: kept, so
    /// a large read does not allocate and zero a buffer every time.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with a staging buffer of `len` bytes (contents unspecified).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut buf = s.borrow_mut();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        f(&mut buf[..len])
    })
}

fn do_read(t: &mut Task, fd: i32, buf: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    readable(&f)?;
    with_scratch((count as usize).min(MAX_RW), |data| {
        let n = read_host(t, &f, data, offset)?;
        t.mm.copy_out(buf, &data[..n])?;
        Ok(n as i64)
    })
}

fn do_write(t: &mut Task, fd: i32, buf: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    writable(&f)?;
    with_scratch((count as usize).min(MAX_RW), |data| {
        t.mm.read_into(buf, data)?;
        Ok(write_host(t, &f, data, offset)? as i64)
    })
}

pub(super) fn read(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_read(t, int(a[0]), a[1], a[2], None)
}

pub(super) fn write(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_write(t, int(a[0]), a[1], a[2], None)
}

fn offset(v: u64) -> Result<Option<i64>, Errno> {
    let o = v as i64;
    if o < 0 { Err(Errno::EINVAL) } else { Ok(Some(o)) }
}

pub(super) fn pread64(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_read(t, int(a[0]), a[1], a[2], offset(a[3])?)
}

pub(super) fn pwrite64(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_write(t, int(a[0]), a[1], a[2], offset(a[3])?)
}

/// The (base, len) pairs of an iovec array.
fn iovecs(t: &Task, addr: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let raw = t.mm.copy_in(addr, count as usize * 16)?;
    let mut out = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for c in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(c[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_le_bytes(c[8..].try_into().map_err(|_| Errno::EFAULT)?);
        total = total.checked_add(len).filter(|&t| t <= isize::MAX as u64).ok_or(Errno::EINVAL)?;
        out.push((base, len));
    }
    Ok(out)
}

pub(super) fn readv(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    readable(&f)?;
    let iov = iovecs(t, a[1], a[2])?;
    let want: usize = iov.iter().map(|&(_, l)| l as usize).sum::<usize>().min(MAX_RW);
    let mut data = vec![0u8; want];
    let n = read_host(t, &f, &mut data, None)?;
    let mut done = 0;
    for (base, len) in iov {
        if done >= n {
            break;
        }
        let take = (len as usize).min(n - done);
        t.mm.copy_out(base, &data[done..done + take])?;
        done += take;
    }
    Ok(n as i64)
}

pub(super) fn writev(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    writable(&f)?;
    let mut data = Vec::new();
    for (base, len) in iovecs(t, a[1], a[2])? {
        let take = (len as usize).min(MAX_RW - data.len());
        data.extend(t.mm.copy_in(base, take)?);
        if data.len() >= MAX_RW {
            break;
        }
    }
    Ok(write_host(t, &f, &data, None)? as i64)
}

/// The descriptor a path names through /proc/self/fd/N, /dev/fd/N or
/// /dev/std{in,out,err}. Until /proc/PID/fd has magic links of its own,
/// these exact spellings are recognised here; opening one shares the open
/// file (as opening a pipe's or terminal's link does on Linux).
fn fd_link(t: &Task, path: &[u8]) -> Option<i32> {
    let s = std::str::from_utf8(path).ok()?;
    let me = t.tid.to_string();
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
    let owner = Owner { uid: t.creds.uid, gid: t.creds.gid };
    let opened = k.vfs.open_resolved(&base, &p, flags, mode & !t.umask, owner, resolve)?;
    let keep =
        flags & (libc::O_ACCMODE | libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_DSYNC | libc::O_SYNC);
    let file = match (opened.synth_stat, opened.writer) {
        (Some(st), _) => OpenFile::synthetic(opened.fd, opened.path, keep, st, opened.entries),
        (None, Some(w)) => OpenFile::written(opened.fd, opened.path, keep, w),
        (None, None) => OpenFile::new(opened.fd, opened.path, keep),
    };
    Ok(t.fds.insert(file, flags & libc::O_CLOEXEC != 0, 0)? as i64)
}

pub(super) fn open(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_open(k, t, libc::AT_FDCWD, a[0], int(a[1]), a[2] as u32, Resolve::default())
}

pub(super) fn openat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_open(k, t, int(a[0]), a[1], int(a[2]), a[3] as u32, Resolve::default())
}

pub(super) fn close(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.fds.remove(int(a[0]))?;
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

fn dup_to(t: &mut Task, old: i32, new: i32, cloexec: bool) -> SysResult {
    let f = t.fds.get(old)?;
    t.fds.set(new, f, cloexec)?;
    Ok(new as i64)
}

pub(super) fn dup(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    Ok(t.fds.insert(f, false, 0)? as i64)
}

pub(super) fn dup2(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (old, new) = (int(a[0]), int(a[1]));
    if old == new {
        t.fds.get(old)?;
        return Ok(new as i64);
    }
    dup_to(t, old, new, false)
}

pub(super) fn dup3(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (old, new, flags) = (int(a[0]), int(a[1]), int(a[2]));
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL.into());
    }
    dup_to(t, old, new, flags & libc::O_CLOEXEC != 0)
}

pub(super) fn fcntl(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let fd = int(a[0]);
    match int(a[1]) {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(int(a[2])).map_err(|_| Errno::EINVAL)?;
            let f = t.fds.get(fd)?;
            Ok(t.fds.insert(f, int(a[1]) == libc::F_DUPFD_CLOEXEC, min)? as i64)
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
            nix::fcntl::fcntl(&f.fd, nix::fcntl::FcntlArg::F_SETFL(host_flags))?;
            f.flags.store(new, std::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

pub(super) fn ioctl(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (fd, req) = (int(a[0]), a[1] as u32 as u64);
    let f = t.fds.get(fd)?;
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
        // Terminal queries go to the caller's terminal when the file is one;
        // they only read its settings.
        libc::TCGETS | libc::TIOCGWINSZ => {
            let is_tty = nix::unistd::isatty(&f.fd).unwrap_or(false);
            if !is_tty {
                return Err(Errno::ENOTTY.into());
            }
            let mut buf = [0u8; 64];
            // SAFETY: both requests write at most sizeof(struct termios) (60)
            // bytes into `buf`, which has 64.
            let r = unsafe { libc::ioctl(f.fd.as_raw_fd(), req, buf.as_mut_ptr()) };
            Errno::result(r)?;
            let n = if req == libc::TCGETS { 36 } else { 8 };
            t.mm.copy_out(a[2], &buf[..n])?;
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
    let found = k.vfs.lookup(&t.cwd, &p, true)?;
    k.vfs.release(found.handle);
    if !found.stat.is_dir() {
        return Err(Errno::ENOTDIR.into());
    }
    k.proc_infos.update(t.tid, |i| i.cwd = found.path.clone());
    t.cwd = found.path;
    Ok(0)
}

fn do_readlink(k: &KernelRef, t: &mut Task, dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if size as i64 <= 0 {
        return Err(Errno::EINVAL.into());
    }
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    t.refresh_proc(k, &p);
    let base = base_dir(t, dirfd, &p)?;
    let found = k.vfs.lookup(&base, &p, false)?;
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
    let base = base_dir(t, dirfd, &p)?;
    let found = k.vfs.lookup(&base, &p, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?;
    k.vfs.release(found.handle);
    // The sandbox runs as root: only execute needs a bit set (on anything
    // but a directory). Checks for other users come with credentials.
    if mode & libc::X_OK != 0 && !found.stat.is_dir() && found.stat.mode & 0o111 == 0 {
        return Err(Errno::EACCES.into());
    }
    if mode & libc::W_OK != 0 && k.vfs.readonly_at(&found.path) && !found.stat.is_symlink() {
        return Err(Errno::EROFS.into());
    }
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
    let count = (a[2] as usize).min(MAX_RW);
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
