//! The list of mappings an application sees: address-ordered, never
//! overlapping, split and merged as Linux does for mmap, munmap and mprotect.

use std::collections::BTreeMap;

/// What backs a mapping, for `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// Anonymous memory.
    Anonymous,
    /// A private copy of a file's contents (path, offset of `start`).
    File {
        /// Path in the sandbox.
        path: String,
        /// File offset that `start` maps.
        offset: u64,
        /// The host file's (device, inode), when a host file is mapped:
        /// what shared futexes on the mapping are keyed by.
        host: Option<(u64, u64)>,
    },
    /// The heap (`[heap]`).
    Heap,
    /// The main thread's stack (`[stack]`).
    Stack,
    /// A kernel-provided mapping (`[vdso]`, `[vvar]`).
    Special(&'static str),
}

/// One mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vma {
    /// First address.
    pub start: u64,
    /// First address after.
    pub end: u64,
    /// `PROT_*` bits.
    pub prot: i32,
    /// MAP_SHARED rather than private.
    pub shared: bool,
    /// What backs it.
    pub backing: Backing,
}

impl Vma {
    /// The part of this mapping within `[start, end)`, with the file offset
    /// moved along.
    fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        v.start = start.max(self.start);
        v.end = end.min(self.end);
        if let Backing::File { offset, .. } = &mut v.backing {
            *offset += v.start - self.start;
        }
        v
    }
}

/// The mappings of one address space.
#[derive(Debug, Default, Clone)]
pub struct VmaSet {
    by_start: BTreeMap<u64, Vma>,
}

impl VmaSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mappings in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.by_start.values()
    }

    /// The mapping containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.by_start.range(..=addr).next_back().map(|(_, v)| v).filter(|v| addr < v.end)
    }

    /// Whether any mapping overlaps `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.by_start.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    /// Removes `[start, end)`, splitting mappings that straddle its edges.
    pub fn remove(&mut self, start: u64, end: u64) {
        let hit: Vec<u64> = self.by_start.range(..end).filter(|(_, v)| v.end > start).map(|(k, _)| *k).collect();
        for k in hit {
            let Some(v) = self.by_start.remove(&k) else { continue };
            if v.start < start {
                let left = v.slice(v.start, start);
                self.by_start.insert(left.start, left);
            }
            if v.end > end {
                let right = v.slice(end, v.end);
                self.by_start.insert(right.start, right);
            }
        }
    }

    /// Adds a mapping, replacing whatever was in its range (MAP_FIXED).
    pub fn insert(&mut self, vma: Vma) {
        self.remove(vma.start, vma.end);
        self.by_start.insert(vma.start, vma);
    }

    /// Sets the protection of `[start, end)`; only mapped parts change.
    /// Returns false if some page of the range was not mapped (ENOMEM).
    pub fn protect(&mut self, start: u64, end: u64, prot: i32) -> bool {
        let parts: Vec<Vma> =
            self.by_start.range(..end).filter(|(_, v)| v.end > start).map(|(_, v)| v.clone()).collect();
        let covered: u64 = parts.iter().map(|v| v.end.min(end) - v.start.max(start)).sum();
        for v in parts {
            let mut mid = v.slice(start, end);
            mid.prot = prot;
            self.insert(mid);
        }
        covered == end - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64, prot: i32) -> Vma {
        Vma { start, end, prot, shared: false, backing: Backing::Anonymous }
    }

    fn ranges(s: &VmaSet) -> Vec<(u64, u64, i32)> {
        s.iter().map(|v| (v.start, v.end, v.prot)).collect()
    }

    #[test]
    fn unmapping_the_middle_splits() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x5000, 3));
        s.remove(0x2000, 0x3000);
        assert_eq!(ranges(&s), [(0x1000, 0x2000, 3), (0x3000, 0x5000, 3)]);
        assert!(s.find(0x2800).is_none());
        assert_eq!(s.find(0x3000).map(|v| v.start), Some(0x3000));
        assert!(s.overlaps(0x1fff, 0x2001));
        assert!(!s.overlaps(0x2000, 0x3000));
    }

    #[test]
    fn protect_splits_and_reports_holes() {
        let mut s = VmaSet::new();
        s.insert(Vma {
            start: 0x1000,
            end: 0x4000,
            prot: 1,
            shared: false,
            backing: Backing::File { path: "/f".into(), offset: 0, host: None },
        });
        assert!(s.protect(0x2000, 0x3000, 3));
        assert_eq!(ranges(&s), [(0x1000, 0x2000, 1), (0x2000, 0x3000, 3), (0x3000, 0x4000, 1)]);
        assert_eq!(s.find(0x3000).unwrap().backing, Backing::File { path: "/f".into(), offset: 0x2000, host: None });
        assert!(!s.protect(0x3000, 0x6000, 0));
    }

    #[test]
    fn fixed_mapping_replaces_what_it_covers() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x3000, 1));
        s.insert(anon(0x2000, 0x4000, 7));
        assert_eq!(ranges(&s), [(0x1000, 0x2000, 1), (0x2000, 0x4000, 7)]);
    }
}
