//! The OCI commands after `create`: start, state, kill, delete, list, ps,
//! and run (create + start + wait + delete).

use std::path::Path;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::control::{self, Reply, Request};
use super::state::{Container, Locked, StateRoot, Status};
use super::{Global, cgroups, hooks};

fn open(g: &Global, id: &str) -> anyhow::Result<(Locked, Container)> {
    let locked = StateRoot::new(&g.root)?.open(id)?;
    let c = locked.read()?;
    Ok((locked, c))
}

fn ask(locked: &Locked, req: &Request) -> anyhow::Result<Reply> {
    match control::call(&locked.control_socket(), req)? {
        Reply::Error { message } => bail!("{message}"),
        r => Ok(r),
    }
}

/// `moat start ID`.
pub fn start(g: &Global, id: &str) -> anyhow::Result<()> {
    let (locked, mut c) = open(g, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        s => bail!("cannot start a container in the {} state", s.as_str()),
    }
    let h = c.hooks.clone();
    let start_hooks = h.as_ref().and_then(|h| h.start_container().as_ref());
    hooks::run_inside("startContainer", start_hooks, &c.oci_state(), &locked.control_socket())?;
    ask(&locked, &Request::Start).context("start init")?;
    c.status = Status::Running;
    locked.write(&c)?;
    if let Err(e) = hooks::run_all("poststart", h.as_ref().and_then(|h| h.poststart().as_ref()), &c.oci_state()) {
        // The container runs; as runc, a failed poststart hook is reported
        // and the container stopped.
        let _ = kill(Pid::from_raw(c.sentry.pid), Signal::SIGKILL);
        return Err(e);
    }
    Ok(())
}

/// `moat state ID`: the OCI state document.
pub fn state(g: &Global, id: &str) -> anyhow::Result<()> {
    let (_locked, c) = open(g, id)?;
    println!("{}", serde_json::to_string_pretty(&c.oci_state()).context("encode state")?);
    Ok(())
}

/// `moat kill ID SIGNAL [--all]`.
pub fn kill_cmd(g: &Global, id: &str, signal: &str, all: bool) -> anyhow::Result<()> {
    let signo = super::signals::parse(signal)?;
    let (locked, c) = open(g, id)?;
    if c.status() == Status::Stopped {
        bail!("container not running");
    }
    if signo == libc::SIGKILL {
        // SIGKILL always ends the container: the Sentry takes its stubs
        // with it (PTRACE_O_EXITKILL) and the Gofer ends when it hangs up.
        kill(Pid::from_raw(c.sentry.pid), Signal::SIGKILL).context("kill the sandbox")?;
        if c.status == Status::Paused {
            super::stats::freeze(&c.cgroups, false)?;
        }
        return Ok(());
    }
    ask(&locked, &Request::Signal { signo, all, pid: None })?;
    Ok(())
}

/// Kills the sandbox's host processes and waits (up to 10 s) until they
/// are gone; they may not be this process's children.
fn take_down(c: &Container) -> anyhow::Result<()> {
    for p in [c.sentry, c.gofer] {
        if p.alive() {
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        }
    }
    // Whatever else is in the sandbox's cgroup goes too: a stub caught
    // between its fork and its adoption when the Sentry died has no tracer
    // to take it along.
    for d in &c.cgroups {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    // A paused sandbox dies only once thawed.
    if c.status == Status::Paused {
        let _ = super::stats::freeze(&c.cgroups, false);
    }
    for p in [c.sentry, c.gofer] {
        // Our own children (moat run) must be reaped to be gone.
        let _ = nix::sys::wait::waitpid(Pid::from_raw(p.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        if !p.wait_gone(std::time::Duration::from_secs(10)) {
            let _ = nix::sys::wait::waitpid(Pid::from_raw(p.pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            if p.alive() {
                bail!("the sandbox's process {} did not end", p.pid);
            }
        }
    }
    Ok(())
}

/// `moat delete ID [--force]`.
pub fn delete(g: &Global, id: &str, force: bool) -> anyhow::Result<()> {
    let (locked, c) = match open(g, id) {
        Ok(x) => x,
        Err(_) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    match c.status() {
        Status::Stopped | Status::Created | Status::Creating => {}
        s if !force => bail!("cannot delete container {id} that is not stopped: {}", s.as_str()),
        _ => {}
    }
    take_down(&c)?;
    cgroups::remove(&c.cgroups)?;
    let mut stopped = c.oci_state();
    stopped["status"] = "stopped".into();
    if let Err(e) = hooks::run_all("poststop", c.hooks.as_ref().and_then(|h| h.poststop().as_ref()), &stopped) {
        g.warn(&format!("{id}: {e:#}"));
    }
    locked.remove()
}

/// `moat list [--format table|json] [--quiet]`.
pub fn list(g: &Global, json: bool, quiet: bool) -> anyhow::Result<()> {
    let all = StateRoot::new(&g.root)?.list()?;
    if quiet {
        for c in &all {
            println!("{}", c.id);
        }
        return Ok(());
    }
    if json {
        let docs: Vec<serde_json::Value> = all.iter().map(Container::oci_state).collect();
        println!("{}", serde_json::to_string(&docs).context("encode list")?);
        return Ok(());
    }
    let rows: Vec<[String; 6]> = all
        .iter()
        .map(|c| {
            let st = c.status();
            let pid = if st == Status::Stopped { 0 } else { c.sentry.pid };
            let bundle = c.bundle.display().to_string();
            [c.id.clone(), pid.to_string(), st.as_str().into(), bundle, c.created.clone(), "root".into()]
        })
        .collect();
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let width = |i: usize| rows.iter().map(|r| r[i].len()).chain([head[i].len()]).max().unwrap_or(0);
    let w: Vec<usize> = (0..5).map(width).collect();
    for r in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = (0..5).map(|i| format!("{:w$}", r[i], w = w[i])).collect();
        println!("{}   {}", cells.join("   "), r[5]);
    }
    Ok(())
}

/// Host pids of the sandbox: the Sentry, its stubs, the Gofer.
pub fn host_pids(locked: &Locked, c: &Container) -> anyhow::Result<Vec<i32>> {
    let mut pids = vec![c.sentry.pid];
    if let Reply::Pids { stubs, .. } = ask(locked, &Request::Pids)? {
        pids.extend(stubs);
    }
    if c.gofer.alive() {
        pids.push(c.gofer.pid);
    }
    Ok(pids)
}

/// `moat ps ID [--format table|json]`: the sandbox's host processes, as
/// containerd (json) and `docker top` (table) read them.
pub fn ps(g: &Global, id: &str, json: bool) -> anyhow::Result<()> {
    let (locked, c) = open(g, id)?;
    if c.status() == Status::Stopped {
        bail!("container {id} is not running");
    }
    let pids = host_pids(&locked, &c)?;
    if json {
        println!("{}", serde_json::to_string(&pids).context("encode pids")?);
        return Ok(());
    }
    println!("{:>8} {:>8} CMD", "PID", "PPID");
    for pid in pids {
        let Ok(p) = procfs::process::Process::new(pid) else { continue };
        let ppid = p.stat().map(|s| s.ppid).unwrap_or(0);
        let cmd = p.cmdline().map(|c| c.join(" ")).unwrap_or_default();
        println!("{pid:>8} {ppid:>8} {cmd}");
    }
    Ok(())
}

/// `moat run ID`: create, start, and unless `detach`, wait for init and
/// delete; returns the exit status to exit with.
pub fn run(g: &Global, req: &super::create::CreateRequest<'_>, detach: bool) -> anyhow::Result<i32> {
    let c = super::create::create(g, req)?;
    if let Err(e) = start(g, req.id) {
        let _ = delete(g, req.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let status = wait_child(c.sentry.pid, g, req.id);
    let _ = delete(g, req.id, true);
    Ok(status)
}

/// Waits for the Sentry (our child), passing the usual terminating signals
/// this process gets on to the container's init.
fn wait_child(pid: i32, g: &Global, id: &str) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    forward_signals(g.root.join(id).join("control"));
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

fn forward_signals(control: std::path::PathBuf) {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2] {
        set.add(s);
    }
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_err() {
        return;
    }
    let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
        while let Ok(sig) = set.wait() {
            let _ = control::call(Path::new(&control), &Request::Signal { signo: sig as i32, all: false, pid: None });
        }
    });
}
