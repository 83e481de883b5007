//! An application address space: the mappings it sees, changed only by
//! calls injected into its stub, and copies in and out of its memory.
//!
//! Anonymous memory lives in the stub itself (the host does copy-on-write
//! and zero pages). A mapping of a regular host file is a host mapping of
//! that file in the stub (`stub_files`), private or shared, so the page
//! cache is shared with read, write and other mappers exactly as on Linux.
//! Anything else (a file without a host file behind it) is anonymous memory
//! filled with a copy of its bytes.

pub mod stub_files;
pub mod vma;

use std::io::{IoSlice, IoSliceMut};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};
use thiserror::Error;

use crate::arch::{self, PAGE_SIZE, TASK_SIZE};
use crate::platform::ptrace::{PlatformError, StubProcess};
use stub_files::{FileKey, StubFiles};
use vma::{Backing, Vma, VmaSet};

/// A memory operation's failure: an errno for the application, or a
/// platform failure that ends the sandbox.
#[derive(Debug, Error)]
pub enum MmError {
    /// What the application's call returns.
    #[error("{0}")]
    Errno(#[from] Errno),
    /// The stub could not be driven.
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// Flags of mmap the Sentry passes on for anonymous memory.
const ANON_FLAGS: i32 = libc::MAP_SHARED
    | libc::MAP_PRIVATE
    | libc::MAP_FIXED
    | libc::MAP_FIXED_NOREPLACE
    | libc::MAP_GROWSDOWN
    | libc::MAP_NORESERVE
    | libc::MAP_POPULATE
    | libc::MAP_STACK;

/// One address space as one application thread sees it: the stub thread
/// that runs the thread, and what all threads of the process share.
#[derive(Debug)]
pub struct AddressSpace {
    stub: StubProcess,
    shared: Arc<Mutex<Shared>>,
}

/// What the threads of one process share: the mappings, the heap bounds and
/// the files the stub process holds. Its lock is held across each memory
/// call injected into the stub, as Linux's mmap lock, so the list stays
/// the stub's truth and the stub's data page serves one transfer at a time.
#[derive(Debug, Clone)]
struct Shared {
    id: u64,
    vmas: VmaSet,
    brk_start: u64,
    brk: u64,
    files: StubFiles,
}

/// What a fork copies: the mappings, the heap bounds, and the files the
/// stub holds (the host copied its descriptor table).
#[derive(Debug, Clone)]
pub struct ForkState(Shared);

/// A new address space's identity, for futex keys.
fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn inject(stub: &mut StubProcess, nr: i64, args: [u64; 6]) -> Result<u64, MmError> {
    arch::syscall_result(stub.inject(nr, args)?).map_err(|e| MmError::Errno(Errno::from_raw(e)))
}

/// Checks that `[addr, addr+len)` is page-aligned, non-empty, inside user
/// space and clear of the stub page; returns its page-rounded end.
fn user_range(stub: &StubProcess, addr: u64, len: u64) -> Result<u64, Errno> {
    if addr % PAGE_SIZE != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = arch::page_up(len).and_then(|l| addr.checked_add(l)).ok_or(Errno::ENOMEM)?;
    if end > TASK_SIZE {
        return Err(Errno::ENOMEM);
    }
    if stub.reserved().iter().any(|&(s, e)| addr < e && s < end) {
        // The stub pages and the vDSO are not the application's to
        // change; as if that range were beyond its reach.
        return Err(Errno::ENOMEM);
    }
    Ok(end)
}

impl AddressSpace {
    /// A new, empty address space in a new stub.
    pub fn new() -> Result<Self, PlatformError> {
        let mut vmas = VmaSet::new();
        for &(start, end, name) in crate::platform::ptrace::stub::host_vdso() {
            let prot = if name == "[vdso]" { libc::PROT_READ | libc::PROT_EXEC } else { libc::PROT_READ };
            vmas.insert(Vma { start, end, prot, shared: false, backing: Backing::Special(name) });
        }
        let shared = Shared { id: next_id(), vmas, brk_start: 0, brk: 0, files: StubFiles::default() };
        Ok(AddressSpace { stub: StubProcess::spawn()?, shared: Arc::new(Mutex::new(shared)) })
    }

    /// The address space of a forked stub: the parent's mappings, which
    /// the host copied.
    pub fn from_fork(stub: StubProcess, state: ForkState) -> Self {
        let mut shared = state.0;
        shared.id = next_id();
        AddressSpace { stub, shared: Arc::new(Mutex::new(shared)) }
    }

    /// What a fork copies.
    pub fn fork_state(&self) -> ForkState {
        ForkState(self.lock().clone())
    }

    /// A handle on `other`'s address space for a new thread of its
    /// process, whose stub thread is attached later ([`AddressSpace::attach`],
    /// on the Sentry thread that adopts it); until then every operation
    /// fails.
    pub fn unattached(other: &AddressSpace) -> Self {
        AddressSpace { stub: StubProcess::unattached(), shared: other.shared.clone() }
    }

    /// Attaches the stub thread that runs this handle's thread.
    pub fn attach(&mut self, stub: StubProcess) {
        self.stub = stub;
    }

    /// The address space's identity: equal for the threads of a process,
    /// new at fork and execve.
    pub fn id(&self) -> u64 {
        self.lock().id
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends the stub (the address space is gone) and returns the host's
    /// accounting of it. For a thread other than the process's first, ends
    /// that host thread only.
    pub fn end(&mut self) -> crate::platform::ptrace::HostUsage {
        self.stub.end()
    }

    /// The stub thread that runs this task.
    pub fn stub(&mut self) -> &mut StubProcess {
        &mut self.stub
    }

    /// Host pid of the stub process.
    pub fn stub_pid(&self) -> i32 {
        self.stub.tgid().as_raw()
    }

    /// Host thread id of this task's stub thread.
    pub fn stub_tid(&self) -> i32 {
        self.stub.pid().as_raw()
    }

    /// Runs `f` on the mappings, in address order.
    pub fn with_vmas<R>(&self, f: impl FnOnce(&VmaSet) -> R) -> R {
        f(&self.lock().vmas)
    }

    /// The mapping that holds `addr`, if any.
    pub fn vma_at(&self, addr: u64) -> Option<Vma> {
        self.lock().vmas.find(addr).cloned()
    }

    /// mmap of anonymous memory, with Linux's semantics for the address
    /// hint and MAP_FIXED(_NOREPLACE).
    pub fn mmap_anonymous(&mut self, addr: u64, len: u64, prot: i32, flags: i32) -> Result<u64, MmError> {
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        map(&mut self.stub, &mut sh, addr, len, prot, flags, Backing::Anonymous)
    }

    /// mmap of host file `file` from `offset` (page-aligned), private or
    /// shared as `flags` say. The host checks the mapping against the
    /// file's access mode, as Linux does, since the stub maps the very open
    /// file description the application holds.
    #[allow(clippy::too_many_arguments)]
    pub fn map_file(
        &mut self,
        addr: u64,
        len: u64,
        prot: i32,
        flags: i32,
        file: std::os::fd::BorrowedFd<'_>,
        offset: u64,
        backing: Backing,
    ) -> Result<u64, MmError> {
        if len == 0 || offset % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL.into());
        }
        let rounded = arch::page_up(len).ok_or(Errno::ENOMEM)?;
        if flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0 {
            user_range(&self.stub, addr, rounded)?;
        }
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let n = stub_file(&mut self.stub, &mut sh, file)?;
        let host_flags = flags & ANON_FLAGS & !libc::MAP_GROWSDOWN;
        let got =
            inject(&mut self.stub, libc::SYS_mmap, [addr, rounded, prot as u64, host_flags as u64, n as u64, offset])?;
        let shared = flags & libc::MAP_SHARED != 0;
        sh.vmas.insert(Vma { start: got, end: got + rounded, prot, shared, backing });
        Ok(got)
    }

    /// A private mapping holding a copy of `data` (a file's bytes from the
    /// mapped offset; shorter than the mapping leaves zeroes, as past EOF).
    pub fn map_copy(
        &mut self,
        addr: u64,
        len: u64,
        prot: i32,
        flags: i32,
        data: &[u8],
        backing: Backing,
    ) -> Result<u64, MmError> {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let flags = (flags & !libc::MAP_SHARED) | libc::MAP_PRIVATE;
        let start = {
            let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            map(&mut self.stub, &mut sh, addr, len, rw, flags, backing)?
        };
        let n = data.len().min(len as usize);
        if n > 0 {
            self.copy_out(start, &data[..n])?;
        }
        if prot != rw {
            self.mprotect(start, len, prot)?;
        }
        Ok(start)
    }

    /// munmap.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<(), MmError> {
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        munmap(&mut self.stub, &mut sh, addr, len)
    }

    /// mprotect.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: i32) -> Result<(), MmError> {
        if addr % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL.into());
        }
        if len == 0 {
            return Ok(());
        }
        let end = user_range(&self.stub, addr, len)?;
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        inject(&mut self.stub, libc::SYS_mprotect, [addr, end - addr, prot as u64, 0, 0, 0])?;
        sh.vmas.protect(addr, end, prot);
        Ok(())
    }

    /// madvise: passed to the stub, which holds the memory.
    pub fn madvise(&mut self, addr: u64, len: u64, advice: i32) -> Result<(), MmError> {
        if addr % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL.into());
        }
        if len == 0 {
            return Ok(());
        }
        let end = user_range(&self.stub, addr, len)?;
        let _sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        inject(&mut self.stub, libc::SYS_madvise, [addr, end - addr, advice as u64, 0, 0, 0])?;
        Ok(())
    }

    /// msync: the stub's mappings are the host's, so the host syncs them.
    pub fn msync(&mut self, addr: u64, len: u64, flags: i32) -> Result<(), MmError> {
        let known = libc::MS_ASYNC | libc::MS_SYNC | libc::MS_INVALIDATE;
        if addr % PAGE_SIZE != 0 || flags & !known != 0 || flags & libc::MS_ASYNC != 0 && flags & libc::MS_SYNC != 0 {
            return Err(Errno::EINVAL.into());
        }
        if len == 0 {
            return Ok(());
        }
        let end = user_range(&self.stub, addr, len)?;
        inject(&mut self.stub, libc::SYS_msync, [addr, end - addr, flags as u64, 0, 0, 0])?;
        Ok(())
    }

    /// mincore: the host answers for the stub's pages, writing the vector
    /// straight into the application's buffer (which is in the stub too).
    pub fn mincore(&mut self, addr: u64, len: u64, vec: u64) -> Result<(), MmError> {
        if addr % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL.into());
        }
        if len == 0 {
            return Ok(());
        }
        let end = user_range(&self.stub, addr, len)?;
        let (s, e) = self.stub.stub_range();
        let pages = (end - addr) / PAGE_SIZE;
        if vec < e && s < vec.saturating_add(pages) {
            return Err(Errno::EFAULT.into());
        }
        inject(&mut self.stub, libc::SYS_mincore, [addr, end - addr, vec, 0, 0, 0])?;
        Ok(())
    }

    /// mremap: moves or resizes a mapping in the stub and in the VMA list.
    pub fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: i32, new_addr: u64) -> Result<u64, MmError> {
        if old % PAGE_SIZE != 0 || new_len == 0 {
            return Err(Errno::EINVAL.into());
        }
        let old_end = if old_len == 0 { old } else { user_range(&self.stub, old, old_len)? };
        let new_rounded = arch::page_up(new_len).ok_or(Errno::ENOMEM)?;
        if flags & libc::MREMAP_FIXED != 0 {
            user_range(&self.stub, new_addr, new_rounded)?;
        }
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let vma = sh.vmas.find(old).cloned().ok_or(Errno::EFAULT)?;
        let got =
            inject(&mut self.stub, libc::SYS_mremap, [old, old_end - old, new_rounded, flags as u64, new_addr, 0])?;
        if old_len != 0 && flags & libc::MREMAP_DONTUNMAP == 0 {
            sh.vmas.remove(old, old_end);
        }
        let mut moved = vma;
        moved.start = got;
        moved.end = got + new_rounded;
        sh.vmas.insert(moved);
        Ok(got)
    }

    /// Sets where the heap starts (just after the loaded program).
    pub fn set_brk_start(&mut self, at: u64) {
        let mut sh = self.lock();
        sh.brk_start = at;
        sh.brk = at;
    }

    /// brk: moves the end of the heap and returns it; a request that cannot
    /// be met leaves it where it was, as Linux does.
    pub fn brk(&mut self, want: u64) -> Result<u64, PlatformError> {
        let mut sh = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        if want < sh.brk_start {
            return Ok(sh.brk);
        }
        let (Some(old_top), Some(new_top)) = (arch::page_up(sh.brk), arch::page_up(want)) else {
            return Ok(sh.brk);
        };
        if new_top > old_top {
            let flags = libc::MAP_PRIVATE | libc::MAP_FIXED_NOREPLACE;
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            match map(&mut self.stub, &mut sh, old_top, new_top - old_top, rw, flags, Backing::Heap) {
                Ok(_) => {}
                Err(MmError::Errno(_)) => return Ok(sh.brk),
                Err(MmError::Platform(p)) => return Err(p),
            }
        } else if new_top < old_top {
            match munmap(&mut self.stub, &mut sh, new_top, old_top - new_top) {
                Ok(()) | Err(MmError::Errno(_)) => {}
                Err(MmError::Platform(p)) => return Err(p),
            }
        }
        sh.brk = want;
        Ok(want)
    }

    /// Atomically sets the 32-bit word at `addr` to `new` if it holds
    /// `old`, as another thread of the application would; returns what it
    /// held. EFAULT if it is not writable, EINVAL if unaligned.
    pub fn cmpxchg(&mut self, addr: u64, old: u32, new: u32) -> Result<u32, MmError> {
        if addr % 4 != 0 {
            return Err(Errno::EINVAL.into());
        }
        check_span(addr, 4)?;
        Ok(self.stub.cmpxchg(addr, old, new)??)
    }

    /// Copies `len` bytes from application memory; EFAULT if any byte is
    /// not readable.
    pub fn copy_in(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        self.read_into(addr, &mut buf)?;
        Ok(buf)
    }

    /// Fills `buf` from application memory at `addr`; EFAULT if any byte is
    /// not readable.
    pub fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        check_span(addr, buf.len())?;
        let remote = [RemoteIoVec { base: addr as usize, len: buf.len() }];
        let want = buf.len();
        match process_vm_readv(self.stub.pid(), &mut [IoSliceMut::new(buf)], &remote) {
            Ok(n) if n == want => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    /// Copies `data` into application memory; EFAULT if any byte is not
    /// writable.
    pub fn copy_out(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        check_span(addr, data.len())?;
        let remote = [RemoteIoVec { base: addr as usize, len: data.len() }];
        match process_vm_writev(self.stub.pid(), &[IoSlice::new(data)], &remote) {
            Ok(n) if n == data.len() => Ok(()),
            _ => Err(Errno::EFAULT),
        }
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the
    /// NUL): EFAULT on a bad pointer, ENAMETOOLONG past `max`.
    pub fn copy_in_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        loop {
            // Read up to the end of the page, so an unmapped next page is
            // not touched when the string ends before it.
            let chunk = (PAGE_SIZE - at % PAGE_SIZE) as usize;
            let bytes = self.copy_in(at, chunk)?;
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                out.extend_from_slice(&bytes[..nul]);
                return if out.len() > max { Err(Errno::ENAMETOOLONG) } else { Ok(out) };
            }
            out.extend_from_slice(&bytes);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(chunk as u64).ok_or(Errno::EFAULT)?;
        }
    }
}

fn map(
    stub: &mut StubProcess,
    sh: &mut Shared,
    addr: u64,
    len: u64,
    prot: i32,
    flags: i32,
    backing: Backing,
) -> Result<u64, MmError> {
    if len == 0 {
        return Err(Errno::EINVAL.into());
    }
    let rounded = arch::page_up(len).ok_or(Errno::ENOMEM)?;
    if flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0 {
        user_range(stub, addr, rounded)?;
    }
    let host_flags = (flags & ANON_FLAGS) | libc::MAP_ANONYMOUS;
    let got = inject(stub, libc::SYS_mmap, [addr, rounded, prot as u64, host_flags as u64, u64::MAX, 0])?;
    let shared = flags & libc::MAP_SHARED != 0;
    sh.vmas.insert(Vma { start: got, end: got + rounded, prot, shared, backing });
    Ok(got)
}

fn munmap(stub: &mut StubProcess, sh: &mut Shared, addr: u64, len: u64) -> Result<(), MmError> {
    let end = user_range(stub, addr, len).map_err(|e| if e == Errno::ENOMEM { Errno::EINVAL } else { e })?;
    inject(stub, libc::SYS_munmap, [addr, end - addr, 0, 0, 0, 0])?;
    sh.vmas.remove(addr, end);
    Ok(())
}

/// The stub's descriptor for `file`, passing it in if the stub does not
/// hold it yet.
fn stub_file(stub: &mut StubProcess, sh: &mut Shared, file: std::os::fd::BorrowedFd<'_>) -> Result<i32, MmError> {
    let key = FileKey::of(file)?;
    if let Some(n) = sh.files.find(key) {
        return Ok(n);
    }
    let n = stub.install_fd(file)?;
    if let Some(old) = sh.files.add(key, n) {
        stub.close_fd(old)?;
    }
    Ok(n)
}

/// A span the application names must lie in user space.
fn check_span(addr: u64, len: usize) -> Result<(), Errno> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= TASK_SIZE => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_copy_brk_and_bad_pointers() {
        let mut a = AddressSpace::new().unwrap();
        let p = a.map_copy(0, 10_000, libc::PROT_READ, libc::MAP_PRIVATE, b"hello", Backing::Anonymous).unwrap();
        assert_eq!(a.copy_in(p, 6).unwrap(), b"hello\0");
        assert_eq!(a.copy_out(p, b"x"), Err(Errno::EFAULT), "read-only mapping");
        assert_eq!(a.vma_at(p).unwrap().prot, libc::PROT_READ);
        assert_eq!(a.copy_in(0, 1), Err(Errno::EFAULT));
        assert_eq!(a.copy_in(u64::MAX - 2, 8), Err(Errno::EFAULT));
        a.munmap(p, 10_000).unwrap();
        assert_eq!(a.copy_in(p, 1), Err(Errno::EFAULT));
        assert!(a.vma_at(p).is_none());

        a.set_brk_start(0x1000_0000);
        assert_eq!(a.brk(0x1000_0000 + 100).unwrap(), 0x1000_0064);
        a.copy_out(0x1000_0000, b"heap").unwrap();
        assert_eq!(a.brk(0x10).unwrap(), 0x1000_0064, "below the start: unchanged");
        assert_eq!(a.brk(0x1000_0000).unwrap(), 0x1000_0000);
        assert_eq!(a.copy_in(0x1000_0000, 1), Err(Errno::EFAULT), "heap page released");

        let (s, _) = a.stub().stub_range();
        let fixed = libc::MAP_PRIVATE | libc::MAP_FIXED;
        let r = a.mmap_anonymous(s, 4096, libc::PROT_READ, fixed);
        assert!(matches!(r, Err(MmError::Errno(Errno::ENOMEM))), "the stub page is not the application's");
    }

    #[test]
    fn strings_stop_at_nul_or_limit() {
        let mut a = AddressSpace::new().unwrap();
        let p = a.mmap_anonymous(0, 8192, 3, libc::MAP_PRIVATE).unwrap();
        // A string that ends exactly at the end of the mapping's last page.
        a.copy_out(p + 8192 - 3, b"ab\0").unwrap();
        assert_eq!(a.copy_in_cstr(p + 8192 - 3, 10).unwrap(), b"ab");
        a.copy_out(p, &[b'x'; 100]).unwrap();
        assert_eq!(a.copy_in_cstr(p, 50), Err(Errno::ENAMETOOLONG));
        a.copy_out(p + 8192 - 2, b"zz").unwrap();
        assert_eq!(a.copy_in_cstr(p + 8192 - 2, 4096), Err(Errno::EFAULT), "runs off the mapping");
    }
}
