//! Extended attributes: by path through the Gofer, by descriptor on the
//! donated host descriptor.

use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::fs::base_dir;
use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};
use crate::vfs::PATH_MAX;

/// Linux's `XATTR_NAME_MAX` and `XATTR_SIZE_MAX`.
const NAME_MAX: usize = 255;
const SIZE_MAX: usize = 65536;

fn name(t: &Task, addr: u64) -> Result<Vec<u8>, Errno> {
    let n = t.mm.copy_in_cstr(addr, NAME_MAX).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::ERANGE } else { e })?;
    if n.is_empty() {
        return Err(Errno::ERANGE);
    }
    Ok(n)
}

/// The file `path` names; its synthetic files (/proc, /dev) have no
/// extended attributes: ENODATA to read, EPERM to write.
fn found(k: &KernelRef, t: &Task, path: u64, follow: bool, synth_err: Errno) -> Result<crate::vfs::Found, Errno> {
    let p = t.mm.copy_in_cstr(path, PATH_MAX - 1)?;
    let base = base_dir(t, libc::AT_FDCWD, &p)?;
    let f = k.vfs.lookup(&base, &p, follow, &t.creds.actor())?;
    if k.vfs.synth_node(f.handle).is_some() {
        k.vfs.release(f.handle);
        return Err(synth_err);
    }
    Ok(f)
}

/// Copies a value or list out, as getxattr and listxattr return it.
fn give(t: &Task, buf: u64, size: u64, x: moat_gofer::XattrData) -> SysResult {
    if size == 0 {
        return Ok(x.len as i64);
    }
    t.mm.copy_out(buf, &x.data)?;
    Ok(x.data.len() as i64)
}

fn get(k: &KernelRef, t: &mut Task, a: &[u64; 6], follow: bool) -> SysResult {
    let n = name(t, a[1])?;
    let f = found(k, t, a[0], follow, Errno::ENODATA)?;
    let r = k.vfs.gofer().get_xattr(f.handle, &n, a[3].min(SIZE_MAX as u64) as u32).map_err(|e| e.errno());
    k.vfs.release(f.handle);
    give(t, a[2], a[3], r?)
}

pub(super) fn getxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    get(k, t, a, true)
}

pub(super) fn lgetxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    get(k, t, a, false)
}

fn list(k: &KernelRef, t: &mut Task, a: &[u64; 6], follow: bool) -> SysResult {
    let f = match found(k, t, a[0], follow, Errno::ENODATA) {
        Err(Errno::ENODATA) => return Ok(0),
        other => other?,
    };
    let r = k.vfs.gofer().list_xattr(f.handle, a[2].min(SIZE_MAX as u64) as u32).map_err(|e| e.errno());
    k.vfs.release(f.handle);
    give(t, a[1], a[2], r?)
}

pub(super) fn listxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    list(k, t, a, true)
}

pub(super) fn llistxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    list(k, t, a, false)
}

fn set(k: &KernelRef, t: &mut Task, a: &[u64; 6], follow: bool) -> SysResult {
    let n = name(t, a[1])?;
    if a[3] as usize > SIZE_MAX {
        return Err(Errno::E2BIG.into());
    }
    let value = t.mm.copy_in(a[2], a[3] as usize)?;
    let f = found(k, t, a[0], follow, Errno::EPERM)?;
    let r = k.vfs.gofer().set_xattr(f.handle, &n, &value, int(a[4])).map_err(|e| e.errno());
    k.vfs.release(f.handle);
    r?;
    Ok(0)
}

pub(super) fn setxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set(k, t, a, true)
}

pub(super) fn lsetxattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    set(k, t, a, false)
}

fn remove(k: &KernelRef, t: &mut Task, a: &[u64; 6], follow: bool) -> SysResult {
    let n = name(t, a[1])?;
    let f = found(k, t, a[0], follow, Errno::EPERM)?;
    let r = k.vfs.gofer().remove_xattr(f.handle, &n).map_err(|e| e.errno());
    k.vfs.release(f.handle);
    r?;
    Ok(0)
}

pub(super) fn removexattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    remove(k, t, a, true)
}

pub(super) fn lremovexattr(k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    remove(k, t, a, false)
}

pub(super) fn fgetxattr(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let n = std::ffi::CString::new(name(t, a[1])?).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; (a[3] as usize).min(SIZE_MAX)];
    // SAFETY: `n` is NUL-terminated and `buf` writable for its length.
    let r = unsafe { libc::fgetxattr(f.fd.as_raw_fd(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let len = Errno::result(r)? as usize;
    if a[3] != 0 {
        t.mm.copy_out(a[2], &buf[..len])?;
    }
    Ok(len as i64)
}

pub(super) fn flistxattr(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let f = t.fds.get(int(a[0]))?;
    let mut buf = vec![0u8; (a[2] as usize).min(SIZE_MAX)];
    // SAFETY: `buf` is writable for its length.
    let r = unsafe { libc::flistxattr(f.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let len = Errno::result(r)? as usize;
    if a[2] != 0 {
        t.mm.copy_out(a[1], &buf[..len])?;
    }
    Ok(len as i64)
}
