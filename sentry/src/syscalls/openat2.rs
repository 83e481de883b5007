//! openat2: openat with a versioned `struct open_how` and path
//! resolution restrictions.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};
use crate::vfs::resolve::Resolve;

/// Size of the first `struct open_how` (flags, mode, resolve).
const OPEN_HOW_SIZE_VER0: u64 = 24;
/// Every flag open(2) knows (Linux's VALID_OPEN_FLAGS).
const VALID_OPEN_FLAGS: u64 = (libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE) as u64;
/// The only flags O_PATH goes with in openat2.
const O_PATH_FLAGS: u64 = (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC) as u64;

/// A decoded `struct open_how`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenHow {
    /// open(2) flags.
    pub flags: i32,
    /// Mode of a created file.
    pub mode: u32,
    /// Resolution restrictions.
    pub resolve: Resolve,
}

/// Checks `struct open_how` as Linux does: `bytes` is what the caller
/// passed (its size already bounded); anything past the fields this
/// version knows must be zero.
pub fn decode(bytes: &[u8]) -> Result<OpenHow, Errno> {
    if (bytes.len() as u64) < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if bytes[OPEN_HOW_SIZE_VER0 as usize..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let field = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        u64::from_le_bytes(b)
    };
    let (flags, mode, resolve) = (field(0), field(1), field(2));
    if flags & !VALID_OPEN_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let creates = flags & libc::O_CREAT as u64 != 0 || flags & libc::O_TMPFILE as u64 == libc::O_TMPFILE as u64;
    if (creates && mode & !0o7777 != 0) || (!creates && mode != 0) {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_PATH as u64 != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let r = Resolve::from_bits(resolve)?;
    if resolve & libc::RESOLVE_CACHED != 0 && flags & (libc::O_TRUNC | libc::O_CREAT | libc::O_TMPFILE) as u64 != 0 {
        return Err(Errno::EAGAIN);
    }
    Ok(OpenHow { flags: flags as i32, mode: mode as u32, resolve: r })
}

pub(super) fn openat2(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let size = a[3];
    if size < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL.into());
    }
    if size > 4096 {
        return Err(Errno::E2BIG.into());
    }
    let mut bytes = vec![0u8; size as usize];
    t.mm.read_into(a[2], &mut bytes)?;
    let how = decode(&bytes)?;
    super::fs::do_open(k, t, int(a[0]), a[1], how.flags, how.mode, how.resolve)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn how(flags: u64, mode: u64, resolve: u64) -> Vec<u8> {
        [flags.to_le_bytes(), mode.to_le_bytes(), resolve.to_le_bytes()].concat()
    }

    #[test]
    fn open_how_is_checked_as_linux_checks_it() {
        assert_eq!(decode(&how(0, 0, 0)[..16]), Err(Errno::EINVAL));
        let mut longer = how(0, 0, 0);
        longer.extend([0u8; 8]);
        assert!(decode(&longer).is_ok(), "zeroes past the known fields");
        longer[30] = 1;
        assert_eq!(decode(&longer), Err(Errno::E2BIG));
        assert_eq!(decode(&how(1 << 40, 0, 0)), Err(Errno::EINVAL), "unknown flag");
        assert_eq!(decode(&how(0, 0o644, 0)), Err(Errno::EINVAL), "mode without O_CREAT");
        assert_eq!(decode(&how(libc::O_CREAT as u64, 0o10000, 0)), Err(Errno::EINVAL));
        assert_eq!(decode(&how((libc::O_PATH | libc::O_RDWR) as u64, 0, 0)), Err(Errno::EINVAL));
        assert_eq!(decode(&how(libc::O_CREAT as u64, 0, libc::RESOLVE_CACHED)), Err(Errno::EAGAIN));
        let ok = decode(&how(libc::O_RDONLY as u64, 0, libc::RESOLVE_BENEATH)).unwrap();
        assert!(ok.resolve.beneath);
    }
}
