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
