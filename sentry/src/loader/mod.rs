//! Loading an executable into a fresh address space: its segments, the
//! heap start, and the initial stack (strings, argv, envp and auxv laid out
//! as Linux lays them out for x86-64).

pub mod elf;

use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;

use crate::arch::{self, PAGE_SIZE};
use crate::mm::vma::Backing;
use crate::mm::{AddressSpace, MmError};

/// Where a position-independent executable is loaded (Linux's
/// `ELF_ET_DYN_BASE` for x86-64 without randomisation).
pub const PIE_BASE: u64 = 0x5555_5555_4000;
/// Size of the main thread's stack mapping.
pub const STACK_SIZE: u64 = 8 << 20;
/// Longest single argument or environment string, with its NUL
/// (`MAX_ARG_STRLEN`).
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;
/// Most bytes of arguments and environment together (a quarter of the
/// default 8 MiB stack limit, as Linux allows).
pub const MAX_ARGS_BYTES: usize = (STACK_SIZE / 4) as usize;

/// Reads a file at an offset.
pub trait ReadAt {
    /// Reads into `buf` from `offset`; short only at end of file.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno>;

    /// The host file behind it, which segments are mapped from when there
    /// is one (otherwise they hold a copy).
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Box<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        (**self).read_at(offset, buf)
    }

    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        (**self).host_fd()
    }
}

impl ReadAt for std::fs::File {
    fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
        Ok(done)
    }
}

fn read_exact_at(f: &dyn ReadAt, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    let n = f.read_at(offset, &mut buf)?;
    if n != len {
        return Err(Errno::ENOEXEC);
    }
    Ok(buf)
}

/// Identity and hardware facts the auxiliary vector reports.
#[derive(Debug, Clone, Copy)]
pub struct AuxFacts {
    /// Real and effective user and group ids.
    pub uid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// `AT_SECURE`.
    pub secure: bool,
}

/// The result of loading: where the first thread starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Entry point.
    pub entry: u64,
    /// Initial stack pointer (pointing at argc).
    pub sp: u64,
    /// The auxiliary vector as laid out on the stack (/proc/PID/auxv).
    pub auxv: Vec<u8>,
}

/// Why loading failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The errno execve returns.
    #[error("{0}")]
    Errno(#[from] Errno),
    /// The address space could not be driven.
    #[error(transparent)]
    Mm(MmError),
}

impl From<MmError> for LoadError {
    fn from(e: MmError) -> Self {
        match e {
            MmError::Errno(e) => LoadError::Errno(e),
            other => LoadError::Mm(other),
        }
    }
}

/// Checks argv and envp against Linux's limits before anything is
/// changed: E2BIG for a string over `MAX_ARG_STRLEN` or too much in all.
pub fn check_args(argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<(), Errno> {
    let mut total = 0usize;
    for s in argv.iter().chain(envp) {
        if s.len() + 1 > MAX_ARG_STRLEN {
            return Err(Errno::E2BIG);
        }
        total += s.len() + 1 + 8;
    }
    if total > MAX_ARGS_BYTES { Err(Errno::E2BIG) } else { Ok(()) }
}

/// Where an ELF interpreter (ld.so) is placed: as near this hint as the
/// host allows, in the top part of the address space like Linux's mmap base.
pub const INTERP_HINT: u64 = 0x7f00_0000_0000;

/// An opened ELF interpreter: the file, its first bytes, its canonical path.
pub type InterpFile = (Box<dyn ReadAt>, Vec<u8>, String);

/// Opens an ELF interpreter by path.
pub type InterpOpener<'a> = dyn FnMut(&[u8]) -> Result<InterpFile, Errno> + 'a;

/// Maps the PT_LOAD segments of `info` at `bias`; returns the end of the
/// highest one.
fn map_segments(
    mm: &mut AddressSpace,
    file: &dyn ReadAt,
    info: &elf::ElfInfo,
    bias: u64,
    path: &str,
) -> Result<u64, LoadError> {
    let mut end = 0;
    for seg in &info.segments {
        let start = arch::page_down(seg.vaddr + bias);
        let seg_end = arch::page_up(seg.vaddr + bias + seg.memsz).ok_or(Errno::ENOEXEC)?;
        let file_start = arch::page_down(seg.offset);
        let backing = Backing::File { path: path.to_string(), offset: file_start, host: None };
        // Linux maps a segment from the file when its address and offset
        // agree modulo the page size, as the ELF format requires.
        match file.host_fd() {
            Some(fd) if seg.vaddr % PAGE_SIZE == seg.offset % PAGE_SIZE => {
                map_segment_from(mm, fd, seg, start, seg_end, bias, backing)?
            }
            _ => {
                let data = read_exact_at(file, file_start, (seg.offset + seg.filesz - file_start) as usize)?;
                mm.map_copy(start, seg_end - start, seg.prot, libc::MAP_PRIVATE | libc::MAP_FIXED, &data, backing)?;
            }
        }
        end = end.max(seg_end);
    }
    Ok(end)
}

/// One PT_LOAD segment mapped as Linux's ELF loader maps it: the file's
/// pages, private; the part of the last file page past `filesz` zeroed;
/// anonymous zero pages for the rest of `memsz` (the bss).
fn map_segment_from(
    mm: &mut AddressSpace,
    fd: BorrowedFd<'_>,
    seg: &elf::Segment,
    start: u64,
    seg_end: u64,
    bias: u64,
    backing: Backing,
) -> Result<(), LoadError> {
    let file_end = seg.vaddr + bias + seg.filesz;
    let mapped_end = if seg.filesz == 0 { start } else { arch::page_up(file_end).ok_or(Errno::ENOEXEC)?.min(seg_end) };
    let fixed = libc::MAP_PRIVATE | libc::MAP_FIXED;
    if mapped_end > start {
        mm.map_file(start, mapped_end - start, seg.prot, fixed, fd, arch::page_down(seg.offset), backing)?;
    }
    if seg.memsz > seg.filesz && file_end < mapped_end {
        let writable = seg.prot & libc::PROT_WRITE != 0;
        if !writable {
            mm.mprotect(start, mapped_end - start, seg.prot | libc::PROT_WRITE)?;
        }
        mm.copy_out(file_end, &vec![0u8; (mapped_end - file_end) as usize])?;
        if !writable {
            mm.mprotect(start, mapped_end - start, seg.prot)?;
        }
    }
    if seg_end > mapped_end {
        mm.mmap_anonymous(mapped_end, seg_end - mapped_end, seg.prot, fixed)?;
    }
    Ok(())
}

/// Loads ld.so (or any ELF interpreter) where the host has room for all its
/// segments; returns its load bias and entry point.
fn load_interp(mm: &mut AddressSpace, open: &mut InterpOpener<'_>, path: &[u8]) -> Result<(u64, u64), LoadError> {
    let (file, head, canonical) = open(path)?;
    let (phoff, phlen) = elf::phdr_table(&head)?;
    let phdrs = read_exact_at(file.as_ref(), phoff, phlen)?;
    let info = elf::parse(&head, &phdrs, |off, len| read_exact_at(file.as_ref(), off, len))?;
    if info.interp.is_some() {
        // An interpreter that wants one of its own: Linux refuses too.
        return Err(Errno::ELIBBAD.into());
    }
    let lo = info.segments.iter().map(|s| arch::page_down(s.vaddr)).min().ok_or(Errno::ENOEXEC)?;
    let hi = info.segments.iter().filter_map(|s| arch::page_up(s.vaddr + s.memsz)).max().ok_or(Errno::ENOEXEC)?;
    let bias = if info.pie {
        // Reserve the whole span, then map the segments over it.
        let at = mm.mmap_anonymous(INTERP_HINT, hi - lo, libc::PROT_NONE, libc::MAP_PRIVATE)?;
        at - lo
    } else {
        0
    };
    map_segments(mm, file.as_ref(), &info, bias, &canonical)?;
    Ok((bias, info.entry + bias))
}

/// Loads the ELF executable `file` (whose first bytes are `head`, whose
/// canonical path is `path`) into `mm`, which must be empty, with its
/// interpreter when it names one, and builds the stack; `execfn` is the
/// name execve was given (AT_EXECFN).
#[allow(clippy::too_many_arguments)]
pub fn load(
    mm: &mut AddressSpace,
    file: &dyn ReadAt,
    head: &[u8],
    path: &str,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    facts: AuxFacts,
    open_interp: &mut InterpOpener<'_>,
) -> Result<Loaded, LoadError> {
    let (phoff, phlen) = elf::phdr_table(head)?;
    let phdrs = read_exact_at(file, phoff, phlen)?;
    let info = elf::parse(head, &phdrs, |off, len| read_exact_at(file, off, len))?;
    let bias = if info.pie { PIE_BASE } else { 0 };
    let end = map_segments(mm, file, &info, bias, path)?;
    mm.set_brk_start(end);
    let (interp_base, entry) = match &info.interp {
        Some(interp) => load_interp(mm, open_interp, interp)?,
        None => (0, info.entry + bias),
    };
    let (sp, auxv) = build_stack(mm, argv, envp, execfn, &info, bias, interp_base, facts)?;
    Ok(Loaded { entry, sp, auxv })
}

/// Lays out, from the top of a new stack mapping down: the strings, 16
/// random bytes, then (16-byte aligned) argc, argv, envp and auxv.
#[allow(clippy::too_many_arguments)]
fn build_stack(
    mm: &mut AddressSpace,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
    info: &elf::ElfInfo,
    bias: u64,
    interp_base: u64,
    facts: AuxFacts,
) -> Result<(u64, Vec<u8>), LoadError> {
    check_args(argv, envp)?;
    let hint = arch::TASK_SIZE - STACK_SIZE - (1 << 30);
    let flags = libc::MAP_PRIVATE | libc::MAP_GROWSDOWN;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let base = mm.map_copy(hint, STACK_SIZE, rw, flags, &[], Backing::Stack)?;
    let top = base + STACK_SIZE;

    // Strings, written below `top` into one buffer.
    let mut strings: Vec<u8> = Vec::new();
    let mut push = |s: &[u8]| -> u64 {
        strings.extend_from_slice(s);
        strings.push(0);
        strings.len() as u64 // distance from the end of the area, fixed below
    };
    let execfn_at = push(execfn);
    let env_at: Vec<u64> = envp.iter().map(|s| push(s)).collect();
    let arg_at: Vec<u64> = argv.iter().map(|s| push(s)).collect();
    let platform_at = push(b"x86_64");
    let mut random = [0u8; 16];
    getrandom(&mut random)?;
    strings.extend_from_slice(&random);
    let random_at = strings.len() as u64;
    let area = top - strings.len() as u64;
    // A string that ended `d` bytes into the buffer starts at area + d - len - 1;
    // recompute starts from ends and lengths.
    let start_of = |end: u64, len: usize| area + end - len as u64 - 1;
    let execfn_ptr = start_of(execfn_at, execfn.len());
    let platform_ptr = start_of(platform_at, 6);
    let random_ptr = area + random_at - 16;

    let hw = |t| unsafe_getauxval(t);
    let mut aux: Vec<(u64, u64)> = vec![
        (libc::AT_HWCAP, hw(libc::AT_HWCAP)),
        (libc::AT_PAGESZ, PAGE_SIZE),
        (libc::AT_CLKTCK, 100),
        (libc::AT_PHDR, info.phdr + bias),
        (libc::AT_PHENT, elf::PHENT_SIZE as u64),
        (libc::AT_PHNUM, info.phnum as u64),
        (libc::AT_BASE, interp_base),
        (libc::AT_FLAGS, 0),
        (libc::AT_ENTRY, info.entry + bias),
        (libc::AT_UID, facts.uid as u64),
        (libc::AT_EUID, facts.euid as u64),
        (libc::AT_GID, facts.gid as u64),
        (libc::AT_EGID, facts.egid as u64),
        (libc::AT_SECURE, facts.secure as u64),
        (libc::AT_RANDOM, random_ptr),
        (libc::AT_HWCAP2, hw(libc::AT_HWCAP2)),
        (libc::AT_EXECFN, execfn_ptr),
        (libc::AT_PLATFORM, platform_ptr),
    ];
    if let Some(base) = crate::platform::ptrace::stub::vdso_base() {
        aux.push((libc::AT_SYSINFO_EHDR, base));
    }
    let minsig = hw(51); // AT_MINSIGSTKSZ
    if minsig != 0 {
        aux.push((51, minsig));
    }
    aux.push((libc::AT_NULL, 0));

    let words = 1 + argv.len() + 1 + envp.len() + 1 + aux.len() * 2;
    let sp = (area - words as u64 * 8) & !15;
    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(argv.len() as u64);
    table.extend(arg_at.iter().zip(argv).map(|(&end, s)| start_of(end, s.len())));
    table.push(0);
    table.extend(env_at.iter().zip(envp).map(|(&end, s)| start_of(end, s.len())));
    table.push(0);
    let auxv: Vec<u8> = aux.iter().flat_map(|&(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect();
    for (k, v) in aux {
        table.push(k);
        table.push(v);
    }
    let bytes: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
    mm.copy_out(area, &strings)?;
    mm.copy_out(sp, &bytes)?;
    Ok((sp, auxv))
}

fn getrandom(buf: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n as usize == buf.len() { Ok(()) } else { Err(Errno::EIO) }
}

fn unsafe_getauxval(t: u64) -> u64 {
    // SAFETY: getauxval only reads the process's auxiliary vector.
    unsafe { libc::getauxval(t) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_limits_are_linuxs() {
        assert!(check_args(&[b"a".to_vec()], &[]).is_ok());
        assert_eq!(check_args(&[vec![b'x'; MAX_ARG_STRLEN]], &[]), Err(Errno::E2BIG));
        assert!(check_args(&[vec![b'x'; MAX_ARG_STRLEN - 1]], &[]).is_ok());
        let many = vec![vec![b'y'; 100_000]; 30];
        assert_eq!(check_args(&many, &[]), Err(Errno::E2BIG));
    }
}
