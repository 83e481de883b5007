//! The Sentry's kernel: what the whole sandbox shares (`Kernel`: the PID
//! namespace, the file tree, locks, futexes) and the application's threads
//! (`Task`), each run by `run_loop` on a Sentry thread of its own.

pub mod blocking;
pub mod cputime;
pub mod creds;
pub mod delivery;
pub mod exec;
pub mod fd_table;
mod first_process;
pub mod flock_table;
pub mod fork;
pub mod futex;
pub mod inotify;
pub mod itimer;
pub mod mqueue;
pub mod outside;
pub mod process;
pub mod procfs;
pub mod procfs_sys;
pub mod record_locks;
pub mod rlimits;
mod run_loop;
pub mod seccomp;
pub mod signal_frame;
pub mod signalfd;
pub mod signals;
pub mod sigqueue;
pub mod socket;
pub mod thread_group;
pub mod threads;
pub mod tty;
pub mod wall_clock;

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use nix::errno::Errno;
use thiserror::Error;

use crate::arch::Regs;
use crate::mm::AddressSpace;
use crate::platform::ptrace::PlatformError;
use crate::vfs::Vfs;
use fd_table::FdTable;
pub use run_loop::{run, run_thread};

/// The release `uname -r` reports inside a sandbox: moat's own, in the
/// form programs parse (a Linux version they accept, then the name).
pub const RELEASE: &str = "6.1.0-moat";

/// Failures that end the sandbox (never an application's doing).
#[derive(Debug, Error)]
pub enum KernelError {
    /// The platform failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A stub died under the Sentry.
    #[error("stub process ended unexpectedly: {0}")]
    StubGone(String),
}

/// How a task ended, as wait statuses say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// exit or exit_group with this code (low 8 bits kept).
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

pub use creds::Creds;

/// What the sandbox's first process is made of.
#[derive(Debug)]
pub struct InitProcess {
    /// Host descriptors for its descriptors 0, 1 and 2.
    pub stdio: [std::os::fd::OwnedFd; 3],
    /// Working directory (absolute, in the sandbox).
    pub cwd: Vec<u8>,
    /// Arguments; `argv[0]` is searched along the PATH of `envp`.
    pub argv: Vec<Vec<u8>>,
    /// Environment, `K=V`.
    pub envp: Vec<Vec<u8>>,
    /// User, group and supplementary groups.
    pub creds: Creds,
    /// Limits that differ from the caller's own: (RLIMIT_*, limit).
    pub rlimits: Vec<(u32, rlimits::Rlimit)>,
    /// File mode creation mask.
    pub umask: u32,
    /// Signals it starts with ignored (as execve keeps SIG_IGN: what
    /// `moat do`'s caller ignored, a `nohup` or a background job).
    pub ignored_signals: Vec<i32>,
    /// The program to run when it is not `argv[0]` (an OCI hook names its
    /// path apart from its arguments); not searched along PATH.
    pub program: Option<Vec<u8>>,
    /// Host descriptors it gets from 3 on (OCI `--preserve-fds`).
    pub extra_fds: Vec<std::os::fd::OwnedFd>,
}

/// The kernel, shared by the Sentry threads of every task.
pub type KernelRef = Arc<Kernel>;

/// What the whole sandbox shares.
#[derive(Debug)]
pub struct Kernel {
    /// The PID namespace.
    pub procs: Mutex<process::ProcessTable>,
    /// Signalled whenever a process exits (for wait).
    pub proc_changed: Condvar,
    /// What /proc shows of each process.
    pub proc_infos: procfs::ProcInfos,
    /// Pending-signal queues of the live tasks, by pid.
    pub tasks: Mutex<std::collections::HashMap<i32, Arc<sigqueue::SignalQueue>>>,
    /// The file tree.
    pub vfs: Vfs,
    /// flock locks.
    pub flocks: Arc<flock_table::FlockTable>,
    /// fcntl record locks.
    pub record_locks: Arc<record_locks::RecordLocks>,
    /// inotify instances and their watches.
    pub inotify: Arc<inotify::Inotify>,
    /// Where `--strace` lines and unimplemented-call notes go.
    pub log: Option<DebugLog>,
    /// Log every system call.
    pub strace: bool,
    /// The sandbox's host name.
    pub hostname: Vec<u8>,
    /// Controlling terminals of the sandbox's sessions.
    pub terminals: tty::Terminals,
    /// Pseudo-terminals (/dev/ptmx, /dev/pts).
    pub ptys: Arc<crate::vfs::devpts::Ptys>,
    /// POSIX message queues.
    pub mqueues: Arc<mqueue::MessageQueues>,
    /// Bound Unix sockets, by name.
    pub unix_names: socket::UnixNames,
    /// The live processes' thread groups, by process id.
    pub groups: Mutex<std::collections::HashMap<i32, Arc<thread_group::ThreadGroup>>>,
    /// Futex waiters.
    pub futexes: futex::FutexTable,
}

/// The debug log: one line per event, from any thread.
pub struct DebugLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl DebugLog {
    /// A log writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        DebugLog { out: Mutex::new(out) }
    }
}

impl std::fmt::Debug for DebugLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DebugLog")
    }
}

impl Kernel {
    /// A kernel over `vfs` with only init in its PID namespace.
    pub fn new(vfs: Vfs, log: Option<DebugLog>, strace: bool, hostname: Vec<u8>) -> KernelRef {
        let proc = Arc::new(procfs::ProcFs::default());
        vfs.mount_synth(b"/proc", proc.clone());
        let ptys = Arc::new(crate::vfs::devpts::Ptys::default());
        let mqueues: Arc<mqueue::MessageQueues> = Arc::default();
        vfs.mount_synth(b"/dev/mqueue", Arc::new(crate::vfs::mqueuefs::MqueueFs { queues: mqueues.clone() }));
        vfs.mount_synth(b"/dev", Arc::new(crate::vfs::devfs::DevFs { ptys: ptys.clone() }));
        vfs.mount_synth(b"/sys", Arc::new(crate::vfs::sysfs::SysFs::for_own_cgroups()));
        let k = Arc::new(Kernel {
            proc_infos: procfs::ProcInfos::default(),
            procs: Mutex::new(process::ProcessTable::with_init()),
            proc_changed: Condvar::new(),
            tasks: Mutex::new(std::collections::HashMap::new()),
            vfs,
            flocks: Arc::default(),
            record_locks: Arc::default(),
            inotify: Arc::default(),
            log,
            strace,
            hostname,
            terminals: tty::Terminals::default(),
            ptys,
            mqueues,
            unix_names: socket::UnixNames::default(),
            groups: Mutex::default(),
            futexes: futex::FutexTable::default(),
        });
        proc.attach(&k);
        k
    }

    /// The process table, locked.
    pub fn procs(&self) -> MutexGuard<'_, process::ProcessTable> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the signal queue of a new task `pid`.
    pub fn register(&self, pid: i32) -> Result<Arc<sigqueue::SignalQueue>, Errno> {
        let q = Arc::new(sigqueue::SignalQueue::new()?);
        self.tasks().insert(pid, q.clone());
        Ok(q)
    }

    /// Host pids of the stubs that run the sandbox's processes.
    pub fn stub_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self.tasks().values().map(|q| q.stub_pid()).filter(|&p| p > 0).collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Sandbox pids of every live process.
    pub fn task_ids(&self) -> Vec<i32> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<i32> = self.tasks().keys().copied().filter(|id| groups.contains_key(id)).collect();
        ids.sort_unstable();
        ids
    }

    /// The live tasks' signal queues, locked.
    pub fn tasks(&self) -> MutexGuard<'_, std::collections::HashMap<i32, Arc<sigqueue::SignalQueue>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `info` for task `pid`; ESRCH if it is not alive, EAGAIN if its
    /// realtime queue is full. Wakes it if it waits.
    pub fn send_signal(&self, pid: i32, info: sigqueue::SigInfo) -> Result<(), Errno> {
        // To the process: the thread that takes it is one that does not
        // block it.
        let q = match self.group(pid) {
            Some(g) => g.pick(info.signo),
            None => self.tasks().get(&pid).cloned(),
        };
        self.queue_signal(q.ok_or(Errno::ESRCH)?, info)
    }

    /// The process thread `tid` belongs to.
    pub fn process_of(&self, tid: i32) -> Option<i32> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.values().find(|g| g.thread(tid).is_some()).map(|g| g.tgid)
    }

    /// The thread group of process `pid`.
    pub fn group(&self, pid: i32) -> Option<Arc<thread_group::ThreadGroup>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).get(&pid).cloned()
    }

    /// Queues `info` for thread `tid` (of process `tgid`, when given):
    /// tgkill and tkill.
    pub fn send_to_thread(&self, tgid: Option<i32>, tid: i32, info: sigqueue::SigInfo) -> Result<(), Errno> {
        let q = match tgid {
            Some(tgid) => self.group(tgid).and_then(|g| g.thread(tid)),
            None => self.tasks().get(&tid).cloned(),
        };
        self.queue_signal(q.ok_or(Errno::ESRCH)?, info)
    }

    fn queue_signal(&self, q: Arc<sigqueue::SignalQueue>, info: sigqueue::SigInfo) -> Result<(), Errno> {
        // As Linux, at send time: SIGCONT drops pending stop signals, and a
        // stop signal drops a pending SIGCONT.
        match info.signo {
            libc::SIGCONT => {
                let mut p = q.lock();
                for s in [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
                    p.discard(s);
                }
            }
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => q.lock().discard(libc::SIGCONT),
            _ => {}
        }
        if !q.send(info) {
            return Err(Errno::EAGAIN);
        }
        // A task sleeping in wait4 sleeps on this condition.
        self.proc_changed.notify_all();
        Ok(())
    }

    /// Records that `pid` exited, tells its parent with SIGCHLD and wakes
    /// waiting parents.
    pub fn task_exited(&self, pid: i32, status: ExitStatus, usage: cputime::CpuUsage) {
        self.tasks().remove(&pid);
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).remove(&pid);
        self.record_locks.release_process(pid);
        let (code, st) = match status {
            ExitStatus::Code(c) => (libc::CLD_EXITED, c & 0xff),
            ExitStatus::Signal(s) => (libc::CLD_KILLED, s),
        };
        // The zombie and the SIGCHLD appear together (the table's lock is
        // held across both): a parent's wait that reaps the child finds the
        // signal pending, and a SIGCHLD handler finds the zombie.
        let mut procs = self.procs();
        let orphans_signalled = procs.exit(pid, status, usage);
        let ppid = procs.get(pid).map_or(0, |p| p.ppid);
        let info = sigqueue::SigInfo { signo: libc::SIGCHLD, code, pid, uid: 0, status: st, ..Default::default() };
        let _ = self.send_signal(ppid, info);
        for (child, signo) in orphans_signalled {
            // PR_SET_PDEATHSIG: from the dying parent, as Linux sends it.
            let _ = self.send_signal(child, sigqueue::SigInfo::user(signo, pid, 0));
        }
        drop(procs);
        self.proc_changed.notify_all();
    }

    /// Waits for a child of `parent` to exit (unless `nohang`); EINTR when
    /// a signal `blocked` does not hold arrives for the waiter first.
    pub fn wait_child(
        &self,
        parent: &Task,
        sel: process::WaitFor,
        what: process::WaitWhat,
        nohang: bool,
    ) -> Result<process::WaitOutcome, Errno> {
        let mut procs = self.procs();
        loop {
            match procs.wait(parent.pid, sel, what)? {
                process::WaitOutcome::NotYet if !nohang => {
                    if parent.queue.has_unblocked(parent.signals.not_waking()) {
                        return Err(Errno::EINTR);
                    }
                    procs = self.proc_changed.wait(procs).unwrap_or_else(|p| p.into_inner());
                }
                other => {
                    if let (false, process::WaitOutcome::Exited(pid, _, _)) = (what.keep, &other) {
                        self.proc_infos.remove(*pid);
                    }
                    return Ok(other);
                }
            }
        }
    }

    /// Writes one line to the debug log, if there is one.
    pub fn log_line(&self, line: &str) {
        if let Some(l) = &self.log {
            let mut w = l.out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(w, "{line}");
        }
    }
}

/// The working directory and umask threads made with CLONE_FS share.
pub type FsShare = Arc<Mutex<(Vec<u8>, u32)>>;

/// A thread of the application.
#[derive(Debug)]
pub struct Task {
    /// Thread id in the sandbox's PID namespace.
    pub tid: i32,
    /// Process id (the thread group's id).
    pub pid: i32,
    /// The threads of its process.
    pub group: Arc<thread_group::ThreadGroup>,
    /// `set_robust_list`: the head of its robust futex list.
    pub robust_list: u64,
    /// The working directory and umask it shares with other threads
    /// (CLONE_FS), once it shares them.
    pub fs_share: Option<FsShare>,
    /// Its address space.
    pub mm: AddressSpace,
    /// Its registers while it is not running.
    pub regs: Regs,
    /// Its descriptors.
    pub fds: FdTable,
    /// Its ids.
    pub creds: Creds,
    /// Its working directory (canonical, absolute).
    pub cwd: Vec<u8>,
    /// Path of the executable it runs (/proc/self/exe).
    pub exe: Vec<u8>,
    /// Its name (`comm`, at most 15 bytes).
    pub comm: Vec<u8>,
    /// File mode creation mask.
    pub umask: u32,
    /// Nice value (-20..19), as getpriority reports it.
    pub nice: i32,
    /// `set_tid_address`.
    pub clear_child_tid: u64,
    /// Signal actions and mask.
    pub signals: signals::SignalState,
    /// Resource limits.
    pub rlimits: rlimits::Rlimits,
    /// Its pending signals (shared with senders).
    pub queue: Arc<sigqueue::SignalQueue>,
    /// Its alternate signal stack.
    pub altstack: signals::AltStack,
    /// The mask to restore after a sigsuspend-style temporary one.
    pub saved_mask: Option<u64>,
    /// How the last system call resumes if a signal interrupted it.
    pub restart: Option<blocking::Restart>,
    /// The running executable's mark (ETXTBSY for writers).
    pub program: Option<crate::vfs::inode_use::UseGuard>,
    /// ITIMER_REAL (not inherited by fork, kept across exec).
    pub real_timer: Arc<itimer::IntervalTimer>,
    /// A vfork parent waiting for this task to exec or exit; dropping it
    /// wakes the parent.
    pub vfork_done: Option<std::sync::mpsc::Sender<()>>,
    /// Set when it has ended.
    pub exit: Option<ExitStatus>,
    /// The process's CPU clock.
    pub cpu: Arc<cputime::ProcessCpu>,
    /// ITIMER_VIRTUAL.
    pub virtual_timer: Arc<itimer::IntervalTimer>,
    /// ITIMER_PROF.
    pub prof_timer: Arc<itimer::IntervalTimer>,
}

/// Descriptors a process may have open (the default `RLIMIT_NOFILE`).
pub const NOFILE: usize = 1024;

impl Task {
    /// Takes the working directory and umask other threads sharing them
    /// (CLONE_FS) may have changed.
    pub fn sync_fs(&mut self) {
        if let Some(fs) = &self.fs_share {
            let s = fs.lock().unwrap_or_else(|p| p.into_inner());
            if s.0 != self.cwd {
                self.cwd = s.0.clone();
            }
            self.umask = s.1;
        }
    }

    /// Publishes a change of the working directory or umask to the threads
    /// sharing them.
    pub fn publish_fs(&self) {
        if let Some(fs) = &self.fs_share {
            *fs.lock().unwrap_or_else(|p| p.into_inner()) = (self.cwd.clone(), self.umask);
        }
    }

    /// Ends the whole process with `status` (exit_group, a fatal signal):
    /// the other threads are killed; the first status given stands.
    pub fn exit_group(&mut self, status: ExitStatus) {
        self.exit = Some(self.group.exit_all(status, self.tid));
    }

    /// Installs `mask` for the length of one waiting call (sigsuspend,
    /// ppoll, pselect6). The old mask waits in `saved_mask`: a handler's
    /// frame records it, or delivery puts it back when no handler runs.
    pub fn set_temporary_mask(&mut self, mask: u64) -> u64 {
        let old = self.signals.mask();
        self.saved_mask = Some(old);
        self.signals.set_mask(mask);
        old
    }

    /// Before a call on a /proc path: records the task's descriptors for
    /// /proc/PID/fd (the table is the task's own; /proc reads this copy).
    pub fn refresh_proc(&self, k: &Kernel, path: &[u8]) {
        if !path.starts_with(b"/proc") && !path.windows(6).any(|w| w == b"/proc/") {
            return;
        }
        let fds: Vec<(i32, Vec<u8>)> =
            self.fds.fds().filter_map(|fd| self.fds.get(fd).ok().map(|f| (fd, f.path.clone()))).collect();
        let maps = self.mm.with_vmas(maps_text);
        let fdinfo: Vec<(i32, i32, u64)> = self
            .fds
            .fds()
            .filter_map(|fd| {
                let f = self.fds.get(fd).ok()?;
                let pos = nix::unistd::lseek(&f.fd, 0, nix::unistd::Whence::SeekCur).unwrap_or(0).max(0) as u64;
                // As Linux shows them: with O_CLOEXEC from the table, and
                // the O_LARGEFILE every open of a file or directory has on
                // a 64-bit kernel.
                let mut flags = f.flags();
                if self.fds.cloexec(fd).unwrap_or(false) {
                    flags |= libc::O_CLOEXEC;
                }
                let kind = nix::sys::stat::fstat(&f.fd).map_or(0, |st| st.st_mode & libc::S_IFMT);
                if kind == libc::S_IFREG || kind == libc::S_IFDIR {
                    flags |= 0o100000;
                }
                Some((fd, flags, pos))
            })
            .collect();
        let limits = rlimits::limits_text(&self.rlimits);
        let ids = (self.creds.uid, self.creds.gid);
        let stub_pid = self.mm.stub_pid();
        let creds = self.creds.clone();
        k.proc_infos.update(self.pid, |i| {
            i.creds = creds;
            i.fds = fds;
            i.maps = maps;
            i.fdinfo = fdinfo;
            i.limits = limits;
            i.ids = ids;
            i.stub_pid = stub_pid;
        });
    }
}

/// The text of /proc/PID/maps for a set of mappings.
fn maps_text(vmas: &crate::mm::vma::VmaSet) -> Vec<u8> {
    use crate::mm::vma::Backing;
    let mut out = String::new();
    for v in vmas.iter() {
        let perm = |bit: i32, c: char| if v.prot & bit != 0 { c } else { '-' };
        let (offset, name) = match &v.backing {
            Backing::File { path, offset, .. } => (*offset, path.as_str()),
            Backing::Heap => (0, "[heap]"),
            Backing::Stack => (0, "[stack]"),
            Backing::Anonymous => (0, ""),
            Backing::Special(name) => (0, *name),
        };
        out.push_str(&format!(
            "{:08x}-{:08x} {}{}{}{} {offset:08x} 00:00 0 {name}\n",
            v.start,
            v.end,
            perm(libc::PROT_READ, 'r'),
            perm(libc::PROT_WRITE, 'w'),
            perm(libc::PROT_EXEC, 'x'),
            if v.shared { 's' } else { 'p' },
        ));
    }
    out.into_bytes()
}

/// The errno result of a handler, as the raw return value.
pub fn errno_value(e: Errno) -> i64 {
    -(e as i64)
}
