//! The client half, used by the Sentry.
//!
//! Calls are synchronous: one request, one reply, under a lock, so threads
//! may share a client. The Gofer's reply is checked as strictly as the
//! server checks requests; a reply that does not decode is a
//! [`ClientError::Protocol`], never a panic.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;

use nix::errno::Errno;
use thiserror::Error;

use crate::protocol::{HandleId, Owner, Request, SetAttr};
use crate::reply::{self, DirBatch, Node, Stat, StatFs, WalkReply, XattrData};
use crate::transport;
use crate::wire::{Decoder, WireError};

/// Why a call failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClientError {
    /// The Gofer answered with this errno, as the native call would have.
    #[error("gofer: {0}")]
    Errno(Errno),
    /// The socket failed, or the Gofer hung up.
    #[error("gofer socket: {0}")]
    Transport(Errno),
    /// The reply did not decode.
    #[error("gofer reply: {0}")]
    Protocol(#[from] WireError),
    /// The reply lacked the descriptor it must carry.
    #[error("gofer reply carried no file descriptor")]
    MissingFd,
}

impl ClientError {
    /// The errno to give the application for this failure: the Gofer's own,
    /// or `EIO` when the Gofer could not be reached or understood.
    pub fn errno(&self) -> Errno {
        match self {
            ClientError::Errno(e) => *e,
            _ => Errno::EIO,
        }
    }
}

/// Result of a client call.
pub type Result<T> = std::result::Result<T, ClientError>;

/// A connection to one Gofer.
#[derive(Debug)]
pub struct GoferClient {
    conn: Mutex<(OwnedFd, transport::Receiver)>,
}

impl GoferClient {
    /// Wraps the Sentry's end of the Gofer's socketpair.
    pub fn new(sock: OwnedFd) -> Self {
        GoferClient { conn: Mutex::new((sock, transport::Receiver::new())) }
    }

    /// Sends `req` and returns the reply body and any descriptor with it.
    fn call(&self, req: &Request) -> Result<(Vec<u8>, Option<OwnedFd>)> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let (sock, receiver) = &mut *conn;
        transport::send(sock.as_fd(), &req.encode(), None).map_err(ClientError::Transport)?;
        let msg = receiver
            .recv(sock.as_fd())
            .map_err(ClientError::Transport)?
            .ok_or(ClientError::Transport(Errno::ECONNRESET))?;
        if msg.truncated {
            return Err(ClientError::Transport(Errno::EMSGSIZE));
        }
        let mut d = Decoder::new(msg.data);
        let errno = d.u32()?;
        if errno != 0 {
            d.end()?;
            return Err(ClientError::Errno(Errno::from_raw(errno as i32)));
        }
        let body = msg.data[4..].to_vec();
        Ok((body, msg.fds.into_iter().next()))
    }

    fn call_with<T>(
        &self,
        req: &Request,
        f: impl FnOnce(&mut Decoder<'_>) -> std::result::Result<T, WireError>,
    ) -> Result<T> {
        let (body, _) = self.call(req)?;
        let mut d = Decoder::new(&body);
        let v = f(&mut d)?;
        d.end()?;
        Ok(v)
    }

    fn call_fd(&self, req: &Request) -> Result<(Vec<u8>, OwnedFd)> {
        let (body, fd) = self.call(req)?;
        Ok((body, fd.ok_or(ClientError::MissingFd)?))
    }

    /// The root of mount number `mount` (0: the container's root).
    pub fn attach(&self, mount: u32) -> Result<Node> {
        self.call_with(&Request::Attach { mount }, reply::decode::node)
    }

    /// Walks `names` from `dir`, one component at a time. The walk stops at
    /// the first symlink (returned, for the caller to resolve), or at the
    /// first component that fails (its errno in [`WalkReply::errno`]).
    pub fn walk(&self, dir: HandleId, names: &[&[u8]]) -> Result<WalkReply> {
        let names = names.iter().map(|n| n.to_vec()).collect();
        self.call_with(&Request::Walk { dir, names }, reply::decode::walk)
    }

    /// Attributes of `handle`.
    pub fn stat(&self, handle: HandleId) -> Result<Stat> {
        self.call_with(&Request::Stat { handle }, Stat::decode)
    }

    /// Opens `handle` with `flags`; the host descriptor is the caller's.
    pub fn open(&self, handle: HandleId, flags: i32) -> Result<OwnedFd> {
        let (body, fd) = self.call_fd(&Request::Open { handle, flags: flags as u32 })?;
        Decoder::new(&body).end()?;
        Ok(fd)
    }

    /// Creates `name` in `dir` (exclusively) and opens it with `flags`.
    pub fn create(&self, dir: HandleId, name: &[u8], flags: i32, mode: u32, owner: Owner) -> Result<(Node, OwnedFd)> {
        let req = Request::Create { dir, name: name.to_vec(), flags: flags as u32, mode, owner };
        let (body, fd) = self.call_fd(&req)?;
        let mut d = Decoder::new(&body);
        let node = Node::decode(&mut d)?;
        d.end()?;
        Ok((node, fd))
    }

    /// Makes directory `name` in `dir`.
    pub fn mkdir(&self, dir: HandleId, name: &[u8], mode: u32, owner: Owner) -> Result<Node> {
        self.call_with(&Request::Mkdir { dir, name: name.to_vec(), mode, owner }, reply::decode::node)
    }

    /// Makes a FIFO or socket node (`mode` includes `S_IFIFO` / `S_IFSOCK`).
    pub fn mknod(&self, dir: HandleId, name: &[u8], mode: u32, owner: Owner) -> Result<Node> {
        self.call_with(&Request::Mknod { dir, name: name.to_vec(), mode, owner }, reply::decode::node)
    }

    /// Makes symlink `name` in `dir` pointing at `target`.
    pub fn symlink(&self, dir: HandleId, name: &[u8], target: &[u8], owner: Owner) -> Result<Node> {
        let req = Request::Symlink { dir, name: name.to_vec(), target: target.to_vec(), owner };
        self.call_with(&req, reply::decode::node)
    }

    /// Makes `name` in `dir` a hard link to `target`.
    pub fn link(&self, dir: HandleId, name: &[u8], target: HandleId) -> Result<Node> {
        self.call_with(&Request::Link { dir, name: name.to_vec(), target }, reply::decode::node)
    }

    /// Unlinks `name` (`flags` 0) or removes directory `name` (`AT_REMOVEDIR`).
    pub fn unlink(&self, dir: HandleId, name: &[u8], flags: i32) -> Result<()> {
        self.call_with(&Request::Unlink { dir, name: name.to_vec(), flags: flags as u32 }, |_| Ok(()))
    }

    /// Renames with renameat2 `flags`.
    pub fn rename(
        &self,
        old_dir: HandleId,
        old_name: &[u8],
        new_dir: HandleId,
        new_name: &[u8],
        flags: u32,
    ) -> Result<()> {
        let req = Request::Rename { old_dir, old_name: old_name.to_vec(), new_dir, new_name: new_name.to_vec(), flags };
        self.call_with(&req, |_| Ok(()))
    }

    /// Target of symlink `handle`.
    pub fn readlink(&self, handle: HandleId) -> Result<Vec<u8>> {
        self.call_with(&Request::Readlink { handle }, |d| Ok(d.bytes()?.to_vec()))
    }

    /// Up to `max_entries` entries of `dir` after `offset` (0: from the
    /// start; else the offset of the last entry already read).
    pub fn readdir(&self, dir: HandleId, offset: u64, max_entries: u32) -> Result<DirBatch> {
        self.call_with(&Request::Readdir { dir, offset, max_entries }, reply::decode::dir)
    }

    /// Changes attributes.
    pub fn set_attr(&self, handle: HandleId, attr: SetAttr) -> Result<()> {
        self.call_with(&Request::SetAttr { handle, attr }, |_| Ok(()))
    }

    /// File system statistics.
    pub fn statfs(&self, handle: HandleId) -> Result<StatFs> {
        self.call_with(&Request::StatFs { handle }, StatFs::decode)
    }

    /// Xattr `name`; `size` 0 asks for its length only.
    pub fn get_xattr(&self, handle: HandleId, name: &[u8], size: u32) -> Result<XattrData> {
        self.call_with(&Request::GetXattr { handle, name: name.to_vec(), size }, reply::decode::xattr)
    }

    /// Sets xattr `name`.
    pub fn set_xattr(&self, handle: HandleId, name: &[u8], value: &[u8], flags: i32) -> Result<()> {
        let req = Request::SetXattr { handle, name: name.to_vec(), value: value.to_vec(), flags: flags as u32 };
        self.call_with(&req, |_| Ok(()))
    }

    /// Xattr names, NUL-separated; `size` 0 asks for the length only.
    pub fn list_xattr(&self, handle: HandleId, size: u32) -> Result<XattrData> {
        self.call_with(&Request::ListXattr { handle, size }, reply::decode::xattr)
    }

    /// Removes xattr `name`.
    pub fn remove_xattr(&self, handle: HandleId, name: &[u8]) -> Result<()> {
        self.call_with(&Request::RemoveXattr { handle, name: name.to_vec() }, |_| Ok(()))
    }

    /// Drops handles.
    pub fn release(&self, handles: &[HandleId]) -> Result<()> {
        self.call_with(&Request::Release { handles: handles.to_vec() }, |_| Ok(()))
    }
}
