//! The Sentry's side of an OCI container: the handshake with `create`,
//! the control socket, and waiting for `start`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use anyhow::{Context, bail};
use moat_sentry::kernel::exec::ExecError;
use moat_sentry::kernel::sigqueue::SigInfo;
use moat_sentry::kernel::{InitProcess, KernelRef, Task, outside};
use nix::sys::socket::{MsgFlags, recv, send};

use super::control::{self, Incoming, Reply, Request};

/// Waits for `create` to say "go": the sandbox's host processes are in
/// their cgroups by then, so every stub forked later is too.
pub fn wait_for_go(sock: &OwnedFd) -> anyhow::Result<()> {
    let mut buf = [0u8; 16];
    let n = loop {
        match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.context("wait for the runtime")?,
        }
    };
    if &buf[..n] != b"go" {
        bail!("the runtime did not say go");
    }
    Ok(())
}

/// Tells `create` how the set-up went ("ok" or "error: …").
pub fn report(sock: &OwnedFd, message: &str) {
    let _ = send(sock.as_raw_fd(), message.as_bytes(), MsgFlags::empty());
}

/// Serves the control socket, reports readiness, waits for `start`, then
/// runs init to its end.
pub fn serve_then_run(
    args: &crate::boot_cmd::BootArgs,
    ready: OwnedFd,
    kernel: KernelRef,
    task: Task,
) -> anyhow::Result<i32> {
    let path = args.control().context("OCI mode needs --control")?;
    let listener = match control::listen_at(path) {
        Ok(l) => l,
        Err(e) => {
            report(&ready, &format!("error: {e:#}"));
            return Ok(1);
        }
    };
    let (start_tx, start_rx) = mpsc::channel::<()>();
    let k = kernel.clone();
    let spawned = std::thread::Builder::new().name("control".into()).spawn(move || {
        control::serve(listener, |inc| handle(&k, &start_tx, inc));
    });
    if let Err(e) = spawned {
        report(&ready, &format!("error: start the control thread: {e}"));
        return Ok(1);
    }
    report(&ready, "ok");
    drop(ready);
    if start_rx.recv().is_err() {
        bail!("the control socket closed before start");
    }
    forward_terminal_signals(&kernel);
    crate::boot_cmd::run_init(&kernel, task)
}

fn handle(k: &KernelRef, start: &mpsc::Sender<()>, inc: Incoming) {
    let reply = match &inc.request {
        Request::Start => match start.send(()) {
            Ok(()) => Reply::Ok,
            Err(_) => Reply::Error { message: "the container has already started".into() },
        },
        &Request::Signal { signo, all, pid } => signal(k, signo, all, pid),
        Request::Pids => Reply::Pids { sandbox: k.task_ids(), stubs: k.stub_pids() },
        Request::Exec { .. } => return exec(k, inc),
    };
    inc.reply(&reply);
}

fn signal(k: &KernelRef, signo: i32, all: bool, pid: Option<i32>) -> Reply {
    if !(1..=64).contains(&signo) {
        return Reply::Error { message: format!("invalid signal {signo}") };
    }
    // From outside the sandbox: no sender inside it (pid 0), and init's
    // default action applies only where Linux would apply it for a signal
    // from an ancestor namespace.
    let info = SigInfo::user(signo, 0, 0);
    let targets = match (all, pid) {
        (true, _) => k.task_ids(),
        (false, Some(p)) => vec![p],
        (false, None) => vec![1],
    };
    let mut sent = false;
    for pid in targets {
        sent |= k.send_signal(pid, info).is_ok();
    }
    if sent { Reply::Ok } else { Reply::Error { message: "no such process in the container".into() } }
}

/// Starts an `Exec` process; its connection then carries its end, and its
/// closing (the waiting `moat exec` killed) kills the process.
fn exec(k: &KernelRef, inc: Incoming) {
    let Request::Exec { process } = &inc.request else { return };
    let Some(stdio) = three(&inc.fds) else {
        return inc.reply(&Reply::Error { message: "exec needs three standard streams".into() });
    };
    let init = InitProcess {
        stdio,
        cwd: process.cwd.clone().into_bytes(),
        argv: process.args.iter().map(|a| a.clone().into_bytes()).collect(),
        envp: process.env.iter().map(|e| e.clone().into_bytes()).collect(),
        creds: match crate::boot_cmd::start_creds(
            (process.uid, process.gid, &process.groups),
            process.no_new_privs,
            process.caps.as_deref(),
        ) {
            Ok(c) => c,
            Err(e) => return inc.reply(&Reply::Error { message: format!("exec: {e:#}") }),
        },
        rlimits: Vec::new(),
        umask: process.umask,
        ignored_signals: Vec::new(),
        program: process.program.clone().map(String::into_bytes),
        extra_fds: Vec::new(),
    };
    let arg0 = process.args.first().cloned().unwrap_or_default();
    let started = match outside::spawn(k, init) {
        Ok(s) => s,
        Err(ExecError::Errno(e)) => {
            return inc.reply(&Reply::Error { message: format!("exec {arg0}: {}", lowercase_first(e.desc())) });
        }
        Err(e) => return inc.reply(&Reply::Error { message: format!("exec {arg0}: {e}") }),
    };
    let pid = started.pid;
    inc.reply(&Reply::Started { pid });
    let ended = Arc::new(AtomicBool::new(false));
    let (k2, ended2) = (k.clone(), ended.clone());
    let watcher = inc.try_clone_conn().ok();
    let _ = std::thread::Builder::new().name(format!("exec-{pid}")).spawn(move || {
        let status = started.ended.recv().map_or(128 + libc::SIGKILL, |s| s.shell_code());
        ended2.store(true, Ordering::Release);
        inc.reply(&Reply::Exited { status });
    });
    if watcher.is_some() {
        let _ = std::thread::Builder::new().name(format!("exec-{pid}-caller")).spawn(move || {
            let mut b = [0u8; 1];
            if let Some(conn) = watcher {
                while let Err(nix::errno::Errno::EINTR) = recv(conn.as_raw_fd(), &mut b, MsgFlags::empty()) {}
            }
            if !ended.load(Ordering::Acquire) {
                let _ = k2.send_signal(pid, SigInfo::user(libc::SIGKILL, 0, 0));
            }
        });
    }
}

fn three(fds: &[OwnedFd]) -> Option<[OwnedFd; 3]> {
    match fds {
        [a, b, c] => Some([a.try_clone().ok()?, b.try_clone().ok()?, c.try_clone().ok()?]),
        _ => None,
    }
}

/// Signals a terminal sends its foreground (the Sentry, with a console)
/// that belong to the sandbox.
fn terminal_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal::*;
    let mut set = nix::sys::signal::SigSet::empty();
    for s in [SIGWINCH, SIGINT, SIGQUIT, SIGTSTP, SIGHUP] {
        set.add(s);
    }
    set
}

/// Blocks the terminal's signals in this thread and the threads it starts
/// later: the Sentry must not stop or die of a Ctrl-C meant for the sandbox.
pub fn block_terminal_signals() {
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&terminal_signals()), None);
}

/// Passes the terminal's signals to the foreground process group of init's
/// session (init's own until a shell moves a job there). They come from
/// outside the sandbox's PID namespace, so init ignores those it has no
/// handler for, as Linux's init of a container does.
fn forward_terminal_signals(kernel: &KernelRef) {
    let k = kernel.clone();
    let _ = std::thread::Builder::new().name("terminal".into()).spawn(move || {
        let set = terminal_signals();
        while let Ok(sig) = set.wait() {
            let info = SigInfo::user(sig as i32, 0, 0);
            let foreground = k.terminals.foreground_of_session(1).unwrap_or(1);
            let members = k.procs().group_members(foreground);
            for pid in members {
                let _ = k.send_signal(pid, info);
            }
        }
    });
}

/// Brings `lo` up in this network namespace (a new one has it down).
pub fn loopback_up() -> anyhow::Result<()> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).context("socket")?;
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq we own,
    // which names an interface and holds its flags in the union.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error()).context("get lo flags");
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error()).context("set lo up");
        }
    }
    Ok(())
}

/// An errno's description as an error message goes ("no such file or
/// directory"): docker recognises that text to answer 127.
pub fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
