//! Taking pending signals to their action when a task returns to
//! application code: ignore, a default action, or a handler frame.

use super::blocking::Restart;
use super::signal_frame::{self, FrameError};
use super::signals::{DefaultAction, SigAction, bit, default_action};
use super::sigqueue::SigInfo;
use super::{ExitStatus, KernelError, KernelRef, Task};

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// Delivers every pending signal the task does not block. Handlers nest,
/// as on Linux: each frame is built on top of the previous one.
pub fn deliver_pending(k: &KernelRef, task: &mut Task) -> Result<(), KernelError> {
    let mut restart = task.restart.take();
    loop {
        let Some(info) = task.queue.lock().take(task.signals.mask()) else { break };
        let act = task.signals.action(info.signo).unwrap_or_default();
        if act.handler == SIG_DFL && task.pid == 1 && info.code <= 0 {
            // The PID namespace's init ignores signals it has no handler
            // for when they come from inside, SIGKILL included (faults and
            // signals from the host excepted).
            continue;
        }
        match act.handler {
            SIG_IGN => continue,
            SIG_DFL => match default_action(info.signo) {
                DefaultAction::Ignore | DefaultAction::Continue => continue,
                DefaultAction::Stop => {
                    stop(k, task, info.signo);
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    task.exit_group(ExitStatus::Signal(info.signo));
                    return Ok(());
                }
            },
            _ => {
                if let Some(r) = restart.take() {
                    // A handler runs: the call returns EINTR, unless it
                    // restarts after handlers that ask for it.
                    if r == Restart::Sys && act.flags & libc::SA_RESTART as u64 != 0 {
                        rewind(task);
                    }
                }
                run_handler(task, &info, act)?;
            }
        }
    }
    if restart.is_some() {
        // No handler ran: the interrupted call starts again.
        rewind(task);
    }
    // sigsuspend's temporary mask lasts until a handler ran; none did.
    if let Some(m) = task.saved_mask.take() {
        task.signals.set_mask(m);
    }
    Ok(())
}

/// Stops the process until SIGCONT or SIGKILL arrives, telling its parent
/// (SIGCHLD, and wait with WUNTRACED / WCONTINUED) of the stop and of the
/// continue. Signals that arrive meanwhile wait for the continue.
fn stop(k: &KernelRef, task: &mut Task, signo: i32) {
    use super::process::JobReport;
    let ppid = k.procs().get(task.pid).map_or(0, |p| p.ppid);
    let tell = |report: JobReport, code: i32, status: i32| {
        // Under the table's lock, as Linux under tasklist_lock: a parent's
        // wait that sees the report also finds the SIGCHLD pending. The
        // report stays for wait; only the SIGCHLD is the parent's to refuse.
        let mut procs = k.procs();
        procs.job_report(task.pid, report);
        let unwanted = k.tasks().get(&ppid).is_some_and(|q| q.no_child_stops());
        if !unwanted {
            let info = SigInfo { signo: libc::SIGCHLD, code, pid: task.pid, status, ..SigInfo::default() };
            let _ = k.send_signal(ppid, info);
        }
        drop(procs);
        k.proc_changed.notify_all();
    };
    tell(JobReport::Stopped(signo), libc::CLD_STOPPED, signo);
    let wake = bit(libc::SIGCONT) | bit(libc::SIGKILL);
    task.queue.wait_unblocked(!wake);
    if task.queue.lock().set() & bit(libc::SIGCONT) != 0 {
        tell(JobReport::Continued, libc::CLD_CONTINUED, libc::SIGCONT);
    }
}

/// Points the task back at its `syscall` instruction, call number in rax.
fn rewind(task: &mut Task) {
    task.regs.rip = task.regs.rip.wrapping_sub(2);
    task.regs.rax = task.regs.orig_rax;
}

fn run_handler(task: &mut Task, info: &SigInfo, act: SigAction) -> Result<(), KernelError> {
    let old_mask = task.saved_mask.take().unwrap_or(task.signals.mask());
    match signal_frame::build(task, info, &act, old_mask) {
        Ok(()) => {}
        Err(FrameError::Platform(p)) => return Err(p.into()),
        Err(FrameError::Bad) => {
            // No room for the frame: Linux kills with SIGSEGV.
            task.exit_group(ExitStatus::Signal(libc::SIGSEGV));
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
