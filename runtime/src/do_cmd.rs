//! `moat do -- CMD ARGS…`: run one command in a sandbox over a root file
//! system (the host's `/`, read-only, by default), no bundle needed.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, bail};
use clap::Args;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

/// Arguments of `moat do`.
#[derive(Args)]
pub struct DoArgs {
    /// Root file system to serve (default: the host's `/`, read-only).
    #[arg(long, default_value = "/")]
    rootfs: PathBuf,
    /// Serve the root file system writable (only with --rootfs).
    #[arg(long)]
    rootfs_rw: bool,
    /// Working directory inside the sandbox.
    #[arg(long, default_value = "/")]
    cwd: String,
    /// Extra environment variables, K=V.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Spawns this binary with `args`, giving it `fd` as descriptor 3.
fn spawn_self(args: &[String], fd: &OwnedFd, stdin: Stdio) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("find the moat binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(stdin);
    moat_gofer::inherit::give_fd(&mut cmd, fd.as_raw_fd(), 3);
    // SAFETY: between fork and exec the closure calls only prctl and
    // sigprocmask, both async-signal-safe. The child dies with moat do (so
    // no Sentry or Gofer outlives it, whatever kills it), and gets the
    // forwarded signals unblocked again.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in FORWARDED {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    cmd.spawn().with_context(|| format!("start moat {}", args.first().map_or("", String::as_str)))
}

/// Signals `moat do` passes to the Sentry.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Blocks or unblocks the forwarded signals in `moat do`: blocked from
/// before the children exist until the handler that forwards them is in
/// place, so none is lost or kills `moat do` early.
fn block_forwarded(block: bool) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        set.add(s);
    }
    let how = if block { SigmaskHow::SIG_BLOCK } else { SigmaskHow::SIG_UNBLOCK };
    let _ = pthread_sigmask(how, Some(&set), None);
}

/// Pid of the Sentry, for the signal handler.
static SENTRY_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // A terminal sends Ctrl-C to its whole foreground group, the Sentry
    // included, which forwards it itself; only signals sent to moat do
    // alone (kill: SI_USER or SI_QUEUE) are passed on.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    if code == libc::SI_USER || code == libc::SI_QUEUE {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(SENTRY_PID.load(Ordering::Relaxed), sig) };
    }
}

/// Passes SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to `moat do` on to the
/// Sentry, which hands them to the sandbox's init.
fn forward_to(pid: i32) -> anyhow::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    SENTRY_PID.store(pid, Ordering::Relaxed);
    let act =
        SigAction::new(SigHandler::SigAction(forward), SaFlags::SA_RESTART | SaFlags::SA_SIGINFO, SigSet::empty());
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
        // SAFETY: the handler only reads its siginfo, an atomic, and calls
        // kill, all async-signal-safe.
        unsafe { sigaction(s, &act) }.context("install signal forwarding")?;
    }
    Ok(())
}

/// Signals this process was started with ignored, which the command must
/// start with ignored too, as if `moat do` had exec'd it (a `nohup`, or a
/// shell's background job ignoring SIGINT and SIGQUIT). SIGPIPE is left
/// out: Rust's runtime ignores it in every program, so the caller's choice
/// cannot be told; SIGCHLD too, whose SIG_IGN changes how children are
/// reaped.
fn inherited_ignored() -> Vec<i32> {
    let mut out = Vec::new();
    for sig in 1..32 {
        if matches!(sig, libc::SIGKILL | libc::SIGSTOP | libc::SIGPIPE | libc::SIGCHLD) {
            continue;
        }
        // SAFETY: sigaction is plain data (all zeroes is valid), and a null
        // new action only reads the current one into `old`.
        let (r, old) = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(sig, std::ptr::null(), &mut old), old)
        };
        if r == 0 && old.sa_sigaction == libc::SIG_IGN {
            out.push(sig);
        }
    }
    out
}

/// The global flags `moat do` uses.
pub struct Debugging {
    /// `--strace`: log every system call.
    pub strace: bool,
    /// `--debug-log DIR`: where sentry.log goes.
    pub debug_log: Option<PathBuf>,
    /// `--overlay memory`: the root is writable, its changes kept in the
    /// Gofer's memory and never written to the host.
    pub overlay: bool,
}

/// Runs `moat do` and returns the command's exit status as a shell would.
pub fn run(args: DoArgs, dbg: &Debugging) -> anyhow::Result<i32> {
    let ignored = inherited_ignored();
    if args.rootfs_rw && args.rootfs == std::path::Path::new("/") {
        bail!("--rootfs-rw needs --rootfs: the host's own root is always served read-only");
    }
    let rootfs = std::fs::canonicalize(&args.rootfs).with_context(|| format!("rootfs {}", args.rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("rootfs {}: not a directory", rootfs.display());
    }
    if let Some(d) = &dbg.debug_log {
        std::fs::create_dir_all(d).with_context(|| format!("create debug log directory {}", d.display()))?;
    }
    let (sentry_end, gofer_end) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .context("socketpair for the gofer")?;
    block_forwarded(true);
    let mode = match (dbg.overlay, args.rootfs_rw) {
        (true, _) => "overlay",
        (false, true) => "rw",
        (false, false) => "ro",
    };
    let gofer_args = vec![
        "gofer".to_string(),
        "--sock-fd".into(),
        "3".into(),
        "--mount".into(),
        format!("{mode}:{}", rootfs.display()),
        // Private tmpfs mounts for /tmp and /dev/shm, as a container has.
        "--mount".into(),
        "tmpfs".into(),
        "--mount".into(),
        "tmpfs".into(),
    ];
    let mut gofer = spawn_self(&gofer_args, &gofer_end, Stdio::null())?;
    drop(gofer_end);

    let mut boot_args = vec!["boot".to_string(), "--gofer-fd".into(), "3".into(), "--cwd".into(), args.cwd.clone()];
    boot_args.extend(["--mount-point=/tmp:1".to_string(), "--mount-point=/dev/shm:2".to_string()]);
    if !args.rootfs_rw && !dbg.overlay {
        boot_args.push("--root-readonly".into());
    }
    if dbg.strace {
        boot_args.push("--strace".into());
    }
    boot_args.extend(ignored.iter().map(|s| format!("--ignore-signal={s}")));
    // As across exec, a caller's no_new_privs holds for the command too.
    // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointer and only reads a flag.
    if unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } == 1 {
        boot_args.push("--no-new-privs".into());
    }
    // The command runs with the caller's capabilities, as it would natively.
    boot_args.push(format!("--caps={}", caller_caps()));
    if let Some(d) = &dbg.debug_log {
        boot_args.push("--debug-log".into());
        boot_args.push(d.join("sentry.log").display().to_string());
    }
    let mut env: Vec<String> = std::env::vars_os()
        .filter_map(|(k, v)| Some(format!("{}={}", k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    env.extend(args.env.iter().cloned());
    for e in env {
        boot_args.push(format!("--env={e}"));
    }
    boot_args.push("--".into());
    boot_args.extend(args.command.iter().cloned());
    let boot = spawn_self(&boot_args, &sentry_end, Stdio::inherit());
    drop(sentry_end);
    let mut boot = match boot {
        Ok(b) => b,
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Err(e);
        }
    };
    forward_to(boot.id() as i32)?;
    block_forwarded(false);
    let status = boot.wait().context("wait for the sentry")?;
    let gofer_status = gofer.wait().context("wait for the gofer")?;
    if !gofer_status.success() {
        eprintln!("moat: gofer exited with {gofer_status}");
    }
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    })
}

/// The calling process's capability sets as boot's `--caps` takes them:
/// inheritable, permitted, effective, bounding and ambient masks in hex.
fn caller_caps() -> String {
    use caps::CapSet;
    let mask = |set: CapSet| caps::read(None, set).map_or(0u64, |s| s.iter().fold(0, |m, c| m | c.bitmask()));
    let sets = [CapSet::Inheritable, CapSet::Permitted, CapSet::Effective, CapSet::Bounding, CapSet::Ambient];
    sets.map(|s| format!("{:x}", mask(s))).join(",")
}
