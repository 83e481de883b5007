//! flock locks, kept by the Sentry. A lock belongs to an open file
//! description (one `OpenFile`: dup and fork share it) and ends with its
//! last close. The host never sees these locks: passing them to the host
//! descriptors would let a sandbox hold locks on host files that host
//! programs wait for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use crate::vfs::inode_use::InodeKey;

#[derive(Debug, Clone, Copy)]
struct Holder {
    owner: usize,
    exclusive: bool,
}

/// The flock locks of every file in the sandbox.
#[derive(Debug, Default)]
pub struct FlockTable {
    locks: Mutex<HashMap<InodeKey, Vec<Holder>>>,
}

/// A lock an open file holds; dropping it releases the lock.
#[derive(Debug)]
pub struct FlockGuard {
    table: Arc<FlockTable>,
    key: InodeKey,
    owner: usize,
}

impl FlockTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InodeKey, Vec<Holder>>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remove(&self, key: InodeKey, owner: usize) {
        let mut m = self.lock();
        if let Some(v) = m.get_mut(&key) {
            v.retain(|h| h.owner != owner);
            if v.is_empty() {
                m.remove(&key);
            }
        }
    }

    /// Takes or converts `owner`'s lock on `key` if no other owner's lock
    /// conflicts; EWOULDBLOCK otherwise. As in Linux, a conversion that
    /// fails has already dropped the lock held before.
    pub fn try_lock(&self, key: InodeKey, owner: usize, exclusive: bool) -> Result<(), Errno> {
        let mut m = self.lock();
        let holders = m.entry(key).or_default();
        holders.retain(|h| h.owner != owner);
        if holders.iter().any(|h| h.exclusive || exclusive) {
            if holders.is_empty() {
                m.remove(&key);
            }
            return Err(Errno::EWOULDBLOCK);
        }
        holders.push(Holder { owner, exclusive });
        Ok(())
    }

    /// What releases `owner`'s lock on `key` when dropped: one per owner,
    /// whatever conversions its lock goes through.
    pub fn guard(self: &Arc<Self>, key: InodeKey, owner: usize) -> FlockGuard {
        FlockGuard { table: self.clone(), key, owner }
    }
}

impl Drop for FlockGuard {
    fn drop(&mut self) {
        self.table.remove(self.key, self.owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_exclusive_and_release() {
        let t = Arc::new(FlockTable::default());
        let key = (1, 2);
        t.try_lock(key, 1, false).unwrap();
        let a = t.guard(key, 1);
        t.try_lock(key, 2, false).unwrap();
        let b = t.guard(key, 2);
        assert_eq!(t.try_lock(key, 3, true), Err(Errno::EWOULDBLOCK));
        // The failed conversion dropped b's shared lock, as Linux does.
        assert_eq!(t.try_lock(key, 2, true), Err(Errno::EWOULDBLOCK));
        drop(b); // its entry is already gone: nothing else changes
        assert_eq!(t.try_lock(key, 3, true), Err(Errno::EWOULDBLOCK), "a still holds its lock");
        drop(a);
        t.try_lock(key, 3, true).unwrap();
        let c = t.guard(key, 3);
        assert_eq!(t.try_lock((1, 3), 1, true), Ok(()), "other files are independent");
        drop(t.guard((1, 3), 1));
        drop(c);
        assert!(t.lock().is_empty(), "released locks leave nothing behind");
    }
}
