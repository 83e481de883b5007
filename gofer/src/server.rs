//! The server half: the handle table, the message loop and dispatch.
//!
//! The server trusts nothing in a message. Every handle is looked up, every
//! name is one checked component, every failure is answered with an errno,
//! and the loop ends only when the peer hangs up.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;
use thiserror::Error;

use crate::hostfs;
use crate::protocol::{HandleId, Request};
use crate::reply::Reply;
use crate::transport;
use crate::wire::{Encoder, WireError};

/// Errors that end the server.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A mount root could not be opened or checked.
    #[error("mount {index}: {errno}")]
    Mount {
        /// Mount number.
        index: usize,
        /// The errno.
        errno: Errno,
    },
    /// The socket failed in a way other than the peer hanging up.
    #[error("gofer socket: {0}")]
    Socket(Errno),
}

/// One mount the server serves: an open directory and its read-only flag.
#[derive(Debug)]
pub struct MountSpec {
    /// The mount's root directory (any descriptor of it; `O_PATH` is enough).
    pub root: OwnedFd,
    /// Refuse every write under this mount with `EROFS`.
    pub readonly: bool,
}

/// How to build a [`Server`].
#[derive(Debug)]
pub struct ServerConfig {
    /// Mounts by number; 0 is the container's root.
    pub mounts: Vec<MountSpec>,
    /// A directory where `N` names this process's descriptor N (normally
    /// `/proc/self/fd`); used to reopen `O_PATH` handles.
    pub proc_fd_dir: PathBuf,
    /// Most handles held at once; past it, requests that make one fail with
    /// `ENFILE`.
    pub max_handles: usize,
}

pub(crate) struct MountRoot {
    pub(crate) fd: OwnedFd,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) readonly: bool,
}

/// A file the peer holds a handle to.
pub(crate) struct Entry {
    pub(crate) fd: OwnedFd,
    pub(crate) mount: u32,
    /// `S_IFMT` bits; a file's type never changes.
    pub(crate) kind: u32,
}

/// A Gofer server over a set of mounts.
pub struct Server {
    pub(crate) mounts: Vec<MountRoot>,
    handles: HashMap<HandleId, Entry>,
    next_handle: HandleId,
    max_handles: usize,
    pub(crate) proc_fd_dir: PathBuf,
}

impl Server {
    /// Opens the mount roots. Files are created with exactly the mode the
    /// Sentry asks for (it applies the task's umask), so the process umask
    /// is set to 0.
    pub fn new(config: ServerConfig) -> Result<Self, ServerError> {
        nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let mut mounts = Vec::with_capacity(config.mounts.len());
        for (index, m) in config.mounts.into_iter().enumerate() {
            let st = hostfs::stat(m.root.as_fd()).map_err(|errno| ServerError::Mount { index, errno })?;
            // A mount root is a directory, or a regular file (a single-file
            // bind such as docker's /etc/hosts); nothing else.
            let fd = if st.is_dir() {
                hostfs::open_path(m.root.as_fd(), b".").map_err(|errno| ServerError::Mount { index, errno })?
            } else if st.mode & libc::S_IFMT == libc::S_IFREG {
                m.root.try_clone().map_err(|_| ServerError::Mount { index, errno: Errno::EMFILE })?
            } else {
                return Err(ServerError::Mount { index, errno: Errno::ENOTDIR });
            };
            mounts.push(MountRoot { fd, dev: st.dev, ino: st.ino, readonly: m.readonly });
        }
        Ok(Server {
            mounts,
            handles: HashMap::new(),
            next_handle: 1,
            max_handles: config.max_handles,
            proc_fd_dir: config.proc_fd_dir,
        })
    }

    /// Serves requests on `sock` until the peer hangs up.
    pub fn serve(&mut self, sock: BorrowedFd<'_>) -> Result<(), ServerError> {
        let mut receiver = transport::Receiver::new();
        loop {
            let msg = match receiver.recv(sock) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) => return Err(ServerError::Socket(e)),
            };
            // Descriptors a client sends are never used: dropping `msg.fds`
            // closes them.
            let (reply, fd) =
                if msg.truncated { (error_reply(Errno::EMSGSIZE), None) } else { self.handle_message(msg.data) };
            match transport::send(sock, &reply, fd.as_ref().map(|f| f.as_fd())) {
                Ok(()) => {}
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Ok(()),
                Err(e) => return Err(ServerError::Socket(e)),
            }
        }
    }

    /// Answers one message: the reply bytes and the descriptor to donate.
    pub fn handle_message(&mut self, data: &[u8]) -> (Vec<u8>, Option<OwnedFd>) {
        let req = match Request::decode(data) {
            Ok(Some(r)) => r,
            Ok(None) => return (error_reply(Errno::ENOSYS), None),
            Err(WireError::Truncated { .. } | WireError::Trailing(_) | WireError::Invalid { .. }) => {
                return (error_reply(Errno::EBADMSG), None);
            }
        };
        let first_new = self.next_handle;
        match self.dispatch(req) {
            Ok((reply, fd)) => {
                let mut e = Encoder::new();
                e.u32(0);
                reply.encode(&mut e);
                let bytes = e.finish();
                if bytes.len() > crate::wire::MAX_MESSAGE {
                    // The client will never learn the handles this request
                    // made: drop them rather than leak their descriptors.
                    self.handles.retain(|&id, _| id < first_new);
                    return (error_reply(Errno::E2BIG), None);
                }
                (bytes, fd)
            }
            Err(errno) => (error_reply(errno), None),
        }
    }

    fn dispatch(&mut self, req: Request) -> Result<(Reply, Option<OwnedFd>), Errno> {
        let none = |r: Result<Reply, Errno>| r.map(|r| (r, None));
        match req {
            Request::Attach { mount } => none(self.attach(mount)),
            Request::Walk { dir, names } => none(self.walk(dir, &names)),
            Request::Stat { handle } => none(self.stat(handle)),
            Request::Open { handle, flags } => self.open(handle, flags).map(|fd| (Reply::Empty, Some(fd))),
            Request::Create { dir, name, flags, mode, owner } => {
                self.create(dir, &name, flags, mode, owner).map(|(n, fd)| (n, Some(fd)))
            }
            Request::Mkdir { dir, name, mode, owner } => none(self.mkdir(dir, &name, mode, owner)),
            Request::Mknod { dir, name, mode, owner } => none(self.mknod(dir, &name, mode, owner)),
            Request::Symlink { dir, name, target, owner } => none(self.symlink(dir, &name, &target, owner)),
            Request::Link { dir, name, target } => none(self.link(dir, &name, target)),
            Request::Unlink { dir, name, flags } => none(self.unlink(dir, &name, flags)),
            Request::Rename { old_dir, old_name, new_dir, new_name, flags } => {
                none(self.rename(old_dir, &old_name, new_dir, &new_name, flags))
            }
            Request::Readlink { handle } => none(self.readlink(handle)),
            Request::Readdir { dir, offset, max_entries } => none(self.readdir(dir, offset, max_entries)),
            Request::SetAttr { handle, attr } => none(self.set_attr(handle, &attr)),
            Request::StatFs { handle } => none(self.statfs(handle)),
            Request::GetXattr { handle, name, size } => none(self.get_xattr(handle, &name, size)),
            Request::SetXattr { handle, name, value, flags } => none(self.set_xattr(handle, &name, &value, flags)),
            Request::ListXattr { handle, size } => none(self.list_xattr(handle, size)),
            Request::RemoveXattr { handle, name } => none(self.remove_xattr(handle, &name)),
            Request::Release { handles } => none(self.release(&handles)),
        }
    }

    /// The entry behind `handle`; `EBADF` for a stale or forged one.
    pub(crate) fn entry(&self, handle: HandleId) -> Result<&Entry, Errno> {
        self.handles.get(&handle).ok_or(Errno::EBADF)
    }

    /// The entry behind `handle`, which must be a directory.
    pub(crate) fn dir_entry(&self, handle: HandleId) -> Result<&Entry, Errno> {
        let e = self.entry(handle)?;
        if e.kind != libc::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(e)
    }

    /// Whether writes under `mount` are refused.
    pub(crate) fn readonly(&self, mount: u32) -> bool {
        self.mounts.get(mount as usize).is_none_or(|m| m.readonly)
    }

    /// Registers `fd` as a new handle.
    pub(crate) fn insert(&mut self, fd: OwnedFd, mount: u32, kind: u32) -> Result<HandleId, Errno> {
        if self.handles.len() >= self.max_handles {
            return Err(Errno::ENFILE);
        }
        let id = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(id, Entry { fd, mount, kind });
        Ok(id)
    }

    fn release(&mut self, handles: &[HandleId]) -> Result<Reply, Errno> {
        let mut unknown = false;
        for h in handles {
            unknown |= self.handles.remove(h).is_none();
        }
        if unknown { Err(Errno::EBADF) } else { Ok(Reply::Empty) }
    }

    /// Number of handles held now.
    pub fn handle_count(&self) -> usize {
        self.handles.len()
    }
}

/// The wire form of a failed reply.
pub fn error_reply(errno: Errno) -> Vec<u8> {
    let mut e = Encoder::new();
    e.u32(errno as i32 as u32);
    e.finish()
}
