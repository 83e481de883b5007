//! A task's credentials as Linux keeps them: real, effective, saved and
//! file-system user and group ids, supplementary groups, the five
//! capability sets, and the rules by which the set*id calls, capset,
//! prctl and execve change them (`kernel/cred.c`, `security/commoncap.c`).

use nix::errno::Errno;

/// Highest capability number this kernel knows (`CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = 40;
/// Every capability.
pub const ALL_CAPS: u64 = (1u64 << (CAP_LAST_CAP + 1)) - 1;
/// `CAP_CHOWN`.
pub const CAP_CHOWN: u32 = 0;
/// `CAP_DAC_OVERRIDE`: read and write any file, search any directory.
pub const CAP_DAC_OVERRIDE: u32 = 1;
/// `CAP_DAC_READ_SEARCH`: read any file, read and search any directory.
pub const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_FOWNER`.
pub const CAP_FOWNER: u32 = 3;
/// `CAP_FSETID`.
pub const CAP_FSETID: u32 = 4;
/// `CAP_KILL`.
pub const CAP_KILL: u32 = 5;
/// `CAP_SETGID`.
pub const CAP_SETGID: u32 = 6;
/// `CAP_SETUID`.
pub const CAP_SETUID: u32 = 7;
/// `CAP_SETPCAP`.
pub const CAP_SETPCAP: u32 = 8;
/// The capabilities a file-system id of 0 carries (`CAP_FS_SET`): what
/// setfsuid drops and raises.
const FS_SET: u64 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 27) | (1 << 32);

/// Linux's "leave it" value (-1 as an id).
pub const KEEP: u32 = u32::MAX;

/// The five capability sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Permitted.
    pub permitted: u64,
    /// Effective.
    pub effective: u64,
    /// Inheritable.
    pub inheritable: u64,
    /// Bounding.
    pub bounding: u64,
    /// Ambient.
    pub ambient: u64,
}

/// User and group ids and capabilities of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creds {
    /// Effective user id (what most checks use).
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Real user id.
    pub ruid: u32,
    /// Saved set-user-id.
    pub suid: u32,
    /// File-system user id.
    pub fsuid: u32,
    /// Real group id.
    pub rgid: u32,
    /// Saved set-group-id.
    pub sgid: u32,
    /// File-system group id.
    pub fsgid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// no_new_privs: set once (prctl, or the OCI spec's
    /// `noNewPrivileges`), kept across fork and execve, never cleared.
    pub no_new_privs: bool,
    /// Capability sets.
    pub caps: Capabilities,
    /// PR_SET_KEEPCAPS: keep the permitted set when the ids leave 0.
    pub keep_caps: bool,
}

fn bit(cap: u32) -> u64 {
    1u64 << cap
}

impl Creds {
    /// Credentials of a process started as `uid` / `gid` with `groups`, as
    /// execve would leave a process of those ids: root with every
    /// capability, another user with none; the bounding set full.
    pub fn new(uid: u32, gid: u32, groups: Vec<u32>) -> Self {
        let mut c = Creds {
            uid,
            gid,
            ruid: uid,
            suid: uid,
            fsuid: uid,
            rgid: gid,
            sgid: gid,
            fsgid: gid,
            groups,
            caps: Capabilities { bounding: ALL_CAPS, ..Capabilities::default() },
            ..Creds::default()
        };
        c.exec();
        c
    }

    /// The task as file-system checks see it: file-system ids,
    /// supplementary groups, effective capabilities.
    pub fn actor(&self) -> crate::vfs::access::Actor {
        crate::vfs::access::Actor {
            uid: self.fsuid,
            gid: self.fsgid,
            groups: self.groups.clone(),
            caps: self.caps.effective,
        }
    }

    /// The actor access(2) and faccessat without AT_EACCESS check as: the
    /// real ids, and for a real uid of 0 the permitted capabilities, else
    /// none (`access_override_creds`).
    pub fn real_actor(&self) -> crate::vfs::access::Actor {
        crate::vfs::access::Actor {
            uid: self.ruid,
            gid: self.rgid,
            groups: self.groups.clone(),
            caps: if self.ruid == 0 { self.caps.permitted } else { 0 },
        }
    }

    /// Starts from capability sets a runtime was given (the OCI spec's
    /// `process.capabilities`, or a `moat do` caller's own): the bounding,
    /// inheritable and ambient sets taken as they are (ambient only within
    /// permitted and inheritable), then what execve of the program makes of
    /// them, as runc's exec of the container process does.
    pub fn start_with(&mut self, given: Capabilities) {
        self.caps.bounding = given.bounding;
        self.caps.inheritable = given.inheritable;
        self.caps.ambient = given.ambient & given.permitted & given.inheritable;
        self.exec();
    }

    /// Whether capability `cap` is in the effective set.
    pub fn capable(&self, cap: u32) -> bool {
        self.caps.effective & bit(cap) != 0
    }

    /// Whether `gid` is the effective group or a supplementary one.
    pub fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.groups.contains(&gid)
    }

    /// chown's rules (`chown_ok`, `chgrp_ok`) for a file owned by
    /// `owner` (uid, gid): the owner may "change" the user to itself and the
    /// group to one of its own; anything else needs CAP_CHOWN.
    pub fn may_chown(&self, owner: (u32, u32), uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let owns = self.fsuid == owner.0;
        let uid_ok = uid.is_none_or(|u| (owns && u == owner.0) || self.capable(CAP_CHOWN));
        let gid_ok = gid.is_none_or(|g| (owns && (g == owner.1 || self.in_group(g))) || self.capable(CAP_CHOWN));
        if uid_ok && gid_ok { Ok(()) } else { Err(Errno::EPERM) }
    }

    /// chmod's rule: the owner, or CAP_FOWNER. Returns the mode to set:
    /// the set-group-id bit goes when the file's group is not the caller's
    /// and it lacks CAP_FSETID, as Linux drops it.
    pub fn may_chmod(&self, owner: (u32, u32), mode: u32) -> Result<u32, Errno> {
        if self.fsuid != owner.0 && !self.capable(CAP_FOWNER) {
            return Err(Errno::EPERM);
        }
        let keep_sgid = self.in_group(owner.1) || self.capable(CAP_FSETID);
        Ok(if keep_sgid { mode } else { mode & !libc::S_ISGID })
    }

    /// kill's rule (`kill_ok_by_cred`): a real or effective id of the
    /// sender matches the target's real or saved id, or CAP_KILL.
    pub fn may_signal(&self, target: &Creds) -> bool {
        self.capable(CAP_KILL) || [self.ruid, self.uid].iter().any(|&u| u == target.ruid || u == target.suid)
    }

    /// After a change of the user ids: capabilities follow as Linux's
    /// `cap_emulate_setxuid` has them follow.
    fn fix_setuid(&mut self, old: &Creds) {
        let had_root = old.ruid == 0 || old.uid == 0 || old.suid == 0;
        let has_root = self.ruid == 0 || self.uid == 0 || self.suid == 0;
        if had_root && !has_root {
            if !self.keep_caps {
                self.caps.permitted = 0;
                self.caps.effective = 0;
            }
            self.caps.ambient = 0;
        }
        if old.uid == 0 && self.uid != 0 {
            self.caps.effective = 0;
        }
        if old.uid != 0 && self.uid == 0 {
            self.caps.effective = self.caps.permitted;
        }
        self.fix_fsuid(old.fsuid);
    }

    /// After a change of the file-system user id.
    fn fix_fsuid(&mut self, old_fsuid: u32) {
        if old_fsuid == 0 && self.fsuid != 0 {
            self.caps.effective &= !FS_SET;
        }
        if old_fsuid != 0 && self.fsuid == 0 {
            self.caps.effective |= self.caps.permitted & FS_SET;
        }
    }

    /// setuid.
    pub fn setuid(&mut self, u: u32) -> Result<(), Errno> {
        if u == KEEP {
            return Err(Errno::EINVAL);
        }
        let old = self.clone();
        if self.capable(CAP_SETUID) {
            (self.ruid, self.suid) = (u, u);
        } else if u != self.ruid && u != self.suid {
            return Err(Errno::EPERM);
        }
        (self.uid, self.fsuid) = (u, u);
        self.fix_setuid(&old);
        Ok(())
    }

    /// setreuid.
    pub fn setreuid(&mut self, r: u32, e: u32) -> Result<(), Errno> {
        let old = self.clone();
        let cap = self.capable(CAP_SETUID);
        if r != KEEP && !(cap || r == old.ruid || r == old.uid) {
            return Err(Errno::EPERM);
        }
        if e != KEEP && !(cap || e == old.ruid || e == old.uid || e == old.suid) {
            return Err(Errno::EPERM);
        }
        if r != KEEP {
            self.ruid = r;
        }
        if e != KEEP {
            self.uid = e;
        }
        if r != KEEP || (e != KEEP && e != old.ruid) {
            self.suid = self.uid;
        }
        self.fsuid = self.uid;
        self.fix_setuid(&old);
        Ok(())
    }

    /// setresuid.
    pub fn setresuid(&mut self, r: u32, e: u32, s: u32) -> Result<(), Errno> {
        let old = self.clone();
        let mine = |v: u32| v == KEEP || v == old.ruid || v == old.uid || v == old.suid;
        if !(self.capable(CAP_SETUID) || (mine(r) && mine(e) && mine(s))) {
            return Err(Errno::EPERM);
        }
        if r != KEEP {
            self.ruid = r;
        }
        if e != KEEP {
            self.uid = e;
        }
        if s != KEEP {
            self.suid = s;
        }
        self.fsuid = self.uid;
        self.fix_setuid(&old);
        Ok(())
    }

    /// setfsuid: returns the old file-system id; never fails, as Linux.
    pub fn setfsuid(&mut self, f: u32) -> u32 {
        let old = self.fsuid;
        if f != KEEP && (self.capable(CAP_SETUID) || [self.ruid, self.uid, self.suid, self.fsuid].contains(&f)) {
            self.fsuid = f;
            self.fix_fsuid(old);
        }
        old
    }

    /// setgid.
    pub fn setgid(&mut self, g: u32) -> Result<(), Errno> {
        if g == KEEP {
            return Err(Errno::EINVAL);
        }
        if self.capable(CAP_SETGID) {
            (self.rgid, self.sgid) = (g, g);
        } else if g != self.rgid && g != self.sgid {
            return Err(Errno::EPERM);
        }
        (self.gid, self.fsgid) = (g, g);
        Ok(())
    }

    /// setregid.
    pub fn setregid(&mut self, r: u32, e: u32) -> Result<(), Errno> {
        let old = self.clone();
        let cap = self.capable(CAP_SETGID);
        if r != KEEP && !(cap || r == old.rgid || r == old.gid) {
            return Err(Errno::EPERM);
        }
        if e != KEEP && !(cap || e == old.rgid || e == old.gid || e == old.sgid) {
            return Err(Errno::EPERM);
        }
        if r != KEEP {
            self.rgid = r;
        }
        if e != KEEP {
            self.gid = e;
        }
        if r != KEEP || (e != KEEP && e != old.rgid) {
            self.sgid = self.gid;
        }
        self.fsgid = self.gid;
        Ok(())
    }

    /// setresgid.
    pub fn setresgid(&mut self, r: u32, e: u32, s: u32) -> Result<(), Errno> {
        let old = self.clone();
        let mine = |v: u32| v == KEEP || v == old.rgid || v == old.gid || v == old.sgid;
        if !(self.capable(CAP_SETGID) || (mine(r) && mine(e) && mine(s))) {
            return Err(Errno::EPERM);
        }
        if r != KEEP {
            self.rgid = r;
        }
        if e != KEEP {
            self.gid = e;
        }
        if s != KEEP {
            self.sgid = s;
        }
        self.fsgid = self.gid;
        Ok(())
    }

    /// setfsgid: returns the old file-system group id.
    pub fn setfsgid(&mut self, f: u32) -> u32 {
        let old = self.fsgid;
        if f != KEEP && (self.capable(CAP_SETGID) || [self.rgid, self.gid, self.sgid, self.fsgid].contains(&f)) {
            self.fsgid = f;
        }
        old
    }

    /// setgroups.
    pub fn setgroups(&mut self, groups: Vec<u32>) -> Result<(), Errno> {
        if !self.capable(CAP_SETGID) {
            return Err(Errno::EPERM);
        }
        self.groups = groups;
        Ok(())
    }

    /// capset: the new sets may only shrink, except that CAP_SETPCAP lets
    /// inheritable take what the bounding set has.
    pub fn capset(&mut self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        let c = self.caps;
        let known = ALL_CAPS;
        if (effective | permitted | inheritable) & !known != 0 {
            return Err(Errno::EPERM);
        }
        let inh_limit =
            if self.capable(CAP_SETPCAP) { c.inheritable | c.bounding } else { c.inheritable | c.permitted };
        if inheritable & !inh_limit != 0 || inheritable & !(c.inheritable | c.bounding) != 0 {
            return Err(Errno::EPERM);
        }
        if permitted & !c.permitted != 0 || effective & !permitted != 0 {
            return Err(Errno::EPERM);
        }
        self.caps.effective = effective;
        self.caps.permitted = permitted;
        self.caps.inheritable = inheritable;
        self.caps.ambient &= permitted & inheritable;
        Ok(())
    }

    /// PR_CAPBSET_DROP.
    pub fn drop_bounding(&mut self, cap: u32) -> Result<(), Errno> {
        if cap > CAP_LAST_CAP {
            return Err(Errno::EINVAL);
        }
        if !self.capable(CAP_SETPCAP) {
            return Err(Errno::EPERM);
        }
        self.caps.bounding &= !bit(cap);
        Ok(())
    }

    /// PR_CAP_AMBIENT_RAISE: only what is both permitted and inheritable.
    pub fn raise_ambient(&mut self, cap: u32) -> Result<(), Errno> {
        if cap > CAP_LAST_CAP {
            return Err(Errno::EINVAL);
        }
        if self.caps.permitted & self.caps.inheritable & bit(cap) == 0 {
            return Err(Errno::EPERM);
        }
        self.caps.ambient |= bit(cap);
        Ok(())
    }

    /// The transformation of execve of a file without capabilities or
    /// set-id bits (`cap_bprm_creds_from_file`): a root user gets its
    /// inheritable and bounding sets as permitted (effective too if the
    /// effective id is root); anyone else keeps the ambient set alone.
    pub fn exec(&mut self) {
        let c = &mut self.caps;
        if self.uid == 0 || self.ruid == 0 {
            c.permitted = c.inheritable | c.bounding;
            c.ambient = 0;
            c.effective = if self.uid == 0 { c.permitted } else { 0 };
        } else {
            c.permitted = c.ambient;
            c.effective = c.ambient;
        }
        self.keep_caps = false;
        self.suid = self.uid;
        self.fsuid = self.uid;
        self.sgid = self.gid;
        self.fsgid = self.gid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_leaving_uid_0_loses_its_capabilities_unless_kept() {
        let mut c = Creds::new(0, 0, vec![]);
        assert_eq!(c.caps.effective, ALL_CAPS);
        c.setresuid(KEEP, 1000, KEEP).unwrap();
        assert_eq!(c.caps.effective, 0, "effective cleared when the effective id leaves 0");
        assert_eq!(c.caps.permitted, ALL_CAPS, "the saved id is still 0");
        c.setresuid(KEEP, 0, KEEP).unwrap();
        assert_eq!(c.caps.effective, ALL_CAPS, "back to 0: effective = permitted");
        c.setuid(1000).unwrap();
        assert_eq!((c.ruid, c.uid, c.suid, c.caps.permitted), (1000, 1000, 1000, 0));
        assert_eq!(c.setuid(0), Err(Errno::EPERM));
        let mut k = Creds::new(0, 0, vec![]);
        k.keep_caps = true;
        k.setuid(1000).unwrap();
        assert_eq!((k.caps.permitted, k.caps.effective), (ALL_CAPS, 0));
    }

    #[test]
    fn unprivileged_ids_move_only_among_their_own() {
        let mut c = Creds::new(1000, 1000, vec![]);
        assert_eq!(c.caps.permitted, 0);
        assert_eq!(c.setreuid(KEEP, 0), Err(Errno::EPERM));
        assert_eq!(c.setgroups(vec![]), Err(Errno::EPERM));
        assert_eq!(c.setfsuid(0), 1000);
        assert_eq!(c.fsuid, 1000, "refused silently");
        assert_eq!(c.capset(0, 1, 0), Err(Errno::EPERM));
    }
}
