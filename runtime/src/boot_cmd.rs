//! `moat boot`: the Sentry process of one sandbox.

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use moat_gofer::GoferClient;
use moat_sentry::kernel::exec::ExecError;
use moat_sentry::kernel::rlimits::Rlimit;
use moat_sentry::kernel::{self, Creds, DebugLog, InitProcess, Kernel, Task};
use moat_sentry::vfs::Vfs;

use crate::fds::take_socket;
use crate::oci::boot as oci_boot;

/// Arguments of `moat boot`.
#[derive(Args)]
pub struct BootArgs {
    /// Descriptor of the Sentry's end of the Gofer's socketpair.
    #[arg(long)]
    gofer_fd: RawFd,
    /// The Gofer serves the root read-only.
    #[arg(long)]
    root_readonly: bool,
    /// Log every system call to the debug log (stderr without --debug-log).
    #[arg(long)]
    strace: bool,
    /// File for the debug log.
    #[arg(long)]
    debug_log: Option<std::path::PathBuf>,
    /// Working directory of the first process.
    #[arg(long, default_value = "/")]
    cwd: String,
    /// Environment of the first process, K=V.
    #[arg(long = "env")]
    env: Vec<String>,
    /// Gofer mount N at PATH, as PATH:N (the Sentry's tmpfs mounts).
    #[arg(long = "mount-point", value_parser = parse_mount_point)]
    mount_points: Vec<(String, u32)>,
    /// Host name of the sandbox.
    #[arg(long, default_value = "moat")]
    hostname: String,
    /// Init's user id.
    #[arg(long, default_value_t = 0)]
    uid: u32,
    /// Init's group id.
    #[arg(long, default_value_t = 0)]
    gid: u32,
    /// Init's supplementary groups.
    #[arg(long = "group")]
    groups: Vec<u32>,
    /// Init's umask (octal).
    #[arg(long, default_value = "022", value_parser = parse_octal)]
    umask: u32,
    /// A resource limit, as RESOURCE=SOFT:HARD (RESOURCE: the RLIMIT_* number).
    #[arg(long = "rlimit", value_parser = parse_rlimit)]
    rlimits: Vec<(u32, u64, u64)>,
    /// OCI mode: a socket to the runtime. The Sentry waits for "go" on it
    /// before it starts anything (its cgroups are set by then), answers
    /// "ok" once init is loaded, or the error.
    #[arg(long)]
    ready_fd: Option<RawFd>,
    /// OCI mode: serve the control socket at this path; init runs once a
    /// start request comes.
    #[arg(long)]
    control: Option<std::path::PathBuf>,
    /// init starts with no_new_privs set (`process.noNewPrivileges`).
    #[arg(long)]
    no_new_privs: bool,
    /// init's capability sets: inheritable, permitted, effective, bounding
    /// and ambient masks in hex, comma-separated (default: as execve leaves
    /// a process of init's user ids).
    #[arg(long)]
    caps: Option<String>,
    /// OCI --preserve-fds: this many descriptors from 5 on become init's
    /// descriptors from 3 on.
    #[arg(long, default_value_t = 0)]
    preserved_fds: u32,
    /// A signal init starts with ignored (repeatable).
    #[arg(long = "ignore-signal")]
    ignored_signals: Vec<i32>,
    /// Bring the loopback interface of this network namespace up.
    #[arg(long)]
    loopback_up: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn parse_mount_point(s: &str) -> Result<(String, u32), String> {
    let (path, n) = s.rsplit_once(':').ok_or_else(|| format!("mount point {s:?}: expected PATH:N"))?;
    let n = n.parse().map_err(|_| format!("mount point {s:?}: {n:?} is not a mount number"))?;
    if !path.starts_with('/') || path.split('/').any(|c| c == "." || c == "..") {
        return Err(format!("mount point {s:?}: path must be absolute and canonical"));
    }
    Ok((path.trim_end_matches('/').to_string(), n))
}

impl BootArgs {
    /// `--control`.
    pub fn control(&self) -> Option<&std::path::Path> {
        self.control.as_deref()
    }
}

fn parse_octal(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8).map_err(|_| format!("{s:?} is not an octal mode"))
}

fn parse_rlimit(s: &str) -> Result<(u32, u64, u64), String> {
    let bad = || format!("rlimit {s:?}: expected RESOURCE=SOFT:HARD");
    let (res, limits) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').ok_or_else(bad)?;
    Ok((res.parse().map_err(|_| bad())?, soft.parse().map_err(|_| bad())?, hard.parse().map_err(|_| bad())?))
}

/// The preserved descriptors 5 .. 5 + `n`, owned.
fn take_preserved(n: u32) -> anyhow::Result<Vec<OwnedFd>> {
    (0..n)
        .map(|i| {
            let fd = 5 + i as i32;
            // SAFETY: only borrowed for the F_GETFD check; a closed descriptor
            // fails it with EBADF.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            nix::fcntl::fcntl(borrowed, nix::fcntl::FcntlArg::F_GETFD)
                .with_context(|| format!("preserved descriptor {fd}"))?;
            // SAFETY: fd is open (F_GETFD succeeded) and was handed to this
            // process for init; nothing else here owns it.
            Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
        })
        .collect()
}

fn stdio() -> anyhow::Result<[OwnedFd; 3]> {
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().context("duplicate standard stream");
    Ok([dup(std::io::stdin().as_fd())?, dup(std::io::stdout().as_fd())?, dup(std::io::stderr().as_fd())?])
}

/// Signals that the Sentry forwards to the sandbox's init: from the
/// terminal (Ctrl-C, Ctrl-\\, hang-up) or from `moat do`.
const FORWARDED: [nix::sys::signal::Signal; 4] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
};

/// Blocks the forwarded signals in every Sentry thread (threads inherit
/// the mask) and hands them to init from one thread. They arrive from
/// outside the sandbox, so init's default action applies, as when a
/// container's init is signalled from the host: `moat do` can always be
/// interrupted.
fn forward_signals(kernel: &moat_sentry::kernel::KernelRef) -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).context("block forwarded signals")?;
    let k = kernel.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                let info = moat_sentry::kernel::sigqueue::SigInfo {
                    signo: sig as i32,
                    code: libc::SI_KERNEL,
                    ..Default::default()
                };
                // A job a shell put in the terminal's foreground gets the
                // terminal's signals; otherwise init does.
                match k.terminals.foreground_of_session(1).filter(|&g| g != 1) {
                    Some(group) => {
                        let members = k.procs().group_members(group);
                        for pid in members {
                            let _ = k.send_signal(pid, info);
                        }
                    }
                    None => {
                        let _ = k.send_signal(1, info);
                    }
                }
            }
        })
        .context("start the signal thread")?;
    Ok(())
}

/// Runs the sandbox's init to its end and returns its exit status as a
/// shell reports it.
pub fn run(args: BootArgs) -> anyhow::Result<i32> {
    if args.control.is_some() {
        // Before any thread exists, so every thread inherits it: the
        // terminal's signals are taken by one thread and passed into the
        // sandbox.
        oci_boot::block_terminal_signals();
    }
    let ready = match args.ready_fd {
        Some(fd) => {
            let sock = take_socket(fd).context("ready socket")?;
            oci_boot::wait_for_go(&sock)?;
            Some(sock)
        }
        None => None,
    };
    let prepared = prepare(&args);
    match (ready, prepared) {
        (None, Ok((kernel, task))) => run_init(&kernel, task),
        (None, Err(Prepare::Exec(code, message))) => {
            eprintln!("moat: {message}");
            Ok(code)
        }
        (None, Err(Prepare::Fatal(e))) => Err(e),
        (Some(ready), Ok((kernel, task))) => oci_boot::serve_then_run(&args, ready, kernel, task),
        (Some(ready), Err(e)) => {
            let message = match e {
                Prepare::Exec(_, message) => message,
                Prepare::Fatal(e) => format!("{e:#}"),
            };
            oci_boot::report(&ready, &format!("error: {message}"));
            Ok(1)
        }
    }
}

/// Why a sandbox could not be prepared.
enum Prepare {
    /// init's program could not be executed: the shell status to exit with
    /// (127: not found, 126: not executable), and why.
    Exec(i32, String),
    /// Anything else.
    Fatal(anyhow::Error),
}

pub(crate) fn run_init(kernel: &moat_sentry::kernel::KernelRef, mut task: Task) -> anyhow::Result<i32> {
    let status = kernel::run(kernel, &mut task).context("sentry")?;
    Ok(status.shell_code())
}

/// The kernel and init, loaded but not yet running.
fn prepare(args: &BootArgs) -> Result<(moat_sentry::kernel::KernelRef, Task), Prepare> {
    let kernel = prepare_kernel(args).map_err(Prepare::Fatal)?;
    let init = InitProcess {
        stdio: stdio().map_err(Prepare::Fatal)?,
        cwd: args.cwd.clone().into_bytes(),
        argv: args.command.iter().map(|s| s.clone().into_bytes()).collect(),
        envp: args.env.iter().map(|s| s.clone().into_bytes()).collect(),
        creds: start_creds((args.uid, args.gid, &args.groups), args.no_new_privs, args.caps.as_deref())
            .map_err(Prepare::Fatal)?,
        rlimits: args.rlimits.iter().map(|&(r, cur, max)| (r, Rlimit { cur, max })).collect(),
        umask: args.umask,
        ignored_signals: args.ignored_signals.clone(),
        program: None,
        extra_fds: take_preserved(args.preserved_fds).map_err(Prepare::Fatal)?,
    };
    match Task::init(&kernel, init) {
        Ok(t) => Ok((kernel, t)),
        Err(ExecError::Errno(e)) => {
            let code = if e == nix::errno::Errno::ENOENT { 127 } else { 126 };
            Err(Prepare::Exec(
                code,
                format!("exec {}: {}", args.command[0], crate::oci::boot::lowercase_first(e.desc())),
            ))
        }
        Err(ExecError::Fatal(k)) => Err(Prepare::Fatal(anyhow::Error::from(k).context("start init"))),
    }
}

fn prepare_kernel(args: &BootArgs) -> anyhow::Result<moat_sentry::kernel::KernelRef> {
    if args.loopback_up {
        oci_boot::loopback_up().context("bring loopback up")?;
    }
    let sock = take_socket(args.gofer_fd).context("gofer socket")?;
    let gofer = Arc::new(GoferClient::new(sock));
    let points: Vec<(Vec<u8>, u32)> = args.mount_points.iter().map(|(p, n)| (p.clone().into_bytes(), *n)).collect();
    let vfs = Vfs::with_mounts(gofer, args.root_readonly, &points)
        .map_err(|e| anyhow::anyhow!("attach to the gofer's mounts: {e}"))?;
    let log: Option<DebugLog> = match &args.debug_log {
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("create debug log {}", p.display()))?;
            Some(DebugLog::new(Box::new(f)))
        }
        None if args.strace => Some(DebugLog::new(Box::new(std::io::stderr()))),
        None => None,
    };
    let kernel = Kernel::new(vfs, log, args.strace, args.hostname.clone().into_bytes());
    if args.control.is_none() {
        // moat do: terminal signals and moat do's own go to init.
        forward_signals(&kernel)?;
    }
    Ok(kernel)
}

/// A process's starting credentials (init's, or a runtime exec's): its
/// ids, no_new_privs, and the capability sets it was given as `--caps`
/// spells them (none: Linux's defaults for the user), after execve's rules.
pub(crate) fn start_creds(
    (uid, gid, groups): (u32, u32, &[u32]),
    no_new_privs: bool,
    caps: Option<&str>,
) -> anyhow::Result<Creds> {
    let mut c = Creds { no_new_privs, ..Creds::new(uid, gid, groups.to_vec()) };
    if let Some(s) = caps {
        c.start_with(parse_caps(s)?);
    }
    Ok(c)
}

/// Parses `--caps`: five hex masks (inheritable, permitted, effective,
/// bounding, ambient).
fn parse_caps(s: &str) -> anyhow::Result<moat_sentry::kernel::creds::Capabilities> {
    let masks: Vec<u64> = s
        .split(',')
        .map(|m| u64::from_str_radix(m, 16).with_context(|| format!("parse capability mask {m:?} of --caps")))
        .collect::<anyhow::Result<_>>()?;
    let [inheritable, permitted, effective, bounding, ambient] = masks[..] else {
        anyhow::bail!("--caps takes five masks, got {}", masks.len());
    };
    Ok(moat_sentry::kernel::creds::Capabilities { permitted, effective, inheritable, bounding, ambient })
}
