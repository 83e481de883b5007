//! Unix sockets of the sandbox. Each is a host Unix socket made by the
//! Sentry, so the host supplies the data path whole (stream, datagram and
//! seqpacket semantics, buffering, shutdown, EOF); what the host cannot
//! know is kept here: the sandbox credentials behind SO_PEERCRED, and the
//! sandbox files riding in SCM_RIGHTS messages.
//!
//! Passing a file: the sender's host descriptor goes in a real SCM_RIGHTS
//! message (so the host keeps the open file description alive in flight,
//! exactly as Linux does), and the sender's `OpenFile` waits in the pair's
//! in-flight list. The receiver gets a host descriptor of the same
//! description and finds the `OpenFile` it belongs to with `kcmp`, so the
//! receiving process holds the very same open file (offset, flags, locks),
//! as on Linux.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::{Arc, Mutex};

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

/// One end of a Unix socket, as the sandbox sees it.
#[derive(Debug, Clone)]
pub struct SocketEnd {
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    pub kind: i32,
    /// The peer's credentials (for a socketpair, its creator's), if connected.
    pub peer: Option<Ucred>,
    /// The pair it belongs to.
    pub pair: Arc<Pair>,
}

use std::os::fd::AsFd;

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
