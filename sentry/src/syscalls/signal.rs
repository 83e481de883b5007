//! Signal calls. Actions and masks are kept exactly; delivery is the next
//! step (see `kernel::signals`).

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::signals::SigAction;
use crate::kernel::{Kernel, Task};

const SIGSET_SIZE: u64 = 8;

pub(super) fn rt_sigaction(_k: &Kernel, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (sig, act, oact) = (int(a[0]), a[1], a[2]);
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let new = if act != 0 { Some(SigAction::from_bytes(&t.mm.copy_in(act, 32)?)?) } else { None };
    let old = match new {
        Some(n) => t.signals.set_action(sig, n)?,
        None => t.signals.action(sig)?,
    };
    if oact != 0 {
        t.mm.copy_out(oact, &old.to_bytes())?;
    }
    Ok(0)
}

pub(super) fn rt_sigprocmask(_k: &Kernel, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (how, set, oset) = (int(a[0]), a[1], a[2]);
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL.into());
    }
    let old = if set != 0 {
        let raw = t.mm.copy_in(set, 8)?;
        let s = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
        t.signals.change_mask(how, s)?
    } else {
        t.signals.mask()
    };
    if oset != 0 {
        t.mm.copy_out(oset, &old.to_le_bytes())?;
    }
    Ok(0)
}
