//! Threads of a stub process: host threads added to it for the
//! application's threads (and for CLONE_VM children), each driven by its
//! own Sentry thread; their end by an injected `exit`, never a kill, which
//! would end every thread of the process; and an atomic compare-and-exchange
//! run in the stub on application memory (futex words).

use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{PlatformError, StubProcess, stub};
use crate::arch;

impl StubProcess {
    /// A handle on no stub thread yet (for a thread whose host thread a
    /// Sentry thread is about to adopt): every call on it fails, and it
    /// ends nothing.
    pub fn unattached() -> Self {
        let mut sp = StubProcess::handle(Pid::from_raw(0), Pid::from_raw(-1), 0);
        sp.reaped = true;
        sp
    }

    /// Adds a host thread to this stub's process (the application's
    /// `clone(CLONE_THREAD)`): it shares memory, descriptors and signal
    /// handling, and sleeps in `pause` until [`StubProcess::adopt_thread`]
    /// takes it over on the Sentry thread that will drive it.
    pub fn spawn_thread(&mut self) -> Result<Pid, PlatformError> {
        let flags = libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM;
        let mut r = self.template;
        r.rip = self.stub + stub::FORK_OFFSET;
        arch::set_syscall(&mut r, libc::SYS_clone, [flags as u64, 0, 0, 0, 0, 0]);
        ptrace::setregs(self.pid, r).map_err(|e| self.host("set registers", e))?;
        self.run_to_trap()?;
        let after = ptrace::getregs(self.pid).map_err(|e| self.host("get registers", e))?;
        match arch::syscall_result(after.rax) {
            Ok(tid) => Ok(Pid::from_raw(tid as i32)),
            Err(e) => Err(self.host("add stub thread", Errno::from_raw(e))),
        }
    }

    /// Takes over host thread `tid` of stub process `tgid`, made by
    /// [`StubProcess::spawn_thread`], from the thread that will drive it.
    pub fn adopt_thread(tid: Pid, tgid: Pid) -> Result<Self, PlatformError> {
        let stub = stub::stub_addr().map_err(|errno| PlatformError::Host { pid: 0, what: "map stub page", errno })?;
        let mut sp = StubProcess::handle(tid, tgid, stub);
        sp.seize_sleeping()?;
        Ok(sp)
    }

    /// Ends this host thread alone (the application thread exited, or
    /// execve ended it): an injected `exit`, then the thread is reaped.
    /// Without effect on the process's first thread, which ends with the
    /// process ([`StubProcess::end`]).
    pub fn end_thread(&mut self) {
        if !self.thread || self.reaped {
            return;
        }
        self.reaped = true;
        let mut r = self.template;
        r.rip = self.stub + stub::SYSCALL_OFFSET;
        arch::set_syscall(&mut r, libc::SYS_exit, [0; 6]);
        if ptrace::setregs(self.pid, r).is_ok() {
            let _ = ptrace::cont(self.pid, None);
        }
        // The thread may be gone already (the process was killed); either
        // way its exit is reported here, to its tracer, and reaped.
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::__WALL)) {
                Err(Errno::EINTR) => continue,
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => return,
                Ok(_) => {
                    let _ = ptrace::cont(self.pid, None);
                }
            }
        }
    }

    /// Atomically replaces the 32-bit word at `addr` of the application's
    /// memory with `new` if it holds `old`; returns what it held (the
    /// exchange happened if that is `old`), or EFAULT if the word is not
    /// writable memory.
    pub fn cmpxchg(&mut self, addr: u64, old: u32, new: u32) -> Result<Result<u32, Errno>, PlatformError> {
        let mut r = self.template;
        r.rip = self.stub + stub::CMPXCHG_OFFSET;
        r.rdi = addr;
        r.rsi = old as u64;
        r.rdx = new as u64;
        // Not in a system call: a host signal met on the way (a SIGURG
        // kick) must not "restart" one and move rip back.
        r.orig_rax = u64::MAX;
        r.rax = 0;
        ptrace::setregs(self.pid, r).map_err(|e| self.host("set registers", e))?;
        ptrace::cont(self.pid, None).map_err(|e| self.host("continue", e))?;
        loop {
            match self.wait()? {
                WaitStatus::Stopped(_, Signal::SIGTRAP) => break,
                // The word is not writable: the fault is not delivered (the
                // application's registers are restored before it runs).
                WaitStatus::Stopped(_, Signal::SIGSEGV | Signal::SIGBUS) => return Ok(Err(Errno::EFAULT)),
                WaitStatus::Stopped(..) | WaitStatus::PtraceEvent(..) => {
                    ptrace::cont(self.pid, None).map_err(|e| self.host("continue", e))?;
                }
                other => return Err(self.unexpected(other)),
            }
        }
        let after = ptrace::getregs(self.pid).map_err(|e| self.host("get registers", e))?;
        Ok(Ok(after.rax as u32))
    }
}
