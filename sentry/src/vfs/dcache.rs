//! The dentry cache: canonical path to the Gofer handle of that name.
//!
//! Entries are never evicted while the Sentry runs (an in-flight lookup may
//! hold any handle); past `MAX_ENTRIES`, new names are simply not cached
//! and their handles are released after use.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use moat_gofer::{HandleId, Stat};

/// Most names cached.
pub const MAX_ENTRIES: usize = 65536;

/// A cached name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dentry {
    /// Its Gofer handle, owned by the cache.
    pub handle: HandleId,
    /// Attributes when it was walked: its type never changes; anything
    /// else must be asked of the Gofer again.
    pub stat: Stat,
    /// A symlink's target.
    pub target: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Inner {
    by_path: HashMap<Vec<u8>, Dentry>,
    handles: HashSet<HandleId>,
}

/// The cache.
#[derive(Debug)]
pub struct DentryCache {
    inner: Mutex<Inner>,
    max: usize,
}

/// The canonical path of `name` in directory `dir`.
pub fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

impl DentryCache {
    /// An empty cache of at most `max` names.
    pub fn new(max: usize) -> Self {
        DentryCache { inner: Mutex::new(Inner::default()), max }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `path`.
    pub fn get(&self, path: &[u8]) -> Option<Dentry> {
        self.lock().by_path.get(path).cloned()
    }

    /// Caches `d` at `path`; false (and nothing kept) when full or when the
    /// path is cached already.
    pub fn insert(&self, path: Vec<u8>, d: Dentry) -> bool {
        let mut i = self.lock();
        if i.by_path.len() >= self.max || i.by_path.contains_key(&path) {
            return false;
        }
        i.handles.insert(d.handle);
        i.by_path.insert(path, d);
        true
    }

    /// Whether the cache owns `h` (callers must not release it).
    pub fn owns(&self, h: HandleId) -> bool {
        self.lock().handles.contains(&h)
    }

    /// Forgets `path` and everything below it (after the Sentry removed or
    /// renamed it); returns their handles for the caller to release once
    /// no lookup can be using them.
    pub fn forget(&self, path: &[u8]) -> Vec<HandleId> {
        let mut i = self.lock();
        let below = child_path(path, b"");
        let gone: Vec<Vec<u8>> =
            i.by_path.keys().filter(|k| k.as_slice() == path || k.starts_with(&below)).cloned().collect();
        let mut handles = Vec::new();
        for k in gone {
            if let Some(d) = i.by_path.remove(&k) {
                i.handles.remove(&d.handle);
                handles.push(d.handle);
            }
        }
        handles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(h: HandleId) -> Dentry {
        Dentry { handle: h, stat: Stat::default(), target: None }
    }

    #[test]
    fn insert_get_forget() {
        let c = DentryCache::new(3);
        assert!(c.insert(b"/a".to_vec(), d(1)));
        assert!(c.insert(b"/a/b".to_vec(), d(2)));
        assert!(!c.insert(b"/a".to_vec(), d(9)), "already cached");
        assert!(c.insert(b"/ab".to_vec(), d(3)));
        assert!(!c.insert(b"/c".to_vec(), d(4)), "full");
        assert!(c.owns(2) && !c.owns(4));
        let mut gone = c.forget(b"/a");
        gone.sort();
        assert_eq!(gone, [1, 2], "/ab is not below /a");
        assert_eq!(c.get(b"/ab").map(|e| e.handle), Some(3));
        assert_eq!(child_path(b"/", b"x"), b"/x");
    }
}
