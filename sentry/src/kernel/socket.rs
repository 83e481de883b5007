//! Unix sockets of the sandbox. Each is a host Unix socket made by the
//! Sentry, so the host supplies the data path whole (stream, datagram and
//! seqpacket semantics, buffering, shutdown, EOF); what the host cannot
//! know is kept here: names, listeners, the sandbox credentials behind
//! SO_PEERCRED, and the sandbox files riding in SCM_RIGHTS messages.
//!
//! Names never reach the host: no host socket is ever bound. A connection
//! is a host socketpair made by `connect`, one end taking the place of the
//! connecting socket's host file, the other queued on the listener for
//! `accept`. A bound datagram socket is one end of a host datagram pair
//! whose other end (its inlet) is what senders send on.
//!
//! Passing a file: the sender's host descriptor goes in a real SCM_RIGHTS
//! message (so the host keeps the open file description alive in flight,
//! exactly as Linux does), and the sender's `OpenFile` waits in the pair's
//! in-flight list. The receiver gets a host descriptor of the same
//! description and finds the `OpenFile` it belongs to with `kcmp`, so the
//! receiving process holds the very same open file (offset, flags, locks),
//! as on Linux.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;

use super::fd_table::OpenFile;

/// Credentials as SO_PEERCRED and SCM_CREDENTIALS give them, in the
/// sandbox's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ucred {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Ucred {
    /// The 12 bytes of `struct ucred`.
    pub fn bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.pid.to_le_bytes());
        b[4..8].copy_from_slice(&self.uid.to_le_bytes());
        b[8..].copy_from_slice(&self.gid.to_le_bytes());
        b
    }
}

/// What both ends of a connected pair share.
#[derive(Debug, Default)]
pub struct Pair {
    /// Files sent and not received yet.
    inflight: Mutex<Vec<Arc<OpenFile>>>,
}

impl Pair {
    /// Records files just sent on the pair.
    pub fn sent(&self, files: Vec<Arc<OpenFile>>) {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner()).extend(files);
    }

    /// Takes back the sent file whose open file description host
    /// descriptor `fd` (just received) refers to.
    pub fn received(&self, fd: BorrowedFd<'_>) -> Option<Arc<OpenFile>> {
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let at = inflight.iter().position(|f| same_description(f.fd.as_fd(), fd))?;
        Some(inflight.remove(at))
    }
}

/// A Unix socket's name: a path (as given to bind) or an abstract name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// Bound to a file system path; the bytes are the path as bound.
    Path(Vec<u8>),
    /// An abstract name (without its leading NUL).
    Abstract(Vec<u8>),
}

impl UnixName {
    /// `struct sockaddr_un` bytes for it, with its length.
    pub fn sockaddr(name: Option<&UnixName>) -> Vec<u8> {
        let mut b = (libc::AF_UNIX as u16).to_le_bytes().to_vec();
        match name {
            Some(UnixName::Path(p)) => {
                b.extend_from_slice(p);
                b.push(0);
            }
            Some(UnixName::Abstract(n)) => {
                b.push(0);
                b.extend_from_slice(n);
            }
            None => {}
        }
        b
    }
}

/// Where a name leads in the sandbox's registry: the bound socket's inode
/// for a path (so renames and links work as on Linux), the name itself for
/// an abstract one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameKey {
    /// The socket file's device and inode in the sandbox's tree.
    Inode(u64, u64),
    /// An abstract name.
    Abstract(Vec<u8>),
}

/// Bound sockets of the sandbox, by name. An entry lives as long as its
/// socket: a closed one no longer answers, as on Linux.
#[derive(Debug, Default)]
pub struct UnixNames {
    bound: Mutex<HashMap<NameKey, Weak<OpenFile>>>,
}

impl UnixNames {
    /// Registers `file` under `key`; EADDRINUSE if a live socket has it.
    pub fn bind(&self, key: NameKey, file: &Arc<OpenFile>) -> Result<(), Errno> {
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        bound.retain(|_, w| w.strong_count() > 0);
        if bound.contains_key(&key) {
            return Err(Errno::EADDRINUSE);
        }
        bound.insert(key, Arc::downgrade(file));
        Ok(())
    }

    /// The live socket bound under `key`.
    pub fn find(&self, key: &NameKey) -> Option<Arc<OpenFile>> {
        self.bound.lock().unwrap_or_else(|p| p.into_inner()).get(key).and_then(Weak::upgrade)
    }
}

/// A connection waiting in a listener's queue.
#[derive(Debug)]
pub struct Pending {
    /// The accepting side's host socket.
    pub fd: OwnedFd,
    /// The connecting process's credentials.
    pub peer: Ucred,
    /// The connecting socket's name, if it had one.
    pub peer_name: Option<UnixName>,
    /// The pair both sides share.
    pub pair: Arc<Pair>,
}

/// A listening socket: its queue of connections, and an eventfd in
/// semaphore mode counting them, which is the listening socket's host
/// descriptor (so poll and epoll see a pending connection as POLLIN).
#[derive(Debug)]
pub struct Listener {
    queue: Mutex<VecDeque<Pending>>,
    /// The listening process's credentials (the connector's SO_PEERCRED).
    pub creds: Ucred,
    backlog: AtomicUsize,
    /// shutdown(2) was called on it: accept fails with EINVAL.
    shut: std::sync::atomic::AtomicBool,
}

impl Listener {
    /// A listener with `backlog`, and its readiness eventfd.
    pub fn new(creds: Ucred, backlog: usize) -> Result<(Arc<Self>, OwnedFd), Errno> {
        let flags = libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE;
        // SAFETY: a plain system call without pointers.
        let r = unsafe { libc::eventfd(0, flags) };
        Errno::result(r)?;
        // SAFETY: eventfd returned a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(r) };
        let l =
            Listener { queue: Mutex::default(), creds, backlog: AtomicUsize::new(backlog), shut: Default::default() };
        Ok((Arc::new(l), fd))
    }

    /// shutdown(2) of the listening socket: accepts, waiting ones too, fail
    /// with EINVAL from now on, as Linux's do.
    pub fn shut_down(&self, ready: BorrowedFd<'_>) {
        self.shut.store(true, Ordering::Release);
        // Readable for good: every waiter wakes and finds the mark.
        let _ = nix::unistd::write(ready, &(u64::MAX / 2).to_ne_bytes());
    }

    /// Changes the backlog (listen on a listening socket).
    pub fn set_backlog(&self, backlog: usize) {
        self.backlog.store(backlog, Ordering::Relaxed);
    }

    /// Queues a connection; EAGAIN (and the connection back) when the
    /// backlog is full. `ready` is the listening socket's host descriptor.
    pub fn push(&self, p: Pending, ready: BorrowedFd<'_>) -> Result<(), (Errno, Pending)> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() > self.backlog.load(Ordering::Relaxed) {
            return Err((Errno::EAGAIN, p));
        }
        q.push_back(p);
        // Counted while the queue is locked, so accept never finds the
        // count ahead of the queue.
        if let Err(e) = nix::unistd::write(ready, &1u64.to_ne_bytes()) {
            let p = q.pop_back();
            return match p {
                Some(p) => Err((e, p)),
                None => Ok(()),
            };
        }
        Ok(())
    }

    /// Takes the oldest connection, if one is counted on `ready`.
    pub fn pop(&self, ready: BorrowedFd<'_>) -> Result<Pending, Errno> {
        if self.shut.load(Ordering::Acquire) {
            return Err(Errno::EINVAL);
        }
        let mut one = [0u8; 8];
        nix::unistd::read(ready, &mut one)?;
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front().ok_or(Errno::EAGAIN)
    }
}

/// What a socket is doing.
#[derive(Debug, Clone, Default)]
pub enum Role {
    /// Unconnected, or connected to a peer.
    #[default]
    Plain,
    /// Listening for connections.
    Listening(Arc<Listener>),
}

/// The changing part of a socket end.
#[derive(Debug, Clone, Default)]
pub struct EndState {
    /// The peer's credentials, once connected.
    pub peer: Option<Ucred>,
    /// The pair it belongs to.
    pub pair: Arc<Pair>,
    /// Its own name, once bound.
    pub local: Option<UnixName>,
    /// The peer's name (a connected socket's view of where it connected).
    pub remote: Option<UnixName>,
    /// Connected (a socketpair end, or after connect or accept).
    pub connected: bool,
    /// Listening or not.
    pub role: Role,
    /// A datagram socket's default destination (after connect): the host
    /// socket datagrams for it are sent on.
    pub dgram_target: Option<Arc<OwnedFd>>,
    /// A bound datagram socket's inlet: the host socket others send to it on.
    pub dgram_inlet: Option<Arc<OwnedFd>>,
}

/// One end of a Unix socket, as the sandbox sees it.
#[derive(Debug)]
pub struct SocketEnd {
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    pub kind: i32,
    state: Mutex<EndState>,
}

impl SocketEnd {
    /// An end of type `kind` in `state`.
    pub fn new(kind: i32, state: EndState) -> Self {
        SocketEnd { kind, state: Mutex::new(state) }
    }

    /// Its state, locked.
    pub fn state(&self) -> std::sync::MutexGuard<'_, EndState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its listener, when it listens.
    pub fn listener(&self) -> Option<Arc<Listener>> {
        match &self.state().role {
            Role::Listening(l) => Some(l.clone()),
            Role::Plain => None,
        }
    }
}

/// Replaces the host file behind descriptor `target` with `with`'s (the
/// descriptor number, and so the `OpenFile`, stays): a socket that connects
/// or listens changes host object.
pub fn replace_host(target: BorrowedFd<'_>, with: OwnedFd) -> Result<(), Errno> {
    // SAFETY: both descriptors are open; dup3 closes the old file of
    // `target` and installs `with`'s in its place atomically.
    let r = unsafe { libc::dup3(with.as_raw_fd(), target.as_raw_fd(), libc::O_CLOEXEC) };
    Errno::result(r).map(drop)
}

/// Whether two descriptors of this process share one open file description.
fn same_description(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp only compares kernel objects of this process; it takes
    // no pointers.
    let pid = unsafe { libc::getpid() };
    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a.as_raw_fd(), b.as_raw_fd()) };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_descriptor_finds_the_file_it_was_sent_as() {
        let (r, w) = nix::unistd::pipe().unwrap();
        let read_end = OpenFile::new(r, b"pipe:".to_vec(), libc::O_RDONLY);
        let write_end = OpenFile::new(w, b"pipe:".to_vec(), libc::O_WRONLY);
        let pair = Pair::default();
        pair.sent(vec![read_end.clone(), write_end.clone()]);
        let dup = write_end.fd.try_clone().unwrap();
        let got = pair.received(dup.as_fd()).expect("found");
        assert!(Arc::ptr_eq(&got, &write_end));
        assert!(pair.received(dup.as_fd()).is_none(), "taken once");
        let other = std::fs::File::open("/proc/self/exe").unwrap();
        assert!(pair.received(other.as_fd()).is_none());
    }
}
