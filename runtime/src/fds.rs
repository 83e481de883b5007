//! Descriptors handed to moat's hidden subcommands.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{Context, bail};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::stat::{SFlag, fstat};

/// Takes ownership of inherited descriptor `fd`, checking that it is a
/// socket and not a standard stream, and marks it close-on-exec.
pub fn take_socket(fd: RawFd) -> anyhow::Result<OwnedFd> {
    if fd < 3 {
        bail!("socket fd {fd} is a standard stream");
    }
    // SAFETY: only used for the fstat below; a closed fd gives EBADF there.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let st = fstat(borrowed).with_context(|| format!("stat socket fd {fd}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        bail!("fd {fd} is not a socket");
    }
    // SAFETY: fd is open (fstat succeeded), is a socket, and was handed to
    // this process to own; nothing else in it refers to it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(&owned, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).context("set close-on-exec on socket")?;
    Ok(owned)
}
