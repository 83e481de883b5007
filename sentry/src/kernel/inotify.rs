//! inotify over the changes the Sentry makes itself (every change a
//! sandbox makes goes through it): the system call handlers report
//! creations, deletions, moves, writes and closes, and each instance
//! queues the events its watches ask for. Changes made on the host behind
//! the Gofer are not seen. An instance's host file is an eventfd that is
//! readable while events wait, so poll and epoll see it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::vfs::inode_use::InodeKey;

/// Most events an instance queues (`max_queued_events`); past it one
/// IN_Q_OVERFLOW.
const MAX_QUEUED: usize = 16384;

/// Every inotify instance of the sandbox.
#[derive(Debug, Default)]
pub struct Inotify {
    instances: Mutex<Vec<Weak<Instance>>>,
    watches: AtomicUsize,
    cookies: AtomicU32,
}

#[derive(Debug, Clone)]
struct Watch {
    wd: i32,
    key: InodeKey,
    mask: u32,
}

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Watch descriptor.
    pub wd: i32,
    /// IN_* bits.
    pub mask: u32,
    /// Ties IN_MOVED_FROM to IN_MOVED_TO.
    pub cookie: u32,
    /// The entry's name, for a watched directory's child.
    pub name: Vec<u8>,
}

impl Event {
    /// `struct inotify_event` bytes, the name NUL-padded to a multiple of
    /// 16 as Linux pads it.
    pub fn bytes(&self) -> Vec<u8> {
        let len = if self.name.is_empty() { 0 } else { (self.name.len() + 1).div_ceil(16) * 16 };
        let mut b = Vec::with_capacity(16 + len);
        b.extend_from_slice(&self.wd.to_le_bytes());
        b.extend_from_slice(&self.mask.to_le_bytes());
        b.extend_from_slice(&self.cookie.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(&self.name);
        b.resize(16 + len, 0);
        b
    }
}

#[derive(Debug, Default)]
struct Inner {
    watches: Vec<Watch>,
    next_wd: i32,
    queue: VecDeque<Event>,
}

/// One inotify instance (`inotify_init1`).
#[derive(Debug)]
pub struct Instance {
    inner: Mutex<Inner>,
    ready: EventFd,
    registry: Weak<Inotify>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let n = self.inner.get_mut().map(|i| i.watches.len()).unwrap_or(0);
        if let Some(r) = self.registry.upgrade() {
            r.watches.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

impl Inotify {
    /// A new instance, and the host descriptor its open file holds.
    pub fn instance(self: &Arc<Self>) -> Result<(Arc<Instance>, std::os::fd::OwnedFd), Errno> {
        use std::os::fd::AsFd;
        let ready = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let host = ready.as_fd().try_clone_to_owned().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
        let i = Arc::new(Instance { inner: Mutex::default(), ready, registry: Arc::downgrade(self) });
        let mut all = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&i));
        Ok((i, host))
    }

    /// Whether any watch exists (so handlers need not look further).
    pub fn active(&self) -> bool {
        self.watches.load(Ordering::Relaxed) > 0
    }

    /// A new cookie for a rename's pair of events.
    pub fn cookie(&self) -> u32 {
        self.cookies.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The file `key` is gone (its last link removed): watches on it get
    /// IN_DELETE_SELF if they asked, then go, with IN_IGNORED.
    pub fn gone(&self, key: InodeKey) {
        let all: Vec<Arc<Instance>> =
            self.instances.lock().unwrap_or_else(|p| p.into_inner()).iter().filter_map(Weak::upgrade).collect();
        for i in all {
            let wds: Vec<(i32, u32)> = {
                let inner = i.inner.lock().unwrap_or_else(|p| p.into_inner());
                inner.watches.iter().filter(|w| w.key == key).map(|w| (w.wd, w.mask)).collect()
            };
            for (wd, mask) in wds {
                if mask & libc::IN_DELETE_SELF != 0 {
                    let mut inner = i.inner.lock().unwrap_or_else(|p| p.into_inner());
                    let e = Event { wd, mask: libc::IN_DELETE_SELF, cookie: 0, name: Vec::new() };
                    Instance::queue(&mut inner, &i.ready, e);
                }
                let _ = i.rm_watch(wd);
            }
        }
    }

    /// Reports `mask` on the file `key` itself, and with `name` to the
    /// watches on its directory `dir`.
    pub fn report(&self, key: Option<InodeKey>, dir: Option<(InodeKey, &[u8])>, mask: u32, cookie: u32) {
        let all: Vec<Arc<Instance>> =
            self.instances.lock().unwrap_or_else(|p| p.into_inner()).iter().filter_map(Weak::upgrade).collect();
        for i in all {
            i.report(key, dir, mask, cookie);
        }
    }
}

impl Instance {
    /// Adds or updates the watch on `key`; returns its descriptor.
    pub fn add_watch(&self, key: InodeKey, mask: u32) -> i32 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = inner.watches.iter_mut().find(|w| w.key == key) {
            w.mask = if mask & libc::IN_MASK_ADD != 0 { w.mask | mask } else { mask };
            return w.wd;
        }
        inner.next_wd += 1;
        let wd = inner.next_wd;
        inner.watches.push(Watch { wd, key, mask });
        if let Some(r) = self.registry.upgrade() {
            r.watches.fetch_add(1, Ordering::Relaxed);
        }
        wd
    }

    /// Removes watch `wd` (queuing IN_IGNORED); EINVAL if there is none.
    pub fn rm_watch(&self, wd: i32) -> Result<(), Errno> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let at = inner.watches.iter().position(|w| w.wd == wd).ok_or(Errno::EINVAL)?;
        inner.watches.remove(at);
        if let Some(r) = self.registry.upgrade() {
            r.watches.fetch_sub(1, Ordering::Relaxed);
        }
        Self::queue(&mut inner, &self.ready, Event { wd, mask: libc::IN_IGNORED, cookie: 0, name: Vec::new() });
        Ok(())
    }

    fn queue(inner: &mut Inner, ready: &EventFd, e: Event) {
        // Linux drops an event identical to the last one still queued.
        if inner.queue.back() == Some(&e) {
            return;
        }
        if inner.queue.len() >= MAX_QUEUED {
            if inner.queue.back().map(|b| b.mask) != Some(libc::IN_Q_OVERFLOW) {
                inner.queue.push_back(Event { wd: -1, mask: libc::IN_Q_OVERFLOW, cookie: 0, name: Vec::new() });
            }
            return;
        }
        inner.queue.push_back(e);
        let _ = ready.write(1);
    }

    fn report(&self, key: Option<InodeKey>, dir: Option<(InodeKey, &[u8])>, mask: u32, cookie: u32) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let watches = inner.watches.clone();
        let event_bits = mask & !libc::IN_ISDIR;
        for w in &watches {
            if w.mask & event_bits == 0 {
                continue;
            }
            if Some(w.key) == key {
                let e = Event { wd: w.wd, mask: mask & (w.mask | libc::IN_ISDIR), cookie, name: Vec::new() };
                Self::queue(&mut inner, &self.ready, e);
            }
            if let Some((d, name)) = dir
                && w.key == d
            {
                let e = Event { wd: w.wd, mask: mask & (w.mask | libc::IN_ISDIR), cookie, name: name.to_vec() };
                Self::queue(&mut inner, &self.ready, e);
            }
        }
    }

    /// Takes whole events fitting in `room` bytes; EINVAL if the first does
    /// not fit.
    pub fn take(&self, room: usize) -> Result<Vec<u8>, Errno> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        while let Some(e) = inner.queue.front() {
            let b = e.bytes();
            if out.len() + b.len() > room {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            out.extend_from_slice(&b);
            inner.queue.pop_front();
        }
        if inner.queue.is_empty() {
            let _ = self.ready.read();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_get_their_events_once_with_names_for_directories() {
        let reg = Arc::new(Inotify::default());
        let (i, _fd) = reg.instance().unwrap();
        assert!(!reg.active());
        let dir = i.add_watch((1, 1), libc::IN_CREATE | libc::IN_DELETE);
        let file = i.add_watch((1, 2), libc::IN_MODIFY);
        assert!(reg.active());
        reg.report(Some((1, 2)), Some(((1, 1), b"f")), libc::IN_MODIFY, 0);
        reg.report(Some((1, 2)), Some(((1, 1), b"f")), libc::IN_MODIFY, 0);
        reg.report(Some((1, 3)), Some(((1, 1), b"new")), libc::IN_CREATE, 0);
        let got = i.take(4096).unwrap();
        let e1 = Event { wd: file, mask: libc::IN_MODIFY, cookie: 0, name: Vec::new() }.bytes();
        let e2 = Event { wd: dir, mask: libc::IN_CREATE, cookie: 0, name: b"new".to_vec() }.bytes();
        assert_eq!(e2.len(), 32);
        assert_eq!(got, [e1, e2].concat(), "the repeated modify coalesces");
        i.rm_watch(file).unwrap();
        assert_eq!(i.rm_watch(file), Err(Errno::EINVAL));
        assert_eq!(i.take(10), Err(Errno::EINVAL), "too small for IN_IGNORED");
        drop(i);
        assert!(!reg.active());
    }
}
