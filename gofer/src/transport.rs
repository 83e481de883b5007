//! One message at a time over a `SOCK_SEQPACKET` socket, with descriptors
//! passed as `SCM_RIGHTS`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use crate::wire::MAX_MESSAGE;

/// Most descriptors one message may carry. A message with more is refused
/// (all its descriptors closed).
pub const MAX_FDS: usize = 4;
/// Most descriptors the kernel passes in one message (`SCM_MAX_FD`). The
/// control buffer has room for all of them, so the kernel never truncates
/// it and every descriptor it installs is owned, and closed, here.
const SCM_MAX_FD: usize = 253;

/// A received message.
#[derive(Debug)]
pub struct Received {
    /// Its bytes (at most [`MAX_MESSAGE`]).
    pub data: Vec<u8>,
    /// Descriptors that came with it, now owned by the receiver.
    pub fds: Vec<OwnedFd>,
    /// The message was longer than [`MAX_MESSAGE`] or carried too many
    /// descriptors, and was cut.
    pub truncated: bool,
}

/// Sends one message, with `fd` attached when given.
pub fn send(sock: BorrowedFd<'_>, data: &[u8], fd: Option<BorrowedFd<'_>>) -> Result<(), Errno> {
    let iov = [IoSlice::new(data)];
    let raw: [RawFd; 1];
    let cmsgs: Vec<ControlMessage<'_>> = match fd {
        Some(f) => {
            raw = [f.as_raw_fd()];
            vec![ControlMessage::ScmRights(&raw)]
        }
        None => Vec::new(),
    };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receives messages into one buffer that it keeps, so that the hot path
/// does not allocate and zero [`MAX_MESSAGE`] bytes per message.
pub struct Receiver {
    buf: Vec<u8>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("capacity", &self.buf.len()).finish()
    }
}

impl Default for Receiver {
    fn default() -> Self {
        // One byte more than allowed, so an oversized message shows as
        // MSG_TRUNC even on kernels that do not report it for seqpacket.
        Receiver { buf: vec![0u8; MAX_MESSAGE + 1] }
    }
}

/// A message received by a [`Receiver`], borrowing its buffer.
#[derive(Debug)]
pub struct Message<'a> {
    /// Its bytes (at most [`MAX_MESSAGE`]).
    pub data: &'a [u8],
    /// Descriptors that came with it, now owned by the receiver.
    pub fds: Vec<OwnedFd>,
    /// The message was longer than [`MAX_MESSAGE`] or carried too many
    /// descriptors, and was cut.
    pub truncated: bool,
}

impl Receiver {
    /// A receiver with its buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Receives one message. `Ok(None)` means the peer hung up; an empty
    /// message is returned with empty `data`.
    pub fn recv(&mut self, sock: BorrowedFd<'_>) -> Result<Option<Message<'_>>, Errno> {
        let mut cmsg = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
        // Messages come in bursts (a request, its reply, the next request):
        // trying without blocking for a few microseconds first saves the
        // sleep and the cross-CPU wake-up of a blocking receive.
        let spin_until = std::time::Instant::now() + SPIN;
        let (len, flags, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut self.buf)];
            let spinning = std::time::Instant::now() < spin_until;
            let mut how = MsgFlags::MSG_CMSG_CLOEXEC;
            if spinning {
                how |= MsgFlags::MSG_DONTWAIT;
            }
            match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), how) {
                Err(Errno::EAGAIN) if spinning => {
                    // Yield, not spin: the peer may need this very CPU.
                    std::thread::yield_now();
                    continue;
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(list) = c {
                            for raw in list {
                                // SAFETY: the kernel just installed `raw` in
                                // this process for us; nothing else owns it.
                                fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
                            }
                        }
                    }
                    break (msg.bytes, msg.flags, fds);
                }
            }
        };
        if len == 0 && fds.is_empty() && peer_hung_up(sock)? {
            return Ok(None);
        }
        let truncated =
            len > MAX_MESSAGE || fds.len() > MAX_FDS || flags.intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
        Ok(Some(Message { data: &self.buf[..len.min(MAX_MESSAGE)], fds, truncated }))
    }
}

/// Receives one message into a fresh buffer (for occasional use; loops
/// should keep a [`Receiver`]). `Ok(None)` means the peer hung up.
pub fn recv(sock: BorrowedFd<'_>) -> Result<Option<Received>, Errno> {
    let mut r = Receiver::new();
    Ok(r.recv(sock)?.map(|m| Received { data: m.data.to_vec(), fds: m.fds, truncated: m.truncated }))
}

/// How long a receive tries without blocking before it sleeps.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Tells an end of stream from an empty message: both read as 0 bytes.
fn peer_hung_up(sock: BorrowedFd<'_>) -> Result<bool, Errno> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut pfd = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    poll(&mut pfd, PollTimeout::ZERO)?;
    let ev = pfd[0].revents().unwrap_or(PollFlags::empty());
    Ok(ev.intersects(PollFlags::POLLHUP))
}
