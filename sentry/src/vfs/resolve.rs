//! openat2's `RESOLVE_*` restrictions on a path walk.

use nix::errno::Errno;

/// How a walk may resolve its path (`struct open_how`'s `resolve`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolve {
    /// RESOLVE_NO_SYMLINKS: any symlink to follow is ELOOP.
    pub no_symlinks: bool,
    /// RESOLVE_NO_MAGICLINKS: a /proc magic link to follow is ELOOP.
    pub no_magiclinks: bool,
    /// RESOLVE_NO_XDEV: crossing into another file system is EXDEV.
    pub no_xdev: bool,
    /// RESOLVE_BENEATH: leaving the starting directory is EXDEV.
    pub beneath: bool,
    /// RESOLVE_IN_ROOT: the starting directory acts as `/`.
    pub in_root: bool,
}

const KNOWN: u64 = libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_BENEATH
    | libc::RESOLVE_IN_ROOT
    | libc::RESOLVE_CACHED;

impl Resolve {
    /// Decodes `resolve` as openat2 checks it: unknown bits, and BENEATH
    /// with IN_ROOT, are EINVAL. RESOLVE_CACHED is accepted (every lookup
    /// may be served from the dentry cache or not; Linux may say EAGAIN
    /// instead, which callers must handle anyway).
    pub fn from_bits(resolve: u64) -> Result<Resolve, Errno> {
        if resolve & !KNOWN != 0 {
            return Err(Errno::EINVAL);
        }
        let has = |b: u64| resolve & b != 0;
        let r = Resolve {
            no_symlinks: has(libc::RESOLVE_NO_SYMLINKS),
            no_magiclinks: has(libc::RESOLVE_NO_MAGICLINKS),
            no_xdev: has(libc::RESOLVE_NO_XDEV),
            beneath: has(libc::RESOLVE_BENEATH),
            in_root: has(libc::RESOLVE_IN_ROOT),
        };
        if r.beneath && r.in_root {
            return Err(Errno::EINVAL);
        }
        Ok(r)
    }

    /// Whether the walk is anchored at its starting directory.
    pub fn anchored(&self) -> bool {
        self.beneath || self.in_root
    }

    /// The check on following a symlink (`magic`: a /proc link to an open
    /// file, a cwd or an executable).
    pub fn follow(&self, magic: bool) -> Result<(), Errno> {
        if self.no_symlinks || (magic && self.no_magiclinks) {
            return Err(Errno::ELOOP);
        }
        Ok(())
    }

    /// The check on an absolute symlink target or path: `Ok(true)` when the
    /// walk restarts at its anchor instead of `/`.
    pub fn absolute(&self) -> Result<bool, Errno> {
        if self.beneath {
            return Err(Errno::EXDEV);
        }
        Ok(self.in_root)
    }

    /// The check on `..` at the anchor: `Ok(true)` when it stays there.
    pub fn dotdot_at_anchor(&self) -> Result<bool, Errno> {
        if self.beneath {
            return Err(Errno::EXDEV);
        }
        Ok(self.in_root)
    }
}

/// Whether a symlink at `path` (canonical) is one of /proc's magic links.
pub fn is_magic_link(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/proc/") else { return false };
    let mut parts = rest.split(|&b| b == b'/');
    let Some(pid) = parts.next() else { return false };
    if !(pid.iter().all(u8::is_ascii_digit) || pid == b"self" || pid == b"thread-self") {
        return false;
    }
    let tail: Vec<&[u8]> = parts.collect();
    matches!(tail.as_slice(), [b"exe"] | [b"cwd"] | [b"root"] | [b"fd", _])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_decode_as_openat2_checks_them() {
        assert_eq!(Resolve::from_bits(0x40), Err(Errno::EINVAL));
        let both = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
        assert_eq!(Resolve::from_bits(both), Err(Errno::EINVAL));
        assert!(Resolve::from_bits(libc::RESOLVE_BENEATH).unwrap().anchored());
        assert_eq!(Resolve::from_bits(libc::RESOLVE_CACHED), Ok(Resolve::default()));
    }

    #[test]
    fn magic_links_are_the_proc_ones() {
        assert!(is_magic_link(b"/proc/self/fd/3"));
        assert!(is_magic_link(b"/proc/12/exe"));
        assert!(!is_magic_link(b"/proc/self"));
        assert!(!is_magic_link(b"/proc/mounts"));
        assert!(!is_magic_link(b"/etc/fd/3"));
    }
}
