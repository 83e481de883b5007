//! Which files are open for writing and which are running programs, so
//! that each excludes the other with ETXTBSY, as Linux does. The Sentry
//! copies program text out of the file, so the host cannot see this use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

/// A file by device and inode.
pub type InodeKey = (u64, u64);

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    writers: usize,
    programs: usize,
}

/// The counts of all files in use.
#[derive(Debug, Default)]
pub struct InodeUse {
    counts: Mutex<HashMap<InodeKey, Counts>>,
}

/// One use of a file; dropping it ends the use.
#[derive(Debug)]
pub struct UseGuard {
    registry: Arc<InodeUse>,
    key: InodeKey,
    program: bool,
}

impl InodeUse {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InodeKey, Counts>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(self: &Arc<Self>, key: InodeKey, program: bool) -> Result<UseGuard, Errno> {
        let mut m = self.lock();
        let c = m.entry(key).or_default();
        if (program && c.writers > 0) || (!program && c.programs > 0) {
            return Err(Errno::ETXTBSY);
        }
        if program {
            c.programs += 1;
        } else {
            c.writers += 1;
        }
        Ok(UseGuard { registry: self.clone(), key, program })
    }

    /// Opens `key` for writing: ETXTBSY while a process runs it.
    pub fn writer(self: &Arc<Self>, key: InodeKey) -> Result<UseGuard, Errno> {
        self.take(key, false)
    }

    /// Runs `key` as a program: ETXTBSY while it is open for writing.
    pub fn program(self: &Arc<Self>, key: InodeKey) -> Result<UseGuard, Errno> {
        self.take(key, true)
    }
}

impl Clone for UseGuard {
    fn clone(&self) -> Self {
        let mut m = self.registry.lock();
        let c = m.entry(self.key).or_default();
        if self.program {
            c.programs += 1;
        } else {
            c.writers += 1;
        }
        UseGuard { registry: self.registry.clone(), key: self.key, program: self.program }
    }
}

impl Drop for UseGuard {
    fn drop(&mut self) {
        let mut m = self.registry.lock();
        if let Some(c) = m.get_mut(&self.key) {
            if self.program {
                c.programs = c.programs.saturating_sub(1);
            } else {
                c.writers = c.writers.saturating_sub(1);
            }
            if c.writers == 0 && c.programs == 0 {
                m.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_and_programs_exclude_each_other() {
        let u = Arc::new(InodeUse::default());
        let w = u.writer((1, 2)).unwrap();
        assert_eq!(u.program((1, 2)).err(), Some(Errno::ETXTBSY));
        let w2 = w.clone();
        drop(w);
        assert_eq!(u.program((1, 2)).err(), Some(Errno::ETXTBSY), "one writer left");
        drop(w2);
        let p = u.program((1, 2)).unwrap();
        assert_eq!(u.writer((1, 2)).err(), Some(Errno::ETXTBSY));
        assert!(u.writer((1, 3)).is_ok(), "another file");
        drop(p);
        assert!(u.writer((1, 2)).is_ok());
    }
}
