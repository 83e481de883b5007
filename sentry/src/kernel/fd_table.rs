//! Open files and the descriptor table of a process.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;

/// An open file description. Host-backed descriptions (the caller's stdio,
/// files the Gofer donated) are read and written through the host
/// descriptor, which also keeps the file offset.
#[derive(Debug)]
pub struct OpenFile {
    /// The host descriptor.
    pub fd: OwnedFd,
    /// Path in the sandbox, for /proc and error messages.
    pub path: Vec<u8>,
    /// Access mode and status flags (`O_APPEND`, `O_NONBLOCK`, …).
    pub flags: std::sync::atomic::AtomicI32,
    /// Reads and writes can block (a pipe, socket or terminal): they wait
    /// interruptibly (`kernel::blocking`).
    pub may_block: bool,
    /// The host device number, when the file is a terminal (job control
    /// checks its reads).
    pub terminal: Option<u64>,
    /// The message queue, when the file is one (its host descriptor is the
    /// queue's readiness eventfd).
    pub mqueue: Option<Arc<super::mqueue::MessageQueue>>,
    /// Read position in a message queue's status text.
    pub mqueue_pos: std::sync::atomic::AtomicU64,
    /// A synthetic directory's entries and the read position in them.
    pub synth_dir: Option<std::sync::Mutex<(crate::vfs::synth::DirEntries, usize)>>,
    /// A synthetic file's attributes (its host descriptor is a memfd).
    pub synth_stat: Option<moat_gofer::Stat>,
    /// Held while open for writing (ETXTBSY for exec).
    pub writer: Option<crate::vfs::inode_use::UseGuard>,
    /// The flock lock this open file holds, released with its last close.
    pub flock: std::sync::Mutex<Option<super::flock_table::FlockGuard>>,
    /// The sandbox's side of a Unix socket, when the file is one.
    pub socket: Option<super::socket::SocketEnd>,
    /// The OFD record locks this open file holds, released with its last close.
    pub ofd_locks: std::sync::Mutex<Option<super::record_locks::OfdGuard>>,
    /// Its end of a FIFO, when it is one (closed with it).
    pub fifo: Option<crate::vfs::fifo::FifoEnd>,
    /// The signalfd, when the file is one (its host file is the eventfd).
    pub signalfd: Option<Arc<super::signalfd::SignalFd>>,
    /// The inotify instance, when the file is one (its host file is the
    /// instance's readiness eventfd).
    pub inotify: Option<Arc<super::inotify::Instance>>,
}

impl OpenFile {
    /// A description of host descriptor `fd`, opened with `flags`.
    pub fn new(fd: OwnedFd, path: Vec<u8>, flags: i32) -> Arc<Self> {
        Self::host(fd, path, flags, None)
    }

    fn host(fd: OwnedFd, path: Vec<u8>, flags: i32, writer: Option<crate::vfs::inode_use::UseGuard>) -> Arc<Self> {
        Arc::new(Self::host_value(fd, path, flags, writer))
    }

    fn host_value(fd: OwnedFd, path: Vec<u8>, flags: i32, writer: Option<crate::vfs::inode_use::UseGuard>) -> Self {
        let may_block = super::blocking::may_block(&fd);
        let terminal = if may_block { super::tty::terminal_of(&fd) } else { None };
        OpenFile {
            fd,
            path,
            flags: std::sync::atomic::AtomicI32::new(flags),
            may_block,
            terminal,
            mqueue: None,
            mqueue_pos: std::sync::atomic::AtomicU64::new(0),
            synth_dir: None,
            synth_stat: None,
            writer,
            flock: std::sync::Mutex::default(),
            socket: None,
            ofd_locks: std::sync::Mutex::default(),
            fifo: None,
            signalfd: None,
            inotify: None,
        }
    }

    /// An open message queue.
    pub fn message_queue(
        queue: Arc<super::mqueue::MessageQueue>,
        path: Vec<u8>,
        flags: i32,
    ) -> Result<Arc<Self>, nix::errno::Errno> {
        let fd = queue.descriptor()?;
        Ok(Arc::new(OpenFile {
            fd,
            path,
            flags: std::sync::atomic::AtomicI32::new(flags),
            may_block: false,
            terminal: None,
            mqueue: Some(queue),
            mqueue_pos: std::sync::atomic::AtomicU64::new(0),
            synth_dir: None,
            synth_stat: None,
            writer: None,
            flock: std::sync::Mutex::default(),
            socket: None,
            ofd_locks: std::sync::Mutex::default(),
            fifo: None,
            signalfd: None,
            inotify: None,
        }))
    }

    /// A synthetic file or directory (procfs, devfs) with attributes
    /// `stat`: getdents reads `entries` when it is a directory.
    pub fn synthetic(
        fd: OwnedFd,
        path: Vec<u8>,
        flags: i32,
        stat: moat_gofer::Stat,
        entries: Option<crate::vfs::synth::DirEntries>,
    ) -> Arc<Self> {
        Arc::new(OpenFile {
            fd,
            path,
            flags: std::sync::atomic::AtomicI32::new(flags),
            may_block: false,
            terminal: None,
            mqueue: None,
            mqueue_pos: std::sync::atomic::AtomicU64::new(0),
            synth_dir: entries.map(|e| std::sync::Mutex::new((e, 0))),
            synth_stat: Some(stat),
            writer: None,
            flock: std::sync::Mutex::default(),
            socket: None,
            ofd_locks: std::sync::Mutex::default(),
            fifo: None,
            signalfd: None,
            inotify: None,
        })
    }

    /// An open end of a FIFO: host pipe descriptor `fd` and the end.
    pub fn fifo_end(fd: OwnedFd, path: Vec<u8>, flags: i32, end: crate::vfs::fifo::FifoEnd) -> Arc<Self> {
        Arc::new(OpenFile { fifo: Some(end), ..Self::host_value(fd, path, flags, None) })
    }

    /// A signalfd: its readiness eventfd `fd` and its state.
    pub fn signal_fd(fd: OwnedFd, flags: i32, s: Arc<super::signalfd::SignalFd>) -> Arc<Self> {
        Arc::new(OpenFile { signalfd: Some(s), ..Self::host_value(fd, b"anon_inode:[signalfd]".to_vec(), flags, None) })
    }

    /// An inotify instance: its readiness eventfd `fd` and the instance.
    pub fn inotify(fd: OwnedFd, flags: i32, i: Arc<super::inotify::Instance>) -> Arc<Self> {
        Arc::new(OpenFile { inotify: Some(i), ..Self::host_value(fd, b"anon_inode:inotify".to_vec(), flags, None) })
    }

    /// One end of a Unix socket: host socket `fd` and its sandbox side.
    pub fn socket(fd: OwnedFd, path: Vec<u8>, flags: i32, end: super::socket::SocketEnd) -> Arc<Self> {
        Arc::new(OpenFile {
            fd,
            path,
            flags: std::sync::atomic::AtomicI32::new(flags),
            may_block: true,
            terminal: None,
            mqueue: None,
            mqueue_pos: std::sync::atomic::AtomicU64::new(0),
            synth_dir: None,
            synth_stat: None,
            writer: None,
            flock: std::sync::Mutex::default(),
            socket: Some(end),
            ofd_locks: std::sync::Mutex::default(),
            fifo: None,
            signalfd: None,
            inotify: None,
        })
    }

    /// A Gofer-backed file opened for writing, holding its writer mark.
    pub fn written(fd: OwnedFd, path: Vec<u8>, flags: i32, writer: crate::vfs::inode_use::UseGuard) -> Arc<Self> {
        Self::host(fd, path, flags, Some(writer))
    }

    /// Its access mode and status flags.
    pub fn flags(&self) -> i32 {
        self.flags.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl AsFd for OpenFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[derive(Debug, Clone)]
struct Slot {
    file: Arc<OpenFile>,
    cloexec: bool,
}

/// A process's descriptor table, shared by the threads that share it
/// (`CLONE_FILES`): `clone` is a copy (fork), [`FdTable::share`] another
/// handle on the same table.
#[derive(Debug, Default)]
pub struct FdTable {
    inner: Arc<std::sync::Mutex<Table>>,
}

impl Clone for FdTable {
    fn clone(&self) -> Self {
        FdTable { inner: Arc::new(std::sync::Mutex::new(self.lock().clone())) }
    }
}

#[derive(Debug, Default, Clone)]
struct Table {
    slots: Vec<Option<Slot>>,
    /// `RLIMIT_NOFILE`: descriptors at or above it cannot be allocated.
    limit: usize,
}

impl FdTable {
    /// An empty table allowing descriptors below `limit`.
    pub fn new(limit: usize) -> Self {
        FdTable { inner: Arc::new(std::sync::Mutex::new(Table { slots: Vec::new(), limit })) }
    }

    /// Another handle on this very table (a thread made with CLONE_FILES).
    pub fn share(&self) -> Self {
        FdTable { inner: self.inner.clone() }
    }

    /// Makes this handle's table its own copy if other tasks share it
    /// (execve, unshare(CLONE_FILES)).
    pub fn unshare(&mut self) {
        if Arc::strong_count(&self.inner) > 1 {
            *self = self.clone();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the limit; descriptors already open above it stay open.
    pub fn set_limit(&mut self, limit: usize) {
        self.lock().set_limit(limit)
    }

    /// The file at `fd`, or `EBADF`.
    pub fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.lock().get(fd)
    }

    /// Installs `file` at the lowest free descriptor at or above `min`.
    pub fn insert(&mut self, file: Arc<OpenFile>, cloexec: bool, min: usize) -> Result<i32, Errno> {
        self.lock().insert(file, cloexec, min)
    }

    /// Installs `file` at `fd`, replacing what was there (dup2); returns
    /// what was there, to be dropped by the caller outside the table.
    pub fn set(&mut self, fd: i32, file: Arc<OpenFile>, cloexec: bool) -> Result<(), Errno> {
        let old = self.lock().set(fd, file, cloexec)?;
        drop(old);
        Ok(())
    }

    /// Closes `fd`.
    pub fn remove(&mut self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.lock().remove(fd)
    }

    /// The close-on-exec flag of `fd`.
    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.lock().cloexec(fd)
    }

    /// Sets the close-on-exec flag of `fd`.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        self.lock().set_cloexec(fd, on)
    }

    /// Closes every close-on-exec descriptor (at execve).
    pub fn close_on_exec(&mut self) {
        let closed = self.lock().close_on_exec();
        drop(closed);
    }

    /// The open descriptors, in order.
    pub fn fds(&self) -> std::vec::IntoIter<i32> {
        self.lock().fds().collect::<Vec<_>>().into_iter()
    }
}

impl Table {
    /// Changes the limit; descriptors already open above it stay open.
    fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The file at `fd`, or `EBADF`.
    fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.as_ref())
            .map(|s| s.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor at or above `min`.
    fn insert(&mut self, file: Arc<OpenFile>, cloexec: bool, min: usize) -> Result<i32, Errno> {
        let free = (min..self.limit).find(|&i| self.slots.get(i).is_none_or(|s| s.is_none())).ok_or(Errno::EMFILE)?;
        let _ = self.put(free, file, cloexec);
        Ok(free as i32)
    }

    /// Installs `file` at `fd`, replacing what was there (dup2).
    fn set(&mut self, fd: i32, file: Arc<OpenFile>, cloexec: bool) -> Result<Option<Slot>, Errno> {
        let i = usize::try_from(fd).ok().filter(|&i| i < self.limit).ok_or(Errno::EBADF)?;
        Ok(self.put(i, file, cloexec))
    }

    fn put(&mut self, i: usize, file: Arc<OpenFile>, cloexec: bool) -> Option<Slot> {
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        self.slots[i].replace(Slot { file, cloexec })
    }

    /// Closes `fd`.
    fn remove(&mut self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .map(|s| s.file)
            .ok_or(Errno::EBADF)
    }

    /// The close-on-exec flag of `fd`.
    fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.as_ref())
            .map(|s| s.cloexec)
            .ok_or(Errno::EBADF)
    }

    /// Sets the close-on-exec flag of `fd`.
    fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(|s| s.as_mut())
            .ok_or(Errno::EBADF)?;
        slot.cloexec = on;
        Ok(())
    }

    /// Closes every close-on-exec descriptor (at execve).
    fn close_on_exec(&mut self) -> Vec<Slot> {
        let mut closed = Vec::new();
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|s| s.cloexec) {
                closed.extend(s.take());
            }
        }
        closed
    }

    fn fds(&self) -> impl Iterator<Item = i32> + '_ {
        self.slots.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| i as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<OpenFile> {
        let fd = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty()).unwrap();
        OpenFile::new(fd, b"/dev/null".to_vec(), 0)
    }

    #[test]
    fn lowest_free_descriptor_and_limits() {
        let mut t = FdTable::new(4);
        assert_eq!(t.insert(file(), false, 0), Ok(0));
        assert_eq!(t.insert(file(), true, 0), Ok(1));
        assert_eq!(t.insert(file(), false, 3), Ok(3));
        assert_eq!(t.insert(file(), false, 0), Ok(2));
        assert_eq!(t.insert(file(), false, 0), Err(Errno::EMFILE));
        assert!(t.remove(2).is_ok());
        assert_eq!(t.remove(2).err(), Some(Errno::EBADF));
        assert_eq!(t.get(-1).err(), Some(Errno::EBADF));
        t.close_on_exec();
        assert_eq!(t.fds().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(t.set(4, file(), false), Err(Errno::EBADF));
    }
}
