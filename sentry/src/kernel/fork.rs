//! fork, vfork and process-style clone: a new task on a new Sentry thread,
//! driving a stub forked from the parent's (the host copies the memory
//! copy-on-write).

use std::sync::mpsc;

use nix::errno::Errno;

use super::{KernelError, KernelRef, Task};
use crate::mm::AddressSpace;
use crate::platform::ptrace::StubProcess;

/// Clone flags a process-style clone may carry (threads come later).
const PROCESS_FLAGS: u64 = (libc::CLONE_CHILD_SETTID
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_VFORK
    | libc::CLONE_VM
    | libc::CLONE_FILES
    | libc::CLONE_FS
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CSIGNAL) as u64;

/// Where a child process's memory comes from.
enum Origin {
    /// A fork of the parent's stub, to adopt, with the parent's mappings.
    Fork { stub_pid: nix::unistd::Pid, state: crate::mm::ForkState },
    /// A new host thread of the parent's stub (CLONE_VM), to adopt, on the
    /// parent's address space.
    SharedVm { host_tid: nix::unistd::Pid, host_tgid: nix::unistd::Pid, mm: Box<AddressSpace> },
}

/// `CLONE_DETACHED`: ignored by Linux since 2.6.2, still passed by some.
const CLONE_DETACHED: i32 = 0x0040_0000;

/// What a process-style clone asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloneArgs {
    /// `clone` flags (with the exit signal in the low byte).
    pub flags: u64,
    /// Where CLONE_PARENT_SETTID writes the child's pid (parent memory).
    pub parent_tid: u64,
    /// Where CLONE_CHILD_SETTID writes it and CLONE_CHILD_CLEARTID clears
    /// it (child memory).
    pub child_tid: u64,
    /// The child's stack pointer (0: the parent's).
    pub stack: u64,
    /// The new thread's thread pointer (CLONE_SETTLS).
    pub tls: u64,
}

/// Why clone failed.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    /// Returned to the caller.
    #[error("{0}")]
    Errno(#[from] Errno),
    /// Ends the sandbox.
    #[error(transparent)]
    Fatal(#[from] KernelError),
}

/// Creates a child process of `parent` and returns its pid. With
/// CLONE_VFORK the parent waits until the child execs or exits.
pub fn clone_process(k: &KernelRef, parent: &mut Task, args: CloneArgs) -> Result<i32, ForkError> {
    if super::threads::wants_thread(args.flags)? {
        let thread = (libc::CLONE_THREAD
            | libc::CLONE_SIGHAND
            | libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_SETTID
            | libc::CLONE_CHILD_CLEARTID
            | CLONE_DETACHED) as u64;
        if args.flags & !thread != 0 {
            return Err(Errno::EINVAL.into());
        }
        return super::threads::clone_thread(k, parent, args);
    }
    if args.flags & !PROCESS_FLAGS != 0 {
        return Err(Errno::EINVAL.into());
    }
    let pid = k.procs().add_child(parent.pid)?;
    // The child shows what its parent does: the same memory holds its
    // arguments and environment.
    let info = crate::kernel::procfs::ProcInfo {
        comm: parent.comm.clone(),
        exe: parent.exe.clone(),
        cwd: parent.cwd.clone(),
        ..k.proc_infos.get_copy(parent.pid).unwrap_or_default()
    };
    k.proc_infos.set(pid, info);
    // A child with CLONE_VM shares its parent's memory: a new host thread
    // of the parent's stub (as vfork and posix_spawn children write to
    // their parent's memory). Otherwise the stub forks: the host copies it.
    let made = if args.flags & libc::CLONE_VM as u64 != 0 {
        parent.mm.stub().spawn_thread().map(|tid| Origin::SharedVm {
            host_tid: tid,
            host_tgid: nix::unistd::Pid::from_raw(parent.mm.stub_pid()),
            mm: Box::new(AddressSpace::unattached(&parent.mm)),
        })
    } else {
        parent.mm.stub().fork().map(|stub_pid| Origin::Fork { stub_pid, state: parent.mm.fork_state() })
    };
    let origin = match made {
        Ok(o) => o,
        Err(e) => {
            k.procs().discard(pid);
            return Err(KernelError::from(e).into());
        }
    };
    let mut regs = parent.regs;
    regs.rax = 0;
    if args.stack != 0 {
        regs.rsp = args.stack;
    }
    if args.flags & libc::CLONE_SETTLS as u64 != 0 {
        regs.fs_base = args.tls;
    }
    let settid = args.flags & libc::CLONE_CHILD_SETTID as u64 != 0;
    let seed = Seed {
        tid: pid,
        regs,
        fds: if args.flags & libc::CLONE_FILES as u64 != 0 { parent.fds.share() } else { parent.fds.clone() },
        creds: parent.creds.clone(),
        cwd: parent.cwd.clone(),
        exe: parent.exe.clone(),
        comm: parent.comm.clone(),
        umask: parent.umask,
        nice: parent.nice,
        signals: parent.signals.clone(),
        rlimits: parent.rlimits.clone(),
        altstack: parent.altstack,
        program: parent.program.clone(),
        clear_child_tid: if args.flags & libc::CLONE_CHILD_CLEARTID as u64 != 0 { args.child_tid } else { 0 },
        set_child_tid: settid.then_some(args.child_tid),
        // A fork keeps the robust list (the memory is copied with it).
        robust_list: parent.robust_list,
    };
    let (started_tx, started_rx) = mpsc::channel();
    let (vfork_tx, vfork_rx) = mpsc::channel();
    let vfork = args.flags & libc::CLONE_VFORK as u64 != 0;
    let kc = k.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("task-{pid}"))
        .spawn(move || child_main(kc, seed, origin, started_tx, vfork.then_some(vfork_tx)));
    let ok = spawned.is_ok() && matches!(started_rx.recv(), Ok(true));
    if !ok {
        k.procs().discard(pid);
        return Err(Errno::EAGAIN.into());
    }
    if args.flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
        // As Linux, a bad pointer here is ignored; the child exists.
        let _ = parent.mm.copy_out(args.parent_tid, &pid.to_le_bytes());
    }
    if vfork {
        // Wakes when the child execs or exits (its sender drops).
        let _ = vfork_rx.recv();
    }
    Ok(pid)
}

/// What a child task starts from.
struct Seed {
    tid: i32,
    regs: crate::arch::Regs,
    fds: super::fd_table::FdTable,
    creds: super::Creds,
    cwd: Vec<u8>,
    exe: Vec<u8>,
    comm: Vec<u8>,
    umask: u32,
    nice: i32,
    signals: super::signals::SignalState,
    rlimits: super::rlimits::Rlimits,
    altstack: super::signals::AltStack,
    program: Option<crate::vfs::inode_use::UseGuard>,
    clear_child_tid: u64,
    set_child_tid: Option<u64>,
    robust_list: u64,
}

#[allow(clippy::too_many_arguments)]
fn child_main(
    k: KernelRef,
    seed: Seed,
    origin: Origin,
    started: mpsc::Sender<bool>,
    vfork_done: Option<mpsc::Sender<()>>,
) {
    let forked = match &origin {
        Origin::Fork { stub_pid, .. } => Some(*stub_pid),
        Origin::SharedVm { .. } => None,
    };
    let adopted = match origin {
        Origin::Fork { stub_pid, state } => StubProcess::adopt(stub_pid).map(|s| AddressSpace::from_fork(s, state)),
        Origin::SharedVm { host_tid, host_tgid, mut mm } => StubProcess::adopt_thread(host_tid, host_tgid).map(|s| {
            mm.attach(s);
            *mm
        }),
    }
    .map_err(|e| e.to_string());
    let queue = k.register(seed.tid).map_err(|e| format!("signal queue: {e}"));
    let (mm, queue) = match (adopted, queue) {
        (Ok(s), Ok(q)) => (s, q),
        (a, q) => {
            let why = a.err().or(q.err()).unwrap_or_default();
            k.log_line(&format!("pid {}: start forked task: {why}", seed.tid));
            k.tasks().remove(&seed.tid);
            // A forked stub that was not adopted is killed; a host thread
            // that was not sleeps on harmlessly until its process ends.
            if let Some(stub_pid) = forked {
                let _ = nix::sys::signal::kill(stub_pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = started.send(false);
            return;
        }
    };
    let group = super::thread_group::ThreadGroup::new(seed.tid, queue.clone());
    k.groups.lock().unwrap_or_else(|p| p.into_inner()).insert(seed.tid, group.clone());
    let mut task = Task {
        tid: seed.tid,
        pid: seed.tid,
        group,
        robust_list: seed.robust_list,
        fs_share: None,
        cpu: super::cputime::ProcessCpu::new(mm.stub_pid()),
        mm,
        regs: seed.regs,
        fds: seed.fds,
        creds: seed.creds,
        cwd: seed.cwd,
        exe: seed.exe,
        comm: seed.comm,
        umask: seed.umask,
        nice: seed.nice,
        clear_child_tid: seed.clear_child_tid,
        signals: seed.signals,
        rlimits: seed.rlimits,
        queue,
        altstack: seed.altstack,
        saved_mask: None,
        // A child starts with no interval timers, as with fork in Linux.
        virtual_timer: std::sync::Arc::default(),
        prof_timer: std::sync::Arc::default(),
        restart: None,
        program: seed.program,
        real_timer: std::sync::Arc::default(),
        vfork_done,
        exit: None,
    };
    task.queue.set_stub(task.mm.stub_pid(), task.mm.stub_tid());
    task.queue.set_no_child_stops(task.signals.no_child_stops());
    if let Some(at) = seed.set_child_tid {
        let _ = task.mm.copy_out(at, &task.tid.to_le_bytes());
    }
    let _ = started.send(true);
    let status = match super::run(&k, &mut task) {
        Ok(s) => s,
        Err(e) => {
            // The stub died under the Sentry: this process is gone.
            k.log_line(&format!("pid {}: {e}", task.tid));
            super::ExitStatus::Signal(libc::SIGKILL)
        }
    };
    let tid = task.tid;
    // End its stub and close its files before its parent can see it gone.
    let usage = task.cpu.finish(task.mm.end());
    drop(task);
    k.task_exited(tid, status, usage);
}
