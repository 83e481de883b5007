//! Starting a sandbox's host processes (the Gofer and the Sentry) already
//! inside the sandbox's cgroups.
//!
//! Moving a process into a cgroup by writing its pid to `cgroup.procs`
//! takes the kernel's global threadgroup lock for writing, which waits for
//! an RCU grace period: 6 to 36 ms on this kind of machine, most of a
//! container's start-up, and the reason runc and crun starts vary so much
//! here. Two ways avoid it. A child made with `clone3(CLONE_INTO_CGROUP)`
//! is born in a v2 cgroup. In a v1 hierarchy, a single-threaded process
//! that writes `0` (itself) to `tasks` moves without that lock; for such a
//! process, moving its one thread is moving the process. So the child does
//! that for each v1 hierarchy before it runs anything else.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::errno::Errno;

/// `CLONE_INTO_CGROUP` (libc declares it with a type too narrow to hold it).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Where a new process is born: a v2 cgroup directory, and v1 `tasks`
/// files it writes itself into.
#[derive(Debug, Default)]
pub struct Placement {
    v2: Option<(OwnedFd, PathBuf)>,
    v1_tasks: Vec<CString>,
}

impl Placement {
    /// The placement for the cgroup directories `dirs`, one per hierarchy
    /// (v2 ones are those with a `cgroup.controllers` file).
    pub fn new(dirs: &[PathBuf]) -> anyhow::Result<Self> {
        let mut p = Placement::default();
        for dir in dirs {
            if dir.join("cgroup.controllers").exists() {
                let fd = nix::fcntl::open(
                    dir.as_path(),
                    nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .with_context(|| format!("open cgroup {}", dir.display()))?;
                p.v2 = Some((fd, dir.clone()));
            } else {
                p.v1_tasks.push(cstring(&dir.join("tasks"))?);
            }
        }
        Ok(p)
    }
}

/// What to start and how.
pub struct Child<'a> {
    /// The program and its arguments (argv[0] first).
    pub argv: Vec<String>,
    /// The program's path.
    pub program: &'a Path,
    /// Descriptors to install: (open descriptor, number in the child).
    pub fds: &'a [(RawFd, i32)],
    /// Replaces descriptors 0, 1 and 2 when set.
    pub stdio: Option<RawFd>,
    /// Make `stdio` the controlling terminal.
    pub ctty: bool,
    /// Join this network namespace (a descriptor of it).
    pub join_netns: Option<RawFd>,
    /// Make a new network namespace.
    pub new_netns: bool,
    /// Run this entry point of the moat binary with `argv` in the forked
    /// child instead of exec'ing the program, when this process is
    /// single-threaded (so the copy is sound to run). An exec of moat costs
    /// about a millisecond here, much of it in `cpuid`, which traps to the
    /// hypervisor, run by the dynamic loader and libc's start-up.
    pub entry: Option<fn(Vec<String>) -> i32>,
}

/// Steps of the child, named in errors.
const STEPS: &[&str] = &[
    "enter v1 cgroup",
    "setsid",
    "join network namespace",
    "new network namespace",
    "set up standard streams",
    "set controlling terminal",
    "install descriptors",
    "close inherited descriptors",
    "exec",
    "enter v2 cgroup",
];

/// Starts `child` in its own session, in `placement`'s cgroups, with only
/// the descriptors it names; returns its pid once it has exec'd.
pub fn spawn(child: &Child<'_>, placement: &Placement) -> anyhow::Result<i32> {
    let program = cstring(child.program)?;
    let argv: Vec<CString> = child
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()).context("argument with a NUL"))
        .collect::<Result<_, _>>()?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    // Descriptors go to numbers above every target first, so that moving
    // one to its target cannot overwrite another still to be moved.
    let above = child.fds.iter().map(|&(_, t)| t + 1).max().unwrap_or(3).max(100);
    let mut high: Vec<(OwnedFd, i32)> = Vec::new();
    for &(fd, target) in child.fds {
        let h = dup_above(fd, above).context("duplicate descriptor")?;
        high.push((h, target));
    }
    let moves: Vec<(RawFd, i32)> = high.iter().map(|(h, t)| (h.as_raw_fd(), *t)).collect();
    let (err_read, low) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // Above the targets too, or installing one could replace it.
    let err_write = dup_above(low.as_raw_fd(), above).context("duplicate descriptor")?;
    drop(low);
    let first_free = child.fds.iter().map(|&(_, t)| t + 1).max().unwrap_or(3);
    let v2_slow = placement.v2.as_ref().map(|(_, dir)| cstring(&dir.join("cgroup.procs"))).transpose()?;
    let plan = ChildPlan {
        program: &program,
        argv: &argv_ptrs,
        moves: &moves,
        first_free,
        err: err_write.as_raw_fd(),
        child,
        v1_tasks: &placement.v1_tasks,
        v2_procs: None,
        in_process: None,
    };
    let in_process = match child.entry {
        Some(f) if single_threaded() => Some((f, child.argv.clone(), title_area())),
        _ => None,
    };
    let plan = ChildPlan { in_process: in_process.as_ref(), ..plan };
    let pid = match clone_into(placement.v2.as_ref().map(|(fd, _)| fd.as_raw_fd())) {
        Ok(0) => run_child(&plan),
        Ok(pid) => pid,
        // No clone3, or one without CLONE_INTO_CGROUP (before 5.7): fork,
        // and the child writes itself into the v2 cgroup the slow way.
        Err(Errno::ENOSYS | Errno::E2BIG) => match fork_plain() {
            Ok(0) => run_child(&ChildPlan { v2_procs: v2_slow.as_ref(), ..plan }),
            Ok(pid) => pid,
            Err(e) => return Err(e).context("fork"),
        },
        Err(e) => return Err(e).context("clone3"),
    };
    drop(err_write);
    drop(high);
    let mut report = [0u8; 8];
    let n = loop {
        match nix::unistd::read(&err_read, &mut report) {
            Err(Errno::EINTR) => continue,
            r => break r.context("read the child's set-up report")?,
        }
    };
    if n == 0 {
        return Ok(pid);
    }
    // It failed before exec and is exiting: reap it.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    let step = u32::from_ne_bytes([report[0], report[1], report[2], report[3]]) as usize;
    let errno = Errno::from_raw(i32::from_ne_bytes([report[4], report[5], report[6], report[7]]));
    let name = child.argv.get(1).map_or("process", String::as_str);
    bail!("start moat {name}: {}: {errno}", STEPS.get(step).unwrap_or(&"set-up"))
}

fn cstring(p: &Path) -> anyhow::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).with_context(|| format!("path with a NUL: {}", p.display()))
}

fn dup_above(fd: RawFd, above: i32) -> Result<OwnedFd, Errno> {
    let r = nix::fcntl::fcntl(
        // SAFETY: only borrowed for the duplication; the caller keeps it open.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(above),
    )?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// clone3 with a copy of this process (like fork) born in the cgroup
/// `cgroup` when given; 0 in the child.
fn clone_into(cgroup: Option<RawFd>) -> Result<i32, Errno> {
    // SAFETY: clone_args is plain integers; all-zero is a valid start.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.exit_signal = libc::SIGCHLD as u64;
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: without CLONE_VM the child gets a copy of this address space
    // on the same stack, as with fork; it then runs only `run_child`.
    let r = unsafe { libc::syscall(libc::SYS_clone3, &args as *const libc::clone_args, size_of::<libc::clone_args>()) };
    Errno::result(r).map(|p| p as i32)
}

fn fork_plain() -> Result<i32, Errno> {
    // SAFETY: the child runs only `run_child`, which makes raw system calls.
    Errno::result(unsafe { libc::fork() })
}

struct ChildPlan<'a> {
    program: &'a CString,
    argv: &'a [*const libc::c_char],
    moves: &'a [(RawFd, i32)],
    first_free: i32,
    err: RawFd,
    child: &'a Child<'a>,
    v1_tasks: &'a [CString],
    v2_procs: Option<&'a CString>,
    in_process: Option<&'a InProcess>,
}

/// An entry point, its arguments, and where this process's command line
/// lies (to show the child's own there).
type InProcess = (fn(Vec<String>) -> i32, Vec<String>, Option<(u64, u64)>);

fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").map(|d| d.count() == 1).unwrap_or(false)
}

/// The bounds of this process's argument strings, from /proc/self/stat.
fn title_area() -> Option<(u64, u64)> {
    let stat = procfs::process::Process::myself().and_then(|p| p.stat()).ok()?;
    Some((stat.arg_start?, stat.arg_end?))
}

unsafe extern "C" {
    static environ: *const *const libc::c_char;
}

/// The child between clone and exec: raw system calls only (no
/// allocation, no lock), since it is a copy of a process that may have
/// had other threads. On failure it reports the step and errno through
/// the pipe and exits.
fn run_child(p: &ChildPlan<'_>) -> ! {
    let fail = |step: u32| -> ! {
        let errno = Errno::last_raw();
        let mut report = [0u8; 8];
        report[..4].copy_from_slice(&step.to_ne_bytes());
        report[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: raw write of a stack buffer, then _exit; nothing else runs.
        unsafe {
            libc::write(p.err, report.as_ptr().cast(), report.len());
            libc::_exit(127)
        }
    };
    // SAFETY: each call is a plain system call on descriptors and strings
    // that the parent keeps alive until this child has exec'd or exited.
    unsafe {
        for tasks in p.v1_tasks {
            if write_file(tasks, b"0") < 0 {
                fail(0);
            }
        }
        if let Some(procs) = p.v2_procs
            && write_file(procs, b"0") < 0
        {
            fail(9);
        }
        if libc::setsid() < 0 {
            fail(1);
        }
        if let Some(fd) = p.child.join_netns
            && libc::setns(fd, libc::CLONE_NEWNET) < 0
        {
            fail(2);
        }
        if p.child.new_netns && libc::unshare(libc::CLONE_NEWNET) < 0 {
            fail(3);
        }
        if let Some(fd) = p.child.stdio {
            for t in 0..3 {
                if libc::dup2(fd, t) < 0 {
                    fail(4);
                }
            }
            if p.child.ctty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                fail(5);
            }
        }
        for &(h, t) in p.moves {
            if libc::dup2(h, t) < 0 {
                fail(6);
            }
        }
        // Nothing else of the caller's goes along: a pipe the caller reads
        // our output from (containerd-shim's) must close when create exits,
        // not when the sandbox does. Marked close-on-exec rather than
        // closed, so that the report pipe lasts until the exec.
        if libc::syscall(libc::SYS_close_range, p.first_free, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC) < 0 {
            fail(7);
        }
        if let Some((entry, argv, area)) = p.in_process {
            // Everything marked above is closed now, as an exec would; the
            // report pipe last, which tells the parent all went well.
            let err = p.err as libc::c_uint;
            if libc::syscall(libc::SYS_close_range, p.first_free, err - 1, 0) < 0
                || libc::syscall(libc::SYS_close_range, err + 1, libc::c_uint::MAX, 0) < 0
            {
                fail(7);
            }
            libc::close(p.err);
            if let Some(area) = area {
                retitle(*area, argv);
            }
            std::process::exit(entry(argv.clone()));
        }
        libc::execve(p.program.as_ptr(), p.argv.as_ptr(), environ);
        fail(8)
    }
}

/// Shows `argv` as this process's command line (in ps, docker top): its
/// NUL-separated strings written over the original ones, cut to their
/// length and padded with NULs.
///
/// # Safety
/// `area` must be this process's argument strings (from /proc/self/stat),
/// which the kernel placed in writable stack memory at exec and which no
/// Rust reference points into.
unsafe fn retitle(area: (u64, u64), argv: &[String]) {
    let len = area.1.saturating_sub(area.0) as usize;
    let mut title = Vec::with_capacity(len);
    for a in argv {
        title.extend_from_slice(a.as_bytes());
        title.push(0);
    }
    title.resize(len, 0);
    if let Some(last) = title.last_mut() {
        *last = 0;
    }
    // SAFETY: the caller guarantees `area` is writable memory of this
    // process that nothing else refers to; exactly `len` bytes are written.
    unsafe { std::ptr::copy_nonoverlapping(title.as_ptr(), area.0 as *mut u8, len) };
}

/// open, write, close; negative on failure with errno set.
///
/// # Safety
/// Raw system calls on a NUL-terminated path.
unsafe fn write_file(path: &CString, data: &[u8]) -> isize {
    // SAFETY: path is NUL-terminated; data is valid for its length.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return -1;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let saved = Errno::last_raw();
        libc::close(fd);
        Errno::set_raw(saved);
        n
    }
}
