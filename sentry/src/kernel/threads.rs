//! Threads: `clone(CLONE_THREAD)` makes a task on a new Sentry thread
//! driving a new host thread of the same stub process (memory, host
//! descriptors and host signal handling shared, as the application's
//! threads share theirs). What a thread leaves behind when it ends — its
//! `CLONE_CHILD_CLEARTID` word, its robust futexes — is settled here, and
//! the leader's side of an execve made by another thread.

use std::sync::{Arc, Mutex, mpsc};

use nix::errno::Errno;

use super::fork::{CloneArgs, ForkError};
use super::futex::FutexKey;
use super::thread_group::ExecHandover;
use super::{ExitStatus, KernelError, KernelRef, Task};
use crate::mm::AddressSpace;
use crate::platform::ptrace::StubProcess;

/// `FUTEX_WAITERS`: someone sleeps on a PI or robust lock word.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// `FUTEX_OWNER_DIED`: the owner of a robust lock died holding it.
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// `FUTEX_TID_MASK`: the owner's thread id in a lock word.
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Entries of a robust list walked at most, as Linux's `ROBUST_LIST_LIMIT`.
const ROBUST_LIST_LIMIT: usize = 2048;

/// The key of the futex word at `addr` for `task`: private to its address
/// space unless the word lies in a shared mapping and the call did not say
/// FUTEX_PRIVATE_FLAG.
pub fn futex_key(task: &Task, addr: u64, private: bool) -> FutexKey {
    if !private && let Some(v) = task.mm.vma_at(addr).filter(|v| v.shared) {
        let (object, base) = match &v.backing {
            crate::mm::vma::Backing::File { host: Some((dev, ino)), offset, .. } => {
                (format!("file:{dev:x}:{ino:x}").into_bytes(), *offset)
            }
            crate::mm::vma::Backing::File { path, offset, .. } => (path.clone().into_bytes(), *offset),
            _ => (format!("anon:{:x}", v.start).into_bytes(), 0),
        };
        return FutexKey::Shared { object, offset: base + (addr - v.start) };
    }
    FutexKey::Private { mm: task.mm.id(), addr, flagged: private }
}

/// Creates a thread of `parent`'s process and returns its id.
pub fn clone_thread(k: &KernelRef, parent: &mut Task, args: CloneArgs) -> Result<i32, ForkError> {
    let tid = k.procs().add_thread(parent.pid)?;
    let host_tid = match parent.mm.stub().spawn_thread() {
        Ok(t) => t,
        Err(e) => {
            k.procs().remove_thread(tid);
            return Err(KernelError::from(e).into());
        }
    };
    let flag = |f: i32| args.flags & f as u64 != 0;
    if flag(libc::CLONE_PARENT_SETTID) {
        // Before the thread runs, as in Linux: glibc passes the same word
        // for CLONE_CHILD_CLEARTID, which the thread may clear at once.
        // A bad pointer is ignored.
        let _ = parent.mm.copy_out(args.parent_tid, &tid.to_le_bytes());
    }
    let mut regs = parent.regs;
    regs.rax = 0;
    if args.stack != 0 {
        regs.rsp = args.stack;
    }
    if flag(libc::CLONE_SETTLS) {
        regs.fs_base = args.tls;
    }
    let fs_share = if flag(libc::CLONE_FS) {
        Some(parent.fs_share.get_or_insert_with(|| Arc::new(Mutex::new((parent.cwd.clone(), parent.umask)))).clone())
    } else {
        None
    };
    let task = Task {
        tid,
        fs_share,
        pid: parent.pid,
        group: parent.group.clone(),
        robust_list: 0,
        // Its stub thread is attached on the new Sentry thread, which
        // adopts the host thread.
        mm: AddressSpace::unattached(&parent.mm),
        regs,
        fds: if flag(libc::CLONE_FILES) { parent.fds.share() } else { parent.fds.clone() },
        creds: parent.creds.clone(),
        cwd: parent.cwd.clone(),
        exe: parent.exe.clone(),
        comm: parent.comm.clone(),
        umask: parent.umask,
        nice: parent.nice,
        clear_child_tid: if flag(libc::CLONE_CHILD_CLEARTID) { args.child_tid } else { 0 },
        signals: parent.signals.share(),
        rlimits: parent.rlimits.clone(),
        queue: parent.queue.clone(),
        // A thread with its own stack starts without the alternate one.
        altstack: super::signals::AltStack::default(),
        saved_mask: None,
        restart: None,
        program: parent.program.clone(),
        real_timer: parent.real_timer.clone(),
        vfork_done: None,
        exit: None,
        cpu: parent.cpu.clone(),
        virtual_timer: parent.virtual_timer.clone(),
        prof_timer: parent.prof_timer.clone(),
    };
    let start = ThreadStart {
        host_tid,
        host_tgid: nix::unistd::Pid::from_raw(parent.mm.stub_pid()),
        set_child_tid: flag(libc::CLONE_CHILD_SETTID).then_some(args.child_tid),
    };
    let (started_tx, started_rx) = mpsc::channel();
    let kc = k.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("task-{}-{tid}", parent.pid))
        .spawn(move || thread_main(kc, task, start, started_tx));
    if spawned.is_err() || !matches!(started_rx.recv(), Ok(true)) {
        k.procs().remove_thread(tid);
        return Err(Errno::EAGAIN.into());
    }
    Ok(tid)
}

/// What the new Sentry thread needs to take its host thread over.
struct ThreadStart {
    host_tid: nix::unistd::Pid,
    host_tgid: nix::unistd::Pid,
    set_child_tid: Option<u64>,
}

fn thread_main(k: KernelRef, mut task: Task, start: ThreadStart, started: mpsc::Sender<bool>) {
    let tid = task.tid;
    let stub = match StubProcess::adopt_thread(start.host_tid, start.host_tgid) {
        Ok(s) => s,
        Err(e) => {
            // The host thread sleeps on in the stub, harmless, until the
            // process ends.
            k.log_line(&format!("thread {tid}: adopt host thread: {e}"));
            let _ = started.send(false);
            return;
        }
    };
    task.mm.attach(stub);
    let queue = match k.register(tid) {
        Ok(q) => q,
        Err(e) => {
            k.log_line(&format!("thread {tid}: signal queue: {e}"));
            let _ = started.send(false);
            return;
        }
    };
    queue.set_stub(task.mm.stub_pid(), task.mm.stub_tid());
    queue.set_no_child_stops(task.queue.no_child_stops());
    queue.publish_mask(task.signals.mask());
    task.queue = queue.clone();
    if task.group.add(tid, queue).is_err() {
        k.tasks().remove(&tid);
        let _ = started.send(false);
        return;
    }
    if let Some(at) = start.set_child_tid {
        let _ = task.mm.copy_out(at, &tid.to_le_bytes());
    }
    let _ = started.send(true);
    let status = match super::run_thread(&k, &mut task) {
        Ok(s) => s,
        Err(e) => {
            if task.group.exit_status().is_none() {
                k.log_line(&format!("thread {tid}: {e}"));
                task.exit_group(ExitStatus::Signal(libc::SIGKILL));
            }
            ExitStatus::Signal(libc::SIGKILL)
        }
    };
    release(&k, &mut task);
    // Its host thread ends before the group hears of it, so the leader,
    // which reaps the stub process, never waits on it.
    task.mm.end();
    k.tasks().remove(&tid);
    k.procs().remove_thread(tid);
    task.group.leave(tid, status);
}

/// The end of the leader's thread (its own exit, or the process's): what
/// the thread leaves behind is settled and it leaves the group.
pub fn thread_ended(k: &KernelRef, task: &mut Task, status: ExitStatus) {
    release(k, task);
    task.group.leave(task.tid, status);
}

/// Settles what an ending thread leaves behind in memory other threads
/// (or processes) share: the robust futexes it holds, and its
/// CLONE_CHILD_CLEARTID word, cleared with a wake (pthread_join).
fn release(k: &KernelRef, task: &mut Task) {
    let dying_process = task.group.exit_status().is_some() || task.group.exec_pending();
    exit_robust_list(k, task);
    let at = std::mem::take(&mut task.clear_child_tid);
    if at != 0 && !dying_process && task.mm.copy_out(at, &0u32.to_le_bytes()).is_ok() {
        let key = futex_key(task, at, false);
        k.futexes.lock().wake(&key, 1, u32::MAX);
    }
}

/// Marks each robust lock the thread still holds FUTEX_OWNER_DIED and
/// wakes one waiter, as Linux's exit_robust_list does.
fn exit_robust_list(k: &KernelRef, task: &mut Task) {
    let head = std::mem::take(&mut task.robust_list);
    if head == 0 {
        return;
    }
    let word = |t: &Task, at: u64| t.mm.copy_in(at, 8).ok().map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let (Some(mut entry), Some(offset), Some(pending)) =
        (word(task, head), word(task, head + 8), word(task, head + 16))
    else {
        return;
    };
    let offset = offset as i64;
    let mut seen = 0;
    while entry != head && entry != 0 && seen < ROBUST_LIST_LIMIT {
        let next = word(task, entry & !1);
        if entry != pending {
            owner_died(k, task, (entry & !1).wrapping_add_signed(offset));
        }
        let Some(n) = next else { break };
        entry = n;
        seen += 1;
    }
    if pending != 0 {
        owner_died(k, task, (pending & !1).wrapping_add_signed(offset));
    }
}

fn owner_died(k: &KernelRef, task: &mut Task, at: u64) {
    for _ in 0..16 {
        let Ok(b) = task.mm.copy_in(at, 4) else { return };
        let old = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if old & FUTEX_TID_MASK != task.tid as u32 {
            return;
        }
        let new = (old & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        match task.mm.cmpxchg(at, old, new) {
            Ok(seen) if seen == old => {
                if old & FUTEX_WAITERS != 0 {
                    let key = futex_key(task, at, false);
                    k.futexes.lock().wake(&key, 1, u32::MAX);
                }
                return;
            }
            Ok(_) => continue,
            Err(_) => return,
        }
    }
}

/// Runs on the leader's Sentry thread the execve another thread made,
/// once every other thread has gone.
pub fn run_handover(k: &KernelRef, task: &mut Task, h: ExecHandover) -> Result<(), super::exec::ExecError> {
    task.signals.set_mask(h.mask);
    task.creds = h.creds;
    task.cwd = h.cwd;
    task.publish_fs();
    super::exec::execve(k, task, &h.path, h.argv, h.envp)
}

/// Checks `clone` flags as Linux does for threads; true if they ask for a
/// thread.
pub fn wants_thread(flags: u64) -> Result<bool, Errno> {
    let has = |f: i32| flags & f as u64 != 0;
    if has(libc::CLONE_THREAD) && !has(libc::CLONE_SIGHAND) {
        return Err(Errno::EINVAL);
    }
    if has(libc::CLONE_SIGHAND) && !has(libc::CLONE_VM) {
        return Err(Errno::EINVAL);
    }
    Ok(has(libc::CLONE_THREAD))
}
