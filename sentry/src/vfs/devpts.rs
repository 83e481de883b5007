//! The sandbox's pseudo-terminals (/dev/ptmx, /dev/pts/N). Each is a host
//! pseudo-terminal pair the Sentry opens (the host's line discipline does
//! the terminal's work), numbered by the Sentry from 0, so no host
//! numbering shows. `/dev/pts/N` has the attributes of the host slave, so
//! `ttyname` (which compares a descriptor's attributes with the name's)
//! finds it.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

/// One pair: the slave end (kept for opens of /dev/pts/N) and the host's
/// number of the master (to answer TIOCGPTN).
#[derive(Debug)]
struct Pty {
    slave: Arc<OwnedFd>,
    host_number: Option<u32>,
}

/// The sandbox's pseudo-terminals by number.
#[derive(Debug, Default)]
pub struct Ptys {
    table: Mutex<BTreeMap<u32, Pty>>,
}

/// The host's pty number of master `fd` (TIOCGPTN).
fn host_number(fd: impl AsFd) -> Option<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into `n`.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCGPTN, &mut n) };
    (r == 0).then_some(n)
}

/// Whether the other end of slave `fd` is gone (its master closed).
fn hung_up(fd: &OwnedFd) -> bool {
    let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::empty())];
    nix::poll::poll(&mut fds, 0u16).is_ok()
        && fds[0].revents().is_some_and(|r| r.contains(nix::poll::PollFlags::POLLHUP))
}

impl Ptys {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Pty>> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        // Pairs whose master the sandbox closed are gone, as on Linux.
        t.retain(|_, p| p.host_number.is_none() || !hung_up(&p.slave));
        t
    }

    fn insert(&self, slave: OwnedFd, host_number: Option<u32>) -> u32 {
        let mut t = self.lock();
        let n = (0..).find(|n| !t.contains_key(n)).unwrap_or(0);
        t.insert(n, Pty { slave: Arc::new(slave), host_number });
        n
    }

    /// Opens a new pair (an open of /dev/ptmx): the master end, and the
    /// pair's number.
    pub fn open_master(&self) -> Result<(OwnedFd, u32), Errno> {
        let pty = nix::pty::openpty(None, None)?;
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))?;
        }
        let host = host_number(&pty.master);
        let n = self.insert(pty.slave, host);
        Ok((pty.master, n))
    }

    /// Names a terminal the sandbox was given (the container's console):
    /// it shows as /dev/pts/N too.
    pub fn adopt(&self, slave: &OwnedFd) -> Option<u32> {
        let st = nix::sys::stat::fstat(slave).ok()?;
        let known = self
            .lock()
            .iter()
            .find(|(_, p)| nix::sys::stat::fstat(p.slave.as_fd()).is_ok_and(|s| s.st_rdev == st.st_rdev))
            .map(|(n, _)| *n);
        known.or_else(|| Some(self.insert(slave.try_clone().ok()?, None)))
    }

    /// The pair number of master `fd` (TIOCGPTN).
    pub fn number_of_master(&self, fd: impl AsFd) -> Result<u32, Errno> {
        let host = host_number(fd).ok_or(Errno::ENOTTY)?;
        self.lock().iter().find(|(_, p)| p.host_number == Some(host)).map(|(n, _)| *n).ok_or(Errno::ENOTTY)
    }

    /// The slave end of pair `n`.
    pub fn slave(&self, n: u32) -> Option<Arc<OwnedFd>> {
        self.lock().get(&n).map(|p| p.slave.clone())
    }

    /// The pairs' numbers.
    pub fn numbers(&self) -> Vec<u32> {
        self.lock().keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_numbered_from_zero_and_go_with_their_master() {
        let p = Ptys::default();
        let (m0, n0) = p.open_master().unwrap();
        let (m1, n1) = p.open_master().unwrap();
        assert_eq!((n0, n1), (0, 1));
        assert_eq!(p.number_of_master(&m1), Ok(1));
        assert!(p.slave(0).is_some());
        drop(m0);
        assert_eq!(p.numbers(), vec![1], "closing the master frees the pair");
        let (_m2, n2) = p.open_master().unwrap();
        assert_eq!(n2, 0, "the lowest free number is reused");
        drop(m1);
    }
}
