//! Controlling terminals. A sandbox's terminals are host terminals (the
//! container's pty, `moat do`'s terminal); which session holds one and
//! which of its process groups is in the foreground is the Sentry's
//! record, since the host only knows the Sentry.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

/// One terminal held by a session of the sandbox.
#[derive(Debug)]
struct Held {
    /// The session that holds it.
    sid: i32,
    /// Its foreground process group.
    foreground: i32,
    /// A descriptor of it, for opens of /dev/tty.
    file: Arc<OwnedFd>,
}

/// The terminals, by host device number.
#[derive(Debug, Default)]
pub struct Terminals {
    held: Mutex<HashMap<u64, Held>>,
}

/// The host device number of `fd` if it is a terminal.
pub fn terminal_of(fd: impl AsFd) -> Option<u64> {
    let fd = fd.as_fd();
    if !nix::unistd::isatty(fd).unwrap_or(false) {
        return None;
    }
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_rdev)
}

impl Terminals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the terminal `fd` the controlling terminal of session `sid`
    /// (its leader's group in the foreground), if it is a terminal and no
    /// other session holds it.
    pub fn attach(&self, fd: &OwnedFd, sid: i32) {
        let Some(rdev) = terminal_of(fd) else { return };
        let Ok(file) = fd.try_clone() else { return };
        self.lock().entry(rdev).or_insert(Held { sid, foreground: sid, file: Arc::new(file) });
    }

    /// Forgets the terminals of session `sid` (its leader left it, or the
    /// session ended).
    pub fn detach_session(&self, sid: i32) {
        self.lock().retain(|_, h| h.sid != sid);
    }

    /// The foreground group of the terminal `rdev`, for a caller in
    /// session `sid`; ENOTTY unless it is that session's terminal.
    pub fn foreground(&self, rdev: u64, sid: i32) -> Result<i32, Errno> {
        self.lock().get(&rdev).filter(|h| h.sid == sid).map(|h| h.foreground).ok_or(Errno::ENOTTY)
    }

    /// The session holding terminal `rdev`, for a caller in session `sid`.
    pub fn session(&self, rdev: u64, sid: i32) -> Result<i32, Errno> {
        self.lock().get(&rdev).filter(|h| h.sid == sid).map(|h| h.sid).ok_or(Errno::ENOTTY)
    }

    /// tcsetpgrp: `pgrp` (checked by the caller to be a group of session
    /// `sid`) becomes the foreground of terminal `rdev`.
    pub fn set_foreground(&self, rdev: u64, sid: i32, pgrp: i32) -> Result<(), Errno> {
        let mut held = self.lock();
        let h = held.get_mut(&rdev).filter(|h| h.sid == sid).ok_or(Errno::ENOTTY)?;
        h.foreground = pgrp;
        Ok(())
    }

    /// The foreground group of the terminal session `sid` holds, if any.
    pub fn foreground_of_session(&self, sid: i32) -> Option<i32> {
        self.lock().values().find(|h| h.sid == sid).map(|h| h.foreground)
    }

    /// A descriptor of the controlling terminal of session `sid`, for
    /// /dev/tty; ENXIO when it has none, as Linux answers.
    pub fn open_controlling(&self, sid: i32) -> Result<OwnedFd, Errno> {
        let held = self.lock();
        let h = held.values().find(|h| h.sid == sid).ok_or(Errno::ENXIO)?;
        h.file.try_clone().map_err(|_| Errno::EMFILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_its_terminal_and_sets_its_foreground() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let t = Terminals::default();
        let rdev = terminal_of(&pty.slave).unwrap();
        assert_eq!(terminal_of(std::fs::File::open("/dev/null").unwrap()), None);
        t.attach(&pty.slave, 1);
        assert_eq!(t.foreground(rdev, 1), Ok(1));
        assert_eq!(t.foreground(rdev, 7), Err(Errno::ENOTTY), "another session's terminal");
        t.set_foreground(rdev, 1, 5).unwrap();
        assert_eq!(t.foreground_of_session(1), Some(5));
        assert!(t.open_controlling(1).is_ok());
        assert_eq!(t.open_controlling(2).err(), Some(Errno::ENXIO));
        t.detach_session(1);
        assert_eq!(t.foreground(rdev, 1), Err(Errno::ENOTTY));
    }
}
