//! Checks on the names a peer sends. A name is one path component: the
//! Gofer never lets the host resolve a path of more than one.

use nix::errno::Errno;

/// Longest name Linux file systems accept (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// What a name is, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An ordinary name.
    Normal,
    /// `.`
    Dot,
    /// `..`
    DotDot,
}

/// Checks `name` as one component: not empty, no `/` or NUL, at most
/// [`NAME_MAX`] bytes. `EINVAL` for the first two, since no native call can
/// receive such a component; `ENAMETOOLONG` as Linux gives it.
pub fn check(name: &[u8]) -> Result<NameKind, Errno> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name.iter().any(|&b| b == b'/' || b == 0) {
        return Err(Errno::EINVAL);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(match name {
        b"." => NameKind::Dot,
        b".." => NameKind::DotDot,
        _ => NameKind::Normal,
    })
}

/// Checks a name that is to be created (mkdir, mknod, symlink, link, create,
/// rename target): `.` and `..` exist already, so `EEXIST` as Linux says.
pub fn check_new(name: &[u8]) -> Result<(), Errno> {
    match check(name)? {
        NameKind::Normal => Ok(()),
        NameKind::Dot | NameKind::DotDot => Err(Errno::EEXIST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_could_reach_another_directory() {
        assert_eq!(check(b"a/b"), Err(Errno::EINVAL));
        assert_eq!(check(b"/etc"), Err(Errno::EINVAL));
        assert_eq!(check(b"a\0b"), Err(Errno::EINVAL));
        assert_eq!(check(b""), Err(Errno::ENOENT));
        assert_eq!(check(&[b'x'; 256]), Err(Errno::ENAMETOOLONG));
        assert_eq!(check(&[b'x'; 255]), Ok(NameKind::Normal));
        assert_eq!(check(b".."), Ok(NameKind::DotDot));
        assert_eq!(check_new(b".."), Err(Errno::EEXIST));
        assert_eq!(check_new(b"."), Err(Errno::EEXIST));
    }
}
