//! The set*id, get*id and capability calls: thin decoders into
//! `kernel::creds`, which holds Linux's rules.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};

/// Most supplementary groups (`NGROUPS_MAX`).
const NGROUPS_MAX: u64 = 65536;

fn id(v: u64) -> u32 {
    v as u32
}

pub(super) fn setuid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setuid(id(a[0]))?;
    publish(k, t)
}

pub(super) fn setgid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setgid(id(a[0]))?;
    publish(k, t)
}

pub(super) fn setreuid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setreuid(id(a[0]), id(a[1]))?;
    publish(k, t)
}

pub(super) fn setregid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setregid(id(a[0]), id(a[1]))?;
    publish(k, t)
}

pub(super) fn setresuid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setresuid(id(a[0]), id(a[1]), id(a[2]))?;
    publish(k, t)
}

pub(super) fn setresgid(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.creds.setresgid(id(a[0]), id(a[1]), id(a[2]))?;
    publish(k, t)
}

pub(super) fn setgroups(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let n = a[0] as i32;
    if n < 0 || n as u64 > NGROUPS_MAX {
        return Err(Errno::EINVAL.into());
    }
    let raw = t.mm.copy_in(a[1], n as usize * 4)?;
    let groups = raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    t.creds.setgroups(groups)?;
    publish(k, t)
}

pub(super) fn setfsuid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.setfsuid(id(a[0]))))
}

pub(super) fn setfsgid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.setfsgid(id(a[0]))))
}

/// Shows the task's new credentials to others: /proc/PID/status and the
/// permission checks of those who signal it.
pub(super) fn publish(k: &KernelRef, t: &Task) -> SysResult {
    let creds = t.creds.clone();
    k.proc_infos.update(t.pid, |i| i.creds = creds);
    Ok(0)
}

/// Writes three ids to three pointers (getresuid, getresgid).
fn put_three(t: &Task, ptrs: &[u64], ids: [u32; 3]) -> SysResult {
    for (p, v) in ptrs.iter().zip(ids) {
        t.mm.copy_out(*p, &v.to_le_bytes())?;
    }
    Ok(0)
}

pub(super) fn getresuid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    put_three(t, &a[..3], [t.creds.ruid, t.creds.uid, t.creds.suid])
}

pub(super) fn getresgid(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    put_three(t, &a[..3], [t.creds.rgid, t.creds.gid, t.creds.sgid])
}

pub(super) fn getuid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.ruid))
}

pub(super) fn geteuid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.uid))
}

pub(super) fn getgid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.rgid))
}

pub(super) fn getegid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(i64::from(t.creds.gid))
}

const VERSION_1: u32 = 0x1998_0330;
const VERSION_2: u32 = 0x2007_1026;
const VERSION_3: u32 = 0x2008_0522;

/// The capability header: how many 32-bit words per set, and the pid;
/// an unknown version is answered with the preferred one and EINVAL.
fn header(t: &Task, hdr: u64) -> Result<(usize, i32), Errno> {
    let b = t.mm.copy_in(hdr, 8)?;
    let version = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let pid = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    match version {
        VERSION_1 => Ok((1, pid)),
        VERSION_2 | VERSION_3 => Ok((2, pid)),
        _ => {
            t.mm.copy_out(hdr, &VERSION_3.to_le_bytes())?;
            Err(Errno::EINVAL)
        }
    }
}

pub(super) fn capget(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (words, pid) = match header(t, a[0]) {
        Err(Errno::EINVAL) if a[1] == 0 => return Ok(0),
        r => r?,
    };
    if pid < 0 {
        return Err(Errno::EINVAL.into());
    }
    if pid != 0 && pid != t.tid && pid != t.pid {
        // Other tasks' sets are theirs to read; not kept here yet.
        return Err(if k.procs().get(pid).is_some() { Errno::EPERM } else { Errno::ESRCH }.into());
    }
    if a[1] == 0 {
        return Ok(0);
    }
    let c = t.creds.caps;
    let mut out = Vec::with_capacity(words * 12);
    for w in 0..words {
        for set in [c.effective, c.permitted, c.inheritable] {
            out.extend_from_slice(&((set >> (32 * w)) as u32).to_le_bytes());
        }
    }
    t.mm.copy_out(a[1], &out)?;
    Ok(0)
}

pub(super) fn capset(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (words, pid) = header(t, a[0])?;
    if pid != 0 && pid != t.tid {
        return Err(Errno::EPERM.into());
    }
    let raw = t.mm.copy_in(a[1], words * 12)?;
    let word = |i: usize| u64::from(u32::from_le_bytes([raw[i * 4], raw[i * 4 + 1], raw[i * 4 + 2], raw[i * 4 + 3]]));
    let set = |k: usize| (0..words).fold(0u64, |acc, w| acc | word(w * 3 + k) << (32 * w));
    t.creds.capset(set(0), set(1), set(2))?;
    publish(k, t)
}

/// prctl's capability operations (PR_CAPBSET_*, PR_CAP_AMBIENT,
/// PR_*_KEEPCAPS, PR_GET_SECUREBITS); None for other options.
pub(super) fn prctl_caps(t: &mut Task, a: &[u64; 6]) -> Option<SysResult> {
    const PR_CAP_AMBIENT: i32 = 47;
    let arg = |i: usize| a[i];
    Some(match int(a[0]) {
        libc::PR_CAPBSET_READ => {
            if arg(1) > u64::from(crate::kernel::creds::CAP_LAST_CAP) {
                Err(Errno::EINVAL.into())
            } else {
                Ok(i64::from(t.creds.caps.bounding & (1 << arg(1)) != 0))
            }
        }
        libc::PR_CAPBSET_DROP => t.creds.drop_bounding(arg(1) as u32).map(|()| 0).map_err(Into::into),
        libc::PR_GET_KEEPCAPS => Ok(i64::from(t.creds.keep_caps)),
        libc::PR_SET_KEEPCAPS => match arg(1) {
            0 | 1 => {
                t.creds.keep_caps = arg(1) == 1;
                Ok(0)
            }
            _ => Err(Errno::EINVAL.into()),
        },
        libc::PR_GET_SECUREBITS => Ok(0),
        PR_CAP_AMBIENT => {
            let cap = arg(2);
            let valid = cap <= u64::from(crate::kernel::creds::CAP_LAST_CAP);
            match (arg(1), valid) {
                // PR_CAP_AMBIENT_CLEAR_ALL takes no capability.
                (4, _) if arg(2) == 0 && arg(3) == 0 && arg(4) == 0 => {
                    t.creds.caps.ambient = 0;
                    Ok(0)
                }
                (_, false) => Err(Errno::EINVAL.into()),
                _ if arg(3) != 0 || arg(4) != 0 => Err(Errno::EINVAL.into()),
                (1, true) => Ok(i64::from(t.creds.caps.ambient & (1 << cap) != 0)),
                (2, true) => t.creds.raise_ambient(cap as u32).map(|()| 0).map_err(Into::into),
                (3, true) => {
                    t.creds.caps.ambient &= !(1 << cap);
                    Ok(0)
                }
                _ => Err(Errno::EINVAL.into()),
            }
        }
        _ => return None,
    })
}
