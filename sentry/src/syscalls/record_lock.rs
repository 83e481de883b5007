//! fcntl record locks (F_GETLK, F_SETLK, F_SETLKW and their OFD forms): a
//! thin decoder of `struct flock` over the Sentry's table
//! (`kernel::record_locks`). A blocked lock tries again at short
//! intervals, waiting interruptibly in between, as flock does.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::{SysError, SysResult};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::record_locks::LockOwner;
use crate::kernel::{KernelRef, Task};

/// How often a blocked lock tries again.
const RETRY: Duration = Duration::from_millis(5);
/// `F_OFD_GETLK`, `F_OFD_SETLK`, `F_OFD_SETLKW`.
pub(super) const F_OFD_GETLK: i32 = 36;
pub(super) const F_OFD_SETLK: i32 = 37;
pub(super) const F_OFD_SETLKW: i32 = 38;

fn key_of(f: &OpenFile) -> Result<(u64, u64), Errno> {
    let st = nix::sys::stat::fstat(f.fd.as_fd())?;
    Ok((st.st_dev, st.st_ino))
}

/// The byte range `struct flock` names, inclusive (end u64::MAX: to the end
/// of the file and beyond), from `l_whence`, `l_start` and `l_len`.
fn range(f: &OpenFile, whence: i16, start: i64, len: i64) -> Result<(u64, u64), Errno> {
    let base = match i32::from(whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => nix::unistd::lseek(f.fd.as_fd(), 0, nix::unistd::Whence::SeekCur)?,
        libc::SEEK_END => nix::sys::stat::fstat(f.fd.as_fd())?.st_size,
        _ => return Err(Errno::EINVAL),
    };
    let from = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let (first, last) = match len {
        0 => (from, None),
        l if l > 0 => (from, Some(from.checked_add(l - 1).ok_or(Errno::EOVERFLOW)?)),
        l => (from.checked_add(l).ok_or(Errno::EINVAL)?, Some(from - 1)),
    };
    if first < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((first as u64, last.map_or(u64::MAX, |l| l as u64)))
}

pub(super) fn fcntl_lock(k: &KernelRef, t: &mut Task, fd: i32, cmd: i32, arg: u64) -> SysResult {
    let f = t.fds.get(fd)?;
    let raw = t.mm.copy_in(arg, 32)?;
    let kind = i16::from_le_bytes([raw[0], raw[1]]);
    let whence = i16::from_le_bytes([raw[2], raw[3]]);
    let start = i64::from_le_bytes(raw[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    let len = i64::from_le_bytes(raw[16..24].try_into().map_err(|_| Errno::EFAULT)?);
    let pid = i32::from_le_bytes([raw[24], raw[25], raw[26], raw[27]]);
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && pid != 0 {
        return Err(Errno::EINVAL.into());
    }
    if ![libc::F_RDLCK, libc::F_WRLCK, libc::F_UNLCK].contains(&i32::from(kind)) {
        return Err(Errno::EINVAL.into());
    }
    let owner =
        if ofd { LockOwner::Description(std::sync::Arc::as_ptr(&f) as usize) } else { LockOwner::Process(t.pid) };
    let (first, last) = range(&f, whence, start, len)?;
    let key = key_of(&f)?;
    if matches!(cmd, libc::F_GETLK | F_OFD_GETLK) {
        if kind == libc::F_UNLCK as i16 {
            return Err(Errno::EINVAL.into());
        }
        let mut out = raw.clone();
        match k.record_locks.test(key, owner, kind, first, last) {
            None => out[..2].copy_from_slice(&(libc::F_UNLCK as i16).to_le_bytes()),
            Some(l) => {
                out[..2].copy_from_slice(&l.kind.to_le_bytes());
                out[2..4].copy_from_slice(&(libc::SEEK_SET as i16).to_le_bytes());
                out[8..16].copy_from_slice(&(l.start as i64).to_le_bytes());
                let len = if l.end == u64::MAX { 0 } else { (l.end - l.start + 1) as i64 };
                out[16..24].copy_from_slice(&len.to_le_bytes());
                let holder = match l.owner {
                    LockOwner::Process(p) => p,
                    LockOwner::Description(_) => -1,
                };
                out[24..28].copy_from_slice(&holder.to_le_bytes());
            }
        }
        t.mm.copy_out(arg, &out)?;
        return Ok(0);
    }
    let acc = f.flags() & libc::O_ACCMODE;
    if (kind == libc::F_RDLCK as i16 && acc == libc::O_WRONLY)
        || (kind == libc::F_WRLCK as i16 && acc == libc::O_RDONLY)
    {
        return Err(Errno::EBADF.into());
    }
    let wait = matches!(cmd, libc::F_SETLKW | F_OFD_SETLKW);
    loop {
        match k.record_locks.set(key, owner, kind, first, last) {
            Ok(()) => {
                if ofd && kind != libc::F_UNLCK as i16 {
                    let mut g = f.ofd_locks.lock().unwrap_or_else(|p| p.into_inner());
                    if g.is_none() {
                        *g = Some(k.record_locks.guard(key, owner));
                    }
                }
                return Ok(0);
            }
            Err(Errno::EAGAIN) if wait => {}
            Err(e) => return Err(e.into()),
        }
        if blocking::sleep_until(t, Instant::now() + RETRY).is_err() {
            return Err(SysError::Restart(Restart::Sys));
        }
    }
}

/// A process closes a descriptor of `f`: as POSIX says, all its record
/// locks on that file go, whichever descriptor took them.
pub(crate) fn closing(k: &KernelRef, pid: i32, f: &OpenFile) {
    let owner = LockOwner::Process(pid);
    if k.record_locks.holds_any(owner)
        && let Ok(key) = key_of(f)
    {
        k.record_locks.release(key, owner);
    }
}
