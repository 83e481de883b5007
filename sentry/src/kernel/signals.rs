//! Signal actions and masks of a task.
//!
//! Pending signals are in `sigqueue`, frames in `signal_frame`, delivery
//! in `delivery`.

use nix::errno::Errno;

/// Number of signals (1..=64).
pub const NSIG: usize = 64;

/// One signal's action, as `struct kernel_sigaction` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigAction {
    /// `SIG_DFL` (0), `SIG_IGN` (1) or a handler address.
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

impl SigAction {
    /// The wire form (32 bytes).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, v) in [self.handler, self.flags, self.restorer, self.mask].into_iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Reads the wire form.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Errno> {
        let word = |i: usize| -> Result<u64, Errno> {
            let s = b.get(i * 8..i * 8 + 8).ok_or(Errno::EFAULT)?;
            Ok(u64::from_le_bytes(s.try_into().map_err(|_| Errno::EFAULT)?))
        };
        Ok(SigAction { handler: word(0)?, flags: word(1)?, restorer: word(2)?, mask: word(3)? })
    }
}

/// What a signal does when its action is SIG_DFL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    /// End the process.
    Terminate,
    /// End the process (Linux would dump core; moat writes no dumps, so
    /// the wait status carries no core bit, as with RLIMIT_CORE 0).
    Core,
    /// Nothing.
    Ignore,
    /// Stop the process.
    Stop,
    /// Continue a stopped process.
    Continue,
}

/// The default action of `sig`.
pub fn default_action(sig: i32) -> DefaultAction {
    use DefaultAction::*;
    match sig {
        libc::SIGQUIT
        | libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSYS => Core,
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => Ignore,
        libc::SIGCONT => Continue,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Stop,
        _ => Terminate,
    }
}

/// A task's alternate signal stack (sigaltstack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AltStack {
    /// Lowest address.
    pub sp: u64,
    /// Size in bytes.
    pub size: u64,
    /// `SS_DISABLE`, or 0 when enabled.
    pub flags: i32,
}

impl Default for AltStack {
    fn default() -> Self {
        AltStack { sp: 0, size: 0, flags: libc::SS_DISABLE }
    }
}

impl AltStack {
    /// Whether stack pointer `rsp` is on this stack.
    pub fn contains(&self, rsp: u64) -> bool {
        self.flags & libc::SS_DISABLE == 0 && rsp > self.sp && rsp - self.sp <= self.size
    }
}

/// The bit of signal `sig` in a signal set.
pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that can be neither caught, ignored nor blocked.
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// A task's signal actions, shared by the threads of a process
/// (`CLONE_SIGHAND`), and its own mask. `clone` copies the actions (fork);
/// [`SignalState::share`] shares them (a new thread).
#[derive(Debug)]
pub struct SignalState {
    actions: std::sync::Arc<std::sync::Mutex<[SigAction; NSIG]>>,
    mask: u64,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState { actions: std::sync::Arc::new(std::sync::Mutex::new([SigAction::default(); NSIG])), mask: 0 }
    }
}

impl Clone for SignalState {
    fn clone(&self) -> Self {
        SignalState { actions: std::sync::Arc::new(std::sync::Mutex::new(*self.actions())), mask: self.mask }
    }
}

fn index(sig: i32) -> Result<usize, Errno> {
    if (1..=NSIG as i32).contains(&sig) { Ok(sig as usize - 1) } else { Err(Errno::EINVAL) }
}

impl SignalState {
    fn actions(&self) -> std::sync::MutexGuard<'_, [SigAction; NSIG]> {
        self.actions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new thread's state: the same actions, a copy of the mask.
    pub fn share(&self) -> Self {
        SignalState { actions: self.actions.clone(), mask: self.mask }
    }

    /// Whether other tasks share these actions (threads of one process).
    pub fn shared(&self) -> bool {
        std::sync::Arc::strong_count(&self.actions) > 1
    }

    /// The action of `sig`.
    pub fn action(&self, sig: i32) -> Result<SigAction, Errno> {
        Ok(self.actions()[index(sig)?])
    }

    /// Sets the action of `sig` and returns the old one. SIGKILL and
    /// SIGSTOP keep theirs (EINVAL), and can never be in a handler's mask.
    pub fn set_action(&mut self, sig: i32, mut act: SigAction) -> Result<SigAction, Errno> {
        let i = index(sig)?;
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            return Err(Errno::EINVAL);
        }
        act.mask &= !UNBLOCKABLE;
        Ok(std::mem::replace(&mut self.actions()[i], act))
    }

    /// The blocked set.
    pub fn mask(&self) -> u64 {
        self.mask
    }

    /// rt_sigprocmask: changes the blocked set (`how` is SIG_BLOCK,
    /// SIG_UNBLOCK or SIG_SETMASK) and returns the old one.
    pub fn change_mask(&mut self, how: i32, set: u64) -> Result<u64, Errno> {
        let old = self.mask;
        self.mask = match how {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        } & !UNBLOCKABLE;
        Ok(old)
    }

    /// Sets the blocked set (SIGKILL and SIGSTOP are never blocked).
    pub fn set_mask(&mut self, mask: u64) {
        self.mask = mask & !UNBLOCKABLE;
    }

    /// Whether `sig` is ignored (SIG_IGN).
    pub fn ignored(&self, sig: i32) -> bool {
        self.action(sig).is_ok_and(|a| a.handler == 1)
    }

    /// Signals that cannot end a wait: the blocked ones, and those delivery
    /// would discard (SIG_IGN, or a default action of ignoring), which
    /// Linux never even queues. SIGCONT is never among them: it resumes a
    /// stopped task whatever its action.
    pub fn not_waking(&self) -> u64 {
        let mut set = self.mask;
        let actions = self.actions();
        for sig in 1..=64 {
            if sig == libc::SIGCONT {
                continue;
            }
            let a = actions[sig as usize - 1];
            let discarded = a.handler == 1 || (a.handler == 0 && default_action(sig) == DefaultAction::Ignore);
            if discarded {
                set |= bit(sig);
            }
        }
        set
    }

    /// At execve, caught signals go back to their default action; ignored
    /// ones stay ignored but, as in Linux, lose their flags and mask; the
    /// signal mask is kept.
    pub fn reset_for_exec(&mut self) {
        // The new program's actions are its own, as Linux's execve
        // unshares them from the threads it ended.
        if self.shared() {
            *self = self.clone();
        }
        for a in self.actions().iter_mut() {
            let ignored = a.handler == 1;
            *a = SigAction { handler: ignored as u64, ..SigAction::default() };
        }
    }

    /// Whether the SIGCHLD action asks for no reports of children stopping
    /// or continuing.
    pub fn no_child_stops(&self) -> bool {
        self.action(libc::SIGCHLD).is_ok_and(|a| a.flags & libc::SA_NOCLDSTOP as u64 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_and_stop_are_special() {
        let mut s = SignalState::default();
        let h = SigAction { handler: 0x1000, flags: 0, restorer: 0, mask: u64::MAX };
        assert_eq!(s.set_action(libc::SIGKILL, h), Err(Errno::EINVAL));
        assert_eq!(s.set_action(0, h), Err(Errno::EINVAL));
        assert_eq!(s.set_action(65, h), Err(Errno::EINVAL));
        s.set_action(libc::SIGINT, h).unwrap();
        assert_eq!(s.action(libc::SIGINT).unwrap().mask & bit(libc::SIGKILL), 0);
        assert_eq!(s.change_mask(libc::SIG_SETMASK, u64::MAX), Ok(0));
        assert_eq!(s.mask() & (bit(libc::SIGKILL) | bit(libc::SIGSTOP)), 0);
        assert_eq!(s.change_mask(99, 0), Err(Errno::EINVAL));
        s.set_action(libc::SIGPIPE, SigAction { handler: 1, ..SigAction::default() }).unwrap();
        s.reset_for_exec();
        assert_eq!(s.action(libc::SIGINT).unwrap().handler, 0);
        assert!(s.ignored(libc::SIGPIPE));
    }
}
