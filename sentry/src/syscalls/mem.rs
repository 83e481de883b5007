//! Memory calls: brk, mmap, munmap, mprotect.

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
    let acc = f.flags() & libc::O_ACCMODE;
    if acc == libc::O_WRONLY {
        return Err(Errno::EACCES.into());
    }
    if kind == libc::MAP_SHARED && prot & libc::PROT_WRITE != 0 {
        // Writable shared file mappings need the file itself in the stub;
        // they come with the glibc workloads issue.
        return Err(Errno::ENODEV.into());
    }
    if len == 0 {
        return Err(Errno::EINVAL.into());
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
    let backing = Backing::File { path: String::from_utf8_lossy(&f.path).into_owned(), offset: off };
    Ok(t.mm.map_copy(addr, len, prot, flags, &data, backing)? as i64)
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
