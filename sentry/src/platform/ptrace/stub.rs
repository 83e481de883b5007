//! The stub code: a page of position-independent instructions mapped at the
//! same address in the Sentry and in every stub process, followed by a data
//! page each stub has its own copy of (for injected calls that need memory,
//! see `fd_channel`). Injected system calls run here; nothing else of the
//! Sentry is left in a stub.

use std::sync::OnceLock;

use nix::errno::Errno;

/// Offset of `syscall; int3`: runs one injected call, then traps back.
pub const SYSCALL_OFFSET: u64 = 0;
/// Offset of the fork path: `syscall`; the parent traps, the child (rax
/// == 0) sleeps in `pause` until a Sentry thread seizes and interrupts it.
/// Not a self-SIGSTOP, so no signal of its own can arrive after adoption;
/// not a spin, because the child inherits its parent's CPU and would take
/// it from the Sentry thread that is about to adopt it.
pub const FORK_OFFSET: u64 = 16;
/// Offset of `lock cmpxchg [rdi], edx` with eax = esi, then `int3`: an
/// atomic compare-and-exchange on application memory (futex words), as
/// the application's own threads see it.
pub const CMPXCHG_OFFSET: u64 = 48;
/// Offset of eight zero bytes (an empty signal set for injected calls).
pub const ZERO_OFFSET: u64 = 64;
/// Offset of the data page.
pub const DATA_OFFSET: u64 = 4096;
/// Size of the stub region: the code page and the data page.
pub const STUB_SIZE: u64 = 8192;

#[rustfmt::skip]
const CODE: &[(u64, &[u8])] = &[
    (SYSCALL_OFFSET, &[
        0x0f, 0x05,                   // syscall
        0xcc,                         // int3
    ]),
    (FORK_OFFSET, &[
        0x0f, 0x05,                   // syscall
        0x48, 0x85, 0xc0,             // test rax, rax
        0x74, 0x01,                   // jz child
        0xcc,                         // int3            (parent)
        0xb8, 0x22, 0x00, 0x00, 0x00, // child: mov eax, SYS_pause
        0x0f, 0x05,                   // syscall
        0xeb, 0xf7,                   // jmp child       (until adopted)
    ]),
    (CMPXCHG_OFFSET, &[
        0x89, 0xf0,                   // mov eax, esi
        0xf0, 0x0f, 0xb1, 0x17,       // lock cmpxchg [rdi], edx
        0xcc,                         // int3
    ]),
];

static STUB: OnceLock<Result<u64, Errno>> = OnceLock::new();
static VDSO: OnceLock<Vec<(u64, u64, &'static str)>> = OnceLock::new();

/// The host's vDSO and its data pages as mapped in the Sentry, and so in
/// every stub forked from it: (start, end, name). Stubs keep them, and the
/// application's time calls (clock_gettime, gettimeofday, time, getcpu)
/// then run without a system call, as natively; a call the vDSO cannot
/// answer falls back to a real `syscall`, which traps to the Sentry as any
/// other does.
pub fn host_vdso() -> &'static [(u64, u64, &'static str)] {
    VDSO.get_or_init(|| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let mut out = Vec::new();
        for line in maps.lines() {
            let name = match line.split_whitespace().last() {
                Some("[vdso]") => "[vdso]",
                Some("[vvar]") => "[vvar]",
                Some("[vvar_vclock]") => "[vvar_vclock]",
                _ => continue,
            };
            let range = line.split_whitespace().next().unwrap_or("");
            let Some((a, b)) = range.split_once('-') else { continue };
            if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                out.push((a, b, name));
            }
        }
        out
    })
}

/// Where the vDSO's ELF image starts (AT_SYSINFO_EHDR), if the host has one.
pub fn vdso_base() -> Option<u64> {
    host_vdso().iter().find(|(_, _, n)| *n == "[vdso]").map(|&(a, _, _)| a)
}

/// Address of the stub page in this process, mapping it on first use. It
/// must exist before any stub is forked, so stubs inherit it.
pub fn stub_addr() -> Result<u64, Errno> {
    *STUB.get_or_init(map_stub)
}

fn map_stub() -> Result<u64, Errno> {
    use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, mprotect};
    let len = std::num::NonZeroUsize::new(STUB_SIZE as usize).ok_or(Errno::EINVAL)?;
    // SAFETY: a fresh private anonymous mapping that nothing else refers to.
    let ptr =
        unsafe { mmap_anonymous(None, len, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE)? };
    let base = ptr.as_ptr().cast::<u8>();
    for (off, bytes) in CODE {
        // SAFETY: each piece lies inside the page just mapped writable, and
        // the pieces do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(*off as usize), bytes.len()) };
    }
    // SAFETY: the page is ours; from now on it is only executed and read.
    unsafe { mprotect(ptr, DATA_OFFSET as usize, ProtFlags::PROT_READ | ProtFlags::PROT_EXEC)? };
    Ok(base as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_and_do_not_overlap() {
        let mut end = 0;
        for (off, bytes) in CODE {
            assert!(*off >= end, "overlap at {off}");
            end = off + bytes.len() as u64;
        }
        assert!(end <= ZERO_OFFSET);
        assert!(stub_addr().unwrap() % DATA_OFFSET == 0);
    }
}
