//! The ptrace platform: application code runs in stub processes under
//! `PTRACE_SYSEMU`, so every system call it makes stops in the Sentry and
//! none runs on the host. Calls the Sentry needs in the stub (mmap, munmap,
//! mprotect, …) are injected: registers pointed at the stub page, one
//! `syscall`, then `int3` back to the Sentry.
//!
//! ptrace binds a tracee to the one tracer thread that attached it: the
//! thread that calls [`StubProcess::spawn`] must make every later call on
//! that stub. That thread and the stub are pinned to the same CPU: a ptrace
//! round trip across CPUs costs several times one on the same CPU here.
//! Which CPU is [`placement`]'s choice.

mod fd_channel;
pub mod placement;
pub mod stub;
mod threads;

use nix::errno::Errno;
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use thiserror::Error;

use crate::arch::{self, Regs};

/// A failure of the platform. Any of them ends the sandbox: a stub the
/// Sentry no longer controls cannot be trusted to run application code.
#[derive(Debug, Error)]
pub enum PlatformError {
    /// A host call on the stub failed.
    #[error("stub {pid}: {what}: {errno}")]
    Host {
        /// Stub pid on the host.
        pid: i32,
        /// What was being done.
        what: &'static str,
        /// The errno.
        errno: Errno,
    },
    /// The stub stopped in a way the Sentry did not ask for.
    #[error("stub {pid}: unexpected stop {status}")]
    Unexpected {
        /// Stub pid on the host.
        pid: i32,
        /// The wait status, printed.
        status: String,
    },
}

/// `NT_X86_XSTATE`: the XSAVE register set.
const NT_X86_XSTATE: libc::c_int = 0x202;
/// Room for the largest XSAVE image (AMX makes it about 11 KiB).
const XSTATE_MAX: usize = 16 * 1024;

/// `AUDIT_ARCH_X86_64`: the 64-bit system call ABI.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// What stopped the application.
#[derive(Debug, Clone)]
pub enum Event {
    /// It made a system call; the registers hold it.
    Syscall,
    /// It made a system call of another ABI (`int 0x80`, the 32-bit
    /// table), whose number must not be read as a 64-bit call.
    ForeignSyscall,
    /// The host delivered a signal (a fault, or a signal sent to the stub);
    /// the host's siginfo describes it. It was not delivered.
    Signal(libc::siginfo_t),
    /// The stub process is gone (killed from outside).
    Gone(String),
}

/// One stub process: an address space and the thread that runs it.
#[derive(Debug)]
pub struct StubProcess {
    /// The host thread this handle drives (the process's first thread, or
    /// one made by [`StubProcess::spawn_thread`]).
    pid: Pid,
    /// The host process (thread group) it belongs to.
    tgid: Pid,
    /// A thread other than the process's first: it ends by its own `exit`,
    /// never by a kill, which would end every thread of the process.
    thread: bool,
    stub: u64,
    /// Register template for injection (segment registers and flags valid
    /// for this process).
    template: Regs,
    /// Already killed and reaped by [`StubProcess::end`].
    reaped: bool,
    /// The CPU it and its Sentry thread are pinned to, once pinned.
    cpu: Option<placement::CpuClaim>,
    /// The socket descriptors reach it by, once it has needed one.
    channel: Option<fd_channel::Channel>,
}

/// The host's accounting of a stub that has ended: what `wait4` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostUsage {
    /// User time.
    pub user: std::time::Duration,
    /// System time, which includes the ptrace stops the Sentry served.
    pub system: std::time::Duration,
    /// Peak resident set in KiB.
    pub max_rss_kib: u64,
    /// Minor and major page faults.
    pub faults: (u64, u64),
    /// Voluntary and involuntary context switches.
    pub switches: (u64, u64),
}

impl StubProcess {
    /// Forks a stub, attaches it to the calling thread, pins both to one
    /// CPU, and clears it: afterwards the stub maps only the stub page and
    /// holds no file descriptors.
    pub fn spawn() -> Result<Self, PlatformError> {
        let stub = stub::stub_addr().map_err(|errno| PlatformError::Host { pid: 0, what: "map stub page", errno })?;
        // SAFETY: the child runs only async-signal-safe calls (setsid,
        // ptrace, raise, _exit) before it is taken over by the tracer.
        let pid = match unsafe { fork() } {
            Ok(ForkResult::Child) => stub_child(),
            Ok(ForkResult::Parent { child }) => child,
            Err(errno) => return Err(PlatformError::Host { pid: 0, what: "fork stub", errno }),
        };
        let mut sp = StubProcess::handle(pid, pid, stub);
        match sp.wait()? {
            WaitStatus::Stopped(_, Signal::SIGSTOP) => {}
            other => return Err(sp.unexpected(other)),
        }
        let opts = Options::PTRACE_O_EXITKILL | Options::PTRACE_O_TRACESYSGOOD;
        ptrace::setoptions(pid, opts).map_err(|e| sp.host("set ptrace options", e))?;
        sp.template = ptrace::getregs(pid).map_err(|e| sp.host("get registers", e))?;
        sp.pin()?;
        sp.clear()?;
        Ok(sp)
    }

    /// Forks this stub (the application's `fork`): the host copies the
    /// address space copy-on-write. The new stub's host parent is the
    /// Sentry (CLONE_PARENT), so it outlives this stub; it stops itself and
    /// waits for [`StubProcess::adopt`] on the thread that will drive it.
    pub fn fork(&mut self) -> Result<Pid, PlatformError> {
        let mut r = self.template;
        r.rip = self.stub + stub::FORK_OFFSET;
        arch::set_syscall(&mut r, libc::SYS_clone, [libc::CLONE_PARENT as u64, 0, 0, 0, 0, 0]);
        ptrace::setregs(self.pid, r).map_err(|e| self.host("set registers", e))?;
        self.run_to_trap()?;
        let after = ptrace::getregs(self.pid).map_err(|e| self.host("get registers", e))?;
        match arch::syscall_result(after.rax) {
            Ok(pid) => Ok(Pid::from_raw(pid as i32)),
            Err(e) => Err(self.host("fork stub", Errno::from_raw(e))),
        }
    }

    /// Takes over a stub made by [`StubProcess::fork`], from the thread
    /// that will drive it, and pins both to one CPU.
    pub fn adopt(pid: Pid) -> Result<Self, PlatformError> {
        let stub = stub::stub_addr().map_err(|errno| PlatformError::Host { pid: 0, what: "map stub page", errno })?;
        let mut sp = StubProcess::handle(pid, pid, stub);
        sp.seize_sleeping()?;
        Ok(sp)
    }

    /// Seizes a stub thread sleeping in the fork path's `pause`, stops it
    /// there and pins it with the calling thread.
    fn seize_sleeping(&mut self) -> Result<(), PlatformError> {
        let pid = self.pid;
        let opts = Options::PTRACE_O_EXITKILL | Options::PTRACE_O_TRACESYSGOOD;
        ptrace::seize(pid, opts).map_err(|e| self.host("seize stub", e))?;
        ptrace::interrupt(pid).map_err(|e| self.host("interrupt stub", e))?;
        // The stub sleeps in `pause` in the stub page; the interrupt stops it
        // there (the call is abandoned: the registers are replaced before
        // it runs again).
        match self.wait()? {
            WaitStatus::PtraceEvent(..) => {}
            other => return Err(self.unexpected(other)),
        }
        self.template = ptrace::getregs(pid).map_err(|e| self.host("get registers", e))?;
        self.pin()
    }

    fn handle(pid: Pid, tgid: Pid, stub: u64) -> Self {
        StubProcess {
            pid,
            tgid,
            thread: pid != tgid,
            stub,
            template: zero_regs(),
            reaped: false,
            cpu: None,
            channel: None,
        }
    }

    /// Host thread id of the stub thread this handle drives (process
    /// calls such as `process_vm_readv` accept any thread of the process).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Host pid of the stub process.
    pub fn tgid(&self) -> Pid {
        self.tgid
    }

    /// Address of the stub page, which the application must never map over.
    pub fn stub_range(&self) -> (u64, u64) {
        (self.stub, self.stub + stub::STUB_SIZE)
    }

    /// Every range the application must never map over or unmap: the stub
    /// pages and the vDSO with its data pages.
    pub fn reserved(&self) -> Vec<(u64, u64)> {
        let mut r = vec![self.stub_range()];
        r.extend(stub::host_vdso().iter().map(|&(a, b, _)| (a, b)));
        r
    }

    fn host(&self, what: &'static str, errno: Errno) -> PlatformError {
        PlatformError::Host { pid: self.pid.as_raw(), what, errno }
    }

    fn unexpected(&self, status: WaitStatus) -> PlatformError {
        PlatformError::Unexpected { pid: self.pid.as_raw(), status: format!("{status:?}") }
    }

    fn wait(&self) -> Result<WaitStatus, PlatformError> {
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::__WALL)) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(self.host("wait", e)),
                Ok(s) => return Ok(s),
            }
        }
    }

    fn pin(&mut self) -> Result<(), PlatformError> {
        let claim = placement::CpuClaim::choose();
        let mut set = CpuSet::new();
        set.set(claim.cpu()).map_err(|e| self.host("cpu set", e))?;
        self.cpu = Some(claim);
        sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| self.host("pin sentry thread", e))?;
        sched_setaffinity(self.pid, &set).map_err(|e| self.host("pin stub", e))
    }

    /// Unmaps everything the fork copied from the Sentry but the stub page,
    /// closes every descriptor, and unblocks signals.
    fn clear(&mut self) -> Result<(), PlatformError> {
        // One call per gap between what stays (the stub pages, the vDSO and
        // its data): munmap accepts holes, and one call per inherited
        // mapping (a hundred of them) made up most of a sandbox's start-up.
        let mut keep: Vec<(u64, u64)> = vec![self.stub_range()];
        keep.extend(stub::host_vdso().iter().map(|&(a, b, _)| (a, b)));
        keep.sort_unstable();
        let mut at = 0u64;
        for (a, b) in keep.into_iter().chain([(arch::TASK_SIZE, arch::TASK_SIZE)]) {
            if a > at {
                self.inject_ok(libc::SYS_munmap, [at, a - at, 0, 0, 0, 0], "clear stub mappings")?;
            }
            at = at.max(b);
        }
        self.inject_ok(libc::SYS_close_range, [0, u32::MAX as u64, 0, 0, 0, 0], "close stub descriptors")?;
        let zero = self.stub + stub::ZERO_OFFSET;
        self.inject_ok(libc::SYS_rt_sigprocmask, [libc::SIG_SETMASK as u64, zero, 0, 8, 0, 0], "unblock signals")?;
        Ok(())
    }

    fn inject_ok(&mut self, nr: i64, args: [u64; 6], what: &'static str) -> Result<u64, PlatformError> {
        arch::syscall_result(self.inject(nr, args)?).map_err(|e| self.host(what, Errno::from_raw(e)))
    }

    /// Resumes the stub at an injected call and waits for its `int3`. A host
    /// signal that stops it meanwhile (a SIGURG kick from a sender, a stop
    /// from outside) is not the injected call's business: it is dropped and
    /// the call goes on; the Sentry delivers the application's own signals
    /// itself before the application runs again.
    fn run_to_trap(&mut self) -> Result<(), PlatformError> {
        ptrace::cont(self.pid, None).map_err(|e| self.host("continue", e))?;
        loop {
            match self.wait()? {
                WaitStatus::Stopped(_, Signal::SIGTRAP) => return Ok(()),
                WaitStatus::Stopped(..) | WaitStatus::PtraceEvent(..) => {
                    ptrace::cont(self.pid, None).map_err(|e| self.host("continue", e))?;
                }
                other => return Err(self.unexpected(other)),
            }
        }
    }

    /// Runs one system call in the stub and returns its raw result (a
    /// negative errno on failure). The stub's registers are the Sentry's to
    /// set: application registers are restored by [`StubProcess::switch`].
    pub fn inject(&mut self, nr: i64, args: [u64; 6]) -> Result<u64, PlatformError> {
        let mut r = self.template;
        r.rip = self.stub + stub::SYSCALL_OFFSET;
        arch::set_syscall(&mut r, nr, args);
        ptrace::setregs(self.pid, r).map_err(|e| self.host("set registers", e))?;
        self.run_to_trap()?;
        let after = ptrace::getregs(self.pid).map_err(|e| self.host("get registers", e))?;
        Ok(after.rax)
    }

    /// Runs application code from `regs` until it makes a system call or a
    /// signal stops it; `regs` then holds the application's registers.
    pub fn switch(&mut self, regs: &mut Regs) -> Result<Event, PlatformError> {
        ptrace::setregs(self.pid, *regs).map_err(|e| self.host("set registers", e))?;
        ptrace::sysemu(self.pid, None).map_err(|e| self.host("sysemu", e))?;
        let status = self.wait()?;
        let event = match status {
            WaitStatus::PtraceSyscall(_) => {
                let arch = self.syscall_arch().map_err(|e| self.host("get syscall info", e))?;
                if arch == AUDIT_ARCH_X86_64 { Event::Syscall } else { Event::ForeignSyscall }
            }
            WaitStatus::Stopped(_, _) => {
                Event::Signal(ptrace::getsiginfo(self.pid).map_err(|e| self.host("get siginfo", e))?)
            }
            // A ptrace event stop (a group stop from outside) is not the
            // application's; it resumes at the next switch.
            WaitStatus::PtraceEvent(..) => Event::Signal(zero_siginfo()),
            WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Ok(Event::Gone(format!("{status:?}"))),
            other => return Err(self.unexpected(other)),
        };
        *regs = ptrace::getregs(self.pid).map_err(|e| self.host("get registers", e))?;
        Ok(event)
    }

    /// The thread's FPU, SSE and AVX state in XSAVE layout (as a signal
    /// frame holds it). nix offers only fixed-size register sets, hence the
    /// raw call with an iovec.
    pub fn get_xstate(&self) -> Result<Vec<u8>, PlatformError> {
        let mut buf = vec![0u8; XSTATE_MAX];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: the kernel writes at most iov_len bytes into buf and sets
        // iov_len to what it wrote.
        let r = unsafe { libc::ptrace(libc::PTRACE_GETREGSET, self.pid.as_raw(), NT_X86_XSTATE, &mut iov) };
        Errno::result(r).map_err(|e| self.host("get xstate", e))?;
        buf.truncate(iov.iov_len);
        Ok(buf)
    }

    /// Loads XSAVE-layout state; EINVAL for a malformed image (the caller
    /// treats that as a bad signal frame).
    pub fn set_xstate(&self, state: &[u8]) -> Result<(), Errno> {
        let mut copy = state.to_vec();
        let mut iov = libc::iovec { iov_base: copy.as_mut_ptr().cast(), iov_len: copy.len() };
        // SAFETY: the kernel reads at most iov_len bytes from copy.
        let r = unsafe { libc::ptrace(libc::PTRACE_SETREGSET, self.pid.as_raw(), NT_X86_XSTATE, &mut iov) };
        Errno::result(r).map(drop)
    }

    /// The ABI of the system call the stub is stopped at. nix's
    /// `syscall_info` passes a buffer size of 0, so the kernel fills
    /// nothing; this asks for the first 8 bytes (op, flags, arch).
    fn syscall_arch(&self) -> Result<u32, Errno> {
        let mut head = [0u8; 8];
        // SAFETY: the kernel writes at most `head.len()` bytes into `head`.
        let r =
            unsafe { libc::ptrace(libc::PTRACE_GET_SYSCALL_INFO, self.pid.as_raw(), head.len(), head.as_mut_ptr()) };
        Errno::result(r)?;
        Ok(u32::from_le_bytes([head[4], head[5], head[6], head[7]]))
    }

    /// Registers a fresh application thread starts from: the template with
    /// `rip` and `rsp` set.
    pub fn initial_regs(&self, rip: u64, rsp: u64) -> Regs {
        let mut r = self.template;
        r.rip = rip;
        r.rsp = rsp;
        for reg in [
            &mut r.rax,
            &mut r.rbx,
            &mut r.rcx,
            &mut r.rdx,
            &mut r.rsi,
            &mut r.rdi,
            &mut r.rbp,
            &mut r.r8,
            &mut r.r9,
            &mut r.r10,
            &mut r.r11,
            &mut r.r12,
            &mut r.r13,
            &mut r.r14,
            &mut r.r15,
            &mut r.fs_base,
            &mut r.gs_base,
        ] {
            *reg = 0;
        }
        r.orig_rax = u64::MAX;
        r.eflags = 0x202; // IF, and the reserved bit 1
        r
    }
}

impl StubProcess {
    /// Kills the stub and reaps it, returning the host's accounting of its
    /// whole life. Reaping it here rather than reading its /proc files
    /// first costs no system call beyond the ones its end needs anyway.
    pub fn end(&mut self) -> HostUsage {
        if self.reaped {
            return HostUsage::default();
        }
        if self.thread {
            self.end_thread();
            return HostUsage::default();
        }
        self.reaped = true;
        let _ = nix::sys::signal::kill(self.tgid, Signal::SIGKILL);
        reap_with_usage(self.pid).unwrap_or_default()
    }
}

/// `wait4(pid, __WALL)` with its rusage, retried on EINTR.
fn reap_with_usage(pid: Pid) -> Option<HostUsage> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    loop {
        let mut status = 0;
        // SAFETY: `status` and `ru` are valid for writes for the call; nix
        // has no wait4 that returns the rusage.
        let r = unsafe { libc::wait4(pid.as_raw(), &mut status, libc::__WALL, ru.as_mut_ptr()) };
        match Errno::result(r) {
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
            Ok(_) => break,
        }
    }
    // SAFETY: zero-initialised, then filled by a successful wait4.
    let ru = unsafe { ru.assume_init() };
    let time = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64) + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    Some(HostUsage {
        user: time(ru.ru_utime),
        system: time(ru.ru_stime),
        max_rss_kib: ru.ru_maxrss as u64,
        faults: (ru.ru_minflt as u64, ru.ru_majflt as u64),
        switches: (ru.ru_nvcsw as u64, ru.ru_nivcsw as u64),
    })
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        if self.thread {
            self.end_thread();
        } else if !self.reaped {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, Some(WaitPidFlag::__WALL));
        }
    }
}

unsafe extern "C" {
    /// Offset of this thread's rseq area from the thread pointer (glibc).
    static __rseq_offset: isize;
    /// Size glibc registered the rseq area with; 0 if it did not.
    static __rseq_size: u32;
}

/// The forked child: leave the terminal's session, drop the rseq
/// registration inherited from the Sentry thread (the kernel would fault the
/// stub once that memory is unmapped), ask to be traced, stop. The tracer
/// takes it from there.
fn stub_child() -> ! {
    const RSEQ_SIG: u64 = 0x5305_3053;
    const RSEQ_FLAG_UNREGISTER: u64 = 1;
    // SAFETY: async-signal-safe raw system calls only, in a freshly forked
    // child; reading glibc's two rseq constants and the thread pointer has
    // no side effect.
    unsafe {
        libc::setsid();
        let size = __rseq_size as u64;
        if size != 0 {
            let tp: u64;
            std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags));
            let area = tp.wrapping_add(__rseq_offset as u64);
            for len in [size, 32] {
                if libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0 {
                    break;
                }
            }
        }
        // Dies with the thread that forked it, its tracer-to-be: a stub
        // caught between fork and PTRACE_O_EXITKILL when the Sentry is
        // killed would otherwise stay behind, stopped.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == 0 {
            libc::raise(libc::SIGSTOP);
        }
        libc::_exit(1)
    }
}

fn zero_siginfo() -> libc::siginfo_t {
    // SAFETY: siginfo_t is plain integers; all-zero is valid (signo 0).
    unsafe { std::mem::zeroed() }
}

fn zero_regs() -> Regs {
    // SAFETY: user_regs_struct is plain integers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_calls_run_in_the_stub() {
        let mut s = StubProcess::spawn().unwrap();
        let pid = s.inject(libc::SYS_getpid, [0; 6]).unwrap();
        assert_eq!(pid as i32, s.pid().as_raw());
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", s.pid())).unwrap();
        let lines: Vec<_> = maps.lines().filter(|l| !l.contains("[vsyscall]")).collect();
        let kept = 2 + stub::host_vdso().len();
        assert_eq!(lines.len(), kept, "only the stub's pages and the vDSO are left: {maps}");
        let fds = std::fs::read_dir(format!("/proc/{}/fd", s.pid())).unwrap().count();
        assert_eq!(fds, 0, "stub holds no descriptors");
        // An injected mmap, then application code that makes a call.
        let prot = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        let addr =
            arch::syscall_result(s.inject(libc::SYS_mmap, [0, 4096, prot, flags, u64::MAX, 0]).unwrap()).unwrap();
        // mov eax, 39; syscall
        let code = [0xb8u8, 39, 0, 0, 0, 0x0f, 0x05];
        let local = [std::io::IoSlice::new(&code)];
        let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len: code.len() }];
        nix::sys::uio::process_vm_writev(s.pid(), &local, &remote).unwrap();
        let mut regs = s.initial_regs(addr, 0);
        let ev = s.switch(&mut regs).unwrap();
        assert!(matches!(ev, Event::Syscall), "{ev:?}");
        assert_eq!(regs.orig_rax, libc::SYS_getpid as u64);
        assert_eq!(regs.rip, addr + code.len() as u64);
        // Never executed on the host: rax still holds -ENOSYS.
        assert_eq!(regs.rax as i64, -(libc::ENOSYS as i64));
    }

    #[test]
    fn int80_is_told_apart_from_syscall() {
        let mut s = StubProcess::spawn().unwrap();
        let prot = (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) as u64;
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        let addr =
            arch::syscall_result(s.inject(libc::SYS_mmap, [0, 4096, prot, flags, u64::MAX, 0]).unwrap()).unwrap();
        // mov eax, 20 (getpid in the 32-bit table, writev in the 64-bit one); int 0x80
        let code = [0xb8u8, 20, 0, 0, 0, 0xcd, 0x80];
        let local = [std::io::IoSlice::new(&code)];
        let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len: code.len() }];
        nix::sys::uio::process_vm_writev(s.pid(), &local, &remote).unwrap();
        let mut regs = s.initial_regs(addr, 0);
        let ev = s.switch(&mut regs).unwrap();
        assert!(matches!(ev, Event::ForeignSyscall), "{ev:?}");
    }

    #[test]
    fn forked_stub_copies_memory_and_runs_on_another_thread() {
        let mut s = StubProcess::spawn().unwrap();
        let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        let addr = arch::syscall_result(s.inject(libc::SYS_mmap, [0, 4096, 3, flags, u64::MAX, 0]).unwrap()).unwrap();
        let write = |pid: Pid, data: &[u8]| {
            let local = [std::io::IoSlice::new(data)];
            let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len: data.len() }];
            nix::sys::uio::process_vm_writev(pid, &local, &remote).unwrap();
        };
        write(s.pid(), b"parent");
        let child = s.fork().unwrap();
        write(s.pid(), b"PARENT");
        let got = std::thread::spawn(move || {
            let mut c = StubProcess::adopt(child).unwrap();
            let mut buf = [0u8; 6];
            let remote = [nix::sys::uio::RemoteIoVec { base: addr as usize, len: 6 }];
            nix::sys::uio::process_vm_readv(c.pid(), &mut [std::io::IoSliceMut::new(&mut buf)], &remote).unwrap();
            let pid = c.inject(libc::SYS_getpid, [0; 6]).unwrap();
            (buf, pid as i32 == c.pid().as_raw())
        })
        .join()
        .unwrap();
        assert_eq!(&got.0, b"parent", "the child has its own copy");
        assert!(got.1, "injection works in the adopted stub");
    }

    #[test]
    fn faults_come_back_as_signals() {
        let mut s = StubProcess::spawn().unwrap();
        let mut regs = s.initial_regs(0x1000, 0);
        match s.switch(&mut regs).unwrap() {
            Event::Signal(info) => {
                assert_eq!(info.si_signo, libc::SIGSEGV);
                // SAFETY: SIGSEGV siginfo carries si_addr.
                assert_eq!(unsafe { info.si_addr() } as u64, 0x1000);
            }
            other => panic!("{other:?}"),
        }
    }
}
