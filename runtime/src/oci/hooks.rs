//! OCI hooks: each runs with the container's state JSON on its standard
//! input, its own arguments and environment, and its timeout.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use oci_spec::runtime::Hook;

/// Runs `hooks` (of the kind `kind`, for messages) in order; the first
/// failure stops them and is the error.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &serde_json::Value) -> anyhow::Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &serde_json::Value) -> anyhow::Result<()> {
    let mut cmd = Command::new(h.path());
    // args[0] is the hook's argv[0], as in execve.
    if let Some(args) = h.args() {
        use std::os::unix::process::CommandExt;
        if let Some((first, rest)) = args.split_first() {
            cmd.arg0(first).args(rest);
        }
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("start")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input is not an error.
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let deadline = h.timeout().map(|t| Instant::now() + Duration::from_secs(u64::try_from(t.max(1)).unwrap_or(1)));
    loop {
        if let Some(status) = child.try_wait().context("wait")? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            let err = err.trim();
            bail!("{status}{}{err}", if err.is_empty() { "" } else { ": " });
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {} s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `hooks` inside the sandbox, as the spec has startContainer hooks
/// run "in the container's namespaces": each is a process the Sentry
/// starts (its path in the container's root), with the state JSON on its
/// standard input and this command's standard error for its output.
pub fn run_inside(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state: &serde_json::Value,
    control: &std::path::Path,
) -> anyhow::Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one_inside(h, state, control).with_context(|| format!("{kind} hook #{i} ({})", h.path().display()))?;
    }
    Ok(())
}

fn run_one_inside(h: &Hook, state: &serde_json::Value, control: &std::path::Path) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;

    use super::control::{self, ExecProcess, Reply, Request};
    let path = h.path().to_str().context("hook path is not UTF-8")?.to_string();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe for the hook's input")?;
    // The state is a few hundred bytes: it fits the pipe, so no reader is
    // needed yet.
    nix::unistd::write(&w, state.to_string().as_bytes()).context("write the hook's input")?;
    drop(w);
    let process = ExecProcess {
        args: h.args().clone().unwrap_or_else(|| vec![path.clone()]),
        env: h.env().clone().unwrap_or_default(),
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        umask: 0o022,
        program: Some(path),
        no_new_privs: false,
        caps: None,
    };
    let (reply, conn) = control::call_with_fds(control, &Request::Exec { process }, &[r.as_raw_fd(), 2, 2])?;
    match reply {
        Reply::Started { .. } => {}
        Reply::Error { message } => bail!("{message}"),
        other => bail!("unexpected reply from the sandbox: {other:?}"),
    }
    let limit = h.timeout().map(|t| Duration::from_secs(u64::try_from(t.max(1)).unwrap_or(1)));
    if let Some(l) = limit {
        let tv = nix::sys::time::TimeVal::new(l.as_secs() as i64, 0);
        nix::sys::socket::setsockopt(&conn, nix::sys::socket::sockopt::ReceiveTimeout, &tv)
            .context("set the hook's timeout")?;
    }
    let started = Instant::now();
    match control::next_reply(&conn) {
        Ok(Reply::Exited { status: 0 }) => Ok(()),
        Ok(Reply::Exited { status }) => bail!("exit status {status}"),
        Ok(other) => bail!("unexpected reply from the sandbox: {other:?}"),
        // Dropping the connection kills the hook inside.
        Err(_) if limit.is_some_and(|l| started.elapsed() >= l) => {
            bail!("timed out after {} s", h.timeout().unwrap_or(0))
        }
        Err(e) => Err(e),
    }
}
