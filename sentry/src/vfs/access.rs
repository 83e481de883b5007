//! Discretionary access checks: who may read, write, search, create and
//! remove, by the mode bits and owners of the files involved and the
//! capabilities that override them, as Linux's `generic_permission`,
//! `may_create` and `may_delete` decide.
//!
//! The Sentry makes every check itself: the Gofer acts with the host's
//! root, so nothing behind it would refuse the sandbox anything.

use moat_gofer::{Owner, Stat};
use nix::errno::Errno;

use crate::kernel::creds::{CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID};

/// Read permission (`MAY_READ`).
pub const MAY_READ: u32 = 4;
/// Write permission (`MAY_WRITE`).
pub const MAY_WRITE: u32 = 2;
/// Execute or search permission (`MAY_EXEC`).
pub const MAY_EXEC: u32 = 1;

/// Who acts on the file system: the file-system ids, the supplementary
/// groups and the effective capabilities of the calling task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// File-system user id.
    pub uid: u32,
    /// File-system group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Effective capabilities, one bit per capability.
    pub caps: u64,
}

impl Actor {
    /// Root with every capability: the Sentry's own lookups, and tests.
    pub fn root() -> Actor {
        Actor { uid: 0, gid: 0, groups: Vec::new(), caps: u64::MAX }
    }

    /// Whether the actor holds capability `cap`.
    pub fn capable(&self, cap: u32) -> bool {
        cap < 64 && self.caps & (1 << cap) != 0
    }

    /// Whether `gid` is the actor's group or one of its supplementary ones.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether the actor owns the file or may act as its owner
    /// (`inode_owner_or_capable`).
    pub fn owns(&self, st: &Stat) -> bool {
        self.uid == st.uid || self.capable(CAP_FOWNER)
    }

    /// Linux's `generic_permission`: `want` (MAY_* bits) against the owner,
    /// group or other bits that apply to the actor, then the capabilities
    /// that override them. EACCES when refused.
    pub fn permission(&self, st: &Stat, want: u32) -> Result<(), Errno> {
        let want = want & (MAY_READ | MAY_WRITE | MAY_EXEC);
        // Only one class applies: an owner is refused what its owner bits
        // refuse, whatever the group or other bits say.
        let bits = if self.uid == st.uid {
            st.mode >> 6
        } else if self.in_group(st.gid) {
            st.mode >> 3
        } else {
            st.mode
        } & 7;
        if want & !bits == 0 {
            return Ok(());
        }
        if st.is_dir() {
            if want & MAY_WRITE == 0 && self.capable(CAP_DAC_READ_SEARCH) {
                return Ok(());
            }
            if self.capable(CAP_DAC_OVERRIDE) {
                return Ok(());
            }
            return Err(Errno::EACCES);
        }
        if want == MAY_READ && self.capable(CAP_DAC_READ_SEARCH) {
            return Ok(());
        }
        // Execution is only overridden when someone may execute the file.
        if (want & MAY_EXEC == 0 || st.mode & 0o111 != 0) && self.capable(CAP_DAC_OVERRIDE) {
            return Ok(());
        }
        Err(Errno::EACCES)
    }

    /// Making a name in directory `dir` (`may_create`).
    pub fn may_create(&self, dir: &Stat) -> Result<(), Errno> {
        self.permission(dir, MAY_WRITE | MAY_EXEC)
    }

    /// Removing or renaming away `victim` from directory `dir`
    /// (`may_delete`): write and search on the directory, and in a sticky
    /// directory ownership of the file or the directory, or CAP_FOWNER.
    pub fn may_delete(&self, dir: &Stat, victim: &Stat) -> Result<(), Errno> {
        self.permission(dir, MAY_WRITE | MAY_EXEC)?;
        if dir.mode & libc::S_ISVTX != 0 && self.uid != victim.uid && self.uid != dir.uid && !self.owns(victim) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// A hard link to `target` (Linux with `fs.protected_hardlinks = 1`, as
    /// Debian sets it): the owner may link anything; others only a regular
    /// file they may read and write that is not set-id, or with CAP_FOWNER.
    pub fn may_link(&self, target: &Stat) -> Result<(), Errno> {
        if self.owns(target) {
            return Ok(());
        }
        let setid = target.mode & libc::S_ISUID != 0
            || target.mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP;
        if target.file_type() == libc::S_IFREG && !setid && self.permission(target, MAY_READ | MAY_WRITE).is_ok() {
            return Ok(());
        }
        Err(Errno::EPERM)
    }

    /// Setting times other than "now" needs ownership; "now" needs
    /// ownership or write permission (`utimensat`).
    pub fn may_set_times(&self, st: &Stat, to_now: bool) -> Result<(), Errno> {
        if self.owns(st) {
            return Ok(());
        }
        if !to_now {
            return Err(Errno::EPERM);
        }
        self.permission(st, MAY_WRITE)
    }

    /// The owner and mode of a file the actor makes in directory `dir`
    /// with mode `mode` (`inode_init_owner`): in a set-group-id directory
    /// the file takes the directory's group, and a new directory keeps the
    /// bit; a set-group-id file made for a group the actor is not in loses
    /// it without CAP_FSETID.
    pub fn new_owner(&self, dir: &Stat, mode: u32, is_dir: bool) -> (Owner, u32) {
        if dir.mode & libc::S_ISGID == 0 {
            return (Owner { uid: self.uid, gid: self.gid }, mode);
        }
        let gid = dir.gid;
        let mode = if is_dir {
            mode | libc::S_ISGID
        } else if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP
            && !self.in_group(gid)
            && !self.capable(CAP_FSETID)
        {
            mode & !libc::S_ISGID
        } else {
            mode
        };
        (Owner { uid: self.uid, gid }, mode)
    }

    /// The set-id bits a write or truncate by the actor clears from a file
    /// of mode `mode` (`file_remove_privs`): set-user-id, and set-group-id
    /// when group execution is on, unless the actor has CAP_FSETID.
    pub fn setid_bits_to_clear(&self, mode: u32) -> u32 {
        if self.capable(CAP_FSETID) || mode & libc::S_IFMT != libc::S_IFREG {
            return 0;
        }
        let mut clear = mode & libc::S_ISUID;
        if mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
            clear |= libc::S_ISGID;
        }
        clear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mode: u32, uid: u32, gid: u32) -> Stat {
        Stat { mode: libc::S_IFREG | mode, uid, gid, ..Stat::default() }
    }

    fn dir(mode: u32, uid: u32, gid: u32) -> Stat {
        Stat { mode: libc::S_IFDIR | mode, uid, gid, ..Stat::default() }
    }

    fn user(uid: u32, gid: u32, groups: &[u32]) -> Actor {
        Actor { uid, gid, groups: groups.to_vec(), caps: 0 }
    }

    fn root_without(caps: &[u32]) -> Actor {
        let mut a = Actor::root();
        for c in caps {
            a.caps &= !(1 << c);
        }
        a
    }

    #[test]
    fn only_one_class_of_bits_applies() {
        let owner_locked_out = file(0o077, 1000, 1000);
        assert_eq!(user(1000, 1000, &[]).permission(&owner_locked_out, MAY_READ), Err(Errno::EACCES));
        assert_eq!(user(1001, 1000, &[]).permission(&owner_locked_out, MAY_READ), Ok(()));
        assert_eq!(user(1001, 5, &[1000]).permission(&owner_locked_out, MAY_WRITE), Ok(()));
        assert_eq!(user(1001, 5, &[]).permission(&file(0o640, 0, 1000), MAY_READ), Err(Errno::EACCES));
    }

    #[test]
    fn capabilities_override_as_linux_says() {
        let secret = file(0o000, 1000, 1000);
        assert_eq!(Actor::root().permission(&secret, MAY_READ | MAY_WRITE), Ok(()));
        assert_eq!(Actor::root().permission(&secret, MAY_EXEC), Err(Errno::EACCES), "no x bit anywhere");
        assert_eq!(Actor::root().permission(&file(0o100, 1, 1), MAY_EXEC), Ok(()));
        let reader = root_without(&[CAP_DAC_OVERRIDE]);
        assert_eq!(reader.permission(&secret, MAY_READ), Ok(()));
        assert_eq!(reader.permission(&secret, MAY_WRITE), Err(Errno::EACCES));
        assert_eq!(reader.permission(&dir(0o000, 1, 1), MAY_READ | MAY_EXEC), Ok(()));
        assert_eq!(reader.permission(&dir(0o000, 1, 1), MAY_WRITE), Err(Errno::EACCES));
        let neither = root_without(&[CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH]);
        assert_eq!(neither.permission(&secret, MAY_READ), Err(Errno::EACCES));
        assert_eq!(neither.permission(&file(0o600, 0, 0), MAY_READ), Ok(()), "root still owns its files");
    }

    #[test]
    fn sticky_directories_protect_other_users_files() {
        let tmp = dir(0o1777, 0, 0);
        let alice = user(1000, 1000, &[]);
        assert_eq!(alice.may_delete(&tmp, &file(0o644, 0, 0)), Err(Errno::EPERM));
        assert_eq!(alice.may_delete(&tmp, &file(0o644, 1000, 0)), Ok(()));
        assert_eq!(user(0, 0, &[]).may_delete(&tmp, &file(0o644, 1000, 0)), Ok(()), "owns the directory");
        assert_eq!(
            root_without(&[CAP_FOWNER]).may_delete(&dir(0o1777, 5, 5), &file(0o644, 1000, 0)),
            Err(Errno::EPERM)
        );
        assert_eq!(alice.may_delete(&dir(0o755, 0, 0), &file(0o644, 1000, 0)), Err(Errno::EACCES));
    }

    #[test]
    fn setgid_directories_pass_their_group_on() {
        let shared = dir(0o2775, 0, 1000);
        let (o, m) = user(5, 5, &[]).new_owner(&shared, 0o755, true);
        assert_eq!((o.uid, o.gid, m), (5, 1000, 0o2755));
        let (_, m) = user(5, 5, &[]).new_owner(&shared, 0o2755, false);
        assert_eq!(m, 0o755, "not in the group, no CAP_FSETID");
        let (o, m) = user(5, 5, &[]).new_owner(&dir(0o775, 0, 1000), 0o644, false);
        assert_eq!((o.gid, m), (5, 0o644));
    }

    #[test]
    fn writes_clear_set_id_bits_without_fsetid() {
        let alice = user(1000, 1000, &[]);
        assert_eq!(alice.setid_bits_to_clear(libc::S_IFREG | 0o6755), libc::S_ISUID | libc::S_ISGID);
        assert_eq!(alice.setid_bits_to_clear(libc::S_IFREG | 0o2745), 0, "set-gid without group x is a lock mark");
        assert_eq!(Actor::root().setid_bits_to_clear(libc::S_IFREG | 0o6755), 0);
    }

    #[test]
    fn hard_links_need_ownership_or_access() {
        let alice = user(1000, 1000, &[]);
        assert_eq!(alice.may_link(&file(0o600, 0, 0)), Err(Errno::EPERM));
        assert_eq!(alice.may_link(&file(0o666, 0, 0)), Ok(()));
        assert_eq!(alice.may_link(&file(0o4777, 0, 0)), Err(Errno::EPERM));
        assert_eq!(alice.may_link(&file(0o600, 1000, 0)), Ok(()));
    }
}
