//! Process and identity calls.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{ExitStatus, KernelRef, Task, exec};
use crate::loader::{MAX_ARG_STRLEN, MAX_ARGS_BYTES};
use crate::vfs::PATH_MAX;

pub(super) fn exit(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    // This thread alone; the process ends with its last thread.
    t.exit = Some(ExitStatus::Code(int(a[0]) & 0xff));
    Ok(0)
}

pub(super) fn exit_group(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.exit_group(ExitStatus::Code(int(a[0]) & 0xff));
    Ok(0)
}

/// Reads a NULL-terminated array of string pointers (argv, envp).
fn string_array(t: &Task, mut addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0usize;
    loop {
        let raw = t.mm.copy_in(addr, 8)?;
        let ptr = u64::from_le_bytes(raw.try_into().map_err(|_| Errno::EFAULT)?);
        if ptr == 0 {
            return Ok(out);
        }
        let s =
            t.mm.copy_in_cstr(ptr, MAX_ARG_STRLEN - 1)
                .map_err(|e| if e == Errno::ENAMETOOLONG { Errno::E2BIG } else { e })?;
        total += s.len() + 1 + 8;
        if total > MAX_ARGS_BYTES {
            return Err(Errno::E2BIG);
        }
        out.push(s);
        addr = addr.checked_add(8).ok_or(Errno::EFAULT)?;
    }
}

pub(super) fn execve(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let path = t.mm.copy_in_cstr(a[0], PATH_MAX - 1)?;
    let argv = string_array(t, a[1])?;
    let envp = string_array(t, a[2])?;
    if path.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    exec::execve(k, t, &path, argv, envp)?;
    Ok(0)
}

pub(super) fn getpid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(t.pid as i64)
}

pub(super) fn gettid(_k: &KernelRef, t: &mut Task, _a: &[u64; 6]) -> SysResult {
    Ok(t.tid as i64)
}

pub(super) fn set_tid_address(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.clear_child_tid = a[0];
    Ok(t.tid as i64)
}

pub(super) fn arch_prctl(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    const ARCH_SET_GS: i32 = 0x1001;
    const ARCH_SET_FS: i32 = 0x1002;
    const ARCH_GET_FS: i32 = 0x1003;
    const ARCH_GET_GS: i32 = 0x1004;
    match int(a[0]) {
        ARCH_SET_FS | ARCH_SET_GS => {
            if a[1] >= crate::arch::TASK_SIZE {
                return Err(Errno::EPERM.into());
            }
            if int(a[0]) == ARCH_SET_FS {
                t.regs.fs_base = a[1];
            } else {
                t.regs.gs_base = a[1];
            }
            Ok(0)
        }
        ARCH_GET_FS | ARCH_GET_GS => {
            let v = if int(a[0]) == ARCH_GET_FS { t.regs.fs_base } else { t.regs.gs_base };
            t.mm.copy_out(a[1], &v.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

pub(super) fn prctl(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if let Some(r) = super::creds::prctl_caps(t, a) {
        super::creds::publish(k, t)?;
        return r;
    }
    match int(a[0]) {
        libc::PR_SET_NAME => {
            // Linux copies at most 16 bytes and keeps 15.
            let mut name = Vec::new();
            for i in 0..16u64 {
                let b = t.mm.copy_in(a[1].checked_add(i).ok_or(Errno::EFAULT)?, 1)?[0];
                if b == 0 {
                    break;
                }
                name.push(b);
            }
            name.truncate(15);
            k.proc_infos.update(t.pid, |i| i.comm = name.clone());
            t.comm = name;
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut buf = [0u8; 16];
            let n = t.comm.len().min(15);
            buf[..n].copy_from_slice(&t.comm[..n]);
            t.mm.copy_out(a[1], &buf)?;
            Ok(0)
        }
        libc::PR_SET_NO_NEW_PRIVS => {
            if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL.into());
            }
            t.creds.no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if a[1] != 0 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
                return Err(Errno::EINVAL.into());
            }
            Ok(i64::from(t.creds.no_new_privs))
        }
        libc::PR_SET_PDEATHSIG => {
            let sig = a[1];
            if sig > 64 {
                return Err(Errno::EINVAL.into());
            }
            set_proc(k, t, |p| p.pdeathsig = sig as i32)
        }
        libc::PR_GET_PDEATHSIG => put_int(t, a[1], proc_of(k, t).pdeathsig),
        libc::PR_SET_CHILD_SUBREAPER => set_proc(k, t, |p| p.subreaper = a[1] != 0),
        libc::PR_GET_CHILD_SUBREAPER => put_int(t, a[1], i32::from(proc_of(k, t).subreaper)),
        libc::PR_SET_DUMPABLE => {
            // 2 (root-only core dumps) is for the kernel's policy, not callers.
            if a[1] > 1 {
                return Err(Errno::EINVAL.into());
            }
            set_proc(k, t, |p| p.undumpable = a[1] == 0)
        }
        libc::PR_GET_DUMPABLE => Ok(i64::from(!proc_of(k, t).undumpable)),
        libc::PR_SET_TIMERSLACK => set_proc(k, t, |p| p.timer_slack_ns = a[1]),
        libc::PR_GET_TIMERSLACK => Ok(match proc_of(k, t).timer_slack_ns {
            0 => DEFAULT_TIMER_SLACK_NS,
            v => v.min(i64::MAX as u64) as i64,
        }),
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Linux's default timer slack: 50 µs.
const DEFAULT_TIMER_SLACK_NS: i64 = 50_000;

fn proc_of(k: &KernelRef, t: &Task) -> crate::kernel::process::Proc {
    k.procs().get(t.pid).copied().unwrap_or_default()
}

fn set_proc(k: &KernelRef, t: &Task, f: impl FnOnce(&mut crate::kernel::process::Proc)) -> SysResult {
    if let Some(p) = k.procs().get_mut(t.pid) {
        f(p);
    }
    Ok(0)
}

fn put_int(t: &Task, addr: u64, v: i32) -> SysResult {
    t.mm.copy_out(addr, &v.to_le_bytes())?;
    Ok(0)
}

pub(super) fn uname(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let fields: [&[u8]; 6] =
        [b"Linux", &k.hostname, crate::kernel::RELEASE.as_bytes(), b"#1 SMP moat", b"x86_64", b"(none)"];
    let mut buf = [0u8; 6 * 65];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        buf[i * 65..i * 65 + n].copy_from_slice(&f[..n]);
    }
    t.mm.copy_out(a[0], &buf)?;
    Ok(0)
}

pub(super) fn getrandom(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = int(a[2]) as u32;
    let known = libc::GRND_NONBLOCK | libc::GRND_RANDOM | libc::GRND_INSECURE;
    if flags & !known != 0
        || flags & (libc::GRND_RANDOM | libc::GRND_INSECURE) == libc::GRND_RANDOM | libc::GRND_INSECURE
    {
        return Err(Errno::EINVAL.into());
    }
    let mut buf = vec![0u8; (a[1] as usize).min(1 << 20)];
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    let n = Errno::result(n)? as usize;
    t.mm.copy_out(a[0], &buf[..n])?;
    Ok(n as i64)
}

pub(super) fn umask(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let old = t.umask;
    t.umask = a[0] as u32 & 0o777;
    t.publish_fs();
    Ok(old as i64)
}

pub(super) fn sched_yield(_k: &KernelRef, _t: &mut Task, _a: &[u64; 6]) -> SysResult {
    std::thread::yield_now();
    Ok(0)
}

fn rlimit_bytes(l: crate::kernel::rlimits::Rlimit) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&l.cur.to_le_bytes());
    b[8..].copy_from_slice(&l.max.to_le_bytes());
    b
}

fn read_rlimit(t: &Task, addr: u64) -> Result<crate::kernel::rlimits::Rlimit, Errno> {
    let b = t.mm.copy_in(addr, 16)?;
    let cur = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let max = u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    Ok(crate::kernel::rlimits::Rlimit { cur, max })
}

fn apply_rlimit(t: &mut Task, res: u32, new: crate::kernel::rlimits::Rlimit) -> Result<(), Errno> {
    t.rlimits.set(res, new)?;
    if res == libc::RLIMIT_NOFILE {
        t.fds.set_limit(new.cur as usize);
    }
    Ok(())
}

pub(super) fn prlimit64(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (pid, res, new, old) = (int(a[0]), a[1] as u32, a[2], a[3]);
    if pid != 0 && pid != t.pid {
        return Err(Errno::ESRCH.into());
    }
    let current = t.rlimits.get(res)?;
    if new != 0 {
        let n = read_rlimit(t, new)?;
        apply_rlimit(t, res, n)?;
    }
    if old != 0 {
        t.mm.copy_out(old, &rlimit_bytes(current))?;
    }
    Ok(0)
}

pub(super) fn getrlimit(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let l = t.rlimits.get(a[0] as u32)?;
    t.mm.copy_out(a[1], &rlimit_bytes(l))?;
    Ok(0)
}

pub(super) fn setrlimit(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let res = a[0] as u32;
    t.rlimits.get(res)?;
    let n = read_rlimit(t, a[1])?;
    apply_rlimit(t, res, n)?;
    Ok(0)
}
