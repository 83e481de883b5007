//! fcntl record locks, kept by the Sentry as flock locks are (the host
//! never sees them). Two kinds of owner: a process (POSIX locks: not
//! inherited by fork, all of a process's locks on a file released when it
//! closes any descriptor of that file, or exits) and an open file
//! description (OFD locks: shared by dup and fork, released with the
//! description's last close). Ranges are split and merged as Linux does,
//! so F_GETLK reports what Linux would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use crate::vfs::inode_use::InodeKey;

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOwner {
    /// A process, by pid (POSIX locks).
    Process(i32),
    /// An open file description, by its address while it lives (OFD locks).
    Description(usize),
}

/// One lock: a byte range, inclusive at both ends (`end` u64::MAX: to the
/// end of the file and beyond).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLock {
    /// Its holder.
    pub owner: LockOwner,
    /// F_RDLCK or F_WRLCK.
    pub kind: i16,
    /// First byte.
    pub start: u64,
    /// Last byte.
    pub end: u64,
}

impl RecordLock {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }

    fn conflicts(&self, owner: LockOwner, kind: i16, start: u64, end: u64) -> bool {
        self.owner != owner
            && self.overlaps(start, end)
            && (self.kind == libc::F_WRLCK as i16 || kind == libc::F_WRLCK as i16)
    }
}

/// Every file's record locks.
#[derive(Debug, Default)]
pub struct RecordLocks {
    files: Mutex<HashMap<InodeKey, Vec<RecordLock>>>,
}

/// OFD locks of one open file description; dropping it (with the
/// description's last close) releases them.
#[derive(Debug)]
pub struct OfdGuard {
    table: Arc<RecordLocks>,
    key: InodeKey,
    owner: LockOwner,
}

impl Drop for OfdGuard {
    fn drop(&mut self) {
        self.table.release(self.key, self.owner);
    }
}

impl RecordLocks {
    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<InodeKey, Vec<RecordLock>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first lock of another owner that a `kind` lock of `owner` on
    /// `start..=end` would conflict with (F_GETLK).
    pub fn test(&self, key: InodeKey, owner: LockOwner, kind: i16, start: u64, end: u64) -> Option<RecordLock> {
        self.files().get(&key)?.iter().find(|l| l.conflicts(owner, kind, start, end)).copied()
    }

    /// Sets (F_RDLCK, F_WRLCK) or removes (F_UNLCK) `owner`'s lock on
    /// `start..=end`; EAGAIN if another owner's lock is in the way.
    pub fn set(&self, key: InodeKey, owner: LockOwner, kind: i16, start: u64, end: u64) -> Result<(), Errno> {
        let mut files = self.files();
        let locks = files.entry(key).or_default();
        if kind != libc::F_UNLCK as i16 && locks.iter().any(|l| l.conflicts(owner, kind, start, end)) {
            return Err(Errno::EAGAIN);
        }
        // Cut the range out of the owner's own locks, keeping what lies
        // outside it.
        let mut kept = Vec::with_capacity(locks.len() + 2);
        for l in locks.drain(..) {
            if l.owner != owner || !l.overlaps(start, end) {
                kept.push(l);
                continue;
            }
            if l.start < start {
                kept.push(RecordLock { end: start - 1, ..l });
            }
            if l.end > end {
                kept.push(RecordLock { start: end + 1, ..l });
            }
        }
        if kind != libc::F_UNLCK as i16 {
            let mut new = RecordLock { owner, kind, start, end };
            // Merge with the owner's touching locks of the same kind.
            kept.retain(|l| {
                let touches = l.owner == owner
                    && l.kind == kind
                    && l.start <= new.end.saturating_add(1)
                    && new.start <= l.end.saturating_add(1);
                if touches {
                    new.start = new.start.min(l.start);
                    new.end = new.end.max(l.end);
                }
                !touches
            });
            kept.push(new);
        }
        kept.sort_by_key(|l| l.start);
        *locks = kept;
        if locks.is_empty() {
            files.remove(&key);
        }
        Ok(())
    }

    /// Removes every lock `owner` holds on the file.
    pub fn release(&self, key: InodeKey, owner: LockOwner) {
        let mut files = self.files();
        if let Some(locks) = files.get_mut(&key) {
            locks.retain(|l| l.owner != owner);
            if locks.is_empty() {
                files.remove(&key);
            }
        }
    }

    /// Whether `owner` holds any lock (so a close need not look further).
    pub fn holds_any(&self, owner: LockOwner) -> bool {
        self.files().values().any(|locks| locks.iter().any(|l| l.owner == owner))
    }

    /// Removes every lock process `pid` holds (it exited).
    pub fn release_process(&self, pid: i32) {
        let mut files = self.files();
        for locks in files.values_mut() {
            locks.retain(|l| l.owner != LockOwner::Process(pid));
        }
        files.retain(|_, l| !l.is_empty());
    }

    /// A guard releasing `owner`'s (a description's) locks on the file when
    /// dropped.
    pub fn guard(self: &Arc<Self>, key: InodeKey, owner: LockOwner) -> OfdGuard {
        OfdGuard { table: self.clone(), key, owner }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RD: i16 = libc::F_RDLCK as i16;
    const WR: i16 = libc::F_WRLCK as i16;
    const UN: i16 = libc::F_UNLCK as i16;
    const K: InodeKey = (1, 2);

    #[test]
    fn ranges_split_merge_and_conflict_as_linux() {
        let t = RecordLocks::default();
        let (a, b) = (LockOwner::Process(10), LockOwner::Process(20));
        t.set(K, a, WR, 0, 99).unwrap();
        t.set(K, a, UN, 40, 59).unwrap();
        assert_eq!(t.test(K, b, RD, 0, u64::MAX).map(|l| (l.start, l.end)), Some((0, 39)));
        assert_eq!(t.test(K, b, WR, 40, 59), None, "the hole is free");
        t.set(K, b, RD, 40, 59).unwrap();
        assert_eq!(t.set(K, b, RD, 30, 45), Err(Errno::EAGAIN));
        t.set(K, a, WR, 40, 40).unwrap_err();
        t.set(K, a, UN, 0, u64::MAX).unwrap();
        t.set(K, a, RD, 40, 50).unwrap();
        assert_eq!(t.test(K, LockOwner::Description(7), WR, 45, 45).map(|l| l.owner), Some(b));
        t.set(K, b, RD, 60, 70).unwrap();
        t.set(K, b, UN, 0, u64::MAX).unwrap();
        t.set(K, a, RD, 51, 60).unwrap();
        let merged = t.test(K, b, WR, 0, u64::MAX).unwrap();
        assert_eq!((merged.start, merged.end), (40, 60), "adjacent locks of one kind merge");
        t.release_process(10);
        assert_eq!(t.test(K, b, WR, 0, u64::MAX), None);
    }
}
