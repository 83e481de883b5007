//! POSIX message queue calls: thin decoders over `kernel::mqueue`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;

use super::{SysError, SysResult, int};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::mqueue::{Interrupt, Notify, QueueError};
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::{KernelRef, Task};

/// Linux's SI_MESGQ (si_code of a queue notification).
const SI_MESGQ: i32 = -3;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;

struct Signals<'a>(&'a Task);

impl Interrupt for Signals<'_> {
    fn pending(&self) -> bool {
        self.0.queue.has_unblocked(self.0.signals.not_waking())
    }
}

fn name(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    t.mm.copy_in_cstr(addr, 256)
}

fn queue_of(t: &Task, fd: i32) -> Result<std::sync::Arc<OpenFile>, Errno> {
    let f = t.fds.get(fd)?;
    if f.mqueue.is_none() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

fn long_at(b: &[u8], i: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[i * 8..i * 8 + 8]);
    i64::from_le_bytes(x)
}

/// An absolute CLOCK_REALTIME timeout as an instant; EINVAL for a bad one.
fn deadline(t: &Task, addr: u64) -> Result<Option<Instant>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let b = t.mm.copy_in(addr, 16)?;
    let (sec, nsec) = (long_at(&b, 0), long_at(&b, 1));
    if !(0..1_000_000_000).contains(&nsec) || sec < 0 {
        return Err(Errno::EINVAL);
    }
    let at = UNIX_EPOCH + Duration::new(sec as u64, nsec as u32);
    let left = at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
    Ok(Some(Instant::now() + left))
}

fn queue_err(e: QueueError) -> SysError {
    match e {
        QueueError::Errno(e) => e.into(),
    }
}

pub(super) fn mq_open(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let n = name(t, a[0])?;
    let flags = int(a[1]);
    let create = if flags & libc::O_CREAT != 0 {
        Some(if a[3] == 0 {
            None
        } else {
            let b = t.mm.copy_in(a[3], 32)?;
            Some((long_at(&b, 1), long_at(&b, 2)))
        })
    } else {
        None
    };
    let q = k.mqueues.open(&n, create, flags & libc::O_EXCL != 0)?;
    let keep = flags & (libc::O_ACCMODE | libc::O_NONBLOCK);
    let mut path = b"/dev/mqueue/".to_vec();
    path.extend_from_slice(&n);
    let file = OpenFile::message_queue(q, path, keep)?;
    Ok(t.fds.insert(file, flags & libc::O_CLOEXEC != 0, 0)? as i64)
}

pub(super) fn mq_unlink(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let n = name(t, a[0])?;
    k.mqueues.unlink(&n)?;
    Ok(0)
}

pub(super) fn mq_timedsend(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = queue_of(t, int(a[0]))?;
    if f.flags() & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Errno::EBADF.into());
    }
    let Some(q) = &f.mqueue else { return Err(Errno::EBADF.into()) };
    let len = usize::try_from(a[2]).map_err(|_| Errno::EMSGSIZE)?;
    if len as i64 > q.msgsize {
        return Err(Errno::EMSGSIZE.into());
    }
    let msg = t.mm.copy_in(a[1], len)?;
    let until = deadline(t, a[4])?;
    let nonblocking = f.flags() & libc::O_NONBLOCK != 0;
    let notify = q.send(msg, a[3] as u32, nonblocking, until, &Signals(t)).map_err(queue_err)?;
    if let Some(Notify { pid, signo, value }) = notify
        && signo > 0
    {
        let info = SigInfo { signo, code: SI_MESGQ, pid: t.pid, uid: t.creds.ruid, value, ..SigInfo::default() };
        let _ = k.send_signal(pid, info);
    }
    Ok(0)
}

pub(super) fn mq_timedreceive(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = queue_of(t, int(a[0]))?;
    if f.flags() & libc::O_ACCMODE == libc::O_WRONLY {
        return Err(Errno::EBADF.into());
    }
    let Some(q) = &f.mqueue else { return Err(Errno::EBADF.into()) };
    let room = usize::try_from(a[2]).unwrap_or(usize::MAX);
    let until = deadline(t, a[4])?;
    let nonblocking = f.flags() & libc::O_NONBLOCK != 0;
    let (msg, prio) = q.receive(room, nonblocking, until, &Signals(t)).map_err(queue_err)?;
    t.mm.copy_out(a[1], &msg)?;
    if a[3] != 0 {
        t.mm.copy_out(a[3], &prio.to_le_bytes())?;
    }
    Ok(msg.len() as i64)
}

pub(super) fn mq_notify(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = queue_of(t, int(a[0]))?;
    let Some(q) = &f.mqueue else { return Err(Errno::EBADF.into()) };
    if a[1] == 0 {
        q.set_notify(t.pid, None)?;
        return Ok(0);
    }
    // struct sigevent: sigev_value (8), sigev_signo (4), sigev_notify (4).
    let b = t.mm.copy_in(a[1], 16)?;
    let value = long_at(&b, 0) as u64;
    let signo = i32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    let how = i32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    let n = match how {
        SIGEV_NONE => Notify { pid: t.pid, signo: 0, value },
        SIGEV_SIGNAL if (1..=64).contains(&signo) => Notify { pid: t.pid, signo, value },
        // SIGEV_THREAD reaches the kernel as a netlink socket request,
        // which needs sockets the Sentry does not have yet.
        _ => return Err(Errno::EINVAL.into()),
    };
    q.set_notify(t.pid, Some(n))?;
    Ok(0)
}

pub(super) fn mq_getsetattr(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = queue_of(t, int(a[0]))?;
    let Some(q) = &f.mqueue else { return Err(Errno::EBADF.into()) };
    let new = if a[1] != 0 { Some(long_at(&t.mm.copy_in(a[1], 32)?, 0)) } else { None };
    if a[2] != 0 {
        let flags = i64::from(f.flags() & libc::O_NONBLOCK);
        let mut out = [0u8; 64];
        for (i, v) in [flags, q.maxmsg, q.msgsize, q.current()].into_iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        t.mm.copy_out(a[2], &out)?;
    }
    if let Some(flags) = new {
        let nb = flags & i64::from(libc::O_NONBLOCK) != 0;
        let cur = f.flags();
        let new = if nb { cur | libc::O_NONBLOCK } else { cur & !libc::O_NONBLOCK };
        f.flags.store(new, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(0)
}
