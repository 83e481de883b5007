//! Named pipes. A FIFO in the sandbox's tree is a file the Gofer made
//! (mknod); what opening it gives is a pipe of the Sentry's: one host pipe
//! per FIFO while anyone has it open, reached through an `O_PATH`
//! descriptor of the pipe (which counts as neither reader nor writer), so
//! every open is a real host open of the pipe and the host keeps the reader
//! and writer counts that EOF and EPIPE follow. The host applies the FIFO
//! open rules to FIFOs only, not to a reopened pipe, so those are the
//! Sentry's: ENXIO for a non-blocking writer without a reader, and opens
//! that wait as Linux's do (a reader for a writer, a writer for a reader),
//! interruptibly (`syscalls::fs`).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::inode_use::InodeKey;

/// The FIFOs open in the sandbox, by inode.
#[derive(Debug, Default)]
pub struct Fifos {
    open: Mutex<HashMap<InodeKey, Weak<Fifo>>>,
}

/// One FIFO's pipe while it is open.
#[derive(Debug)]
pub struct Fifo {
    path_fd: OwnedFd,
    readers: AtomicUsize,
    writers: AtomicUsize,
    /// Writer opens ever made: a reader waiting for a writer is done once a
    /// writer came, even one already gone (its data may wait in the pipe).
    writer_opens: AtomicUsize,
}

/// An open end of a FIFO (held by its `OpenFile`); dropping it is a close.
#[derive(Debug)]
pub struct FifoEnd {
    /// The FIFO.
    pub fifo: Arc<Fifo>,
    reads: bool,
    writes: bool,
    /// The FIFO's writer opens when this end was opened.
    writer_opens_seen: usize,
}

impl Drop for FifoEnd {
    fn drop(&mut self) {
        if self.reads {
            self.fifo.readers.fetch_sub(1, Ordering::Relaxed);
        }
        if self.writes {
            self.fifo.writers.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Fifos {
    /// The pipe of the FIFO at `key`, made on its first open.
    pub fn get(&self, key: InodeKey) -> Result<Arc<Fifo>, Errno> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, w| w.strong_count() > 0);
        if let Some(f) = open.get(&key).and_then(Weak::upgrade) {
            return Ok(f);
        }
        let (r, _w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let path_fd = nix::fcntl::open(
            format!("/proc/self/fd/{}", r.as_raw_fd()).as_str(),
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let f = Arc::new(Fifo {
            path_fd,
            readers: AtomicUsize::new(0),
            writers: AtomicUsize::new(0),
            writer_opens: AtomicUsize::new(0),
        });
        open.insert(key, Arc::downgrade(&f));
        Ok(f)
    }
}

impl Fifo {
    /// Opens an end with access mode `acc`, never waiting: ENXIO for a
    /// writer while there is no reader, as a non-blocking open gets.
    pub fn open(self: &Arc<Self>, acc: i32) -> Result<(OwnedFd, FifoEnd), Errno> {
        // The host applies FIFO open rules only to FIFOs, not to a pipe
        // reopened through /proc: the reader count is checked here.
        if acc == libc::O_WRONLY && self.readers.load(Ordering::Relaxed) == 0 {
            return Err(Errno::ENXIO);
        }
        let flags = OFlag::from_bits_truncate(acc) | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd =
            nix::fcntl::open(format!("/proc/self/fd/{}", self.path_fd.as_raw_fd()).as_str(), flags, Mode::empty())?;
        let reads = acc != libc::O_WRONLY;
        let writes = acc != libc::O_RDONLY;
        if reads {
            self.readers.fetch_add(1, Ordering::Relaxed);
        }
        if writes {
            self.writers.fetch_add(1, Ordering::Relaxed);
            self.writer_opens.fetch_add(1, Ordering::Relaxed);
        }
        let writer_opens_seen = self.writer_opens.load(Ordering::Relaxed);
        Ok((fd, FifoEnd { fifo: self.clone(), reads, writes, writer_opens_seen }))
    }

    /// Open ends for writing.
    pub fn writers(&self) -> usize {
        self.writers.load(Ordering::Relaxed)
    }
}

impl FifoEnd {
    /// Whether a reader's blocking open may return: a writer is there, or
    /// one opened since this end did.
    pub fn has_met_a_writer(&self) -> bool {
        self.fifo.writers() > 0 || self.fifo.writer_opens.load(Ordering::Relaxed) != self.writer_opens_seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_share_one_pipe_and_its_counts() {
        let fifos = Fifos::default();
        let f = fifos.get((1, 1)).unwrap();
        assert_eq!(f.open(libc::O_WRONLY).err(), Some(Errno::ENXIO), "no reader yet");
        let (r, re) = f.open(libc::O_RDONLY).unwrap();
        let (w, we) = fifos.get((1, 1)).unwrap().open(libc::O_WRONLY).unwrap();
        assert_eq!(f.writers(), 1);
        nix::unistd::write(&w, b"via the fifo").unwrap();
        let mut buf = [0u8; 32];
        let n = nix::unistd::read(&r, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"via the fifo");
        drop((w, we));
        assert_eq!(f.writers(), 0);
        assert_eq!(nix::unistd::read(&r, &mut buf), Ok(0), "EOF once the writer is gone");
        drop((r, re));
    }
}
