//! `moat exec`: a new process in a running container. This command (or,
//! with `--detach`, a child it forks) is the host process that stands for
//! it: it exits with the process's status, and signals sent to it are
//! passed on, as containerd-shim expects of the pid in `--pid-file`. If it
//! is killed, the Sentry kills the process (the connection it holds is the
//! process's lifeline).

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use nix::unistd::ForkResult;

use super::control::{self, ExecProcess, Reply, Request};
use super::state::{StateRoot, Status};
use super::{Global, console};

/// What `exec` is asked.
pub struct ExecRequest {
    /// Container id.
    pub id: String,
    /// An OCI process JSON file (what docker and containerd pass).
    pub process_file: Option<PathBuf>,
    /// The command, when there is no process file.
    pub args: Vec<String>,
    /// Return once started; a forked child waits.
    pub detach: bool,
    /// Where to write the waiting process's pid.
    pub pid_file: Option<PathBuf>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Where to send the terminal's master end.
    pub console_socket: Option<PathBuf>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Extra environment, K=V.
    pub env: Vec<String>,
    /// `UID[:GID]`.
    pub user: Option<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
}

/// The process to start: the container's own process as the base (as runc
/// does), overridden by the file or the flags.
fn process_of(req: &ExecRequest, bundle: &Path) -> anyhow::Result<(ExecProcess, bool)> {
    let from_file = match &req.process_file {
        Some(f) => {
            let bytes = std::fs::read(f).with_context(|| format!("read process file {}", f.display()))?;
            let de = &mut serde_json::Deserializer::from_slice(&bytes);
            let p: oci_spec::runtime::Process = serde_path_to_error::deserialize(de)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", f.display(), e.path(), e.inner()))?;
            Some(p)
        }
        None => None,
    };
    let base = match &from_file {
        Some(p) => p.clone(),
        None => super::bundle::load(bundle).ok().and_then(|plan| plan.spec.process().clone()).unwrap_or_default(),
    };
    let user = base.user();
    let mut p = ExecProcess {
        args: base.args().clone().unwrap_or_default(),
        env: base.env().clone().unwrap_or_default(),
        cwd: base.cwd().display().to_string(),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        program: None,
        no_new_privs: base.no_new_privileges().unwrap_or(false) || req.no_new_privs,
        // Unknown names were warned about when the container was created.
        caps: base.capabilities().as_ref().map(|c| super::bundle::caps_arg(c, &mut Vec::new())),
    };
    let mut tty = from_file.as_ref().and_then(|p| p.terminal()).unwrap_or(false);
    if from_file.is_none() {
        p.args = req.args.clone();
        tty = req.tty;
    }
    if p.args.is_empty() {
        bail!("exec: no command given");
    }
    if let Some(c) = &req.cwd {
        p.cwd = c.clone();
    }
    if p.cwd.is_empty() {
        p.cwd = "/".into();
    }
    p.env.extend(req.env.iter().cloned());
    if let Some(u) = &req.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        p.uid = uid.parse().with_context(|| format!("--user {u:?}: uid is not a number"))?;
        p.gid = gid.parse().with_context(|| format!("--user {u:?}: gid is not a number"))?;
    }
    Ok((p, tty))
}

/// Runs `exec`; returns the exit status to exit with.
pub fn exec(g: &Global, req: &ExecRequest) -> anyhow::Result<i32> {
    let (control_path, bundle) = {
        let locked = StateRoot::new(&g.root)?.open(&req.id)?;
        let c = locked.read()?;
        match c.status() {
            Status::Running | Status::Created => {}
            s => bail!("cannot exec in a {} container", s.as_str()),
        }
        (locked.control_socket(), c.bundle.clone())
    };
    let (process, tty) = process_of(req, &bundle)?;
    let terminal = match (tty, &req.console_socket) {
        (true, Some(_)) => Some(console::Terminal::open_sized(None)?),
        (true, None) => bail!("exec with a terminal needs --console-socket"),
        (false, Some(_)) => bail!("--console-socket given without a terminal"),
        (false, None) => None,
    };
    let fds: Vec<RawFd> = match &terminal {
        Some(t) => vec![t.slave(); 3],
        None => vec![0, 1, 2],
    };
    let (reply, conn) = control::call_with_fds(&control_path, &Request::Exec { process }, &fds)?;
    let pid = match reply {
        Reply::Started { pid } => pid,
        Reply::Error { message } => bail!("{message}"),
        other => bail!("unexpected reply from the sandbox: {other:?}"),
    };
    if let (Some(t), Some(sock)) = (terminal, &req.console_socket) {
        t.send_master(sock)?;
    }
    if req.detach {
        // SAFETY: this process has one thread here; the child only waits on
        // its socket, spawns a thread and exits.
        match unsafe { nix::unistd::fork() }.context("fork the waiting process")? {
            ForkResult::Child => {
                let code = wait_for(&conn, &control_path, pid);
                std::process::exit(code);
            }
            ForkResult::Parent { child } => {
                if let Some(p) = &req.pid_file {
                    super::state::write_atomically(p, child.as_raw().to_string().as_bytes())?;
                }
                return Ok(0);
            }
        }
    }
    if let Some(p) = &req.pid_file {
        super::state::write_atomically(p, std::process::id().to_string().as_bytes())?;
    }
    Ok(wait_for(&conn, &control_path, pid))
}

/// Passes signals on to sandbox process `pid` and waits for its end.
fn wait_for(conn: &OwnedFd, control_path: &Path, pid: i32) -> i32 {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCONT,
        Signal::SIGTSTP,
    ] {
        set.add(s);
    }
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_ok() {
        let path = control_path.to_path_buf();
        let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
            while let Ok(sig) = set.wait() {
                let req = Request::Signal { signo: sig as i32, all: false, pid: Some(pid) };
                let _ = control::call(&path, &req);
            }
        });
    }
    loop {
        match control::next_reply(conn) {
            Ok(Reply::Exited { status }) => return status,
            Ok(_) => continue,
            // The sandbox is gone: as if the process was killed.
            Err(_) => return 128 + libc::SIGKILL,
        }
    }
}
