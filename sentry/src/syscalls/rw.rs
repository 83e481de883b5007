//! Reads and writes: read, write, their positioned and vectored forms,
//! staged through one per-thread buffer, with RLIMIT_FSIZE and SIGPIPE.

use std::os::fd::AsFd;

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, BlockError, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::{KernelRef, Task};

/// Most bytes moved by one read or write; larger requests return short,
/// as Linux's own cap (0x7ffff000) makes them.
pub(super) const MAX_RW: usize = 1 << 20;
/// Most iovecs in one readv / writev (`IOV_MAX`).
const IOV_MAX: u64 = 1024;

fn blocking_err(e: BlockError) -> SysError {
    match e {
        BlockError::Errno(e) => SysError::Errno(e),
        BlockError::Interrupted => SysError::Restart(Restart::Sys),
    }
}

pub(super) fn read_host(t: &Task, f: &OpenFile, buf: &mut [u8], offset: Option<i64>) -> Result<usize, SysError> {
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
        t.queue.send(SigInfo::user(libc::SIGXFSZ, t.pid, t.creds.ruid));
        return Ok(None);
    }
    Ok(Some(len.min((limit - pos) as usize)))
}

/// Before a write, truncate or allocation changes regular file `f`: a
/// caller without CAP_FSETID clears its set-id bits (`file_remove_privs`).
/// Only files the sandbox opened for writing can have them to lose.
pub(super) fn remove_privs(k: &KernelRef, t: &Task, f: &OpenFile) -> Result<(), Errno> {
    if f.writer.is_none() {
        return Ok(());
    }
    let st = nix::sys::stat::fstat(&f.fd)?;
    if st.st_mode & (libc::S_ISUID | libc::S_ISGID) == 0 {
        return Ok(());
    }
    let clear = t.creds.actor().setid_bits_to_clear(st.st_mode);
    if clear != 0 {
        let mode = nix::sys::stat::Mode::from_bits_truncate(st.st_mode & 0o7777 & !clear);
        nix::sys::stat::fchmod(&f.fd, mode)?;
        k.vfs.note_attrs(&moat_gofer::Stat::from_host(&nix::sys::stat::fstat(&f.fd)?));
    }
    Ok(())
}

pub(super) fn write_host(t: &mut Task, f: &OpenFile, data: &[u8], offset: Option<i64>) -> Result<usize, SysError> {
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
        t.queue.send(SigInfo::user(libc::SIGPIPE, t.pid, t.creds.ruid));
    }
    r
}

/// A listening socket's host file is its readiness eventfd, never to be
/// read or written as data: Linux answers EINVAL to reads, ENOTCONN to
/// writes.
fn listening(f: &OpenFile) -> bool {
    f.socket.as_ref().is_some_and(|s| s.listener().is_some())
}

fn readable(f: &OpenFile) -> Result<(), Errno> {
    if listening(f) {
        return Err(Errno::EINVAL);
    }
    if f.flags() & libc::O_ACCMODE == libc::O_WRONLY { Err(Errno::EBADF) } else { Ok(()) }
}

fn writable(f: &OpenFile) -> Result<(), Errno> {
    if f.signalfd.is_some() {
        return Err(Errno::EINVAL);
    }
    if f.mqueue.is_some() {
        return Err(Errno::EBADF);
    }
    if listening(f) {
        return Err(Errno::ENOTCONN);
    }
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

fn do_read(k: &KernelRef, t: &mut Task, fd: i32, buf: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    readable(&f)?;
    if let Some(q) = &f.mqueue {
        // A message queue's descriptor reads as its status text (its host
        // descriptor is the Sentry's readiness eventfd).
        let text = q.status_text().into_bytes();
        let pos = offset.map_or_else(|| f.mqueue_pos.load(std::sync::atomic::Ordering::Relaxed), |o| o as u64);
        let start = (pos as usize).min(text.len());
        let n = (count as usize).min(text.len() - start);
        t.mm.copy_out(buf, &text[start..start + n])?;
        if offset.is_none() {
            f.mqueue_pos.store((start + n) as u64, std::sync::atomic::Ordering::Relaxed);
        }
        return Ok(n as i64);
    }
    if f.signalfd.is_some() {
        return super::event_fds::read_signalfd(t, &f, buf, count);
    }
    if f.inotify.is_some() {
        return super::inotify::read_events(t, &f, buf, count);
    }
    super::tty::stop_if_background(k, t, &f, libc::SIGTTIN)?;
    with_scratch((count as usize).min(MAX_RW), |data| {
        let n = read_host(t, &f, data, offset)?;
        t.mm.copy_out(buf, &data[..n])?;
        Ok(n as i64)
    })
}

fn do_write(k: &KernelRef, t: &mut Task, fd: i32, buf: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    writable(&f)?;
    remove_privs(k, t, &f)?;
    let n = with_scratch((count as usize).min(MAX_RW), |data| {
        t.mm.read_into(buf, data)?;
        Ok::<i64, SysError>(write_host(t, &f, data, offset)? as i64)
    })?;
    if n > 0 {
        super::inotify::changed_file(k, &f, libc::IN_MODIFY);
    }
    Ok(n)
}

pub(super) fn read(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_read(k, t, int(a[0]), a[1], a[2], None)
}

pub(super) fn write(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_write(k, t, int(a[0]), a[1], a[2], None)
}

fn offset(v: u64) -> Result<Option<i64>, Errno> {
    let o = v as i64;
    if o < 0 { Err(Errno::EINVAL) } else { Ok(Some(o)) }
}

pub(super) fn pread64(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_read(k, t, int(a[0]), a[1], a[2], offset(a[3])?)
}

pub(super) fn pwrite64(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_write(k, t, int(a[0]), a[1], a[2], offset(a[3])?)
}

/// The (base, len) pairs of an iovec array.
pub(super) fn iovecs(t: &Task, addr: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
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

fn do_readv(k: &KernelRef, t: &mut Task, fd: i32, iov: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    readable(&f)?;
    super::tty::stop_if_background(k, t, &f, libc::SIGTTIN)?;
    let iov = iovecs(t, iov, count)?;
    let want: usize = iov.iter().map(|&(_, l)| l as usize).sum::<usize>().min(MAX_RW);
    let mut data = vec![0u8; want];
    let n = read_host(t, &f, &mut data, offset)?;
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

fn do_writev(k: &KernelRef, t: &mut Task, fd: i32, iov: u64, count: u64, offset: Option<i64>) -> SysResult {
    let f = t.fds.get(fd)?;
    writable(&f)?;
    let mut data = Vec::new();
    for (base, len) in iovecs(t, iov, count)? {
        let take = (len as usize).min(MAX_RW - data.len());
        data.extend(t.mm.copy_in(base, take)?);
        if data.len() >= MAX_RW {
            break;
        }
    }
    remove_privs(k, t, &f)?;
    let n = write_host(t, &f, &data, offset)?;
    if n > 0 {
        super::inotify::changed_file(k, &f, libc::IN_MODIFY);
    }
    Ok(n as i64)
}

pub(super) fn readv(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_readv(k, t, int(a[0]), a[1], a[2], None)
}

pub(super) fn writev(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_writev(k, t, int(a[0]), a[1], a[2], None)
}

pub(super) fn preadv(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_readv(k, t, int(a[0]), a[1], a[2], offset(a[3])?)
}

pub(super) fn pwritev(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_writev(k, t, int(a[0]), a[1], a[2], offset(a[3])?)
}

/// preadv2 / pwritev2: offset -1 is the file position; of the flags, only
/// the hints that change no result (RWF_HIPRI) and the syncs are taken.
fn v2_offset(a: &[u64; 6]) -> Result<Option<i64>, Errno> {
    let known = (libc::RWF_HIPRI | libc::RWF_DSYNC | libc::RWF_SYNC) as u64;
    if a[5] & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if a[3] as i64 == -1 { Ok(None) } else { offset(a[3]) }
}

fn sync_after(t: &Task, fd: i32, flags: u64) -> Result<(), Errno> {
    if flags & (libc::RWF_DSYNC | libc::RWF_SYNC) as u64 != 0 {
        nix::unistd::fdatasync(&t.fds.get(fd)?.fd)?;
    }
    Ok(())
}

pub(super) fn preadv2(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let off = v2_offset(a)?;
    do_readv(k, t, int(a[0]), a[1], a[2], off)
}

pub(super) fn pwritev2(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let off = v2_offset(a)?;
    let n = do_writev(k, t, int(a[0]), a[1], a[2], off)?;
    sync_after(t, int(a[0]), a[5])?;
    Ok(n)
}
