//! `moat boot`: the Sentry process of one sandbox.

use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use moat_gofer::GoferClient;
use moat_sentry::kernel::exec::ExecError;
use moat_sentry::kernel::{self, DebugLog, Kernel, Task};
use moat_sentry::vfs::Vfs;

use crate::fds::take_socket;

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
                let _ = k.send_signal(1, info);
            }
        })
        .context("start the signal thread")?;
    Ok(())
}

/// Runs the sandbox's init to its end and returns its exit status as a
/// shell reports it.
pub fn run(args: BootArgs) -> anyhow::Result<i32> {
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
    let kernel = Kernel::new(vfs, log, args.strace, args.hostname.into_bytes());
    let argv: Vec<Vec<u8>> = args.command.iter().map(|s| s.clone().into_bytes()).collect();
    let envp: Vec<Vec<u8>> = args.env.iter().map(|s| s.clone().into_bytes()).collect();
    forward_signals(&kernel)?;
    let mut task = match Task::init(&kernel, stdio()?, args.cwd.as_bytes(), argv, envp) {
        Ok(t) => t,
        Err(ExecError::Errno(e)) => {
            eprintln!("moat: exec {}: {}", args.command[0], e.desc());
            return Ok(if e == nix::errno::Errno::ENOENT { 127 } else { 126 });
        }
        Err(ExecError::Fatal(k)) => return Err(k).context("start init"),
    };
    let status = kernel::run(&kernel, &mut task).context("sentry")?;
    Ok(status.shell_code())
}
