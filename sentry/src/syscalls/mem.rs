//! Memory calls: brk, mmap, munmap, mprotect.

use std::os::fd::AsFd;

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};
use crate::mm::vma::Backing;

pub(super) fn brk(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    Ok(t.mm.brk(a[0]).map_err(|p| super::SysError::Fatal(p.into()))? as i64)
}

pub(super) fn mmap(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (a[0], a[1], int(a[2]), int(a[3]), int(a[4]), a[5]);
    if prot & !(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) != 0 {
        return Err(Errno::EINVAL.into());
    }
    let kind = flags & (libc::MAP_SHARED | libc::MAP_PRIVATE | libc::MAP_SHARED_VALIDATE);
    if kind != libc::MAP_SHARED && kind != libc::MAP_PRIVATE {
        return Err(Errno::EINVAL.into());
    }
    if flags & libc::MAP_ANONYMOUS != 0 {
        return Ok(t.mm.mmap_anonymous(addr, len, prot, flags)? as i64);
    }
    if off % crate::arch::PAGE_SIZE != 0 {
        return Err(Errno::EINVAL.into());
    }
    let f = t.fds.get(fd)?;
    if len == 0 {
        return Err(Errno::EINVAL.into());
    }
    let acc = f.flags() & libc::O_ACCMODE;
    if acc == libc::O_WRONLY || (kind == libc::MAP_SHARED && prot & libc::PROT_WRITE != 0 && acc != libc::O_RDWR) {
        return Err(Errno::EACCES.into());
    }
    let host = nix::sys::stat::fstat(&f.fd).ok().map(|st| (st.st_dev, st.st_ino));
    let backing = Backing::File { path: String::from_utf8_lossy(&f.path).into_owned(), offset: off, host };
    if is_regular(&f.fd) {
        return Ok(t.mm.map_file(addr, len, prot, flags, f.fd.as_fd(), off, backing)? as i64);
    }
    if kind == libc::MAP_SHARED && prot & libc::PROT_WRITE != 0 {
        // A copy cannot be shared: no file behind it to write back to.
        return Err(Errno::ENODEV.into());
    }
    let want = crate::arch::page_up(len).ok_or(Errno::ENOMEM)? as usize;
    let mut data = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match nix::sys::uio::pread(&f.fd, &mut data[got..], (off + got as u64) as i64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    data.truncate(got);
    Ok(t.mm.map_copy(addr, len, prot, flags, &data, backing)? as i64)
}

/// A regular file on the host (a Gofer file, a memfd): one the stub can map.
fn is_regular(fd: &std::os::fd::OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
}

pub(super) fn munmap(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.mm.munmap(a[0], a[1])?;
    Ok(0)
}

pub(super) fn mprotect(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let prot = int(a[2]);
    if prot & !(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC | libc::PROT_GROWSDOWN | libc::PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL.into());
    }
    t.mm.mprotect(a[0], a[1], prot)?;
    Ok(0)
}

pub(super) fn madvise(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.mm.madvise(a[0], a[1], int(a[2]))?;
    Ok(0)
}

pub(super) fn mremap(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = int(a[3]);
    let known = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP;
    if flags & !known != 0 || (flags & libc::MREMAP_FIXED != 0 && flags & libc::MREMAP_MAYMOVE == 0) {
        return Err(Errno::EINVAL.into());
    }
    Ok(t.mm.mremap(a[0], a[1], a[2], flags, a[4])? as i64)
}

pub(super) fn msync(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.mm.msync(a[0], a[1], int(a[2]))?;
    Ok(0)
}

pub(super) fn mincore(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    t.mm.mincore(a[0], a[1], a[2])?;
    Ok(0)
}

/// Longest memfd name (`MFD_NAME_MAX_LEN`: 249 bytes plus the "memfd:" prefix).
const MFD_NAME_MAX: usize = 249;

pub(super) fn memfd_create(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    let known = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | libc::MFD_NOEXEC_SEAL | libc::MFD_EXEC;
    if flags & !known != 0 {
        return Err(Errno::EINVAL.into());
    }
    let name = t.mm.copy_in_cstr(a[0], MFD_NAME_MAX + 1)?;
    if name.len() > MFD_NAME_MAX {
        return Err(Errno::EINVAL.into());
    }
    // A host memfd: its pages are what the application's mappings and
    // reads share, and the host applies the seals.
    let host_name = std::ffi::CString::new(name.clone()).map_err(|_| Errno::EINVAL)?;
    let host_flags = nix::sys::memfd::MFdFlags::from_bits_truncate(
        (flags & (libc::MFD_ALLOW_SEALING | libc::MFD_NOEXEC_SEAL | libc::MFD_EXEC)) | libc::MFD_CLOEXEC,
    );
    let fd = nix::sys::memfd::memfd_create(host_name.as_c_str(), host_flags)?;
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let file = crate::kernel::fd_table::OpenFile::new(fd, path, libc::O_RDWR);
    Ok(t.fds.insert(file, flags & libc::MFD_CLOEXEC != 0, 0)? as i64)
}
