//! A thread group: the tasks of one process. It knows which threads are
//! alive, how the process is ending (exit_group, a fatal signal) and which
//! thread is taking the process through execve, and it picks the thread
//! that takes a signal sent to the process.
//!
//! Each thread runs on a Sentry thread of its own and drives a host thread
//! of the process's stub. Only the Sentry thread that drives the stub's
//! first host thread (the "leader's", which the host reaps with the
//! process) ends the stub process and reports the process's exit; the
//! others end their own host threads and leave.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use nix::errno::Errno;

use super::ExitStatus;
use super::signals::bit;
use super::sigqueue::{SigInfo, SignalQueue};

/// `si_code` of the SIGKILL that ends the other threads of a process: from
/// the kernel, so even the sandbox's init takes it.
const SI_KERNEL: i32 = 0x80;

/// The tasks of one process.
#[derive(Debug)]
pub struct ThreadGroup {
    /// The process id (the first thread's id).
    pub tgid: i32,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Live threads, by id, with their signal queues.
    members: Vec<(i32, Arc<SignalQueue>)>,
    /// How the process ends, once a thread has ended it for all.
    exit: Option<ExitStatus>,
    /// A thread taking the process through execve, which ends the others.
    exec_by: Option<i32>,
    /// What the leader's Sentry thread runs for an execve another thread
    /// made: the process's first thread carries the process on.
    handover: Option<ExecHandover>,
    /// The exit status of the thread that left last.
    last: Option<ExitStatus>,
}

/// An execve made by a thread other than the leader, handed to the leader's
/// Sentry thread: it owns the stub process the host reaps, so it runs the
/// new program, as the process's only thread (with the caller's mask).
#[derive(Debug, Clone)]
pub struct ExecHandover {
    /// The program, as the caller named it.
    pub path: Vec<u8>,
    /// Its arguments.
    pub argv: Vec<Vec<u8>>,
    /// Its environment.
    pub envp: Vec<Vec<u8>>,
    /// The calling thread's signal mask.
    pub mask: u64,
    /// The calling thread's credentials.
    pub creds: super::Creds,
    /// The calling thread's working directory.
    pub cwd: Vec<u8>,
}

impl ThreadGroup {
    /// A process of one thread, `tgid`, whose signals arrive on `queue`.
    pub fn new(tgid: i32, queue: Arc<SignalQueue>) -> Arc<Self> {
        let state = State { members: vec![(tgid, queue)], ..State::default() };
        Arc::new(ThreadGroup { tgid, state: Mutex::new(state), changed: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds thread `tid`; EAGAIN if the process is already ending.
    pub fn add(&self, tid: i32, queue: Arc<SignalQueue>) -> Result<(), Errno> {
        let mut s = self.lock();
        if s.exit.is_some() || s.exec_by.is_some() {
            return Err(Errno::EAGAIN);
        }
        s.members.push((tid, queue));
        Ok(())
    }

    /// Removes thread `tid`, which ended with `status`, and returns how
    /// many remain.
    pub fn leave(&self, tid: i32, status: ExitStatus) -> usize {
        let mut s = self.lock();
        s.members.retain(|(t, _)| *t != tid);
        s.last = Some(status);
        let n = s.members.len();
        drop(s);
        self.changed.notify_all();
        n
    }

    /// Live thread ids, in creation order.
    pub fn tids(&self) -> Vec<i32> {
        self.lock().members.iter().map(|(t, _)| *t).collect()
    }

    /// How many threads are alive.
    pub fn len(&self) -> usize {
        self.lock().members.len()
    }

    /// Whether no thread is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends the process with `status` (exit_group, a fatal signal): every
    /// other thread gets a SIGKILL. The first caller's status stands;
    /// returns it.
    pub fn exit_all(&self, status: ExitStatus, from: i32) -> ExitStatus {
        let mut s = self.lock();
        if let Some(first) = s.exit {
            return first;
        }
        if s.exec_by.is_some() {
            // A thread killed for another's execve: the process goes on.
            return status;
        }
        s.exit = Some(status);
        zap_others(&s, from);
        status
    }

    /// The status the process ends with, once a thread has ended it.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.lock().exit
    }

    /// How the process ended: as a thread ended it for all, else as its
    /// last thread exited (Linux since 5.19 reports that one's code).
    pub fn final_status(&self) -> Option<ExitStatus> {
        let s = self.lock();
        s.exit.or(s.last)
    }

    /// Starts an execve by `tid`: every other thread gets a SIGKILL. A
    /// thread other than the leader hands its execve over (`handover`).
    /// EINTR if the process is ending anyway, or another thread execs.
    pub fn begin_exec(&self, tid: i32, handover: Option<ExecHandover>) -> Result<(), Errno> {
        let mut s = self.lock();
        if s.exit.is_some() || s.exec_by.is_some() {
            return Err(Errno::EINTR);
        }
        s.exec_by = Some(tid);
        s.handover = handover;
        zap_others(&s, tid);
        Ok(())
    }

    /// Whether a thread is taking the process through execve.
    pub fn exec_pending(&self) -> bool {
        self.lock().exec_by.is_some()
    }

    /// Waits until `tid` is the only thread left, for its execve.
    pub fn wait_alone(&self, tid: i32) {
        let mut s = self.lock();
        while s.members.iter().any(|(t, _)| *t != tid) {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Ends an execve: the process runs on as one thread, `tid` with
    /// `queue`; returns the execve handed over by another thread, if any.
    pub fn end_exec(&self, tid: i32, queue: &Arc<SignalQueue>) -> Option<ExecHandover> {
        let mut s = self.lock();
        s.exec_by = None;
        let handover = s.handover.take();
        if handover.is_some() && s.members.is_empty() {
            s.members.push((tid, queue.clone()));
        }
        handover
    }

    /// Waits until every thread has left.
    pub fn wait_empty(&self) {
        let mut s = self.lock();
        while !s.members.is_empty() {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The thread that takes a signal sent to the process: the first that
    /// does not block it, else the first.
    pub fn pick(&self, signo: i32) -> Option<Arc<SignalQueue>> {
        let s = self.lock();
        let free = s.members.iter().find(|(_, q)| q.published_mask() & bit(signo) == 0);
        free.or(s.members.first()).map(|(_, q)| q.clone())
    }

    /// The signal queue of thread `tid`, if it belongs to this process.
    pub fn thread(&self, tid: i32) -> Option<Arc<SignalQueue>> {
        self.lock().members.iter().find(|(t, _)| *t == tid).map(|(_, q)| q.clone())
    }
}

fn zap_others(s: &State, from: i32) {
    for (tid, q) in &s.members {
        if *tid != from {
            q.send(SigInfo { signo: libc::SIGKILL, code: SI_KERNEL, ..SigInfo::default() });
        }
    }
}
