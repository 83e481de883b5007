//! The sandbox's PID namespace: processes, their parents, process groups,
//! sessions, zombies and wait.

use std::collections::BTreeMap;

use nix::errno::Errno;

use super::ExitStatus;
use super::cputime::CpuUsage;

/// Highest pid handed out (Linux's default `pid_max`), then pids wrap.
pub const PID_MAX: i32 = 4_194_304;

/// Whether a process runs or waits to be reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcState {
    /// Alive.
    #[default]
    Running,
    /// Exited; its parent has not waited for it yet.
    Zombie(ExitStatus),
}

/// A job-control change its parent has not collected with wait yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobReport {
    /// Stopped by this signal (WUNTRACED / WSTOPPED).
    Stopped(i32),
    /// Continued (WCONTINUED).
    Continued,
}

/// One process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proc {
    /// Parent pid (0 for init).
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// Session.
    pub sid: i32,
    /// Alive or zombie.
    pub state: ProcState,
    /// A stop or continue not yet reported to the parent.
    pub report: Option<JobReport>,
    /// CPU use, set when the process exits.
    pub usage: CpuUsage,
    /// CPU use of the children it reaped, and of theirs.
    pub children_usage: CpuUsage,
    /// PR_SET_CHILD_SUBREAPER: orphaned descendants become its children.
    pub subreaper: bool,
    /// PR_SET_PDEATHSIG: the signal it gets when its parent dies (0: none).
    pub pdeathsig: i32,
    /// PR_SET_DUMPABLE cleared (Linux's default is dumpable).
    pub undumpable: bool,
    /// PR_SET_TIMERSLACK in nanoseconds (0: the default, 50 µs).
    pub timer_slack_ns: u64,
    /// Scheduling policy and priority as set (recorded, not applied).
    pub sched: (i32, i32),
    /// The robust futex list head (set_robust_list).
    pub robust_list: u64,
}

/// Which children a wait is for, as wait4's pid argument says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Any child (-1).
    Any,
    /// This child (> 0).
    Pid(i32),
    /// Any child in this process group (0: the caller's, < -1: -pid).
    Group(i32),
}

/// What a wait found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// This child exited, and was reaped unless the caller asked not to;
    /// its CPU use with that of the children it reaped.
    Exited(i32, ExitStatus, CpuUsage),
    /// This child stopped by this signal.
    Stopped(i32, i32),
    /// This child continued.
    Continued(i32),
    /// Matching children exist but none has exited.
    NotYet,
}

/// Which changes a wait collects besides exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WaitWhat {
    /// Exited children (always for wait4; WEXITED for waitid).
    pub exited: bool,
    /// Stopped children (WUNTRACED, WSTOPPED).
    pub stopped: bool,
    /// Continued children (WCONTINUED).
    pub continued: bool,
    /// Leave the child waitable (WNOWAIT).
    pub keep: bool,
}

/// All processes of the sandbox.
#[derive(Debug)]
pub struct ProcessTable {
    procs: BTreeMap<i32, Proc>,
    last_pid: i32,
    /// Ids of threads other than their process's first: taken from the
    /// same space as pids.
    threads: std::collections::BTreeSet<i32>,
}

impl ProcessTable {
    /// A table holding only init (pid 1), leader of its own group and
    /// session.
    pub fn with_init() -> Self {
        let mut procs = BTreeMap::new();
        procs.insert(1, Proc { ppid: 0, pgid: 1, sid: 1, state: ProcState::Running, report: None, ..Proc::default() });
        ProcessTable { procs, last_pid: 1, threads: Default::default() }
    }

    /// The process `pid`.
    pub fn get(&self, pid: i32) -> Option<&Proc> {
        self.procs.get(&pid)
    }

    /// Pids of all processes, alive or zombie.
    pub fn pids(&self) -> impl Iterator<Item = i32> + '_ {
        self.procs.keys().copied()
    }

    /// Adds a child of `parent`, in its group and session; returns its pid.
    pub fn add_child(&mut self, parent: i32) -> Result<i32, Errno> {
        let p = *self.procs.get(&parent).ok_or(Errno::ESRCH)?;
        let mut pid = self.last_pid;
        for _ in 0..PID_MAX {
            pid = if pid >= PID_MAX { 2 } else { pid + 1 };
            let taken = self.procs.contains_key(&pid) || self.threads.contains(&pid);
            if !taken && !self.procs.values().any(|q| q.pgid == pid || q.sid == pid) {
                self.last_pid = pid;
                self.procs.insert(
                    pid,
                    Proc {
                        ppid: parent,
                        pgid: p.pgid,
                        sid: p.sid,
                        state: ProcState::Running,
                        report: None,
                        // A child starts with its parent's slack; the death
                        // signal and the subreaper mark are not inherited.
                        timer_slack_ns: p.timer_slack_ns,
                        sched: p.sched,
                        ..Proc::default()
                    },
                );
                return Ok(pid);
            }
        }
        Err(Errno::EAGAIN)
    }

    /// Adds a process whose parent is outside the sandbox (the runtime's
    /// `exec`): parent pid 0, leader of a new session and group.
    pub fn add_outsider(&mut self) -> Result<i32, Errno> {
        let pid = self.add_child(1)?;
        if let Some(p) = self.procs.get_mut(&pid) {
            *p = Proc { ppid: 0, pgid: pid, sid: pid, state: ProcState::Running, report: None, ..Proc::default() };
        }
        Ok(pid)
    }

    /// Takes an id for a new thread of process `pid`.
    pub fn add_thread(&mut self, pid: i32) -> Result<i32, Errno> {
        let tid = self.add_child(pid)?;
        self.procs.remove(&tid);
        self.threads.insert(tid);
        Ok(tid)
    }

    /// Frees the id of an ended thread.
    pub fn remove_thread(&mut self, tid: i32) {
        self.threads.remove(&tid);
    }

    /// Live (not zombie) members of process group `pgid`.
    pub fn group_members(&self, pgid: i32) -> Vec<i32> {
        self.procs
            .iter()
            .filter(|(_, p)| p.pgid == pgid && p.state == ProcState::Running)
            .map(|(&pid, _)| pid)
            .collect()
    }

    /// Forgets a child that never ran (its creation failed).
    pub fn discard(&mut self, pid: i32) {
        self.procs.remove(&pid);
    }

    /// The process `pid`, to change.
    pub fn get_mut(&mut self, pid: i32) -> Option<&mut Proc> {
        self.procs.get_mut(&pid)
    }

    /// Marks `pid` exited. Its children go to the nearest living ancestor
    /// that is a subreaper, or to init, as orphans do; returns the living
    /// children that asked for a signal at their parent's death, and which.
    pub fn exit(&mut self, pid: i32, status: ExitStatus, usage: CpuUsage) -> Vec<(i32, i32)> {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.state = ProcState::Zombie(status);
            p.usage = usage;
        }
        let reaper = self.reaper_for(pid);
        let mut signals = Vec::new();
        for (&child, p) in self.procs.iter_mut() {
            if p.ppid == pid {
                p.ppid = reaper;
                if p.pdeathsig != 0 && p.state == ProcState::Running {
                    signals.push((child, p.pdeathsig));
                }
            }
        }
        signals
    }

    /// Where the orphans of `pid` go: its nearest living subreaper
    /// ancestor, else init.
    fn reaper_for(&self, pid: i32) -> i32 {
        let mut at = self.procs.get(&pid).map_or(0, |p| p.ppid);
        for _ in 0..PID_MAX {
            match self.procs.get(&at) {
                Some(p) if p.subreaper && p.state == ProcState::Running => return at,
                Some(p) if p.ppid != 0 => at = p.ppid,
                _ => break,
            }
        }
        1
    }

    fn matches(&self, parent: i32, sel: WaitFor, pid: i32, p: &Proc) -> bool {
        if p.ppid != parent {
            return false;
        }
        match sel {
            WaitFor::Any => true,
            WaitFor::Pid(x) => x == pid,
            WaitFor::Group(0) => self.procs.get(&parent).is_some_and(|me| me.pgid == p.pgid),
            WaitFor::Group(g) => p.pgid == g,
        }
    }

    /// Records a stop (`Some(sig)`) or a continue of `pid` for its parent.
    pub fn job_report(&mut self, pid: i32, report: JobReport) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.report = Some(report);
        }
    }

    /// wait for a child of `parent`: ECHILD if none matches.
    pub fn wait(&mut self, parent: i32, sel: WaitFor, what: WaitWhat) -> Result<WaitOutcome, Errno> {
        let mut any = false;
        let mut found = None;
        for (&pid, p) in &self.procs {
            if !self.matches(parent, sel, pid, p) {
                continue;
            }
            any = true;
            let outcome = match (p.state, p.report) {
                (ProcState::Zombie(st), _) if what.exited => {
                    let mut usage = p.usage;
                    usage.absorb(p.children_usage);
                    Some(WaitOutcome::Exited(pid, st, usage))
                }
                (_, Some(JobReport::Stopped(sig))) if what.stopped => Some(WaitOutcome::Stopped(pid, sig)),
                (_, Some(JobReport::Continued)) if what.continued => Some(WaitOutcome::Continued(pid)),
                _ => None,
            };
            if outcome.is_some() {
                found = outcome;
                break;
            }
        }
        match found {
            Some(o) => {
                if !what.keep {
                    match o {
                        WaitOutcome::Exited(pid, _, usage) => {
                            // Reaping hands the child's CPU use to its parent.
                            self.procs.remove(&pid);
                            if let Some(me) = self.procs.get_mut(&parent) {
                                me.children_usage.absorb(usage);
                            }
                        }
                        WaitOutcome::Stopped(pid, _) | WaitOutcome::Continued(pid) => {
                            if let Some(p) = self.procs.get_mut(&pid) {
                                p.report = None;
                            }
                        }
                        WaitOutcome::NotYet => {}
                    }
                }
                Ok(o)
            }
            None if any => Ok(WaitOutcome::NotYet),
            None => Err(Errno::ECHILD),
        }
    }

    /// setpgid(pid, pgid) as called by `caller`.
    pub fn setpgid(&mut self, caller: i32, pid: i32, pgid: i32) -> Result<(), Errno> {
        if pgid < 0 {
            return Err(Errno::EINVAL);
        }
        let pid = if pid == 0 { caller } else { pid };
        let target = *self.procs.get(&pid).ok_or(Errno::ESRCH)?;
        let me = *self.procs.get(&caller).ok_or(Errno::ESRCH)?;
        if pid != caller && target.ppid != caller {
            return Err(Errno::ESRCH);
        }
        if target.sid != me.sid || target.sid == pid {
            // Another session's process, or a session leader.
            return Err(Errno::EPERM);
        }
        let pgid = if pgid == 0 { pid } else { pgid };
        if pgid != pid && !self.procs.values().any(|p| p.pgid == pgid && p.sid == me.sid) {
            return Err(Errno::EPERM);
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.pgid = pgid;
        }
        Ok(())
    }

    /// setsid() as called by `caller`; returns the new session id.
    pub fn setsid(&mut self, caller: i32) -> Result<i32, Errno> {
        if self.procs.values().any(|p| p.pgid == caller) {
            return Err(Errno::EPERM);
        }
        let p = self.procs.get_mut(&caller).ok_or(Errno::ESRCH)?;
        p.sid = caller;
        p.pgid = caller;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXITS: WaitWhat = WaitWhat { exited: true, stopped: false, continued: false, keep: false };

    #[test]
    fn stops_and_continues_are_reported_once_when_asked() {
        let mut t = ProcessTable::with_init();
        let a = t.add_child(1).unwrap();
        t.job_report(a, JobReport::Stopped(libc::SIGTSTP));
        assert_eq!(t.wait(1, WaitFor::Any, EXITS), Ok(WaitOutcome::NotYet), "not without WUNTRACED");
        let untraced = WaitWhat { stopped: true, ..EXITS };
        assert_eq!(t.wait(1, WaitFor::Any, untraced), Ok(WaitOutcome::Stopped(a, libc::SIGTSTP)));
        assert_eq!(t.wait(1, WaitFor::Any, untraced), Ok(WaitOutcome::NotYet), "reported once");
        t.job_report(a, JobReport::Continued);
        let cont = WaitWhat { continued: true, ..EXITS };
        assert_eq!(t.wait(1, WaitFor::Any, cont), Ok(WaitOutcome::Continued(a)));
        t.exit(a, ExitStatus::Code(0), CpuUsage::default());
        let stops_only = WaitWhat { exited: false, stopped: true, ..EXITS };
        assert_eq!(t.wait(1, WaitFor::Any, stops_only), Ok(WaitOutcome::NotYet));
    }

    #[test]
    fn zombies_are_reaped_once_and_orphans_go_to_init() {
        let mut t = ProcessTable::with_init();
        let a = t.add_child(1).unwrap();
        let b = t.add_child(a).unwrap();
        assert_eq!(t.wait(1, WaitFor::Any, EXITS), Ok(WaitOutcome::NotYet));
        assert_eq!(t.wait(a, WaitFor::Pid(1), EXITS), Err(Errno::ECHILD));
        let usage = CpuUsage { user: std::time::Duration::from_millis(20), ..CpuUsage::default() };
        t.exit(a, ExitStatus::Code(3), usage);
        assert_eq!(t.get(b).unwrap().ppid, 1);
        assert_eq!(
            t.wait(1, WaitFor::Pid(a), WaitWhat { keep: true, ..EXITS }),
            Ok(WaitOutcome::Exited(a, ExitStatus::Code(3), usage))
        );
        assert_eq!(t.wait(1, WaitFor::Pid(a), EXITS), Ok(WaitOutcome::Exited(a, ExitStatus::Code(3), usage)));
        assert_eq!(t.wait(1, WaitFor::Pid(a), EXITS), Err(Errno::ECHILD));
        assert_eq!(t.get(1).unwrap().children_usage, usage, "reaping once counts the child once");
    }

    #[test]
    fn orphans_go_to_the_nearest_living_subreaper_and_get_their_death_signal() {
        let mut t = ProcessTable::with_init();
        let keeper = t.add_child(1).unwrap();
        let mid = t.add_child(keeper).unwrap();
        let parent = t.add_child(mid).unwrap();
        let child = t.add_child(parent).unwrap();
        t.get_mut(keeper).unwrap().subreaper = true;
        t.get_mut(child).unwrap().pdeathsig = libc::SIGUSR1;
        assert_eq!(t.exit(parent, ExitStatus::Code(0), CpuUsage::default()), vec![(child, libc::SIGUSR1)]);
        assert_eq!(t.get(child).unwrap().ppid, keeper, "the subreaper, not the dead parent's parent");
        t.exit(keeper, ExitStatus::Code(0), CpuUsage::default());
        let grandchild = t.add_child(child).unwrap();
        assert_eq!(t.exit(child, ExitStatus::Code(0), CpuUsage::default()), vec![]);
        assert_eq!(t.get(grandchild).unwrap().ppid, 1, "a dead subreaper adopts no one");
    }

    #[test]
    fn groups_and_sessions() {
        let mut t = ProcessTable::with_init();
        let a = t.add_child(1).unwrap();
        assert_eq!(t.setsid(1), Err(Errno::EPERM), "a group leader cannot");
        t.setpgid(1, a, 0).unwrap();
        assert_eq!(t.get(a).unwrap().pgid, a);
        assert_eq!(t.wait(1, WaitFor::Group(0), EXITS), Err(Errno::ECHILD));
        assert_eq!(t.wait(1, WaitFor::Group(a), EXITS), Ok(WaitOutcome::NotYet));
        assert_eq!(t.setsid(a), Err(Errno::EPERM), "leads its group");
        let b = t.add_child(1).unwrap();
        assert_eq!(t.setsid(b), Ok(b));
        assert_eq!(t.setpgid(1, b, 0), Err(Errno::EPERM), "another session");
        assert_eq!(t.setpgid(1, 999, 0), Err(Errno::ESRCH));
    }
}
