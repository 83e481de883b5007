//! Terminal requests on a host terminal the sandbox holds: its settings
//! and window size (read and set on the host terminal, which the Sentry
//! owns), and job control (tcgetpgrp, tcsetpgrp, tcgetsid) answered from
//! the Sentry's record of its sessions' terminals.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::{SysError, SysResult};
use crate::kernel::blocking::Restart;
use crate::kernel::fd_table::OpenFile;
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::tty::terminal_of;
use crate::kernel::{KernelRef, Task};

/// `struct termios` as the kernel's ioctls take it.
const TERMIOS_SIZE: usize = 36;
/// `struct winsize`.
const WINSIZE_SIZE: usize = 8;

/// The terminal ioctls handled here; the rest go elsewhere.
pub(super) fn handles(req: u64) -> bool {
    matches!(
        req,
        libc::TIOCGPGRP
            | libc::TIOCSPGRP
            | libc::TIOCGSID
            | libc::TCGETS
            | libc::TCSETS
            | libc::TCSETSW
            | libc::TCSETSF
            | libc::TIOCGWINSZ
            | libc::TIOCSWINSZ
            | libc::TCFLSH
            | libc::TCXONC
            | libc::TIOCOUTQ
            | libc::TIOCGPTN
            | libc::TIOCSPTLCK
            | libc::TIOCSCTTY
            | libc::TIOCNOTTY
    )
}

/// Job control: a read of its session's controlling terminal (SIGTTIN), or
/// a change of its settings (SIGTTOU), from a process group not in the
/// terminal's foreground stops that group, and the call restarts once it
/// is continued; with the signal ignored or blocked the read fails with
/// EIO and the change goes through, as on Linux.
pub(super) fn stop_if_background(k: &KernelRef, t: &Task, f: &OpenFile, sig: i32) -> Result<(), SysError> {
    let Some(rdev) = f.terminal else { return Ok(()) };
    let Some((pgid, sid)) = k.procs().get(t.pid).map(|p| (p.pgid, p.sid)) else { return Ok(()) };
    let Ok(foreground) = k.terminals.foreground(rdev, sid) else { return Ok(()) };
    if foreground == pgid {
        return Ok(());
    }
    if t.signals.ignored(sig) || t.signals.mask() & crate::kernel::signals::bit(sig) != 0 {
        return if sig == libc::SIGTTIN { Err(Errno::EIO.into()) } else { Ok(()) };
    }
    let info = SigInfo { signo: sig, code: libc::SI_KERNEL, ..SigInfo::default() };
    let members = k.procs().group_members(pgid);
    for pid in members {
        let _ = k.send_signal(pid, info);
    }
    Err(SysError::Restart(Restart::Sys))
}

/// An ioctl on the host terminal with `buf` as its argument.
fn host_ioctl(f: &OpenFile, req: u64, buf: *mut u8) -> Result<(), Errno> {
    // SAFETY: every request passed here reads or writes at most
    // TERMIOS_SIZE bytes at `buf`, which the callers size to that at least.
    let r = unsafe { libc::ioctl(f.fd.as_raw_fd(), req, buf) };
    Errno::result(r).map(drop)
}

pub(super) fn ioctl(k: &KernelRef, t: &mut Task, f: &OpenFile, req: u64, arg: u64) -> SysResult {
    let rdev = terminal_of(&f.fd).ok_or(Errno::ENOTTY)?;
    match req {
        libc::TCGETS | libc::TIOCGWINSZ => {
            let mut buf = [0u8; 64];
            host_ioctl(f, req, buf.as_mut_ptr())?;
            let n = if req == libc::TCGETS { TERMIOS_SIZE } else { WINSIZE_SIZE };
            t.mm.copy_out(arg, &buf[..n])?;
            Ok(0)
        }
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF | libc::TIOCSWINSZ => {
            let n = if req == libc::TIOCSWINSZ { WINSIZE_SIZE } else { TERMIOS_SIZE };
            let mut buf = [0u8; 64];
            t.mm.read_into(arg, &mut buf[..n])?;
            if req != libc::TIOCSWINSZ {
                stop_if_background(k, t, f, libc::SIGTTOU)?;
            }
            host_ioctl(f, req, buf.as_mut_ptr())?;
            Ok(0)
        }
        libc::TCFLSH | libc::TCXONC => {
            // The argument is a value, not a pointer.
            // SAFETY: these requests take an int by value.
            let r = unsafe { libc::ioctl(f.fd.as_raw_fd(), req, arg as libc::c_int) };
            Errno::result(r)?;
            Ok(0)
        }
        libc::TIOCGPTN => {
            let n = k.ptys.number_of_master(&f.fd)?;
            t.mm.copy_out(arg, &n.to_le_bytes())?;
            Ok(0)
        }
        libc::TIOCSPTLCK => {
            let mut buf = [0u8; 8];
            t.mm.read_into(arg, &mut buf[..4])?;
            host_ioctl(f, req, buf.as_mut_ptr())?;
            Ok(0)
        }
        libc::TIOCSCTTY | libc::TIOCNOTTY => {
            let (pid, sid) = (t.pid, k.procs().get(t.pid).map(|p| p.sid).ok_or(Errno::ESRCH)?);
            if req == libc::TIOCNOTTY {
                k.terminals.session(rdev, sid)?;
                if pid == sid {
                    k.terminals.detach_session(sid);
                }
                return Ok(0);
            }
            if pid != sid {
                return Err(Errno::EPERM.into());
            }
            if k.terminals.session(rdev, sid).is_ok() {
                return Ok(0);
            }
            if k.terminals.open_controlling(sid).is_ok() {
                return Err(Errno::EPERM.into());
            }
            k.terminals.attach(&f.fd, sid);
            k.terminals.session(rdev, sid).map_err(|_| Errno::EPERM)?;
            Ok(0)
        }
        libc::TIOCOUTQ => {
            let mut buf = [0u8; 8];
            host_ioctl(f, req, buf.as_mut_ptr())?;
            t.mm.copy_out(arg, &buf[..4])?;
            Ok(0)
        }
        _ => job_control(k, t, rdev, req, arg),
    }
}

fn job_control(k: &KernelRef, t: &mut Task, rdev: u64, req: u64, arg: u64) -> SysResult {
    let sid = k.procs().get(t.pid).map(|p| p.sid).ok_or(Errno::ESRCH)?;
    match req {
        libc::TIOCGPGRP => {
            let pgrp = k.terminals.foreground(rdev, sid)?;
            t.mm.copy_out(arg, &pgrp.to_le_bytes())?;
            Ok(0)
        }
        libc::TIOCGSID => {
            let s = k.terminals.session(rdev, sid)?;
            t.mm.copy_out(arg, &s.to_le_bytes())?;
            Ok(0)
        }
        _ => {
            let b = t.mm.copy_in(arg, 4)?;
            let pgrp = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if pgrp < 0 {
                return Err(Errno::EINVAL.into());
            }
            k.terminals.foreground(rdev, sid)?;
            let procs = k.procs();
            let members: Vec<i32> = procs.pids().filter(|&p| procs.get(p).is_some_and(|x| x.pgid == pgrp)).collect();
            if members.is_empty() {
                return Err(Errno::ESRCH.into());
            }
            if members.iter().any(|&p| procs.get(p).is_some_and(|x| x.sid != sid)) {
                return Err(Errno::EPERM.into());
            }
            drop(procs);
            k.terminals.set_foreground(rdev, sid, pgrp)?;
            Ok(0)
        }
    }
}
