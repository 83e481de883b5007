//! Moving data between descriptors without the application's memory:
//! sendfile, copy_file_range, splice, tee; and the file-space calls
//! fadvise64 and fallocate. The files are host files, so the host does the
//! work and its checks (which files qualify, access modes, offsets); the
//! Sentry only keeps every wait on a pipe interruptible, as Linux's are.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;

use super::rw::{MAX_RW, read_host, write_host};
use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::{KernelRef, Task};

/// Chunk a Sentry-staged sendfile moves at a time.
const CHUNK: usize = 64 * 1024;

fn read_offset(t: &Task, addr: u64) -> Result<Option<i64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let b = t.mm.copy_in(addr, 8)?;
    Ok(Some(i64::from_le_bytes(b.try_into().map_err(|_| Errno::EFAULT)?)))
}

fn write_offset(t: &Task, addr: u64, v: Option<i64>) -> Result<(), Errno> {
    match v {
        Some(v) if addr != 0 => t.mm.copy_out(addr, &v.to_le_bytes()),
        _ => Ok(()),
    }
}

fn is_regular(f: &OpenFile) -> bool {
    nix::sys::stat::fstat(&f.fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
}

pub(super) fn sendfile(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (out, inp) = (t.fds.get(int(a[0]))?, t.fds.get(int(a[1]))?);
    if inp.flags() & libc::O_ACCMODE == libc::O_WRONLY || out.flags() & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Errno::EBADF.into());
    }
    if out.flags() & libc::O_APPEND != 0 || !is_regular(&inp) {
        return Err(Errno::EINVAL.into());
    }
    let given = read_offset(t, a[2])?;
    if given.is_some_and(|o| o < 0) {
        return Err(Errno::EINVAL.into());
    }
    let count = (a[3] as usize).min(MAX_RW);
    super::rw::remove_privs(k, t, &out)?;
    // The input is a regular file, so reading it never waits; the output
    // may be a pipe or socket, written as write(2) writes it.
    let start = match given {
        Some(o) => o,
        None => nix::unistd::lseek(&inp.fd, 0, nix::unistd::Whence::SeekCur)?,
    };
    let mut done = 0usize;
    let mut buf = vec![0u8; CHUNK.min(count)];
    let result = loop {
        if done == count {
            break Ok(());
        }
        let want = CHUNK.min(count - done);
        let n = match read_host(t, &inp, &mut buf[..want], Some(start + done as i64)) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        match write_host(t, &out, &buf[..n], None) {
            Ok(w) => {
                done += w;
                if w < n {
                    break Ok(());
                }
            }
            Err(e) => break Err(e),
        }
    };
    let end = start + done as i64;
    match given {
        Some(_) => write_offset(t, a[2], Some(end))?,
        None => {
            nix::unistd::lseek(&inp.fd, end, nix::unistd::Whence::SeekSet)?;
        }
    }
    match result {
        Err(e) if done == 0 => Err(e),
        _ => Ok(done as i64),
    }
}

pub(super) fn copy_file_range(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if a[5] != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (inp, out) = (t.fds.get(int(a[0]))?, t.fds.get(int(a[2]))?);
    let mut off_in = read_offset(t, a[1])?;
    let mut off_out = read_offset(t, a[3])?;
    let ptr = |o: &mut Option<i64>| o.as_mut().map_or(std::ptr::null_mut(), |v| v as *mut i64);
    let len = (a[4] as usize).min(MAX_RW);
    // SAFETY: the offset pointers are null or point at locals that outlive
    // the call; both host descriptors are held open by their files.
    let r = unsafe {
        libc::copy_file_range(inp.fd.as_raw_fd(), ptr(&mut off_in), out.fd.as_raw_fd(), ptr(&mut off_out), len, 0)
    };
    let n = Errno::result(r)?;
    write_offset(t, a[1], off_in)?;
    write_offset(t, a[3], off_out)?;
    Ok(n as i64)
}

/// Repeats a non-blocking host splice or tee until it moves something, the
/// application asked not to wait, or a signal comes: a wait is for the
/// input pipe to have data, then for the output pipe to have room.
fn pipe_op(
    t: &Task,
    inp: &OpenFile,
    out: &OpenFile,
    flags: u32,
    mut op: impl FnMut() -> Result<usize, Errno>,
) -> SysResult {
    let nonblocking = flags & libc::SPLICE_F_NONBLOCK != 0
        || (inp.may_block && inp.flags() & libc::O_NONBLOCK != 0)
        || (out.may_block && out.flags() & libc::O_NONBLOCK != 0);
    loop {
        match op() {
            Ok(n) => return Ok(n as i64),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if !nonblocking => {}
            Err(Errno::EPIPE) => {
                t.queue.send(SigInfo::user(libc::SIGPIPE, t.pid, t.creds.ruid));
                return Err(Errno::EPIPE.into());
            }
            Err(e) => return Err(e.into()),
        }
        let waiting = if inp.may_block && !ready(inp, libc::POLLIN) {
            Some((inp, libc::POLLIN))
        } else if out.may_block && !ready(out, libc::POLLOUT) {
            Some((out, libc::POLLOUT))
        } else {
            None
        };
        if let Some((f, events)) = waiting
            && blocking::wait(t, Some(f.fd.as_fd()), events, None).is_err()
        {
            return Err(SysError::Restart(Restart::Sys));
        }
    }
}

fn ready(f: &OpenFile, events: i16) -> bool {
    let mut p = [libc::pollfd { fd: f.fd.as_raw_fd(), events, revents: 0 }];
    // SAFETY: one valid pollfd whose descriptor `f` holds open.
    unsafe { libc::poll(p.as_mut_ptr(), 1, 0) > 0 }
}

pub(super) fn splice(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (inp, out) = (t.fds.get(int(a[0]))?, t.fds.get(int(a[2]))?);
    let mut off_in = read_offset(t, a[1])?;
    let mut off_out = read_offset(t, a[3])?;
    let (len, flags) = ((a[4] as usize).min(MAX_RW), a[5] as u32);
    let r = pipe_op(t, &inp, &out, flags, || {
        let ptr = |o: &mut Option<i64>| o.as_mut().map_or(std::ptr::null_mut(), |v| v as *mut i64);
        // SAFETY: the offset pointers are null or point at locals; both host
        // descriptors are held open. The host checks that one is a pipe.
        let r = unsafe {
            libc::splice(
                inp.fd.as_raw_fd(),
                ptr(&mut off_in),
                out.fd.as_raw_fd(),
                ptr(&mut off_out),
                len,
                flags | libc::SPLICE_F_NONBLOCK,
            )
        };
        Errno::result(r).map(|n| n as usize)
    })?;
    write_offset(t, a[1], off_in)?;
    write_offset(t, a[3], off_out)?;
    Ok(r)
}

pub(super) fn tee(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (inp, out) = (t.fds.get(int(a[0]))?, t.fds.get(int(a[1]))?);
    let (len, flags) = ((a[2] as usize).min(MAX_RW), a[3] as u32);
    pipe_op(t, &inp, &out, flags, || {
        // SAFETY: both host descriptors are held open; the host checks that
        // both are pipes.
        let r = unsafe { libc::tee(inp.fd.as_raw_fd(), out.fd.as_raw_fd(), len, flags | libc::SPLICE_F_NONBLOCK) };
        Errno::result(r).map(|n| n as usize)
    })
}

pub(super) fn fadvise64(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    // SAFETY: a plain system call on a descriptor `f` holds open; the host
    // checks the advice, the range and the kind of file (ESPIPE for pipes).
    let r = unsafe { libc::posix_fadvise(f.fd.as_raw_fd(), a[1] as i64, a[2] as i64, int(a[3])) };
    if r != 0 {
        return Err(Errno::from_raw(r).into());
    }
    Ok(0)
}

pub(super) fn fallocate(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    super::rw::remove_privs(k, t, &f)?;
    // SAFETY: a plain system call on a descriptor `f` holds open; the host
    // checks the mode, the range and that the file is open for writing.
    let r = unsafe { libc::fallocate(f.fd.as_raw_fd(), int(a[1]), a[2] as i64, a[3] as i64) };
    Errno::result(r)?;
    Ok(0)
}
