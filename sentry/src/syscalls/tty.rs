//! Job-control requests on a terminal: tcgetpgrp, tcsetpgrp, tcgetsid,
//! answered from the Sentry's record of its sessions' terminals.

use nix::errno::Errno;

use super::SysResult;
use crate::kernel::fd_table::OpenFile;
use crate::kernel::tty::terminal_of;
use crate::kernel::{KernelRef, Task};

/// The terminal ioctls handled here; the rest go elsewhere.
pub(super) fn handles(req: u64) -> bool {
    matches!(req, libc::TIOCGPGRP | libc::TIOCSPGRP | libc::TIOCGSID)
}

pub(super) fn ioctl(k: &KernelRef, t: &mut Task, f: &OpenFile, req: u64, arg: u64) -> SysResult {
    let rdev = terminal_of(&f.fd).ok_or(Errno::ENOTTY)?;
    let sid = k.procs().get(t.tid).map(|p| p.sid).ok_or(Errno::ESRCH)?;
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
