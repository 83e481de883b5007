//! Pending signals of a task, shared with the threads that send to it.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

use super::signals::bit;

/// Realtime signals queued at most this many deep per task (beyond, a send
/// fails with EAGAIN, as with `RLIMIT_SIGPENDING`).
pub const MAX_QUEUED: usize = 1024;

/// The fields of a `siginfo_t` that moat fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code` (SI_USER, SI_TKILL, CLD_EXITED, SEGV_MAPERR, …).
    pub code: i32,
    /// Sender's pid (kill) or child's pid (SIGCHLD).
    pub pid: i32,
    /// Sender's uid.
    pub uid: u32,
    /// Child's exit code or signal (SIGCHLD).
    pub status: i32,
    /// Faulting address (SIGSEGV, SIGBUS, …), in the slot of si_addr.
    pub addr: u64,
    /// `si_value` (rt_sigqueueinfo), in the slot after pid and uid.
    pub value: u64,
}

impl SigInfo {
    /// A signal sent by `kill` from `pid`.
    pub fn user(signo: i32, pid: i32, uid: u32) -> Self {
        SigInfo { signo, code: libc::SI_USER, pid, uid, ..SigInfo::default() }
    }

    /// Whether this is a fault whose siginfo carries an address.
    fn is_fault(&self) -> bool {
        matches!(self.signo, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP)
            && self.code > 0
    }

    /// The 128-byte `siginfo_t` of x86-64.
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if self.is_fault() {
            b[16..24].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            b[16..20].copy_from_slice(&self.pid.to_le_bytes());
            b[20..24].copy_from_slice(&self.uid.to_le_bytes());
            if self.signo == libc::SIGCHLD {
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
            } else {
                b[24..32].copy_from_slice(&self.value.to_le_bytes());
            }
        }
        b
    }
}

/// Signals waiting for delivery: standard signals at most once each,
/// realtime ones queued in order.
#[derive(Debug, Default)]
pub struct Pending {
    queue: VecDeque<SigInfo>,
}

impl Pending {
    /// The set of pending signals.
    pub fn set(&self) -> u64 {
        self.queue.iter().fold(0, |s, i| s | bit(i.signo))
    }

    /// Queues `info`; false if a realtime signal found the queue full.
    pub fn push(&mut self, info: SigInfo) -> bool {
        if info.signo < libc::SIGRTMIN() {
            if self.set() & bit(info.signo) != 0 {
                return true;
            }
        } else if self.queue.len() >= MAX_QUEUED {
            return false;
        }
        self.queue.push_back(info);
        true
    }

    /// Takes the lowest-numbered pending signal not in `blocked` (the
    /// oldest of its kind), as Linux picks them.
    pub fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let ready = self.set() & !blocked;
        if ready == 0 {
            return None;
        }
        let signo = ready.trailing_zeros() as i32 + 1;
        let at = self.queue.iter().position(|i| i.signo == signo)?;
        self.queue.remove(at)
    }

    /// Takes the oldest pending signal of `set` that was sent to the whole
    /// process (not by tgkill / tkill, not a fault): one another thread of
    /// the process may take in sigwait, as from Linux's shared pending set.
    pub fn take_process_signal(&mut self, set: u64) -> Option<SigInfo> {
        let at = self.queue.iter().position(|i| {
            let fault = matches!(i.signo, libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP)
                && i.code > 0;
            set & super::signals::bit(i.signo) != 0 && i.code != libc::SI_TKILL && !fault
        })?;
        self.queue.remove(at)
    }

    /// Drops every pending instance of `signo`.
    pub fn discard(&mut self, signo: i32) {
        self.queue.retain(|i| i.signo != signo);
    }
}

/// A task's pending signals and the means to wake it when one arrives.
#[derive(Debug)]
pub struct SignalQueue {
    pending: Mutex<Pending>,
    arrived: Condvar,
    /// Written after each signal: host waits of the task poll it.
    interrupt: nix::sys::eventfd::EventFd,
    /// Host pid of the stub process that runs the task.
    stub: std::sync::atomic::AtomicI32,
    /// Host thread id of the task's own stub thread: a host signal to it
    /// makes the running task trap back to the Sentry, which then delivers.
    stub_thread: std::sync::atomic::AtomicI32,
    /// The task's signal mask as last published by the task itself, for
    /// senders choosing which thread of a process takes a signal.
    blocked: std::sync::atomic::AtomicU64,
    /// Whether the task's SIGCHLD action carries SA_NOCLDSTOP: its children
    /// read it when they stop or continue, so it lives beside the queue.
    no_child_stops: std::sync::atomic::AtomicBool,
    /// signalfds reading this task's signals, woken by matching ones.
    watchers: Mutex<Vec<std::sync::Weak<super::signalfd::SignalFd>>>,
}

impl SignalQueue {
    /// An empty queue.
    pub fn new() -> Result<Self, nix::errno::Errno> {
        use nix::sys::eventfd::{EfdFlags, EventFd};
        Ok(SignalQueue {
            pending: Mutex::new(Pending::default()),
            arrived: Condvar::new(),
            interrupt: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
            stub: std::sync::atomic::AtomicI32::new(0),
            stub_thread: std::sync::atomic::AtomicI32::new(0),
            blocked: std::sync::atomic::AtomicU64::new(0),
            no_child_stops: std::sync::atomic::AtomicBool::new(false),
            watchers: Mutex::default(),
        })
    }

    /// Records whether SIGCHLD reports of children stopping or continuing
    /// are unwanted (SA_NOCLDSTOP on the task's SIGCHLD action).
    pub fn set_no_child_stops(&self, on: bool) {
        self.no_child_stops.store(on, std::sync::atomic::Ordering::Release);
    }

    /// Whether children stopping or continuing send this task no SIGCHLD.
    pub fn no_child_stops(&self) -> bool {
        self.no_child_stops.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The eventfd a blocked task polls beside what it waits for.
    pub fn interrupt_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.interrupt.as_fd()
    }

    /// Resets the eventfd before the task looks at its signals.
    pub fn drain_interrupt(&self) {
        let _ = self.interrupt.read();
    }

    /// The pending signals, locked.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `info` and wakes the task: from a sleep on this queue, or out
    /// of application code (a host SIGURG to its stub, which the Sentry
    /// sees and drops).
    pub fn send(&self, info: SigInfo) -> bool {
        let ok = self.lock().push(info);
        self.wake_watchers(super::signals::bit(info.signo));
        self.arrived.notify_all();
        let _ = self.interrupt.write(1);
        if ok {
            self.kick();
        }
        ok
    }

    /// Has signalfd `s` woken by this task's signals of its mask, now too
    /// if one is already pending.
    pub fn watch(&self, s: &std::sync::Arc<super::signalfd::SignalFd>) {
        let mut w = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        w.retain(|x| x.strong_count() > 0);
        w.push(std::sync::Arc::downgrade(s));
        drop(w);
        self.wake_watchers(self.lock().set());
    }

    fn wake_watchers(&self, bits: u64) {
        let w = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        for s in w.iter().filter_map(std::sync::Weak::upgrade) {
            if s.mask() & bits != 0 {
                s.notify();
            }
        }
    }

    /// Host pid of the stub that runs the task.
    pub fn stub_pid(&self) -> i32 {
        self.stub.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Records the stub that now runs the task (at start and at exec):
    /// host process `pid`, host thread `tid` of it.
    pub fn set_stub(&self, pid: i32, tid: i32) {
        self.stub_thread.store(tid, std::sync::atomic::Ordering::Release);
        self.stub.store(pid, std::sync::atomic::Ordering::Release);
    }

    /// Makes the task trap back to the Sentry if it runs application code:
    /// a host SIGURG to its own stub thread (tgkill: a signal to the process
    /// could land on any of its threads), which the Sentry sees and drops.
    pub fn kick(&self) {
        let pid = self.stub.load(std::sync::atomic::Ordering::Acquire);
        let tid = self.stub_thread.load(std::sync::atomic::Ordering::Acquire);
        if pid > 0 && tid > 0 {
            // SAFETY: a plain system call without pointers; nix has no
            // tgkill.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGURG) };
        }
    }

    /// Publishes the task's signal mask for senders to read.
    pub fn publish_mask(&self, mask: u64) {
        self.blocked.store(mask, std::sync::atomic::Ordering::Release);
    }

    /// The task's signal mask as it last published it.
    pub fn published_mask(&self) -> u64 {
        self.blocked.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Wakes the task from a host wait (`blocking`) without a signal: a
    /// futex wake, or a change it must look at.
    pub fn wake(&self) {
        self.arrived.notify_all();
        let _ = self.interrupt.write(1);
    }

    /// Sleeps until a signal outside `blocked` is pending.
    pub fn wait_unblocked(&self, blocked: u64) {
        let mut p = self.lock();
        while p.set() & !blocked == 0 {
            p = self.arrived.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Sleeps until a signal outside `blocked` is pending or `deadline`
    /// passes; false on timeout.
    pub fn wait_unblocked_until(&self, blocked: u64, deadline: Option<std::time::Instant>) -> bool {
        let mut p = self.lock();
        while p.set() & !blocked == 0 {
            match deadline {
                None => p = self.arrived.wait(p).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return false;
                    }
                    p = self.arrived.wait_timeout(p, d - now).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
        true
    }

    /// Whether a signal outside `blocked` is pending.
    pub fn has_unblocked(&self, blocked: u64) -> bool {
        self.lock().set() & !blocked != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_signals_coalesce_and_low_numbers_go_first() {
        let mut p = Pending::default();
        assert!(p.push(SigInfo::user(libc::SIGUSR2, 5, 0)));
        assert!(p.push(SigInfo::user(libc::SIGUSR1, 6, 0)));
        assert!(p.push(SigInfo::user(libc::SIGUSR1, 7, 0)));
        let rt = libc::SIGRTMIN();
        assert!(p.push(SigInfo::user(rt, 1, 0)));
        assert!(p.push(SigInfo::user(rt, 2, 0)));
        assert_eq!(p.take(bit(libc::SIGUSR1)).map(|i| i.signo), Some(libc::SIGUSR2));
        assert_eq!(p.take(0).map(|i| (i.signo, i.pid)), Some((libc::SIGUSR1, 6)));
        assert_eq!(p.take(0).map(|i| (i.signo, i.pid)), Some((rt, 1)));
        assert_eq!(p.take(0).map(|i| (i.signo, i.pid)), Some((rt, 2)));
        assert_eq!(p.take(0), None);
    }

    #[test]
    fn siginfo_layout() {
        let b = SigInfo { signo: 11, code: 1, addr: 0xdead, ..SigInfo::default() }.to_bytes();
        assert_eq!(&b[16..24], &0xdeadu64.to_le_bytes());
        let c =
            SigInfo { signo: libc::SIGCHLD, code: libc::CLD_EXITED, pid: 9, uid: 0, status: 3, ..SigInfo::default() };
        let b = c.to_bytes();
        assert_eq!(i32::from_le_bytes(b[24..28].try_into().unwrap()), 3);
    }
}
