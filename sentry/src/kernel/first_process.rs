//! A process made from nothing: the sandbox's init, or one the runtime's
//! `exec` starts, with its program looked up along PATH as execvp does.

use std::sync::Arc;

use nix::errno::Errno;

use super::fd_table::{self, FdTable};
use super::{InitProcess, Kernel, NOFILE, Task, cputime, exec, procfs, rlimits, signals, thread_group, tty};
use crate::vfs::Vfs;
use crate::vfs::access::Actor;

/// The search list execvp uses when the environment has no PATH.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// As execvp and runc do for a container's first process: a name without a
/// `/` is looked for in the sandbox's own tree along the PATH of the
/// environment it is given (or the usual default); the first executable
/// regular file wins. Not found, the name stays as it is and exec fails.
fn search_path(vfs: &Vfs, cwd: &[u8], name: &[u8], envp: &[Vec<u8>], who: &Actor) -> Vec<u8> {
    if name.is_empty() || name.contains(&b'/') {
        return name.to_vec();
    }
    let path = envp.iter().find_map(|e| e.strip_prefix(b"PATH=")).unwrap_or(DEFAULT_PATH);
    for dir in path.split(|&b| b == b':') {
        // An empty entry is the working directory, as in execvp.
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let candidate = [dir, b"/", name].concat();
        let Ok(found) = vfs.lookup(cwd, &candidate, true, who) else { continue };
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
        let who = creds.actor();
        let found = kernel.vfs.lookup(b"/", cwd, true, &who)?;
        kernel.vfs.release(found.handle);
        if !found.stat.is_dir() {
            return Err(Errno::ENOTDIR.into());
        }
        let path = match program {
            Some(p) => p,
            None => search_path(&kernel.vfs, &found.path, &path, &envp, &who),
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
                creds: creds.clone(),
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
