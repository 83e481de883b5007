//! Changing user and group ids, in the simple form the Sentry keeps them
//! until the security issue brings full credentials: one user id and one
//! group id per task, standing for the real, effective and saved ids at
//! once. A task with user id 0 may set them to anything; another may only
//! "set" the ids it has (EPERM otherwise), as Linux lets an unprivileged
//! process do. Calls that would split the ids move them together, to the
//! effective one asked for.

use nix::errno::Errno;

use super::SysResult;
use crate::kernel::{KernelRef, Task};

/// Linux's "leave it" value (-1 as an id).
const KEEP: u32 = u32::MAX;
/// Most supplementary groups (`NGROUPS_MAX`).
const NGROUPS_MAX: u64 = 65536;

/// The id a set*id call leaves: `wanted` (real, effective, saved; KEEP for
/// unchanged) against the current `id`, for a task that is root or not.
fn next_id(id: u32, wanted: [u32; 3], root: bool) -> Result<u32, Errno> {
    let given: Vec<u32> = wanted.iter().copied().filter(|&v| v != KEEP).collect();
    if !root && given.iter().any(|&v| v != id) {
        return Err(Errno::EPERM);
    }
    // The effective id wins when the ids would split.
    Ok(if wanted[1] != KEEP { wanted[1] } else { given.first().copied().unwrap_or(id) })
}

fn set_uid(t: &mut Task, wanted: [u32; 3]) -> SysResult {
    t.creds.uid = next_id(t.creds.uid, wanted, t.creds.uid == 0)?;
    Ok(0)
}

fn set_gid(t: &mut Task, wanted: [u32; 3]) -> SysResult {
    t.creds.gid = next_id(t.creds.gid, wanted, t.creds.uid == 0)?;
    Ok(0)
}

pub(super) fn setuid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let u = a[0] as u32;
    if u == KEEP {
        return Err(Errno::EINVAL.into());
    }
    set_uid(t, [u, u, u])
}

pub(super) fn setgid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let g = a[0] as u32;
    if g == KEEP {
        return Err(Errno::EINVAL.into());
    }
    set_gid(t, [g, g, g])
}

pub(super) fn setreuid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_uid(t, [a[0] as u32, a[1] as u32, KEEP])
}

pub(super) fn setregid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_gid(t, [a[0] as u32, a[1] as u32, KEEP])
}

pub(super) fn setresuid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_uid(t, [a[0] as u32, a[1] as u32, a[2] as u32])
}

pub(super) fn setresgid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_gid(t, [a[0] as u32, a[1] as u32, a[2] as u32])
}

pub(super) fn setgroups(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let n = a[0];
    if n > NGROUPS_MAX {
        return Err(Errno::EINVAL.into());
    }
    if t.creds.uid != 0 {
        return Err(Errno::EPERM.into());
    }
    let raw = t.mm.copy_in(a[1], n as usize * 4)?;
    t.creds.groups = raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(0)
}

/// setfsuid / setfsgid: the file system ids are the effective ones here;
/// the call reports the current one and changes nothing.
pub(super) fn setfsuid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.uid))
}

pub(super) fn setfsgid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_sets_anything_others_only_their_own() {
        assert_eq!(next_id(0, [KEEP, 1000, KEEP], true), Ok(1000));
        assert_eq!(next_id(0, [KEEP, KEEP, KEEP], true), Ok(0));
        assert_eq!(next_id(1000, [1000, 1000, KEEP], false), Ok(1000));
        assert_eq!(next_id(1000, [0, KEEP, KEEP], false), Err(Errno::EPERM));
        assert_eq!(next_id(0, [5, KEEP, KEEP], true), Ok(5));
    }
}
