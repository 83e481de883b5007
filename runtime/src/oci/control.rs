//! The control socket between the runtime commands and a running Sentry:
//! one JSON request and one JSON reply per connection over
//! `SOCK_SEQPACKET`. The socket lives in the container's state directory,
//! whose path can exceed the 107 bytes a socket address holds (docker's
//! do), so it is bound and reached through an open descriptor of that
//! directory (`/proc/self/fd/N/control`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, bail};
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, connect, listen, recv, send, socket,
};
use serde::{Deserialize, Serialize};

/// Largest message either side sends.
const MAX_MESSAGE: usize = 1 << 20;

/// What a runtime command asks of the Sentry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Let init run (`moat start`).
    Start,
    /// Send a signal from outside the sandbox to init, or to every process.
    Signal {
        /// Signal number.
        signo: i32,
        /// Every process, not just init.
        all: bool,
    },
    /// The sandbox's processes.
    Pids,
}

/// The Sentry's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    /// Done.
    Ok,
    /// Processes: sandbox pids, and the host pids of the stubs running them.
    Pids {
        /// Pids inside the sandbox.
        sandbox: Vec<i32>,
        /// Host pids of the stub processes.
        stubs: Vec<i32>,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// The address of `name` in the directory open as `dir`.
fn address_in(dir: &OwnedFd, name: &str) -> anyhow::Result<UnixAddr> {
    let path = format!("/proc/self/fd/{}/{name}", dir.as_raw_fd());
    UnixAddr::new(path.as_str()).context("control socket address")
}

fn open_dir(dir: &Path) -> anyhow::Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", dir.display()))
}

/// Binds and listens on `path` (its directory must exist).
pub fn listen_at(path: &Path) -> anyhow::Result<OwnedFd> {
    let (dir, name) = split(path)?;
    let dirfd = open_dir(dir)?;
    let sock =
        socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).context("control socket")?;
    bind(sock.as_raw_fd(), &address_in(&dirfd, name)?).with_context(|| format!("bind {}", path.display()))?;
    listen(&sock, Backlog::new(16).context("backlog")?).with_context(|| format!("listen on {}", path.display()))?;
    Ok(sock)
}

fn split(path: &Path) -> anyhow::Result<(&Path, &str)> {
    let dir = path.parent().context("control socket path has no directory")?;
    let name = path.file_name().and_then(|n| n.to_str()).context("control socket path has no name")?;
    Ok((dir, name))
}

/// Sends `req` to the Sentry listening at `path` and returns its reply.
pub fn call(path: &Path, req: &Request) -> anyhow::Result<Reply> {
    let (dir, name) = split(path)?;
    let dirfd = open_dir(dir)?;
    let sock =
        socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).context("control socket")?;
    connect(sock.as_raw_fd(), &address_in(&dirfd, name)?)
        .with_context(|| format!("connect to the sandbox at {}", path.display()))?;
    let text = serde_json::to_vec(req).context("encode request")?;
    send(sock.as_raw_fd(), &text, MsgFlags::empty()).context("send request to the sandbox")?;
    let reply = receive(&sock).context("read the sandbox's reply")?;
    serde_json::from_slice(&reply).context("parse the sandbox's reply")
}

fn receive(sock: &OwnedFd) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let n = loop {
        match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r?,
        }
    };
    if n == 0 {
        bail!("the sandbox closed the connection");
    }
    buf.truncate(n);
    Ok(buf)
}

/// Serves requests on `listener` forever, answering each with `handle`.
pub fn serve(listener: OwnedFd, mut handle: impl FnMut(Request) -> Reply) {
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(fd) => unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNABORTED) => continue,
            Err(_) => return,
        };
        let reply = match receive(&conn).map(|m| serde_json::from_slice::<Request>(&m)) {
            Ok(Ok(req)) => handle(req),
            Ok(Err(e)) => Reply::Error { message: format!("bad request: {e}") },
            Err(e) => Reply::Error { message: format!("{e:#}") },
        };
        if let Ok(text) = serde_json::to_vec(&reply) {
            let _ = send(conn.as_raw_fd(), &text, MsgFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_reach_the_server_through_a_long_directory_path() {
        let base = std::env::temp_dir().join(format!("moat-control-{}", std::process::id()));
        // Longer than a socket address can hold.
        let dir = base.join("d".repeat(120)).join("e".repeat(40));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control");
        let listener = listen_at(&path).unwrap();
        let server = std::thread::spawn(move || {
            serve(listener, |req| match req {
                Request::Pids => Reply::Pids { sandbox: vec![1], stubs: vec![42] },
                Request::Signal { signo: 0, .. } => Reply::Error { message: "no".into() },
                _ => Reply::Ok,
            })
        });
        assert_eq!(call(&path, &Request::Start).unwrap(), Reply::Ok);
        assert_eq!(call(&path, &Request::Pids).unwrap(), Reply::Pids { sandbox: vec![1], stubs: vec![42] });
        let r = call(&path, &Request::Signal { signo: 0, all: false }).unwrap();
        assert_eq!(r, Reply::Error { message: "no".into() });
        drop(server);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
