//! Taking pending signals to their action when a task returns to
//! application code: ignore, a default action, or a handler frame.

use super::signal_frame::{self, FrameError};
use super::signals::{DefaultAction, SigAction, bit, default_action};
use super::sigqueue::SigInfo;
use super::{ExitStatus, KernelError, KernelRef, Task};

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// Delivers every pending signal the task does not block. Handlers nest,
/// as on Linux: each frame is built on top of the previous one.
pub fn deliver_pending(k: &KernelRef, task: &mut Task) -> Result<(), KernelError> {
    loop {
        let Some(info) = task.queue.lock().take(task.signals.mask()) else { break };
        let act = task.signals.action(info.signo).unwrap_or_default();
        match act.handler {
            SIG_IGN => continue,
            SIG_DFL => match default_action(info.signo) {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                DefaultAction::Stop => {
                    // Stopping needs job control, not built yet.
                    k.log_line(&format!("pid {}: signal {} would stop it; ignored", task.tid, info.signo));
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    task.exit = Some(ExitStatus::Signal(info.signo));
                    return Ok(());
                }
            },
            _ => run_handler(task, &info, act)?,
        }
    }
    // sigsuspend's temporary mask lasts until a handler ran; none did.
    if let Some(m) = task.saved_mask.take() {
        task.signals.set_mask(m);
    }
    Ok(())
}

fn run_handler(task: &mut Task, info: &SigInfo, act: SigAction) -> Result<(), KernelError> {
    let old_mask = task.saved_mask.take().unwrap_or(task.signals.mask());
    match signal_frame::build(task, info, &act, old_mask) {
        Ok(()) => {}
        Err(FrameError::Platform(p)) => return Err(p.into()),
        Err(FrameError::Bad) => {
            // No room for the frame: Linux kills with SIGSEGV.
            task.exit = Some(ExitStatus::Signal(libc::SIGSEGV));
            return Ok(());
        }
    }
    let mut block = act.mask;
    if act.flags & libc::SA_NODEFER as u64 == 0 {
        block |= bit(info.signo);
    }
    task.signals.set_mask(task.signals.mask() | block);
    if act.flags & libc::SA_RESETHAND as u64 != 0 {
        let _ = task.signals.set_action(info.signo, SigAction::default());
    }
    Ok(())
}

/// A fault in application code: delivered even if blocked or ignored, in
/// which case the default action (ending the process) applies, as Linux's
/// forced signals do.
pub fn force_fault(task: &mut Task, info: SigInfo) {
    let blocked = task.signals.mask() & bit(info.signo) != 0;
    let ignored = task.signals.ignored(info.signo);
    if blocked || ignored {
        let _ = task.signals.set_action(info.signo, SigAction::default());
        task.signals.set_mask(task.signals.mask() & !bit(info.signo));
    }
    task.queue.send(info);
}
