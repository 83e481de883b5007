//! The run loop: each trap from the platform goes to a system call
//! handler or a signal; the first thread of a process waits out the others
//! and runs an execve another thread hands over.

use nix::errno::Errno;

use super::{ExitStatus, KernelError, KernelRef, Task, delivery, errno_value, procfs, sigqueue, threads};
use crate::arch::SyscallArgs;
use crate::platform::ptrace::Event;

/// Signals that mean the application's own code faulted.
fn is_fault(info: &libc::siginfo_t) -> bool {
    let sync = matches!(info.si_signo, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP);
    sync && info.si_code > 0
}

/// Runs `task`, the first thread of its process, until the process ends
/// and returns how it ended. The first thread's Sentry thread owns the stub
/// process: when the application thread exits before others, it waits for
/// them, and it runs an execve another thread hands over.
pub fn run(kernel: &KernelRef, task: &mut Task) -> Result<ExitStatus, KernelError> {
    loop {
        let status = match run_thread(kernel, task) {
            Ok(s) => s,
            Err(e) => match task.group.exit_status() {
                Some(s) => s,
                None if task.group.len() > 1 => {
                    // The stub process died under this thread: the others
                    // go with it.
                    kernel.log_line(&format!("pid {}: {e}", task.pid));
                    task.exit_group(ExitStatus::Signal(libc::SIGKILL));
                    ExitStatus::Signal(libc::SIGKILL)
                }
                None => return Err(e),
            },
        };
        threads::thread_ended(kernel, task, status);
        task.group.wait_empty();
        match task.group.end_exec(task.tid, &task.queue) {
            Some(h) => {
                task.exit = None;
                if let Err(e) = threads::run_handover(kernel, task, h) {
                    // Past the point of no return: as Linux, the process
                    // dies.
                    kernel.log_line(&format!("pid {}: execve handed over by a thread: {e}", task.pid));
                    return Ok(ExitStatus::Signal(libc::SIGKILL));
                }
            }
            None => return Ok(task.group.final_status().unwrap_or(status)),
        }
    }
}

/// Runs one application thread until it ends; returns its own exit status.
pub fn run_thread(kernel: &KernelRef, task: &mut Task) -> Result<ExitStatus, KernelError> {
    procfs::set_current(task.pid);
    loop {
        delivery::deliver_pending(kernel, task)?;
        if let Some(status) = task.exit {
            return Ok(status);
        }
        task.queue.publish_mask(task.signals.mask());
        let event = task.mm.stub().switch(&mut task.regs)?;
        match event {
            Event::Syscall => {
                let call = SyscallArgs::from_regs(&task.regs);
                let result = crate::syscalls::dispatch(kernel, task, &call)?;
                task.regs.rax = result as u64;
            }
            Event::ForeignSyscall => {
                kernel.log_line(&format!("32-bit system call {} refused", task.regs.orig_rax));
                task.regs.rax = errno_value(Errno::ENOSYS) as u64;
            }
            Event::Signal(info) if is_fault(&info) => {
                // SAFETY: the kernel filled this siginfo for a fault, whose
                // union member is si_addr.
                let addr = unsafe { info.si_addr() } as u64;
                let fault = sigqueue::SigInfo { signo: info.si_signo, code: info.si_code, addr, ..Default::default() };
                delivery::force_fault(task, fault);
            }
            // A signal sent to the stub from outside is not the
            // application's: it is dropped.
            Event::Signal(_) => {}
            Event::Gone(how) => match task.group.exit_status() {
                // Another thread ended the process and its stub with it.
                Some(s) => return Ok(s),
                None => return Err(KernelError::StubGone(how)),
            },
        }
        if let Some(status) = task.exit {
            return Ok(status);
        }
    }
}
