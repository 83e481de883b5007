//! Tasks and what they run: the run loop that takes each trap from the
//! platform to a system call handler or a signal, and execve.
//!
//! This first version runs one task (the sandbox's init, pid 1) of one
//! thread. fork, threads, signal delivery and the PID namespace are the
//! next steps of the Sentry core.

pub mod blocking;
pub mod cputime;
pub mod delivery;
pub mod exec;
pub mod fd_table;
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
pub mod signal_frame;
pub mod signalfd;
pub mod signals;
pub mod sigqueue;
pub mod socket;
pub mod thread_group;
pub mod threads;
pub mod tty;

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use nix::errno::Errno;
use thiserror::Error;

use crate::arch::{Regs, SyscallArgs};
use crate::mm::AddressSpace;
use crate::platform::ptrace::{Event, PlatformError};
use crate::vfs::Vfs;
use fd_table::FdTable;

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

/// User and group ids of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creds {
    /// Real, effective and saved user id.
    pub uid: u32,
    /// Real, effective and saved group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// no_new_privs: set once (prctl, or the OCI spec's
    /// `noNewPrivileges`), kept across fork and execve, never cleared.
    pub no_new_privs: bool,
}

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

/// The search list execvp uses when the environment has no PATH.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// As execvp and runc do for a container's first process: a name without a
/// `/` is looked for in the sandbox's own tree along the PATH of the
/// environment it is given (or the usual default); the first executable
/// regular file wins. Not found, the name stays as it is and exec fails.
fn search_path(vfs: &Vfs, cwd: &[u8], name: &[u8], envp: &[Vec<u8>]) -> Vec<u8> {
    if name.is_empty() || name.contains(&b'/') {
        return name.to_vec();
    }
    let path = envp.iter().find_map(|e| e.strip_prefix(b"PATH=")).unwrap_or(DEFAULT_PATH);
    for dir in path.split(|&b| b == b':') {
        // An empty entry is the working directory, as in execvp.
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let candidate = [dir, b"/", name].concat();
        let Ok(found) = vfs.lookup(cwd, &candidate, true) else { continue };
        vfs.release(found.handle);
        if found.stat.mode & libc::S_IFMT == libc::S_IFREG && found.stat.mode & 0o111 != 0 {
            return candidate;
        }
    }
    name.to_vec()
}

impl Task {
    /// The sandbox's init: `argv[0]`'s program as pid 1.
    pub fn init(kernel: &Kernel, init: InitProcess) -> Result<Task, exec::ExecError> {
        Task::first(kernel, 1, init)
    }

    /// A process made from nothing (init, or one the runtime's `exec`
    /// starts) as `pid`, which the process table already holds. The stub
    /// is made by, and bound to, the calling thread.
    pub fn first(kernel: &Kernel, pid: i32, init: InitProcess) -> Result<Task, exec::ExecError> {
        let InitProcess { stdio, cwd, argv, envp, creds, rlimits: limits, umask, ignored_signals, program, extra_fds } =
            init;
        let mut signals = signals::SignalState::default();
        for sig in ignored_signals {
            let ignore = signals::SigAction { handler: 1, ..signals::SigAction::default() };
            signals.set_action(sig, ignore).map_err(exec::ExecError::Errno)?;
        }
        let cwd = &cwd[..];
        let path = argv.first().cloned().ok_or(Errno::ENOENT)?;
        let found = kernel.vfs.lookup(b"/", cwd, true)?;
        kernel.vfs.release(found.handle);
        if !found.stat.is_dir() {
            return Err(Errno::ENOTDIR.into());
        }
        let path = match program {
            Some(p) => p,
            None => search_path(&kernel.vfs, &found.path, &path, &envp),
        };
        let p = exec::load_program(&kernel.vfs, &found.path, &path, argv, envp, creds.clone())?;
        let mut rlimits = rlimits::Rlimits::initial();
        for (res, limit) in limits {
            rlimits.set(res, limit)?;
        }
        let nofile = rlimits.get(libc::RLIMIT_NOFILE).map_or(NOFILE as u64, |l| l.cur);
        let mut fds = FdTable::new(usize::try_from(nofile).unwrap_or(NOFILE));
        // A process made from nothing leads its session (init's is 1; an
        // exec'd one's is its pid): a terminal on its stdin is the
        // session's controlling terminal.
        kernel.terminals.attach(&stdio[0], pid);
        // That terminal shows as a /dev/pts/N of the sandbox, so its
        // descriptors have a name (ttyname).
        let console = tty::terminal_of(&stdio[0]).and_then(|rdev| Some((rdev, kernel.ptys.adopt(&stdio[0])?)));
        for (i, fd) in stdio.into_iter().enumerate() {
            let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(libc::O_RDWR);
            let path = match console {
                Some((rdev, n)) if tty::terminal_of(&fd) == Some(rdev) => format!("/dev/pts/{n}"),
                _ => format!("/dev/fd/{i}"),
            };
            let file = fd_table::OpenFile::new(fd, path.into_bytes(), flags & !libc::O_CLOEXEC);
            fds.set(i as i32, file, false)?;
        }
        for (i, fd) in extra_fds.into_iter().enumerate() {
            let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(libc::O_RDWR);
            let file = fd_table::OpenFile::new(fd, format!("/dev/fd/{}", 3 + i).into_bytes(), flags);
            fds.set(3 + i as i32, file, false)?;
        }
        let queue = kernel.register(pid)?;
        kernel.proc_infos.set(
            pid,
            procfs::ProcInfo {
                comm: p.comm.clone(),
                cmdline: p.cmdline.clone(),
                environ: p.environ.clone(),
                auxv: p.auxv.clone(),
                exe: p.exe.clone(),
                cwd: found.path.clone(),
                ids: (creds.uid, creds.gid),
                stub_pid: p.mm.stub_pid(),
                ..procfs::ProcInfo::default()
            },
        );
        queue.set_stub(p.mm.stub_pid(), p.mm.stub_tid());
        let group = thread_group::ThreadGroup::new(pid, queue.clone());
        kernel.groups.lock().unwrap_or_else(|p| p.into_inner()).insert(pid, group.clone());
        Ok(Task {
            tid: pid,
            pid,
            group,
            robust_list: 0,
            fs_share: None,
            regs: p.regs,
            fds,
            creds,
            cwd: found.path,
            exe: p.exe,
            comm: p.comm,
            umask,
            nice: 0,
            clear_child_tid: 0,
            signals,
            rlimits,
            queue,
            altstack: signals::AltStack::default(),
            saved_mask: None,
            cpu: cputime::ProcessCpu::new(p.mm.stub_pid()),
            mm: p.mm,
            virtual_timer: Arc::default(),
            prof_timer: Arc::default(),
            restart: None,
            program: p.program,
            real_timer: Arc::default(),
            vfork_done: None,
            exit: None,
        })
    }
}

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
        k.proc_infos.update(self.pid, |i| {
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

/// The errno result of a handler, as the raw return value.
pub fn errno_value(e: Errno) -> i64 {
    -(e as i64)
}
