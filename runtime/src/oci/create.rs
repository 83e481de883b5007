//! `moat create`: a sandbox for a bundle, up to the point where init waits
//! for `start`.
//!
//! Host processes: the Gofer, and the Sentry (`moat boot`), both children
//! of the caller, so that once `create` returns they belong to the
//! caller's subreaper (containerd-shim). The Sentry is the process named in
//! `--pid-file`: it exits with the container's status, lives in the
//! container's network namespace and cgroup, and every stub it forks
//! inherits both.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};

use super::bundle::{NetNs, Plan, PlanMount};
use super::spawn::{Child, Placement};
use super::state::{Container, HostProcess, Locked, StateRoot, Status};
use super::{Global, cgroups, console, hooks, spawn};

/// What `create` is asked.
pub struct CreateRequest<'a> {
    /// Container id.
    pub id: &'a str,
    /// Bundle directory.
    pub bundle: &'a Path,
    /// Where to write the Sentry's pid.
    pub pid_file: Option<&'a Path>,
    /// Where to send the terminal's master end.
    pub console_socket: Option<&'a Path>,
    /// How many of the caller's descriptors from 3 on init gets, at the
    /// same numbers.
    pub preserve_fds: u32,
}

/// Creates the container; on failure nothing of it is left.
pub fn create(g: &Global, req: &CreateRequest<'_>) -> anyhow::Result<Container> {
    let bundle = std::fs::canonicalize(req.bundle).with_context(|| format!("bundle {}", req.bundle.display()))?;
    let plan = super::bundle::load(&bundle)?;
    for w in &plan.warnings {
        g.warn(&format!("{}: {w}", req.id));
    }
    match (plan.terminal, req.console_socket) {
        (true, None) => bail!("config.json: process.terminal is true, but no --console-socket was given"),
        (false, Some(_)) => bail!("--console-socket given, but config.json's process.terminal is false"),
        _ => {}
    }
    let root = StateRoot::new(&g.root)?;
    let locked = root.create(req.id)?;
    let mut made = Made::default();
    match build(g, req, &bundle, &plan, &locked, &mut made) {
        Ok(c) => Ok(c),
        Err(e) => {
            made.undo();
            let _ = locked.remove();
            Err(e)
        }
    }
}

/// What a failing `create` must take down again.
#[derive(Default)]
struct Made {
    pids: Vec<i32>,
    cgroups: Vec<PathBuf>,
    pid_file: Option<PathBuf>,
}

impl Made {
    fn undo(&self) {
        for &pid in &self.pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        let _ = cgroups::remove(&self.cgroups);
        if let Some(p) = &self.pid_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn build(
    g: &Global,
    req: &CreateRequest<'_>,
    bundle: &Path,
    plan: &Plan,
    locked: &Locked,
    made: &mut Made,
) -> anyhow::Result<Container> {
    let mut container = Container {
        id: req.id.to_string(),
        bundle: bundle.to_path_buf(),
        rootfs: plan.rootfs.clone(),
        status: Status::Creating,
        sentry: HostProcess::default(),
        gofer: HostProcess::default(),
        created: super::state::rfc3339(std::time::SystemTime::now()),
        annotations: plan.spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        cgroups: Vec::new(),
        hooks: plan.spec.hooks().clone(),
    };
    locked.write(&container)?;
    let rel = match &plan.cgroups_path {
        Some(p) => cgroups::relative_path(p, g.systemd_cgroup)?,
        None => PathBuf::from(cgroups::DEFAULT_PARENT).join(req.id),
    };
    made.cgroups = cgroups::create(&rel)?;
    container.cgroups = made.cgroups.clone();
    let terminal = match req.console_socket {
        Some(_) => Some(console::Terminal::open(plan)?),
        None => None,
    };
    let (sentry_end, gofer_end) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .context("socketpair for the gofer")?;
    let (ready, ready_theirs) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .context("socketpair for the sentry")?;
    // Limits first: the processes are born in the cgroups, under them.
    if let Some(r) = &plan.resources {
        cgroups::apply(&made.cgroups, r)?;
    }
    let placement = Placement::new(&made.cgroups)?;
    let exe = std::env::current_exe().context("find the moat binary")?;
    let null = std::fs::File::options().read(true).write(true).open("/dev/null").context("open /dev/null")?;
    // Not the caller's stderr: with a terminal that is a pipe the caller
    // waits to see closed (and without one, the container's own stderr).
    let gofer = spawn::spawn(
        &Child {
            argv: gofer_args(plan, g.overlay),
            program: &exe,
            fds: &[(gofer_end.as_raw_fd(), 3)],
            stdio: Some(null.as_raw_fd()),
            ctty: false,
            join_netns: None,
            new_netns: false,
            entry: Some(crate::run_internal),
        },
        &placement,
    )?;
    made.pids.push(gofer);
    drop(gofer_end);
    let mut debugging = Vec::new();
    if let Some(dir) = &g.debug_log {
        std::fs::create_dir_all(dir).with_context(|| format!("create debug log directory {}", dir.display()))?;
        debugging.push(format!("--debug-log={}", dir.join(format!("sentry-{}.log", req.id)).display()));
    }
    if g.strace {
        debugging.push("--strace".to_string());
    }
    if req.preserve_fds > 0 {
        debugging.push(format!("--preserved-fds={}", req.preserve_fds));
    }
    // Preserved descriptors reach the Sentry after its own two (5, 6, …);
    // it gives them to init at 3, 4, ….
    let preserved = preserved_fds(req.preserve_fds)?;
    let mut moves: Vec<(i32, i32)> = vec![(sentry_end.as_raw_fd(), 3), (ready_theirs.as_raw_fd(), 4)];
    moves.extend(preserved.iter().enumerate().map(|(i, fd)| (fd.as_raw_fd(), 5 + i as i32)));
    let ns_file = match &plan.netns {
        NetNs::Join(p) => {
            Some(std::fs::File::open(p).with_context(|| format!("open network namespace {}", p.display()))?)
        }
        _ => None,
    };
    let sentry = spawn::spawn(
        &Child {
            argv: boot_args(plan, &locked.control_socket(), &debugging),
            program: &exe,
            fds: &moves,
            stdio: terminal.as_ref().map(console::Terminal::slave),
            ctty: terminal.is_some(),
            join_netns: ns_file.as_ref().map(|f| f.as_raw_fd()),
            new_netns: plan.netns == NetNs::New,
            entry: Some(crate::run_internal),
        },
        &placement,
    )?;
    made.pids.push(sentry);
    drop(sentry_end);
    drop(ready_theirs);
    container.gofer = HostProcess::of(gofer).context("the gofer exited at once")?;
    container.sentry = HostProcess::of(sentry).context("the sentry exited at once")?;
    g.debug(&format!("{}: sentry {sentry}, gofer {gofer}, cgroups {:?}", req.id, made.cgroups));
    send(ready.as_raw_fd(), b"go", MsgFlags::empty()).context("start the sentry")?;
    let answer = receive(&ready)?;
    if answer != "ok" {
        bail!("{}", answer.strip_prefix("error: ").unwrap_or(&answer));
    }
    if let (Some(t), Some(sock)) = (terminal, req.console_socket) {
        t.send_master(sock)?;
    }
    if let Some(p) = req.pid_file {
        super::state::write_atomically(p, sentry.to_string().as_bytes())
            .with_context(|| format!("write pid file {}", p.display()))?;
        made.pid_file = Some(p.to_path_buf());
    }
    let state = container.oci_state();
    let h = plan.spec.hooks().as_ref();
    #[allow(deprecated)]
    let prestart = h.and_then(|h| h.prestart().as_ref());
    hooks::run_all("prestart", prestart, &state)?;
    hooks::run_all("createRuntime", h.and_then(|h| h.create_runtime().as_ref()), &state)?;
    hooks::run_all("createContainer", h.and_then(|h| h.create_container().as_ref()), &state)?;
    container.status = Status::Created;
    locked.write(&container)?;
    Ok(container)
}

/// Duplicates of this process's descriptors 3 .. 3 + `n`, each checked.
fn preserved_fds(n: u32) -> anyhow::Result<Vec<OwnedFd>> {
    (0..n)
        .map(|i| {
            let fd = 3 + i as i32;
            // SAFETY: only borrowed to duplicate it; a closed descriptor
            // fails the duplication with EBADF.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            borrowed.try_clone_to_owned().with_context(|| format!("--preserve-fds: descriptor {fd}"))
        })
        .collect()
}

fn receive(sock: &OwnedFd) -> anyhow::Result<String> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = loop {
        match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.context("wait for the sentry")?,
        }
    };
    if n == 0 {
        bail!("the sentry exited during set-up");
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn gofer_args(plan: &Plan, overlay: bool) -> Vec<String> {
    let mut args = vec!["moat".to_string(), "gofer".to_string(), "--sock-fd".into(), "3".into()];
    let mode = |ro: bool| if ro { "ro" } else { "rw" };
    // --overlay memory: the rootfs under a tmpfs upper layer in the Gofer,
    // so the container's changes never reach the bundle.
    let root_mode = match (overlay, plan.root_readonly) {
        (true, true) => "overlay-ro",
        (true, false) => "overlay",
        (false, ro) => mode(ro),
    };
    args.push(format!("--mount={root_mode}:{}", plan.rootfs.display()));
    for m in &plan.mounts {
        args.push(match m {
            PlanMount::Bind { source, readonly, .. } => format!("--mount={}:{}", mode(*readonly), source.display()),
            PlanMount::Tmpfs { .. } => "--mount=tmpfs".to_string(),
        });
    }
    args
}

fn boot_args(plan: &Plan, control: &Path, debugging: &[String]) -> Vec<String> {
    let mut args = vec![
        "moat".to_string(),
        "boot".into(),
        "--gofer-fd=3".into(),
        "--ready-fd=4".into(),
        format!("--control={}", control.display()),
        format!("--cwd={}", plan.cwd),
        format!("--uid={}", plan.uid),
        format!("--gid={}", plan.gid),
        format!("--umask={:o}", plan.umask),
    ];
    if !plan.hostname.is_empty() {
        args.push(format!("--hostname={}", plan.hostname));
    }
    args.extend(plan.groups.iter().map(|g| format!("--group={g}")));
    args.extend(plan.rlimits.iter().map(|(r, s, h)| format!("--rlimit={r}={s}:{h}")));
    for (i, m) in plan.mounts.iter().enumerate() {
        let dest = match m {
            PlanMount::Bind { destination, .. } | PlanMount::Tmpfs { destination } => destination,
        };
        args.push(format!("--mount-point={dest}:{}", i + 1));
    }
    if plan.root_readonly {
        args.push("--root-readonly".into());
    }
    if plan.no_new_privs {
        args.push("--no-new-privs".into());
    }
    if let Some(c) = &plan.caps {
        args.push(format!("--caps={c}"));
    }
    if plan.netns == NetNs::New {
        args.push("--loopback-up".into());
    }
    args.extend(plan.env.iter().map(|e| format!("--env={e}")));
    args.extend(debugging.iter().cloned());
    args.push("--".into());
    args.extend(plan.args.iter().cloned());
    args
}
