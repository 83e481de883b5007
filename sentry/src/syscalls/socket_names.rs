//! Named Unix sockets (`kernel::socket`): bind, listen, accept, connect,
//! and the names getsockname and getpeername report. Names live in the
//! Sentry's registry, never on the host: a path name is also a socket file
//! in the sandbox's tree (so stat, ls and unlink see it, and a second bind
//! gets EADDRINUSE), and connect finds the socket through that file's
//! inode, as Linux does.

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;

use super::socket::{socket_file, wrap};
use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::socket::{EndState, Listener, NameKey, Pair, Pending, Role, Ucred, UnixName, replace_host};
use crate::kernel::{KernelRef, Task};

/// `sizeof(struct sockaddr_un)`.
const SOCKADDR_UN: usize = 110;
/// Linux's cap on a listen backlog (`somaxconn`).
const SOMAXCONN: usize = 4096;

/// The name in `struct sockaddr_un` at `addr`; None for autobind (a
/// family alone).
pub(super) fn read_name(t: &Task, addr: u64, len: u32) -> Result<Option<UnixName>, Errno> {
    let len = len as usize;
    if !(2..=SOCKADDR_UN).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let b = t.mm.copy_in(addr, len)?;
    if u16::from_le_bytes([b[0], b[1]]) != libc::AF_UNIX as u16 {
        return Err(Errno::EINVAL);
    }
    let path = &b[2..];
    Ok(match path.first() {
        None => None,
        Some(0) => Some(UnixName::Abstract(path[1..].to_vec())),
        Some(_) => Some(UnixName::Path(path.iter().copied().take_while(|&c| c != 0).collect())),
    })
}

/// The registry key `name` leads to; for a path, the socket file must
/// exist and be a socket (ECONNREFUSED otherwise, as Linux).
fn key_of(k: &KernelRef, t: &Task, name: &UnixName) -> Result<NameKey, Errno> {
    match name {
        UnixName::Abstract(n) => Ok(NameKey::Abstract(n.clone())),
        UnixName::Path(p) => {
            let who = t.creds.actor();
            let found = k.vfs.lookup(&t.cwd, p, true, &who)?;
            k.vfs.release(found.handle);
            // Connecting writes to the socket file (`unix_find_bsd`).
            who.permission(&k.vfs.perm_stat(&found.stat), crate::vfs::access::MAY_WRITE)?;
            if found.stat.mode & libc::S_IFMT != libc::S_IFSOCK {
                return Err(Errno::ECONNREFUSED);
            }
            Ok(NameKey::Inode(found.stat.dev, found.stat.ino))
        }
    }
}

/// Writes `name` as a `sockaddr_un` to `addr` (cut to the caller's
/// length at `lenp`) and its full length to `lenp`.
fn write_name(t: &Task, addr: u64, lenp: u64, name: Option<&UnixName>) -> Result<(), Errno> {
    let room = i32::from_le_bytes(t.mm.copy_in(lenp, 4)?.try_into().map_err(|_| Errno::EFAULT)?);
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = UnixName::sockaddr(name);
    t.mm.copy_out(addr, &bytes[..bytes.len().min(room as usize)])?;
    t.mm.copy_out(lenp, &(bytes.len() as u32).to_le_bytes())
}

fn host_pair(kind: i32) -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut sv = [0 as RawFd; 2];
    // SAFETY: `sv` has room for the two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) };
    Errno::result(r)?;
    // SAFETY: socketpair returned two new descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// An abstract name of five hex digits, as Linux's autobind picks.
fn autobind_name() -> UnixName {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    UnixName::Abstract(format!("{:05x}", NEXT.fetch_add(1, Ordering::Relaxed) & 0xfffff).into_bytes())
}

/// Binds `f` to `name` (autobinding for None) in the registry, making the
/// socket file of a path name.
fn bind_name(k: &KernelRef, t: &Task, f: &Arc<OpenFile>, name: Option<UnixName>) -> Result<UnixName, Errno> {
    let name = name.unwrap_or_else(autobind_name);
    let key = match &name {
        UnixName::Abstract(n) => NameKey::Abstract(n.clone()),
        UnixName::Path(p) => {
            let who = t.creds.actor();
            let mode = libc::S_IFSOCK | (0o777 & !t.umask);
            k.vfs.mknod(&t.cwd, p, mode, &who).map_err(|e| if e == Errno::EEXIST { Errno::EADDRINUSE } else { e })?;
            let found = k.vfs.lookup(&t.cwd, p, false, &who)?;
            k.vfs.release(found.handle);
            NameKey::Inode(found.stat.dev, found.stat.ino)
        }
    };
    k.unix_names.bind(key, f)?;
    Ok(name)
}

fn me(t: &Task) -> Ucred {
    Ucred { pid: t.pid, uid: t.creds.uid, gid: t.creds.gid }
}

pub(super) fn bind(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    let s = f.socket.as_ref().ok_or(Errno::EOPNOTSUPP)?;
    let name = read_name(t, a[1], a[2] as u32)?;
    let bound = s.state().local.is_some();
    // Linux makes a path's socket file first (EADDRINUSE if it exists),
    // and only then finds the socket already bound (EINVAL, the new file
    // removed); an abstract name is checked against the socket first.
    if bound && !matches!(name, Some(UnixName::Path(_))) {
        return Err(Errno::EINVAL.into());
    }
    if bound && let Some(UnixName::Path(p)) = &name {
        let who = t.creds.actor();
        let mode = libc::S_IFSOCK | (0o777 & !t.umask);
        k.vfs.mknod(&t.cwd, p, mode, &who).map_err(|e| if e == Errno::EEXIST { Errno::EADDRINUSE } else { e })?;
        let _ = k.vfs.unlink(&t.cwd, p, false, &who);
        return Err(Errno::EINVAL.into());
    }
    let name = bind_name(k, t, &f, name)?;
    let mut st = s.state();
    if s.kind == libc::SOCK_DGRAM && !st.connected {
        // Datagrams for this name arrive through an inlet: the other end
        // of a host pair whose first end becomes this socket's host file.
        let (recv, inlet) = host_pair(libc::SOCK_DGRAM)?;
        replace_host(f.fd.as_fd(), recv)?;
        st.dgram_inlet = Some(Arc::new(inlet));
    }
    st.local = Some(name);
    Ok(0)
}

pub(super) fn listen(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    let s = f.socket.as_ref().ok_or(Errno::EOPNOTSUPP)?;
    if s.kind == libc::SOCK_DGRAM {
        return Err(Errno::EOPNOTSUPP.into());
    }
    let backlog = usize::try_from(int(a[1])).map_or(SOMAXCONN, |b| b.min(SOMAXCONN));
    if let Some(l) = s.listener() {
        l.set_backlog(backlog);
        return Ok(0);
    }
    if s.state().connected {
        return Err(Errno::EINVAL.into());
    }
    if s.state().local.is_none() {
        let name = bind_name(k, t, &f, None)?;
        s.state().local = Some(name);
    }
    let (l, ready) = Listener::new(me(t), backlog)?;
    // The listening socket's host file becomes its readiness eventfd.
    replace_host(f.fd.as_fd(), ready)?;
    s.state().role = Role::Listening(l);
    Ok(0)
}

fn nonblocking(f: &OpenFile) -> bool {
    f.flags() & libc::O_NONBLOCK != 0
}

fn do_accept(t: &mut Task, fd: i32, addr: u64, lenp: u64, flags: i32) -> SysResult {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let f = socket_file(t, fd)?;
    let s = f.socket.as_ref().ok_or(Errno::EOPNOTSUPP)?;
    let l = s.listener().ok_or(Errno::EINVAL)?;
    let p: Pending = loop {
        match l.pop(f.fd.as_fd()) {
            Ok(p) => break p,
            Err(Errno::EAGAIN) if nonblocking(&f) => return Err(Errno::EAGAIN.into()),
            Err(Errno::EAGAIN) => {
                if blocking::wait(t, Some(f.fd.as_fd()), libc::POLLIN, None).is_err() {
                    return Err(SysError::Restart(Restart::Sys));
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    let peer_name = p.peer_name.clone();
    let state = EndState {
        peer: Some(p.peer),
        pair: p.pair,
        local: s.state().local.clone(),
        remote: p.peer_name,
        connected: true,
        ..EndState::default()
    };
    let file = wrap(p.fd, s.kind, state, flags & libc::SOCK_NONBLOCK != 0);
    let n = t.fds.insert(file, flags & libc::SOCK_CLOEXEC != 0, 0)?;
    if addr != 0
        && let Err(e) = write_name(t, addr, lenp, peer_name.as_ref())
    {
        let _ = t.fds.remove(n);
        return Err(e.into());
    }
    Ok(n as i64)
}

pub(super) fn accept(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_accept(t, int(a[0]), a[1], a[2], 0)
}

pub(super) fn accept4(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_accept(t, int(a[0]), a[1], a[2], int(a[3]))
}

/// The bound socket `name` leads to, of the caller's type.
fn target(k: &KernelRef, t: &Task, name: &UnixName, kind: i32) -> Result<Arc<OpenFile>, Errno> {
    let key = key_of(k, t, name)?;
    let target = k.unix_names.find(&key).ok_or(Errno::ECONNREFUSED)?;
    let ts = target.socket.as_ref().ok_or(Errno::ECONNREFUSED)?;
    if ts.kind != kind {
        return Err(Errno::EPROTOTYPE);
    }
    Ok(target)
}

/// The inlet of the datagram socket bound to `name`.
pub(super) fn dgram_inlet(k: &KernelRef, t: &Task, name: &UnixName) -> Result<Arc<OwnedFd>, Errno> {
    let target = target(k, t, name, libc::SOCK_DGRAM)?;
    let inlet = target.socket.as_ref().and_then(|s| s.state().dgram_inlet.clone());
    inlet.ok_or(Errno::ECONNREFUSED)
}

pub(super) fn connect(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    let s = f.socket.as_ref().ok_or(Errno::EOPNOTSUPP)?;
    let name = read_name(t, a[1], a[2] as u32)?.ok_or(Errno::EINVAL)?;
    if s.kind == libc::SOCK_DGRAM {
        let inlet = dgram_inlet(k, t, &name)?;
        let mut st = s.state();
        st.dgram_target = Some(inlet);
        st.remote = Some(name);
        st.connected = true;
        return Ok(0);
    }
    if s.listener().is_some() {
        return Err(Errno::EINVAL.into());
    }
    if s.state().connected {
        return Err(Errno::EISCONN.into());
    }
    let target = target(k, t, &name, s.kind)?;
    let ts = target.socket.as_ref().ok_or(Errno::ECONNREFUSED)?;
    let l = ts.listener().ok_or(Errno::ECONNREFUSED)?;
    let (mine, theirs) = host_pair(s.kind)?;
    let pair = Arc::new(Pair::default());
    let mut pending = Pending { fd: theirs, peer: me(t), peer_name: s.state().local.clone(), pair: pair.clone() };
    loop {
        match l.push(pending, target.fd.as_fd()) {
            Ok(()) => break,
            Err((Errno::EAGAIN, back)) if !nonblocking(&f) => {
                // A full backlog: wait for room, as Linux's blocking connect.
                pending = back;
                let soon = std::time::Instant::now() + std::time::Duration::from_millis(5);
                if let Err(blocking::Woken::Signal) = blocking::wait(t, None, 0, Some(soon)) {
                    return Err(SysError::Restart(Restart::Sys));
                }
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
    replace_host(f.fd.as_fd(), mine)?;
    let mut st = s.state();
    st.peer = Some(l.creds);
    st.remote = ts.state().local.clone();
    st.pair = pair;
    st.connected = true;
    Ok(0)
}

pub(super) fn getsockname(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    match &f.socket {
        Some(s) => {
            let local = s.state().local.clone();
            write_name(t, a[1], a[2], local.as_ref())?;
            Ok(0)
        }
        None => super::socket::host_name(t, &f, a, false),
    }
}

pub(super) fn getpeername(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    match &f.socket {
        Some(s) => {
            let (connected, remote) = {
                let st = s.state();
                (st.connected, st.remote.clone())
            };
            if !connected {
                return Err(Errno::ENOTCONN.into());
            }
            write_name(t, a[1], a[2], remote.as_ref())?;
            Ok(0)
        }
        None => super::socket::host_name(t, &f, a, true),
    }
}
