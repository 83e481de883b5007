//! `moat gofer`: the Gofer process of one container.

use std::os::fd::{AsFd, RawFd};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use moat_gofer::sandbox::{self, MountSource, SourceKind};
use moat_gofer::server::Server;

use nix::sys::signal::{SigHandler, Signal, signal};

use crate::fds::take_socket;

/// Arguments of `moat gofer`.
#[derive(Args)]
pub struct GoferArgs {
    /// Descriptor of this Gofer's end of the `SOCK_SEQPACKET` socketpair.
    #[arg(long)]
    sock_fd: RawFd,
    /// A mount to serve, as `rw:PATH`, `ro:PATH`, `overlay:PATH` (changes
    /// kept in the Gofer's memory), `overlay-ro:PATH`, or `tmpfs` (a fresh
    /// one, private to the Gofer); the first is the root.
    #[arg(long = "mount", required = true, value_parser = parse_mount)]
    mounts: Vec<MountSource>,
    /// After confinement, make a system call outside the allowlist (tests
    /// use it to prove the filter kills the Gofer).
    #[arg(long, hide = true)]
    probe_seccomp: bool,
}

fn parse_mount(s: &str) -> Result<MountSource, String> {
    if s == "tmpfs" {
        return Ok(MountSource { kind: SourceKind::Tmpfs, readonly: false });
    }
    let (mode, path) = s
        .split_once(':')
        .ok_or_else(|| format!("mount {s:?}: expected rw:PATH, ro:PATH, overlay:PATH, overlay-ro:PATH or tmpfs"))?;
    let (overlay, readonly) = match mode {
        "ro" => (false, true),
        "rw" => (false, false),
        "overlay" => (true, false),
        "overlay-ro" => (true, true),
        _ => return Err(format!("mount {s:?}: mode must be rw, ro, overlay or overlay-ro, not {mode:?}")),
    };
    if !path.starts_with('/') {
        return Err(format!("mount {s:?}: path must be absolute"));
    }
    let path = PathBuf::from(path);
    let kind = if overlay { SourceKind::Overlay(path) } else { SourceKind::Bind(path) };
    Ok(MountSource { kind, readonly })
}

/// Confines this process and serves until the Sentry hangs up.
pub fn run(args: GoferArgs) -> anyhow::Result<i32> {
    // Terminal signals (Ctrl-C, hang-up) are for the sandbox, which the
    // Sentry forwards them to; the Gofer serves until the Sentry hangs up.
    for s in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGHUP, Signal::SIGTSTP] {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { signal(s, SigHandler::SigIgn) }.context("ignore terminal signals")?;
    }
    let sock = take_socket(args.sock_fd).context("gofer socket")?;
    let config = sandbox::enter(&args.mounts).context("confine gofer")?;
    let mut server = Server::new(config).context("start gofer server")?;
    sandbox::drop_capabilities().context("confine gofer")?;
    sandbox::install_seccomp().context("confine gofer")?;
    if args.probe_seccomp {
        // SAFETY: a plain system call with no pointers; the filter is
        // expected to kill the process here.
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        bail!("seccomp probe: socket() was allowed");
    }
    server.serve(sock.as_fd()).context("serve")?;
    Ok(0)
}
