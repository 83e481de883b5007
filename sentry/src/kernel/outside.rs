//! Processes started from outside the sandbox: what the runtime's `exec`
//! asks for. Such a process has no parent inside (its parent pid is 0, as
//! for a process `runc exec` starts), leads a session of its own, and
//! leaves no zombie: its end is reported to the caller instead.

use std::sync::mpsc;

use super::exec::ExecError;
use super::{ExitStatus, InitProcess, KernelRef, Task};

/// A started process: its pid in the sandbox, and where its end arrives.
#[derive(Debug)]
pub struct Started {
    /// Pid inside the sandbox.
    pub pid: i32,
    /// Receives the exit status once.
    pub ended: mpsc::Receiver<ExitStatus>,
}

/// Starts `init` as a new process; fails as execve would when its program
/// cannot run.
pub fn spawn(k: &KernelRef, init: InitProcess) -> Result<Started, ExecError> {
    let pid = k.procs().add_outsider()?;
    let (started_tx, started_rx) = mpsc::channel::<Result<(), ExecError>>();
    let (ended_tx, ended) = mpsc::channel();
    let kc = k.clone();
    let spawned = std::thread::Builder::new().name(format!("task-{pid}")).spawn(move || {
        // The stub is bound to the thread that made it: this one.
        let mut task = match Task::first(&kc, pid, init) {
            Ok(t) => t,
            Err(e) => {
                let _ = started_tx.send(Err(e));
                return;
            }
        };
        let _ = started_tx.send(Ok(()));
        let status = match super::run(&kc, &mut task) {
            Ok(s) => s,
            Err(e) => {
                kc.log_line(&format!("pid {pid}: {e}"));
                ExitStatus::Signal(libc::SIGKILL)
            }
        };
        let usage = task.cpu.finish(task.mm.end());
        drop(task);
        kc.task_exited(pid, status, usage);
        // It led its session: the session's terminal is free again.
        kc.terminals.detach_session(pid);
        // Nobody inside reaps it.
        kc.procs().discard(pid);
        kc.proc_infos.remove(pid);
        let _ = ended_tx.send(status);
    });
    let outcome = match spawned {
        Ok(_) => started_rx.recv().unwrap_or(Err(ExecError::Errno(nix::errno::Errno::EAGAIN))),
        Err(_) => Err(ExecError::Errno(nix::errno::Errno::EAGAIN)),
    };
    match outcome {
        Ok(()) => Ok(Started { pid, ended }),
        Err(e) => {
            k.tasks().remove(&pid);
            k.procs().discard(pid);
            k.proc_infos.remove(pid);
            Err(e)
        }
    }
}
