//! Parsing of x86-64 ELF executables: what to map where, and where to start.
//! Every field comes from a file the application chose, so everything is
//! checked; a bad file is `ENOEXEC`, as Linux says.

use nix::errno::Errno;

use crate::arch::PAGE_SIZE;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
/// Size of one program header of ELF64.
pub const PHENT_SIZE: u16 = 56;
/// Linux refuses program header tables over 64 KiB.
const MAX_PHDRS_BYTES: usize = 65536;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address (before the load bias).
    pub vaddr: u64,
    /// Size in memory.
    pub memsz: u64,
    /// Size in the file (the rest is zero).
    pub filesz: u64,
    /// File offset.
    pub offset: u64,
    /// `PROT_*` bits from the segment flags.
    pub prot: i32,
}

/// What an executable asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// Position independent (`ET_DYN`): loaded at a bias.
    pub pie: bool,
    /// Entry point (before the bias).
    pub entry: u64,
    /// Address of the program headers in memory (before the bias).
    pub phdr: u64,
    /// Number of program headers.
    pub phnum: u16,
    /// Loadable segments.
    pub segments: Vec<Segment>,
    /// The interpreter (`PT_INTERP`) of a dynamic executable.
    pub interp: Option<Vec<u8>>,
}

fn u16_at(b: &[u8], off: usize) -> Result<u16, Errno> {
    b.get(off..off + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or(Errno::ENOEXEC)
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, Errno> {
    let s = b.get(off..off + 4).ok_or(Errno::ENOEXEC)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64, Errno> {
    let s = b.get(off..off + 8).ok_or(Errno::ENOEXEC)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

/// Whether `head` starts like an ELF file at all.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Where the program header table is and how long: `(offset, bytes)`.
pub fn phdr_table(head: &[u8]) -> Result<(u64, usize), Errno> {
    if head.len() < 64 || !is_elf(head) || head[4] != 2 || head[5] != 1 || head[6] != 1 {
        return Err(Errno::ENOEXEC);
    }
    let ty = u16_at(head, 16)?;
    if (ty != ET_EXEC && ty != ET_DYN) || u16_at(head, 18)? != EM_X86_64 {
        return Err(Errno::ENOEXEC);
    }
    if u16_at(head, 54)? != PHENT_SIZE {
        return Err(Errno::ENOEXEC);
    }
    let phnum = u16_at(head, 56)? as usize;
    let bytes = phnum * PHENT_SIZE as usize;
    if phnum == 0 || bytes > MAX_PHDRS_BYTES {
        return Err(Errno::ENOEXEC);
    }
    Ok((u64_at(head, 32)?, bytes))
}

/// Parses the header `head` (at least 64 bytes) and the program header
/// table `phdrs` (as [`phdr_table`] located it). `read_interp` reads the
/// interpreter path at (offset, len) when there is one.
pub fn parse(
    head: &[u8],
    phdrs: &[u8],
    mut read_interp: impl FnMut(u64, usize) -> Result<Vec<u8>, Errno>,
) -> Result<ElfInfo, Errno> {
    let (phoff, bytes) = phdr_table(head)?;
    if phdrs.len() != bytes {
        return Err(Errno::ENOEXEC);
    }
    let pie = u16_at(head, 16)? == ET_DYN;
    let entry = u64_at(head, 24)?;
    let mut segments = Vec::new();
    let mut phdr = None;
    let mut interp = None;
    for ph in phdrs.chunks_exact(PHENT_SIZE as usize) {
        let (ty, flags) = (u32_at(ph, 0)?, u32_at(ph, 4)?);
        let (offset, vaddr, filesz, memsz) = (u64_at(ph, 8)?, u64_at(ph, 16)?, u64_at(ph, 32)?, u64_at(ph, 40)?);
        match ty {
            PT_LOAD => {
                let end = vaddr.checked_add(memsz).ok_or(Errno::ENOEXEC)?;
                if filesz > memsz || offset % PAGE_SIZE != vaddr % PAGE_SIZE || end > crate::arch::TASK_SIZE {
                    return Err(Errno::ENOEXEC);
                }
                offset.checked_add(filesz).ok_or(Errno::ENOEXEC)?;
                let mut prot = 0;
                if flags & 4 != 0 {
                    prot |= libc::PROT_READ;
                }
                if flags & 2 != 0 {
                    prot |= libc::PROT_WRITE;
                }
                if flags & 1 != 0 {
                    prot |= libc::PROT_EXEC;
                }
                if memsz > 0 {
                    segments.push(Segment { vaddr, memsz, filesz, offset, prot });
                }
            }
            PT_PHDR => phdr = Some(vaddr),
            PT_INTERP => {
                if interp.is_some() || !(2..=4096).contains(&filesz) {
                    return Err(Errno::ENOEXEC);
                }
                let mut path = read_interp(offset, filesz as usize)?;
                // The path is NUL-terminated within the segment.
                if path.pop() != Some(0) || path.contains(&0) {
                    return Err(Errno::ENOEXEC);
                }
                interp = Some(path);
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    // Without PT_PHDR, the table is wherever the segment holding its file
    // offset puts it.
    let phdr = match phdr {
        Some(p) => p,
        None => segments
            .iter()
            .find(|s| s.offset <= phoff && phoff + bytes as u64 <= s.offset + s.filesz)
            .map(|s| s.vaddr + (phoff - s.offset))
            .unwrap_or(0),
    };
    Ok(ElfInfo { pie, entry, phdr, phnum: (bytes / PHENT_SIZE as usize) as u16, segments, interp })
}

/// The interpreter line of a `#!` script: the interpreter and its one
/// optional argument, as Linux splits them (first 256 bytes, first line).
pub fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = head.strip_prefix(b"#!")?;
    let line = &rest[..rest.len().min(254)];
    let line = match line.iter().position(|&b| b == b'\n') {
        Some(n) => &line[..n],
        None => line,
    };
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let trimmed: &[u8] = {
        let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
        let end = line.iter().rposition(|b| !is_space(b)).map_or(start, |e| e + 1);
        &line[start..end.max(start)]
    };
    if trimmed.is_empty() {
        return None;
    }
    let split = trimmed.iter().position(is_space);
    match split {
        None => Some((trimmed.to_vec(), None)),
        Some(n) => {
            let arg = &trimmed[n..];
            let arg_start = arg.iter().position(|b| !is_space(b)).unwrap_or(arg.len());
            let arg = &arg[arg_start..];
            Some((trimmed[..n].to_vec(), (!arg.is_empty()).then(|| arg.to_vec())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines_split_like_linux() {
        assert_eq!(parse_shebang(b"#!/bin/sh\necho"), Some((b"/bin/sh".to_vec(), None)));
        assert_eq!(parse_shebang(b"#! /bin/sh -e -x\n"), Some((b"/bin/sh".to_vec(), Some(b"-e -x".to_vec()))));
        assert_eq!(
            parse_shebang(b"#!/usr/bin/env  python3  \n"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"#!   \t\n"), None);
        assert_eq!(parse_shebang(b"echo"), None);
    }

    #[test]
    fn the_hosts_busybox_parses() {
        let bytes = match std::fs::read("/bin/busybox") {
            Ok(b) => b,
            Err(_) => return, // busybox-static is installed by tests/run.sh; unit tests may run without it
        };
        let (off, len) = phdr_table(&bytes).unwrap();
        let info = parse(&bytes[..64], &bytes[off as usize..off as usize + len], |o, l| {
            Ok(bytes[o as usize..o as usize + l].to_vec())
        })
        .unwrap();
        assert!(info.interp.is_none());
        assert!(!info.segments.is_empty());
        assert!(info.segments.iter().any(|s| s.prot & libc::PROT_EXEC != 0));
    }

    #[test]
    fn garbage_is_enoexec_not_a_panic() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for len in [0usize, 4, 63, 64, 200] {
            for _ in 0..200 {
                let mut b: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                if len >= 4 {
                    b[..4].copy_from_slice(b"\x7fELF");
                }
                if let Ok((_, n)) = phdr_table(&b) {
                    let ph = vec![0xffu8; n];
                    let _ = parse(&b, &ph, |_, _| Err(Errno::EIO));
                }
            }
        }
    }
}
