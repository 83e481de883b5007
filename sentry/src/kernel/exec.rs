//! execve: find the file, follow `#!` interpreters, load the ELF into a new
//! address space, and only then replace the task's.

use std::fs::File;

use nix::errno::Errno;

use super::{KernelError, Task};
use crate::loader::{self, AuxFacts, LoadError, ReadAt, elf};
use crate::mm::{AddressSpace, MmError};
use crate::vfs::Vfs;
use crate::vfs::access::{Actor, MAY_EXEC};

/// Interpreters nest at most this deep (Linux's limit), then ELOOP.
const MAX_INTERP_DEPTH: usize = 4;
/// Bytes read to recognise a format (Linux's `BINPRM_BUF_SIZE` is 256).
const HEAD_SIZE: usize = 256;

/// execve's failures: an errno for the caller, or the end of the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// What execve returns.
    #[error("{0}")]
    Errno(#[from] Errno),
    /// The Sentry could not go on.
    #[error(transparent)]
    Fatal(#[from] KernelError),
}

impl From<LoadError> for ExecError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Errno(e) => ExecError::Errno(e),
            LoadError::Mm(MmError::Errno(e)) => ExecError::Errno(e),
            LoadError::Mm(MmError::Platform(p)) => ExecError::Fatal(p.into()),
        }
    }
}

/// The opened executable.
struct Image {
    file: File,
    path: Vec<u8>,
    head: Vec<u8>,
    /// Its mark as a running program (ETXTBSY for writers).
    program: Option<crate::vfs::inode_use::UseGuard>,
}

/// Finds and opens `path` for execution by `who`: a regular file it may
/// execute, else EACCES.
fn open_exec(vfs: &Vfs, cwd: &[u8], path: &[u8], who: &Actor) -> Result<Image, Errno> {
    open_checked(vfs, cwd, path, true, who)
}

/// Finds and opens an ELF interpreter (which Linux checks for execution
/// too, but does not mark as a running program).
fn open_interp(vfs: &Vfs, cwd: &[u8], path: &[u8], who: &Actor) -> Result<Image, Errno> {
    open_checked(vfs, cwd, path, false, who)
}

fn open_checked(vfs: &Vfs, cwd: &[u8], path: &[u8], exec: bool, who: &Actor) -> Result<Image, Errno> {
    let found = vfs.lookup(cwd, path, true, who)?;
    let key = (found.stat.dev, found.stat.ino);
    let checked = if found.stat.file_type() != libc::S_IFREG {
        Err(Errno::EACCES)
    } else {
        who.permission(&vfs.perm_stat(&found.stat), MAY_EXEC)
            .and_then(|()| vfs.gofer().open(found.handle, libc::O_RDONLY).map_err(|e| e.errno()))
    };
    let program = match (&checked, exec) {
        (Ok(_), true) => match vfs.inode_use.program(key) {
            Ok(g) => Some(g),
            Err(e) => {
                vfs.release(found.handle);
                return Err(e);
            }
        },
        _ => None,
    };
    vfs.release(found.handle);
    let file = File::from(checked?);
    let mut head = vec![0u8; HEAD_SIZE];
    let n = file.read_at(0, &mut head)?;
    head.truncate(n);
    Ok(Image { file, path: found.path, head, program })
}

/// A program loaded into a new address space, ready to replace a task's.
#[derive(Debug)]
pub struct Program {
    /// The new address space.
    pub mm: AddressSpace,
    /// Registers to start from.
    pub regs: crate::arch::Regs,
    /// Canonical path of the executable.
    pub exe: Vec<u8>,
    /// The new `comm`.
    pub comm: Vec<u8>,
    /// argv, NUL-terminated each (/proc/PID/cmdline).
    pub cmdline: Vec<u8>,
    /// envp, NUL-terminated each (/proc/PID/environ).
    pub environ: Vec<u8>,
    /// The auxiliary vector (/proc/PID/auxv).
    pub auxv: Vec<u8>,
    /// The executable's mark as a running program.
    pub program: Option<crate::vfs::inode_use::UseGuard>,
}

/// Finds `path` (from `cwd`), follows `#!` interpreters, and loads the ELF
/// executable into a new address space.
pub fn load_program(
    vfs: &Vfs,
    cwd: &[u8],
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    creds: super::Creds,
) -> Result<Program, ExecError> {
    if argv.is_empty() {
        // As Linux since 5.18: an empty argv becomes one empty string, so
        // programs never see argc == 0.
        argv.push(Vec::new());
    }
    loader::check_args(&argv, &envp)?;
    let mut target = path.to_vec();
    let who = creds.actor();
    for _ in 0..=MAX_INTERP_DEPTH {
        let img = open_exec(vfs, cwd, &target, &who)?;
        if let Some((interp, arg)) = elf::parse_shebang(&img.head) {
            // argv becomes: interpreter, its argument, the script as named,
            // then the original arguments after argv[0].
            let mut next = vec![interp.clone()];
            next.extend(arg);
            next.push(target.clone());
            next.extend(argv.into_iter().skip(1));
            argv = next;
            target = interp;
            continue;
        }
        if !elf::is_elf(&img.head) || img.head.len() < 64 {
            return Err(Errno::ENOEXEC.into());
        }
        let mut mm = AddressSpace::new().map_err(KernelError::from)?;
        let facts = AuxFacts { uid: creds.ruid, euid: creds.uid, gid: creds.rgid, egid: creds.gid, secure: false };
        let shown = String::from_utf8_lossy(&img.path).into_owned();
        let mut open_interp = |p: &[u8]| -> Result<loader::InterpFile, Errno> {
            let i = open_interp(vfs, cwd, p, &who)?;
            if i.head.len() < 64 || !elf::is_elf(&i.head) {
                return Err(Errno::ELIBBAD);
            }
            let head = i.head[..64].to_vec();
            Ok((Box::new(i.file), head, String::from_utf8_lossy(&i.path).into_owned()))
        };
        let loaded =
            loader::load(&mut mm, &img.file, &img.head[..64], &shown, path, &argv, &envp, facts, &mut open_interp)?;
        let regs = mm.stub().initial_regs(loaded.entry, loaded.sp);
        let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        let comm = base[..base.len().min(15)].to_vec();
        let cmdline = argv.iter().flat_map(|a| a.iter().copied().chain([0])).collect();
        let environ = envp.iter().flat_map(|e| e.iter().copied().chain([0])).collect();
        return Ok(Program {
            mm,
            regs,
            exe: img.path,
            comm,
            cmdline,
            environ,
            auxv: loaded.auxv,
            program: img.program,
        });
    }
    Err(Errno::ELOOP.into())
}

/// Replaces `task`'s program with `path`. On failure the task is unchanged.
pub fn execve(
    k: &super::Kernel,
    task: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<(), ExecError> {
    let p = load_program(&k.vfs, &task.cwd, path, argv.clone(), envp.clone(), task.creds.clone())?;
    if task.group.len() > 1 {
        // The other threads end first, as in Linux, once the program is
        // known to run. The leader's Sentry thread owns the stub process
        // the host reaps, so another thread hands its execve over: it ends,
        // and the leader runs the program as the process's one thread.
        if task.tid != task.pid {
            drop(p);
            let handover = super::thread_group::ExecHandover {
                path: path.to_vec(),
                argv,
                envp,
                mask: task.signals.mask(),
                creds: task.creds.clone(),
                cwd: task.cwd.clone(),
            };
            task.group.begin_exec(task.tid, Some(handover))?;
            task.clear_child_tid = 0;
            task.exit = Some(super::ExitStatus::Code(0));
            return Ok(());
        }
        task.group.begin_exec(task.tid, None)?;
        task.group.wait_alone(task.tid);
        commit(k, task, p);
        task.group.end_exec(task.tid, &task.queue);
        return Ok(());
    }
    commit(k, task, p);
    Ok(())
}

/// Puts the loaded program in place of the task's.
fn commit(k: &super::Kernel, task: &mut Task, p: Program) {
    // Capabilities and saved ids as execve of a file without set-id bits
    // or file capabilities leaves them.
    task.creds.exec();
    let creds = task.creds.clone();
    // A plain exec makes the process dumpable again, as Linux does.
    if let Some(p) = k.procs().get_mut(task.pid) {
        p.undumpable = false;
    }
    k.proc_infos.update(task.pid, |i| {
        i.creds = creds.clone();
        i.comm = p.comm.clone();
        i.cmdline = p.cmdline.clone();
        i.environ = p.environ.clone();
        i.auxv = p.auxv.clone();
        i.stub_pid = p.mm.stub_pid();
        i.exe = p.exe.clone();
    });
    // Past this point exec cannot fail.
    let new_stub = p.mm.stub_pid();
    let used = std::mem::replace(&mut task.mm, p.mm).end();
    task.cpu.exec(new_stub, used);
    task.program = p.program;
    task.regs = p.regs;
    task.exe = p.exe;
    task.comm = p.comm;
    task.fds.unshare();
    task.fds.close_on_exec();
    task.signals.reset_for_exec();
    task.queue.set_no_child_stops(task.signals.no_child_stops());
    task.clear_child_tid = 0;
    task.vfork_done = None;
    task.robust_list = 0;
    task.queue.set_stub(task.mm.stub_pid(), task.mm.stub_tid());
}
