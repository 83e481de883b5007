//! Handing a socket to a child process at a fixed descriptor number, as
//! `moat gofer --sock-fd` and `moat boot --gofer-fd` expect.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Arranges for `cmd`'s child to get `fd` at descriptor `target`, without
/// close-on-exec. Other descriptors keep their close-on-exec flags.
pub fn give_fd(cmd: &mut Command, fd: RawFd, target: RawFd) {
    // SAFETY: between fork and exec the closure calls only dup2 or fcntl,
    // which are async-signal-safe, and touches no memory but its captures.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would leave close-on-exec set.
            let r = if fd == target { libc::fcntl(target, libc::F_SETFD, 0) } else { libc::dup2(fd, target) };
            if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
        });
    }
}
