//! The control socket between the runtime commands and a running Sentry:
//! one JSON request and one JSON reply per connection over
//! `SOCK_SEQPACKET`. The socket lives in the container's state directory,
//! whose path can exceed the 107 bytes a socket address holds (docker's
//! do), so it is bound and reached through an open descriptor of that
//! directory (`/proc/self/fd/N/control`).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{Context, bail};
use nix::sys::socket::{
    AddressFamily, Backlog, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind,
    connect, listen, recvmsg, send, sendmsg, socket,
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
        /// One process instead of init (one that `Exec` started).
        #[serde(default)]
        pid: Option<i32>,
    },
    /// The sandbox's processes.
    Pids,
    /// Start a new process (`moat exec`), with the three descriptors sent
    /// alongside as its standard streams. The connection stays open: the
    /// reply is `Started`, then `Exited` when it ends; closing the
    /// connection first kills it.
    Exec {
        /// What to run.
        process: ExecProcess,
    },
}

/// A process for [`Request::Exec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecProcess {
    /// Arguments (argv[0] searched along PATH).
    pub args: Vec<String>,
    /// Environment, K=V.
    pub env: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// User.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// File mode creation mask.
    pub umask: u32,
    /// The program, when it is not `args[0]` searched along PATH (hooks).
    #[serde(default)]
    pub program: Option<String>,
    /// Start with no_new_privs set.
    #[serde(default)]
    pub no_new_privs: bool,
    /// The process's capability sets as `moat boot --caps` takes them
    /// (inheritable, permitted, effective, bounding, ambient, in hex); none
    /// gives Linux's defaults for the user.
    #[serde(default)]
    pub caps: Option<String>,
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
    /// An `Exec` process started with this pid in the sandbox.
    Started {
        /// Its pid.
        pid: i32,
    },
    /// An `Exec` process ended; its status as a shell shows it.
    Exited {
        /// Exit code, or 128 + the signal that killed it.
        status: i32,
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
    call_with_fds(path, req, &[]).map(|(reply, _)| reply)
}

/// Sends `req` with descriptors `fds`, and returns the first reply and the
/// connection (for later replies, see [`next_reply`]).
pub fn call_with_fds(path: &Path, req: &Request, fds: &[RawFd]) -> anyhow::Result<(Reply, OwnedFd)> {
    let (dir, name) = split(path)?;
    let dirfd = open_dir(dir)?;
    let sock =
        socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).context("control socket")?;
    connect(sock.as_raw_fd(), &address_in(&dirfd, name)?)
        .with_context(|| format!("connect to the sandbox at {}", path.display()))?;
    let text = serde_json::to_vec(req).context("encode request")?;
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(sock.as_raw_fd(), &[IoSlice::new(&text)], cmsgs, MsgFlags::empty(), None)
        .context("send request to the sandbox")?;
    let reply = next_reply(&sock)?;
    Ok((reply, sock))
}

/// The next reply on a connection made by [`call_with_fds`].
pub fn next_reply(sock: &OwnedFd) -> anyhow::Result<Reply> {
    let (reply, _) = receive(sock).context("read the sandbox's reply")?;
    serde_json::from_slice(&reply).context("parse the sandbox's reply")
}

/// One message and the descriptors that came with it.
fn receive(sock: &OwnedFd) -> anyhow::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = nix::cmsg_space!([RawFd; 8]);
    let (n, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(msg) => {
                let mut fds = Vec::new();
                for c in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(raw) = c {
                        // SAFETY: the kernel just installed these descriptors
                        // in this process for this message; nothing else owns them.
                        fds.extend(raw.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                    }
                }
                break (msg.bytes, fds);
            }
        }
    };
    if n == 0 {
        bail!("the sandbox closed the connection");
    }
    buf.truncate(n);
    Ok((buf, fds))
}

/// A request as the Sentry receives it.
pub struct Incoming {
    /// What is asked.
    pub request: Request,
    /// Descriptors sent with it.
    pub fds: Vec<OwnedFd>,
    conn: OwnedFd,
}

impl Incoming {
    /// Sends `reply` (more than one for `Exec`).
    pub fn reply(&self, reply: &Reply) {
        if let Ok(text) = serde_json::to_vec(reply) {
            let _ = send(self.conn.as_raw_fd(), &text, MsgFlags::empty());
        }
    }

    /// A second handle on the connection, for a thread that watches it.
    pub fn try_clone_conn(&self) -> std::io::Result<OwnedFd> {
        self.conn.try_clone()
    }
}

/// Serves requests on `listener` forever, handing each to `handle`, which
/// replies through the [`Incoming`].
pub fn serve(listener: OwnedFd, mut handle: impl FnMut(Incoming)) {
    loop {
        let conn = match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNABORTED) => continue,
            Err(_) => return,
        };
        let refuse = |conn: OwnedFd, fds: Vec<OwnedFd>, message: String| {
            Incoming { request: Request::Pids, fds, conn }.reply(&Reply::Error { message });
        };
        match receive(&conn) {
            Ok((m, fds)) => match serde_json::from_slice::<Request>(&m) {
                Ok(request) => handle(Incoming { request, fds, conn }),
                Err(e) => refuse(conn, fds, format!("bad request: {e}")),
            },
            Err(e) => refuse(conn, Vec::new(), format!("{e:#}")),
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
            serve(listener, |inc| {
                let r = match inc.request {
                    Request::Pids => Reply::Pids { sandbox: vec![1], stubs: vec![42] },
                    Request::Signal { signo: 0, .. } => Reply::Error { message: "no".into() },
                    Request::Exec { .. } => Reply::Started { pid: inc.fds.len() as i32 },
                    _ => Reply::Ok,
                };
                inc.reply(&r);
            })
        });
        assert_eq!(call(&path, &Request::Start).unwrap(), Reply::Ok);
        assert_eq!(call(&path, &Request::Pids).unwrap(), Reply::Pids { sandbox: vec![1], stubs: vec![42] });
        let r = call(&path, &Request::Signal { signo: 0, all: false, pid: None }).unwrap();
        assert_eq!(r, Reply::Error { message: "no".into() });
        let process = ExecProcess {
            args: vec!["x".into()],
            env: vec![],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            groups: vec![],
            umask: 0o22,
            program: None,
            no_new_privs: false,
            caps: None,
        };
        let (r, _conn) = call_with_fds(&path, &Request::Exec { process }, &[0, 1, 2]).unwrap();
        assert_eq!(r, Reply::Started { pid: 3 }, "three descriptors arrived");
        drop(server);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
