//! Unix sockets (`kernel::socket`): socket, socketpair, the send and
//! receive calls with SCM_RIGHTS, shutdown, socket options and names. Every
//! host call is made non-blocking; a call that must wait waits in the
//! Sentry, interruptibly. Named sockets (bind, listen, accept, connect) are
//! not there yet; socket(AF_INET*) is EAFNOSUPPORT until networking comes.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags};

use super::rw::MAX_RW;
use super::{SysError, SysResult, int};
use crate::kernel::blocking::{self, Restart};
use crate::kernel::fd_table::OpenFile;
use crate::kernel::sigqueue::SigInfo;
use crate::kernel::socket::{EndState, Pair, SocketEnd, Ucred};
use crate::kernel::{KernelRef, Task};

/// Most descriptors one SCM_RIGHTS message carries (`SCM_MAX_FD`).
const SCM_MAX_FD: usize = 253;
/// `sizeof(struct cmsghdr)` on x86-64.
const CMSG_HDR: usize = 16;
/// Flags passed on to the host's send and receive calls.
const PASSED_FLAGS: i32 =
    libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_OOB | libc::MSG_EOR | libc::MSG_MORE | libc::MSG_WAITALL;

fn cmsg_align(n: usize) -> usize {
    (n + 7) & !7
}

/// The socket type of `ty` with its flags split off, for AF_UNIX.
fn unix_type(ty: i32, protocol: i32) -> Result<(i32, bool, bool), Errno> {
    if ty & !(0xf | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux takes SOCK_RAW for a Unix socket as SOCK_DGRAM.
    let kind = if ty & 0xf == libc::SOCK_RAW { libc::SOCK_DGRAM } else { ty & 0xf };
    if !matches!(kind, libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET) {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != 0 && protocol != libc::PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok((kind, ty & libc::SOCK_NONBLOCK != 0, ty & libc::SOCK_CLOEXEC != 0))
}

pub(super) fn wrap(fd: OwnedFd, kind: i32, state: EndState, nonblock: bool) -> Arc<OpenFile> {
    let ino = nix::sys::stat::fstat(&fd).map_or(0, |st| st.st_ino);
    let path = format!("socket:[{ino}]").into_bytes();
    let status = if nonblock { libc::O_NONBLOCK } else { 0 };
    OpenFile::socket(fd, path, libc::O_RDWR | status, SocketEnd::new(kind, state))
}

pub(super) fn socket(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (domain, ty, protocol) = (int(a[0]), int(a[1]), int(a[2]));
    if domain != libc::AF_UNIX {
        return Err(Errno::EAFNOSUPPORT.into());
    }
    let (kind, nonblock, cloexec) = unix_type(ty, protocol)?;
    // SAFETY: a plain system call without pointers.
    let r = unsafe { libc::socket(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0) };
    Errno::result(r)?;
    // SAFETY: socket returned a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(r) };
    let file = wrap(fd, kind, EndState::default(), nonblock);
    Ok(t.fds.insert(file, cloexec, 0)? as i64)
}

pub(super) fn socketpair(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (domain, ty, protocol) = (int(a[0]), int(a[1]), int(a[2]));
    match domain {
        libc::AF_UNIX => {}
        // What Linux answers for families without socketpair.
        libc::AF_INET | libc::AF_INET6 => return Err(Errno::EOPNOTSUPP.into()),
        _ => return Err(Errno::EAFNOSUPPORT.into()),
    }
    let (kind, nonblock, cloexec) = unix_type(ty, protocol)?;
    let mut sv = [0 as RawFd; 2];
    // SAFETY: `sv` has room for the two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, kind | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) };
    Errno::result(r)?;
    // SAFETY: socketpair returned two new descriptors nothing else owns.
    let (x, y) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
    // SO_PEERCRED of a socketpair: its creator, on both ends.
    let creator = Ucred { pid: t.pid, uid: t.creds.uid, gid: t.creds.gid };
    let state =
        EndState { peer: Some(creator), pair: Arc::new(Pair::default()), connected: true, ..EndState::default() };
    let fx = t.fds.insert(wrap(x, kind, state.clone(), nonblock), cloexec, 0)?;
    let fy = match t.fds.insert(wrap(y, kind, state, nonblock), cloexec, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = t.fds.remove(fx);
            return Err(e.into());
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fx.to_le_bytes());
    out[4..].copy_from_slice(&fy.to_le_bytes());
    if let Err(e) = t.mm.copy_out(a[3], &out) {
        let _ = t.fds.remove(fx);
        let _ = t.fds.remove(fy);
        return Err(e.into());
    }
    Ok(0)
}

/// The socket file at `fd`: ENOTSOCK for anything else.
pub(super) fn socket_file(t: &Task, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    let f = t.fds.get(fd)?;
    let host_socket = nix::sys::stat::fstat(&f.fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFSOCK);
    if f.socket.is_none() && !host_socket {
        return Err(Errno::ENOTSOCK);
    }
    Ok(f)
}

fn nonblocking(f: &OpenFile, flags: i32) -> bool {
    flags & libc::MSG_DONTWAIT != 0 || f.flags() & libc::O_NONBLOCK != 0
}

/// Sends `data` (with `rights` on its first part), waiting for room unless
/// the caller may not wait; a stream socket that must wait sends it all.
fn send_data(t: &Task, f: &OpenFile, data: &[u8], rights: Vec<Arc<OpenFile>>, flags: i32) -> SysResult {
    let target = f.socket.as_ref().and_then(|s| s.state().dgram_target.clone());
    send_on(t, f, target.as_deref(), data, rights, flags)
}

/// send_data on host socket `via` (a datagram destination's inlet) when
/// given, else on the socket's own host socket.
fn send_on(
    t: &Task,
    f: &OpenFile,
    via: Option<&OwnedFd>,
    data: &[u8],
    rights: Vec<Arc<OpenFile>>,
    flags: i32,
) -> SysResult {
    let host = via.map_or(f.fd.as_fd(), |v| v.as_fd());
    let host_flags = MsgFlags::from_bits_truncate((flags & PASSED_FLAGS) | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    let fds: Vec<RawFd> = rights.iter().map(|r| r.fd.as_raw_fd()).collect();
    let stream = f.socket.as_ref().is_none_or(|s| s.kind == libc::SOCK_STREAM);
    let mut rights = Some(rights);
    let mut done = 0usize;
    loop {
        let iov = [std::io::IoSlice::new(&data[done..])];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let control: &[ControlMessage<'_>] = if rights.is_some() && !fds.is_empty() { &cmsg } else { &[] };
        match nix::sys::socket::sendmsg::<()>(host.as_raw_fd(), &iov, control, host_flags, None) {
            Ok(n) => {
                if let (Some(r), Some(s)) = (rights.take(), &f.socket) {
                    s.state().pair.sent(r);
                }
                done += n;
                if done == data.len() || !stream || nonblocking(f, flags) {
                    return Ok(done as i64);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if nonblocking(f, flags) => {
                return if done > 0 { Ok(done as i64) } else { Err(Errno::EAGAIN.into()) };
            }
            Err(Errno::EAGAIN) => {}
            Err(Errno::EPIPE) => {
                if flags & libc::MSG_NOSIGNAL == 0 {
                    t.queue.send(SigInfo::user(libc::SIGPIPE, t.pid, t.creds.ruid));
                }
                return if done > 0 { Ok(done as i64) } else { Err(Errno::EPIPE.into()) };
            }
            Err(e) if done > 0 => {
                let _ = e;
                return Ok(done as i64);
            }
            Err(e) => return Err(e.into()),
        }
        if blocking::wait(t, Some(host), libc::POLLOUT, None).is_err() {
            return if done > 0 { Ok(done as i64) } else { Err(SysError::Restart(Restart::Sys)) };
        }
    }
}

/// What one receive got.
struct Received {
    len: usize,
    flags: i32,
    fds: Vec<OwnedFd>,
    creds: bool,
}

/// Receives into `buf`, waiting for data unless the caller may not wait.
fn recv_data(t: &Task, f: &OpenFile, buf: &mut [u8], flags: i32) -> Result<Received, SysError> {
    let host_flags = MsgFlags::from_bits_truncate(
        (flags & PASSED_FLAGS & !libc::MSG_WAITALL) | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
    );
    let mut space = nix::cmsg_space!([RawFd; SCM_MAX_FD], libc::ucred);
    loop {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        match nix::sys::socket::recvmsg::<()>(f.fd.as_raw_fd(), &mut iov, Some(&mut space), host_flags) {
            Ok(m) => {
                let mut got = Received { len: m.bytes, flags: m.flags.bits(), fds: Vec::new(), creds: false };
                if let Ok(cmsgs) = m.cmsgs() {
                    for c in cmsgs {
                        match c {
                            // SAFETY: the host just installed these
                            // descriptors in this process for us.
                            ControlMessageOwned::ScmRights(fds) => {
                                got.fds.extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }))
                            }
                            ControlMessageOwned::ScmCredentials(_) => got.creds = true,
                            _ => {}
                        }
                    }
                }
                return Ok(got);
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) if nonblocking(f, flags) => return Err(Errno::EAGAIN.into()),
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e.into()),
        }
        if blocking::wait(t, Some(f.fd.as_fd()), libc::POLLIN, None).is_err() {
            return Err(SysError::Restart(Restart::Sys));
        }
    }
}

/// The sender's files for an SCM_RIGHTS message, or SCM_CREDENTIALS
/// checked (the host never sees the claim: receivers get the sandbox's
/// own credentials of the peer).
fn parse_control(t: &Task, addr: u64, len: usize) -> Result<Vec<Arc<OpenFile>>, Errno> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let raw = t.mm.copy_in(addr, len.min(64 * 1024))?;
    let mut files = Vec::new();
    let mut at = 0usize;
    while at + CMSG_HDR <= raw.len() {
        let clen = u64::from_le_bytes(raw[at..at + 8].try_into().map_err(|_| Errno::EINVAL)?) as usize;
        let level = i32::from_le_bytes(raw[at + 8..at + 12].try_into().map_err(|_| Errno::EINVAL)?);
        let kind = i32::from_le_bytes(raw[at + 12..at + 16].try_into().map_err(|_| Errno::EINVAL)?);
        if clen < CMSG_HDR || at + clen > raw.len() || level != libc::SOL_SOCKET {
            return Err(Errno::EINVAL);
        }
        let body = &raw[at + CMSG_HDR..at + clen];
        match kind {
            libc::SCM_RIGHTS => {
                if body.len() / 4 + files.len() > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
                for c in body.chunks_exact(4) {
                    files.push(t.fds.get(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))?);
                }
            }
            libc::SCM_CREDENTIALS => {
                if body.len() != 12 {
                    return Err(Errno::EINVAL);
                }
                let pid = i32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                let uid = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let gid = u32::from_le_bytes([body[8], body[9], body[10], body[11]]);
                let root = t.creds.uid == 0;
                if !root && (pid != t.pid || uid != t.creds.uid || gid != t.creds.gid) {
                    return Err(Errno::EPERM);
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        at += cmsg_align(clen);
    }
    Ok(files)
}

/// Builds the control data the application receives: SCM_CREDENTIALS
/// first, then as many descriptors as fit in `room` bytes (the rest are
/// closed and MSG_CTRUNC is set, as Linux does). Returns the bytes and
/// the extra flags.
fn build_control(t: &mut Task, f: &OpenFile, got: Received, room: usize, cloexec: bool) -> (Vec<u8>, i32) {
    let mut out = Vec::new();
    let mut flags = 0;
    let push = |out: &mut Vec<u8>, kind: i32, body: &[u8]| {
        out.extend_from_slice(&((CMSG_HDR + body.len()) as u64).to_le_bytes());
        out.extend_from_slice(&libc::SOL_SOCKET.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(cmsg_align(out.len()), 0);
    };
    if got.creds {
        let peer = f.socket.as_ref().and_then(|s| s.state().peer).unwrap_or_default();
        if room >= CMSG_HDR + 12 {
            push(&mut out, libc::SCM_CREDENTIALS, &peer.bytes());
        } else {
            flags |= libc::MSG_CTRUNC;
        }
    }
    if !got.fds.is_empty() {
        let left = room.saturating_sub(out.len());
        let fit = left.saturating_sub(CMSG_HDR) / 4;
        let mut body = Vec::new();
        for (i, fd) in got.fds.into_iter().enumerate() {
            let file = f.socket.as_ref().and_then(|s| s.state().pair.received(fd.as_fd()));
            if i >= fit {
                flags |= libc::MSG_CTRUNC;
                continue;
            }
            let file = file.unwrap_or_else(|| {
                let fl = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap_or(libc::O_RDWR);
                OpenFile::new(fd, b"socket:[received]".to_vec(), fl)
            });
            match t.fds.insert(file, cloexec, 0) {
                Ok(n) => body.extend_from_slice(&n.to_le_bytes()),
                Err(_) => flags |= libc::MSG_CTRUNC,
            }
        }
        if !body.is_empty() {
            push(&mut out, libc::SCM_RIGHTS, &body);
        }
    }
    if out.len() > room {
        out.truncate(room);
    }
    (out, flags)
}

pub(super) fn sendmsg(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = data_socket(t, int(a[0]), true)?;
    let flags = int(a[2]);
    let hdr = t.mm.copy_in(a[1], 56)?;
    let word = |i: usize| u64::from_le_bytes(hdr[i..i + 8].try_into().unwrap_or([0; 8]));
    let via = destination(k, t, &f, word(0), word(8) as u32)?;
    let iov = super::rw::iovecs(t, word(16), word(24))?;
    let rights = parse_control(t, word(32), word(40) as usize)?;
    let mut data = Vec::new();
    for (base, len) in iov {
        let take = (len as usize).min(MAX_RW - data.len());
        data.extend_from_slice(&t.mm.copy_in(base, take)?);
    }
    match via {
        Some(inlet) => send_on(t, &f, Some(&inlet), &data, rights, flags),
        None => send_data(t, &f, &data, rights, flags),
    }
}

/// Where a send with destination `addr` (`len` bytes) goes: a datagram
/// socket's named destination's inlet; a connected stream refuses one
/// (EISCONN), an unconnected one cannot use it (EOPNOTSUPP).
fn destination(k: &KernelRef, t: &Task, f: &OpenFile, addr: u64, len: u32) -> Result<Option<Arc<OwnedFd>>, Errno> {
    if addr == 0 || len == 0 {
        return Ok(None);
    }
    let Some(s) = &f.socket else { return Ok(None) };
    if s.kind != libc::SOCK_DGRAM {
        return Err(if s.state().connected { Errno::EISCONN } else { Errno::EOPNOTSUPP });
    }
    let name = super::socket_names::read_name(t, addr, len)?.ok_or(Errno::EINVAL)?;
    super::socket_names::dgram_inlet(k, t, &name).map(Some)
}

pub(super) fn sendto(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = data_socket(t, int(a[0]), true)?;
    let via = destination(k, t, &f, a[4], int(a[5]) as u32)?;
    let data = t.mm.copy_in(a[1], (a[2] as usize).min(MAX_RW))?;
    match via {
        Some(inlet) => send_on(t, &f, Some(&inlet), &data, Vec::new(), int(a[3])),
        None => send_data(t, &f, &data, Vec::new(), int(a[3])),
    }
}

/// The socket at `fd` for data calls: a listening one has no data (EINVAL
/// to receive, ENOTCONN to send, as Linux).
fn data_socket(t: &Task, fd: i32, sending: bool) -> Result<Arc<OpenFile>, Errno> {
    let f = socket_file(t, fd)?;
    if f.socket.as_ref().is_some_and(|s| s.listener().is_some()) {
        return Err(if sending { Errno::ENOTCONN } else { Errno::EINVAL });
    }
    Ok(f)
}

pub(super) fn recvfrom(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = data_socket(t, int(a[0]), false)?;
    let flags = int(a[3]);
    let mut buf = vec![0u8; (a[2] as usize).min(MAX_RW)];
    let got = recv_data(t, &f, &mut buf, flags)?;
    let n = got.len.min(buf.len());
    t.mm.copy_out(a[1], &buf[..n])?;
    if a[4] != 0 && a[5] != 0 {
        // The peer is unnamed: no address, length 0.
        t.mm.copy_out(a[5], &0u32.to_le_bytes())?;
    }
    drop(got.fds);
    Ok(got.len as i64)
}

pub(super) fn recvmsg(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = data_socket(t, int(a[0]), false)?;
    let flags = int(a[2]);
    let hdr = t.mm.copy_in(a[1], 56)?;
    let word = |i: usize| u64::from_le_bytes(hdr[i..i + 8].try_into().unwrap_or([0; 8]));
    let iov = super::rw::iovecs(t, word(16), word(24))?;
    let (control, room) = (word(32), word(40) as usize);
    let total: usize = iov.iter().map(|&(_, l)| l as usize).sum::<usize>().min(MAX_RW);
    let mut buf = vec![0u8; total];
    let got = recv_data(t, &f, &mut buf, flags)?;
    // MSG_CMSG_CLOEXEC shows in msg_flags when, and only when, asked for.
    let host_flags = (got.flags & !libc::MSG_CMSG_CLOEXEC) | (flags & libc::MSG_CMSG_CLOEXEC);
    let len = got.len;
    let mut left = &buf[..len.min(total)];
    for (base, l) in iov {
        let n = (l as usize).min(left.len());
        t.mm.copy_out(base, &left[..n])?;
        left = &left[n..];
    }
    let room = if control == 0 { 0 } else { room };
    let (cmsgs, extra) = build_control(t, &f, got, room, flags & libc::MSG_CMSG_CLOEXEC != 0);
    if !cmsgs.is_empty() {
        t.mm.copy_out(control, &cmsgs)?;
    }
    // msg_namelen, msg_controllen, msg_flags.
    t.mm.copy_out(a[1] + 8, &0u32.to_le_bytes())?;
    t.mm.copy_out(a[1] + 40, &(cmsgs.len() as u64).to_le_bytes())?;
    t.mm.copy_out(a[1] + 48, &(host_flags | extra).to_le_bytes())?;
    Ok(len as i64)
}

pub(super) fn shutdown(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    if let Some(l) = f.socket.as_ref().and_then(|s| s.listener()) {
        if !(libc::SHUT_RD..=libc::SHUT_RDWR).contains(&int(a[1])) {
            return Err(Errno::EINVAL.into());
        }
        l.shut_down(f.fd.as_fd());
        return Ok(0);
    }
    // SAFETY: a plain system call on a descriptor `f` holds open; the host
    // checks `how`.
    let r = unsafe { libc::shutdown(f.fd.as_raw_fd(), int(a[1])) };
    Errno::result(r)?;
    Ok(0)
}

/// Most bytes of a socket option the Sentry passes through.
const MAX_OPT: usize = 256;

pub(super) fn getsockopt(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    let (level, opt, val, lenp) = (int(a[1]), int(a[2]), a[3], a[4]);
    let len = i32::from_le_bytes(t.mm.copy_in(lenp, 4)?.try_into().map_err(|_| Errno::EFAULT)?);
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let value: Vec<u8> = if level == libc::SOL_SOCKET && opt == libc::SO_PEERCRED {
        // The sandbox's credentials of the peer, not the host's (the
        // Sentry's own).
        let peer =
            f.socket.as_ref().and_then(|s| s.state().peer).unwrap_or(Ucred { pid: 0, uid: u32::MAX, gid: u32::MAX });
        peer.bytes().to_vec()
    } else {
        let mut buf = vec![0u8; (len as usize).min(MAX_OPT)];
        let mut n = buf.len() as libc::socklen_t;
        // SAFETY: `buf` holds `n` bytes; the host writes at most that and
        // checks the level and option.
        let r = unsafe { libc::getsockopt(f.fd.as_raw_fd(), level, opt, buf.as_mut_ptr().cast(), &mut n) };
        Errno::result(r)?;
        buf.truncate(n as usize);
        buf
    };
    let n = value.len().min(len as usize);
    t.mm.copy_out(val, &value[..n])?;
    t.mm.copy_out(lenp, &(value.len().min(len as usize) as u32).to_le_bytes())?;
    Ok(0)
}

pub(super) fn setsockopt(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = socket_file(t, int(a[0]))?;
    let len = int(a[4]);
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let value = t.mm.copy_in(a[3], (len as usize).min(MAX_OPT))?;
    // SAFETY: `value` holds the bytes given; the host checks the rest.
    let r = unsafe {
        libc::setsockopt(f.fd.as_raw_fd(), int(a[1]), int(a[2]), value.as_ptr().cast(), value.len() as libc::socklen_t)
    };
    Errno::result(r)?;
    Ok(0)
}

/// getsockname and getpeername of a host socket the sandbox did not make
/// (one passed in from outside): the host's answer.
pub(super) fn host_name(t: &Task, f: &OpenFile, a: &[u64; 6], peer: bool) -> SysResult {
    let len = i32::from_le_bytes(t.mm.copy_in(a[2], 4)?.try_into().map_err(|_| Errno::EFAULT)?);
    if len < 0 {
        return Err(Errno::EINVAL.into());
    }
    let mut addr = [0u8; 128];
    let mut n = addr.len() as libc::socklen_t;
    // SAFETY: `addr` holds `n` bytes, which is all the host writes.
    let r = unsafe {
        if peer {
            libc::getpeername(f.fd.as_raw_fd(), addr.as_mut_ptr().cast(), &mut n)
        } else {
            libc::getsockname(f.fd.as_raw_fd(), addr.as_mut_ptr().cast(), &mut n)
        }
    };
    Errno::result(r)?;
    let n = (n as usize).min(addr.len());
    t.mm.copy_out(a[1], &addr[..n.min(len as usize)])?;
    t.mm.copy_out(a[2], &(n as u32).to_le_bytes())?;
    Ok(0)
}
