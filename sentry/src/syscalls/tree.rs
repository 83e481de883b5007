//! Calls that change the file tree or attributes, and file system queries.

use moat_gofer::{SetAttr, Stat, TimeSet};
use nix::errno::Errno;

use super::fs::base_dir;
use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};
use crate::vfs::PATH_MAX;
use crate::vfs::access::Actor;

fn path(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    t.mm.copy_in_cstr(addr, PATH_MAX - 1)
}

fn do_mkdir(k: &KernelRef, t: &mut Task, dirfd: i32, p: u64, mode: u64) -> SysResult {
    let p = path(t, p)?;
    let base = base_dir(t, dirfd, &p)?;
    k.vfs.mkdir(&base, &p, mode as u32 & 0o7777 & !t.umask, &t.creds.actor())?;
    super::inotify::changed_path(k, &base, &p, None, libc::IN_CREATE | libc::IN_ISDIR, 0);
    Ok(0)
}

pub(super) fn mkdir(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_mkdir(k, t, libc::AT_FDCWD, a[0], a[1])
}

pub(super) fn mkdirat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_mkdir(k, t, int(a[0]), a[1], a[2])
}

fn do_mknod(k: &KernelRef, t: &mut Task, dirfd: i32, p: u64, mode: u64) -> SysResult {
    let p = path(t, p)?;
    let base = base_dir(t, dirfd, &p)?;
    let mode = mode as u32;
    let kind = if mode & libc::S_IFMT == 0 { libc::S_IFREG } else { mode & libc::S_IFMT };
    let perm = mode & 0o7777 & !t.umask;
    let who = t.creds.actor();
    if kind == libc::S_IFREG {
        k.vfs.open(&base, &p, libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY, perm, &who)?;
    } else {
        k.vfs.mknod(&base, &p, kind | perm, &who)?;
    }
    super::inotify::changed_path(k, &base, &p, None, libc::IN_CREATE, 0);
    Ok(0)
}

pub(super) fn mknod(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_mknod(k, t, libc::AT_FDCWD, a[0], a[1])
}

pub(super) fn mknodat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_mknod(k, t, int(a[0]), a[1], a[2])
}

fn do_unlink(k: &KernelRef, t: &mut Task, dirfd: i32, p: u64, flags: i32) -> SysResult {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL.into());
    }
    let p = path(t, p)?;
    let base = base_dir(t, dirfd, &p)?;
    let dir = flags & libc::AT_REMOVEDIR != 0;
    let removed = super::inotify::inode_of(k, &base, &p);
    k.vfs.unlink(&base, &p, dir, &t.creds.actor())?;
    // Linux's order: the file's own watches first (IN_DELETE_SELF, then
    // IN_IGNORED as they go), then its directory's IN_DELETE.
    if let Some((key, true)) = removed {
        k.inotify.gone(key);
    }
    let isdir = if dir { libc::IN_ISDIR } else { 0 };
    super::inotify::changed_path(k, &base, &p, None, libc::IN_DELETE | isdir, 0);
    Ok(0)
}

pub(super) fn unlink(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_unlink(k, t, libc::AT_FDCWD, a[0], 0)
}

pub(super) fn rmdir(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_unlink(k, t, libc::AT_FDCWD, a[0], libc::AT_REMOVEDIR)
}

pub(super) fn unlinkat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_unlink(k, t, int(a[0]), a[1], int(a[2]))
}

fn do_rename(k: &KernelRef, t: &mut Task, od: i32, o: u64, nd: i32, n: u64, flags: u64) -> SysResult {
    let (o, n) = (path(t, o)?, path(t, n)?);
    let (ob, nb) = (base_dir(t, od, &o)?, base_dir(t, nd, &n)?);
    let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    let moved = super::inotify::inode_of(k, &ob, &o);
    k.vfs.rename((&ob, &o), (&nb, &n), flags, &t.creds.actor())?;
    if k.inotify.active() {
        let cookie = k.inotify.cookie();
        super::inotify::changed_path(k, &ob, &o, None, libc::IN_MOVED_FROM, cookie);
        super::inotify::changed_path(k, &nb, &n, None, libc::IN_MOVED_TO, cookie);
        if let Some((key, _)) = moved {
            k.inotify.report(Some(key), None, libc::IN_MOVE_SELF, 0);
        }
    }
    Ok(0)
}

pub(super) fn rename(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_rename(k, t, libc::AT_FDCWD, a[0], libc::AT_FDCWD, a[1], 0)
}

pub(super) fn renameat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_rename(k, t, int(a[0]), a[1], int(a[2]), a[3], 0)
}

pub(super) fn renameat2(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_rename(k, t, int(a[0]), a[1], int(a[2]), a[3], a[4])
}

fn do_symlink(k: &KernelRef, t: &mut Task, target: u64, dirfd: i32, p: u64) -> SysResult {
    let target = path(t, target)?;
    let p = path(t, p)?;
    let base = base_dir(t, dirfd, &p)?;
    k.vfs.symlink(&base, &target, &p, &t.creds.actor())?;
    super::inotify::changed_path(k, &base, &p, None, libc::IN_CREATE, 0);
    Ok(0)
}

pub(super) fn symlink(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_symlink(k, t, a[0], libc::AT_FDCWD, a[1])
}

pub(super) fn symlinkat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_symlink(k, t, a[0], int(a[1]), a[2])
}

fn do_link(k: &KernelRef, t: &mut Task, od: i32, o: u64, nd: i32, n: u64, flags: i32) -> SysResult {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (o, n) = (path(t, o)?, path(t, n)?);
    let (ob, nb) = (base_dir(t, od, &o)?, base_dir(t, nd, &n)?);
    let who = t.creds.actor();
    let target = k.vfs.lookup(&ob, &o, flags & libc::AT_SYMLINK_FOLLOW != 0, &who)?;
    let r = k.vfs.link(&target, &nb, &n, &who);
    k.vfs.release(target.handle);
    r?;
    super::inotify::changed_path(k, &nb, &n, None, libc::IN_CREATE, 0);
    Ok(0)
}

pub(super) fn link(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_link(k, t, libc::AT_FDCWD, a[0], libc::AT_FDCWD, a[1], 0)
}

pub(super) fn linkat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    do_link(k, t, int(a[0]), a[1], int(a[2]), a[3], int(a[4]))
}

/// Sets `attr` on the file `p` names (`follow`ing a last symlink or not).
fn set_by_path(k: &KernelRef, t: &Task, dirfd: i32, p: u64, follow: bool, mut attr: SetAttr) -> SysResult {
    let p = path(t, p)?;
    let base = base_dir(t, dirfd, &p)?;
    let who = t.creds.actor();
    let found = k.vfs.lookup(&base, &p, follow, &who)?;
    // The owner as it is now (the cached lookup may predate a chown).
    let r = k
        .vfs
        .fresh_stat(&found)
        .and_then(|st| check_attr_change(t, &who, &st, &mut attr))
        .and_then(|()| k.vfs.set_attr(&found, attr));
    k.vfs.release(found.handle);
    r?;
    Ok(0)
}

/// chown, chmod, utimes and truncate against the caller's credentials,
/// for a file with attributes `st`; chmod's mode may lose its set-group-id
/// bit, and a truncate by a caller without CAP_FSETID clears set-id bits.
fn check_attr_change(t: &Task, who: &Actor, st: &Stat, attr: &mut SetAttr) -> Result<(), Errno> {
    let owner = (st.uid, st.gid);
    if attr.size.is_some() {
        if st.is_dir() {
            return Err(Errno::EISDIR);
        }
        who.permission(st, crate::vfs::access::MAY_WRITE)?;
        let clear = who.setid_bits_to_clear(st.mode);
        if clear != 0 {
            attr.mode = Some(st.mode & 0o7777 & !clear);
        }
        return Ok(());
    }
    if attr.atime != TimeSet::Omit || attr.mtime != TimeSet::Omit {
        let to_now = matches!((attr.atime, attr.mtime), (TimeSet::Now | TimeSet::Omit, TimeSet::Now | TimeSet::Omit));
        who.may_set_times(st, to_now)?;
    }
    if attr.uid.is_some() || attr.gid.is_some() {
        t.creds.may_chown(owner, attr.uid, attr.gid)?;
    }
    if let Some(mode) = attr.mode {
        attr.mode = Some(t.creds.may_chmod(owner, mode)?);
    }
    Ok(())
}

/// The owner of host file `fd`.
fn fd_owner(fd: &impl std::os::fd::AsFd) -> Result<(u32, u32), Errno> {
    let st = nix::sys::stat::fstat(fd)?;
    Ok((st.st_uid, st.st_gid))
}

fn mode_attr(mode: u64) -> SetAttr {
    SetAttr { mode: Some(mode as u32 & 0o7777), ..SetAttr::default() }
}

pub(super) fn chmod(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_by_path(k, t, libc::AT_FDCWD, a[0], true, mode_attr(a[1]))
}

pub(super) fn fchmodat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_by_path(k, t, int(a[0]), a[1], true, mode_attr(a[2]))
}

pub(super) fn fchmod(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let mode = t.creds.may_chmod(fd_owner(&f.fd)?, a[1] as u32 & 0o7777)?;
    nix::sys::stat::fchmod(&f.fd, nix::sys::stat::Mode::from_bits_truncate(mode))?;
    Ok(0)
}

fn owner_attr(uid: u64, gid: u64) -> SetAttr {
    let id = |v: u64| (v as u32 != u32::MAX).then_some(v as u32);
    SetAttr { uid: id(uid), gid: id(gid), ..SetAttr::default() }
}

pub(super) fn chown(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_by_path(k, t, libc::AT_FDCWD, a[0], true, owner_attr(a[1], a[2]))
}

pub(super) fn lchown(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set_by_path(k, t, libc::AT_FDCWD, a[0], false, owner_attr(a[1], a[2]))
}

pub(super) fn fchownat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = int(a[4]);
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    set_by_path(k, t, int(a[0]), a[1], flags & libc::AT_SYMLINK_NOFOLLOW == 0, owner_attr(a[2], a[3]))
}

pub(super) fn fchown(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let id = |v: u64| (v as u32 != u32::MAX).then_some(v as u32);
    t.creds.may_chown(fd_owner(&f.fd)?, id(a[1]), id(a[2]))?;
    nix::unistd::fchown(&f.fd, id(a[1]).map(Into::into), id(a[2]).map(Into::into))?;
    Ok(0)
}

fn time_set(t: &Task, addr: u64) -> Result<(TimeSet, TimeSet), Errno> {
    if addr == 0 {
        return Ok((TimeSet::Now, TimeSet::Now));
    }
    let b = t.mm.copy_in(addr, 32)?;
    let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let one = |sec: i64, nsec: i64| -> Result<TimeSet, Errno> {
        match nsec {
            n if n == libc::UTIME_NOW => Ok(TimeSet::Now),
            n if n == libc::UTIME_OMIT => Ok(TimeSet::Omit),
            n if (0..1_000_000_000).contains(&n) => Ok(TimeSet::At { sec, nsec }),
            _ => Err(Errno::EINVAL),
        }
    };
    Ok((one(word(0), word(1))?, one(word(2), word(3))?))
}

pub(super) fn utimensat(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (dirfd, flags) = (int(a[0]), int(a[3]));
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let (atime, mtime) = time_set(t, a[2])?;
    if a[1] == 0 {
        // futimens: the descriptor itself.
        let f = t.fds.get(dirfd)?;
        let ts = |s: TimeSet| match s {
            TimeSet::Now => nix::sys::time::TimeSpec::UTIME_NOW,
            TimeSet::Omit => nix::sys::time::TimeSpec::UTIME_OMIT,
            TimeSet::At { sec, nsec } => nix::sys::time::TimeSpec::new(sec, nsec),
        };
        nix::sys::stat::futimens(&f.fd, &ts(atime), &ts(mtime))?;
        return Ok(0);
    }
    let attr = SetAttr { atime, mtime, ..SetAttr::default() };
    set_by_path(k, t, dirfd, a[1], flags & libc::AT_SYMLINK_NOFOLLOW == 0, attr)
}

pub(super) fn truncate(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    set_by_path(k, t, libc::AT_FDCWD, a[0], true, SetAttr { size: Some(a[1]), ..SetAttr::default() })
}

pub(super) fn ftruncate(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    if (a[1] as i64) < 0 {
        return Err(Errno::EINVAL.into());
    }
    super::rw::remove_privs(k, t, &f)?;
    nix::unistd::ftruncate(&f.fd, a[1] as i64)?;
    super::inotify::changed_file(k, &f, libc::IN_MODIFY);
    Ok(0)
}

pub(super) fn fsync(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    nix::unistd::fsync(&f.fd)?;
    Ok(0)
}

pub(super) fn fdatasync(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    nix::unistd::fdatasync(&f.fd)?;
    Ok(0)
}

pub(super) fn sync(_k: &KernelRef, _t: &mut Task, _a: &[u64; 6]) -> SysResult {
    // The Gofer's files are the host's; the host writes them back.
    Ok(0)
}

/// The x86-64 `struct statfs` (120 bytes).
fn statfs_bytes(s: &moat_gofer::StatFs) -> [u8; 120] {
    let mut b = [0u8; 120];
    let words = [s.fs_type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    // f_fsid (8 bytes at 56) stays zero, as for an unprivileged caller.
    b[64..72].copy_from_slice(&s.namelen.to_le_bytes());
    b[72..80].copy_from_slice(&s.frsize.to_le_bytes());
    b[80..88].copy_from_slice(&s.flags.to_le_bytes());
    b
}

pub(super) fn statfs(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let p = path(t, a[0])?;
    let found = k.vfs.lookup(&t.cwd, &p, true, &t.creds.actor())?;
    let r = k.vfs.statfs(&found);
    k.vfs.release(found.handle);
    t.mm.copy_out(a[1], &statfs_bytes(&r?))?;
    Ok(0)
}

pub(super) fn fstatfs(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let st = moat_gofer::hostfs::statfs(std::os::fd::AsFd::as_fd(&f.fd))?;
    t.mm.copy_out(a[1], &statfs_bytes(&st))?;
    Ok(0)
}

/// The `struct statx` (256 bytes) of `s`, with the basic fields.
fn statx_bytes(s: &Stat) -> [u8; 256] {
    let mut b = [0u8; 256];
    let mask: u32 = 0x7ff; // STATX_BASIC_STATS
    b[0..4].copy_from_slice(&mask.to_le_bytes());
    b[4..8].copy_from_slice(&(s.blksize as u32).to_le_bytes());
    b[16..20].copy_from_slice(&(s.nlink as u32).to_le_bytes());
    b[20..24].copy_from_slice(&s.uid.to_le_bytes());
    b[24..28].copy_from_slice(&s.gid.to_le_bytes());
    b[28..30].copy_from_slice(&(s.mode as u16).to_le_bytes());
    b[32..40].copy_from_slice(&s.ino.to_le_bytes());
    b[40..48].copy_from_slice(&s.size.to_le_bytes());
    b[48..56].copy_from_slice(&s.blocks.to_le_bytes());
    for (off, (sec, nsec)) in [(64usize, s.atime), (96, s.ctime), (112, s.mtime)] {
        b[off..off + 8].copy_from_slice(&sec.to_le_bytes());
        b[off + 8..off + 12].copy_from_slice(&(nsec as u32).to_le_bytes());
    }
    let (rmaj, rmin) = (libc::major(s.rdev), libc::minor(s.rdev));
    let (dmaj, dmin) = (libc::major(s.dev), libc::minor(s.dev));
    for (off, v) in [(128usize, rmaj), (132, rmin), (136, dmaj), (140, dmin)] {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    b
}

pub(super) fn statx(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (dirfd, flags) = (int(a[0]), int(a[2]));
    let known = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT | libc::AT_STATX_SYNC_TYPE;
    if flags & !known != 0 || flags & libc::AT_STATX_SYNC_TYPE == libc::AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL.into());
    }
    if a[3] as u32 & 0x8000_0000 != 0 {
        // STATX__RESERVED
        return Err(Errno::EINVAL.into());
    }
    let p = path(t, a[1])?;
    let st = if p.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
        if dirfd == libc::AT_FDCWD {
            super::attr::path_stat(k, b"/", &t.cwd.clone(), true, &Actor::root())?
        } else {
            super::attr::fd_stat(t, dirfd)?
        }
    } else {
        t.refresh_proc(k, &p);
        let base = base_dir(t, dirfd, &p)?;
        super::attr::task_path_stat(k, t, &base, &p, flags & libc::AT_SYMLINK_NOFOLLOW == 0)?
    };
    t.mm.copy_out(a[4], &statx_bytes(&st))?;
    Ok(0)
}

pub(super) fn fchdir(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let st = nix::sys::stat::fstat(&f.fd)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR.into());
    }
    k.proc_infos.update(t.pid, |i| i.cwd = f.path.clone());
    t.cwd = f.path.clone();
    t.publish_fs();
    Ok(0)
}

pub(super) fn close_range(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] as u32);
    let cloexec = libc::CLOSE_RANGE_CLOEXEC;
    if flags & !(cloexec | libc::CLOSE_RANGE_UNSHARE) != 0 || first > last {
        return Err(Errno::EINVAL.into());
    }
    let fds: Vec<i32> = t.fds.fds().filter(|&fd| fd as u32 >= first && fd as u32 <= last).collect();
    for fd in fds {
        if flags & cloexec != 0 {
            t.fds.set_cloexec(fd, true)?;
        } else {
            if let Ok(f) = t.fds.get(fd) {
                super::record_lock::closing(k, t.pid, &f);
            }
            t.fds.remove(fd)?;
        }
    }
    Ok(0)
}
