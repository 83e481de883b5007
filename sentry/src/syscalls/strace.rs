//! `--strace`: each call's arguments decoded before it runs (a path is read
//! while the caller's memory still holds it), as strace prints them.

use crate::arch::SyscallArgs;
use crate::kernel::Task;

/// How to print one argument.
#[derive(Clone, Copy)]
enum Arg {
    /// Signed decimal (descriptors, counts, pids).
    Int,
    /// Hexadecimal (addresses, flags).
    Hex,
    /// A NUL-terminated path in the caller's memory.
    Path,
    /// A buffer whose length is argument N.
    Buf(usize),
}

use Arg::*;

/// The arguments of the calls strace users meet most; others print all six
/// in hexadecimal.
fn spec(nr: i64) -> Option<&'static [Arg]> {
    Some(match nr {
        libc::SYS_read | libc::SYS_pread64 => &[Int, Hex, Int],
        libc::SYS_sendfile => &[Int, Int, Hex, Int],
        libc::SYS_splice | libc::SYS_copy_file_range => &[Int, Hex, Int, Hex, Int, Hex],
        libc::SYS_tee => &[Int, Int, Int, Hex],
        libc::SYS_socket => &[Int, Hex, Int],
        libc::SYS_socketpair => &[Int, Hex, Int, Hex],
        libc::SYS_sendmsg | libc::SYS_recvmsg => &[Int, Hex, Hex],
        libc::SYS_sendto => &[Int, Buf(2), Int, Hex, Hex, Int],
        libc::SYS_recvfrom => &[Int, Hex, Int, Hex, Hex, Hex],
        libc::SYS_shutdown => &[Int, Int],
        libc::SYS_epoll_create1 => &[Hex],
        libc::SYS_eventfd2 => &[Int, Hex],
        libc::SYS_epoll_ctl => &[Int, Int, Int, Hex],
        libc::SYS_epoll_wait => &[Int, Hex, Int, Int],
        libc::SYS_epoll_pwait => &[Int, Hex, Int, Int, Hex, Int],
        libc::SYS_write | libc::SYS_pwrite64 => &[Int, Buf(2), Int],
        libc::SYS_open => &[Path, Hex, Hex],
        libc::SYS_creat => &[Path, Hex],
        libc::SYS_openat => &[Int, Path, Hex, Hex],
        libc::SYS_openat2 => &[Int, Path, Hex, Int],
        libc::SYS_close | libc::SYS_dup | libc::SYS_fsync | libc::SYS_fchdir => &[Int],
        libc::SYS_stat | libc::SYS_lstat | libc::SYS_statfs => &[Path, Hex],
        libc::SYS_fstat | libc::SYS_fstatfs => &[Int, Hex],
        libc::SYS_newfstatat => &[Int, Path, Hex, Hex],
        libc::SYS_statx => &[Int, Path, Hex, Hex, Hex],
        libc::SYS_access => &[Path, Int],
        libc::SYS_faccessat | libc::SYS_faccessat2 => &[Int, Path, Int, Hex],
        libc::SYS_readlink => &[Path, Hex, Int],
        libc::SYS_readlinkat => &[Int, Path, Hex, Int],
        libc::SYS_execve => &[Path, Hex, Hex],
        libc::SYS_chdir | libc::SYS_rmdir | libc::SYS_unlink => &[Path],
        libc::SYS_mkdir | libc::SYS_chmod => &[Path, Hex],
        libc::SYS_mkdirat => &[Int, Path, Hex],
        libc::SYS_unlinkat => &[Int, Path, Hex],
        libc::SYS_rename | libc::SYS_symlink | libc::SYS_link => &[Path, Path],
        libc::SYS_renameat2 => &[Int, Path, Int, Path, Hex],
        libc::SYS_lseek => &[Int, Int, Int],
        libc::SYS_dup2 => &[Int, Int],
        libc::SYS_dup3 => &[Int, Int, Hex],
        libc::SYS_fcntl => &[Int, Int, Hex],
        libc::SYS_ioctl => &[Int, Hex, Hex],
        libc::SYS_mmap => &[Hex, Int, Hex, Hex, Int, Hex],
        libc::SYS_munmap => &[Hex, Int],
        libc::SYS_mprotect => &[Hex, Int, Hex],
        libc::SYS_brk => &[Hex],
        libc::SYS_exit | libc::SYS_exit_group => &[Int],
        libc::SYS_wait4 => &[Int, Hex, Hex, Hex],
        libc::SYS_kill | libc::SYS_tkill => &[Int, Int],
        libc::SYS_tgkill => &[Int, Int, Int],
        libc::SYS_rt_sigaction => &[Int, Hex, Hex, Int],
        libc::SYS_rt_sigprocmask => &[Int, Hex, Hex, Int],
        libc::SYS_pipe2 => &[Hex, Hex],
        libc::SYS_clone => &[Hex, Hex, Hex, Hex, Hex],
        libc::SYS_getpid | libc::SYS_getppid | libc::SYS_gettid | libc::SYS_fork | libc::SYS_vfork => &[],
        libc::SYS_getuid | libc::SYS_geteuid | libc::SYS_getgid | libc::SYS_getegid | libc::SYS_sched_yield => &[],
        _ => return None,
    })
}

/// Quotes bytes as strace does: printable ASCII as is, the rest escaped,
/// at most 32 bytes then `...`.
fn quote(bytes: &[u8], more: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(32) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if more || bytes.len() > 32 {
        s.push_str("...");
    }
    s
}

/// The arguments of `call` as strace shows them.
pub fn arguments(task: &Task, call: &SyscallArgs) -> String {
    let a = call.args;
    let Some(kinds) = i64::try_from(call.nr).ok().and_then(spec) else {
        return a.iter().map(|v| format!("{v:#x}")).collect::<Vec<_>>().join(", ");
    };
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| match *k {
            Int => format!("{}", a[i] as i64 as i32),
            Hex => format!("{:#x}", a[i]),
            Path => match task.mm.copy_in_cstr(a[i], 4095) {
                Ok(p) => quote(&p, false),
                Err(_) => format!("{:#x}", a[i]),
            },
            Buf(n) => {
                let len = (a[n] as usize).min(32);
                match task.mm.copy_in(a[i], len) {
                    Ok(b) => quote(&b, a[n] as usize > 32),
                    Err(_) => format!("{:#x}", a[i]),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_is_straces() {
        assert_eq!(quote(b"hi\n", false), "\"hi\\n\"");
        assert_eq!(quote(b"a\x01\"", false), "\"a\\x01\\\"\"");
        assert_eq!(quote(&[b'x'; 40], false), format!("\"{}\"...", "x".repeat(32)));
    }
}
