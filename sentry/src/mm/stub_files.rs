//! The host files a stub holds for file mappings. Each is the open file
//! description the application mapped, passed into the stub once and kept
//! for the next mapping of the same file with the same access, so that
//! ld.so mapping a library's four segments costs one transfer.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::stat::fstat;

/// How many files a stub keeps; beyond it the oldest is closed (its
/// mappings stay: a mapping holds its own reference to the file).
const MAX_HELD: usize = 64;

/// A file's identity and the access its descriptor grants: a description
/// opened read-only must never serve a mapping that asked for write access,
/// or an mprotect to PROT_WRITE of a shared mapping would get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    access: i32,
}

impl FileKey {
    /// The key of host descriptor `fd`.
    pub fn of(fd: BorrowedFd<'_>) -> Result<Self, Errno> {
        let st = fstat(fd)?;
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)?;
        Ok(FileKey { dev: st.st_dev, ino: st.st_ino, access: flags & (libc::O_ACCMODE | libc::O_APPEND) })
    }
}

/// The stub's held files, oldest first, with their descriptor numbers in
/// the stub. A forked stub inherits its parent's table, numbers included.
#[derive(Debug, Clone, Default)]
pub struct StubFiles {
    held: Vec<(FileKey, i32)>,
}

impl StubFiles {
    /// The stub's descriptor for `key`, if it holds one.
    pub fn find(&self, key: FileKey) -> Option<i32> {
        self.held.iter().find(|(k, _)| *k == key).map(|&(_, n)| n)
    }

    /// Records that the stub holds `key` at `n`; returns the descriptor to
    /// close in the stub when that pushes the oldest out.
    pub fn add(&mut self, key: FileKey, n: i32) -> Option<i32> {
        self.held.push((key, n));
        if self.held.len() > MAX_HELD { Some(self.held.remove(0).1) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_oldest_goes_first_and_access_tells_keys_apart() {
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        let ro = FileKey::of(f.as_fd()).unwrap();
        let rw = FileKey { access: libc::O_RDWR, ..ro };
        let mut t = StubFiles::default();
        assert_eq!(t.add(ro, 5), None);
        assert_eq!(t.find(ro), Some(5));
        assert_eq!(t.find(rw), None);
        for i in 0..MAX_HELD as i32 - 1 {
            assert_eq!(t.add(FileKey { ino: ro.ino + 1 + i as u64, ..ro }, 10 + i), None);
        }
        assert_eq!(t.add(rw, 99), Some(5));
        assert_eq!(t.find(ro), None);
        assert_eq!(t.find(rw), Some(99));
    }
}
