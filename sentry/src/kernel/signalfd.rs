//! signalfd: a descriptor that reads the task's pending signals of a mask.
//! Its host file is an eventfd the task's signal queue writes whenever a
//! signal of the mask arrives (and that a read resets once none is left),
//! so poll and epoll see a signalfd ready as Linux's.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::sigqueue::SigInfo;

/// Size of `struct signalfd_siginfo`.
pub const SIGINFO_SIZE: usize = 128;

/// One signalfd's state, shared by its open file and the signal queue
/// that wakes it.
#[derive(Debug)]
pub struct SignalFd {
    mask: AtomicU64,
    ready: EventFd,
}

impl SignalFd {
    /// A signalfd for `mask`, and the host descriptor its open file holds.
    pub fn new(mask: u64) -> Result<(Arc<Self>, OwnedFd), Errno> {
        let ready = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let host = ready.as_fd().try_clone_to_owned().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
        Ok((Arc::new(SignalFd { mask: AtomicU64::new(mask), ready }), host))
    }

    /// The signals it reads.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    /// Replaces the mask (signalfd on an existing descriptor).
    pub fn set_mask(&self, mask: u64) {
        self.mask.store(mask, Ordering::Relaxed);
    }

    /// Marks it readable: a signal of its mask is pending.
    pub fn notify(&self) {
        let _ = self.ready.write(1);
    }

    /// Marks it not readable (nothing of its mask is pending).
    pub fn reset(&self) {
        let _ = self.ready.read();
    }
}

/// A dequeued signal as `struct signalfd_siginfo`.
pub fn siginfo_bytes(info: &SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    let mut put = |at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    put(0, &(info.signo as u32).to_le_bytes());
    put(8, &info.code.to_le_bytes());
    put(12, &(info.pid as u32).to_le_bytes());
    put(16, &info.uid.to_le_bytes());
    put(40, &info.status.to_le_bytes());
    put(44, &(info.value as u32).to_le_bytes());
    put(48, &info.value.to_le_bytes());
    put(72, &info.addr.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_notify_and_reset() {
        let (s, host) = SignalFd::new(1 << 9).unwrap();
        let mut p = [libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&host), events: libc::POLLIN, revents: 0 }];
        // SAFETY: one valid pollfd whose descriptor `host` holds open.
        let ready = |p: &mut [libc::pollfd; 1]| unsafe { libc::poll(p.as_mut_ptr(), 1, 0) };
        assert_eq!(ready(&mut p), 0);
        s.notify();
        s.notify();
        assert_eq!(ready(&mut p), 1);
        s.reset();
        assert_eq!(ready(&mut p), 0);
        let b = siginfo_bytes(&SigInfo::user(libc::SIGUSR1, 7, 0));
        assert_eq!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]), libc::SIGUSR1 as u32);
        assert_eq!(u32::from_le_bytes([b[12], b[13], b[14], b[15]]), 7);
    }
}
