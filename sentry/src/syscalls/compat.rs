//! The compatibility table of `docs/compatibility.md`, made from the
//! system call table so the two cannot drift apart.

use super::{implemented, name};

/// Highest x86-64 system call number the table lists.
const LAST: u64 = 462;

/// What is missing from calls that are implemented only in part.
fn partial(nr: u64) -> Option<&'static str> {
    Some(match nr as i64 {
        libc::SYS_wait4 | libc::SYS_waitid => "a stopped or continued child's resource usage reads as zero",
        libc::SYS_clone | libc::SYS_clone3 => {
            "processes (CLONE_VM ones as host threads of the parent's stub) and threads; a CLONE_FS process keeps its own working directory and umask; CLONE_SIGHAND without CLONE_THREAD, CLONE_PIDFD, CLONE_NEW*, set_tid and cgroups are EINVAL"
        }
        libc::SYS_getrusage => {
            "user and system time and the peak RSS only (the host's accounting of the process's stub); the other counters read zero"
        }
        libc::SYS_settimeofday | libc::SYS_clock_settime => {
            "the host's clock is shared and never set: with CAP_SYS_TIME only the current time (within a second) is accepted, any other is EPERM; the time zone is not kept"
        }
        libc::SYS_sched_setaffinity => "accepted, not applied (the Sentry places its threads itself)",
        libc::SYS_setpriority => "kept for getpriority, not applied",
        libc::SYS_sysinfo => "the host's memory and load figures",
        libc::SYS_getitimer | libc::SYS_setitimer => {
            "ITIMER_VIRTUAL counts in host clock ticks (its signal may come up to a tick late)"
        }
        libc::SYS_futex => {
            "no WAIT_REQUEUE_PI / CMP_REQUEUE_PI (ENOSYS) and no priority boosting behind the PI operations; shared futexes are keyed by the mapped host file (device, inode) or by where shared anonymous memory was first mapped"
        }
        libc::SYS_vfork => "the child gets a copy of the address space; the parent waits for its exec or exit",
        libc::SYS_mmap => {
            "files without a host file behind them (devices, synthetic /proc files) are mapped as copies, and shared writable mappings of them are ENODEV; no MAP_HUGETLB"
        }
        libc::SYS_mknod | libc::SYS_mknodat => {
            "FIFOs and sockets (device nodes: EPERM); a FIFO with no writer yet polls POLLHUP, where Linux waits for a first writer"
        }
        libc::SYS_sched_setscheduler | libc::SYS_sched_setparam => {
            "recorded and reported back, never applied (the Sentry schedules its stubs; no real-time priority on the host)"
        }
        libc::SYS_get_robust_list => "another thread's head reads as its process's first thread's",
        libc::SYS_signalfd | libc::SYS_signalfd4 => {
            "readiness follows the creating task's signals: a child that inherits the descriptor reads its own signals but polls its parent's"
        }
        libc::SYS_inotify_add_watch => {
            "events for the changes the sandbox makes (create, delete, modify, close, move, delete-self); none for changes made on the host behind the Gofer, no IN_ATTRIB, IN_OPEN or IN_ACCESS"
        }
        libc::SYS_capget => "another process's sets are not kept where a caller can read them (EPERM)",
        libc::SYS_capset => {
            "no file capabilities or set-id executables yet, so execve grants only by Linux's root and ambient rules"
        }
        libc::SYS_socket => "AF_UNIX only (AF_INET and others: EAFNOSUPPORT until networking comes)",
        libc::SYS_socketpair => {
            "SO_PEERCRED is the creator's credentials, as Linux; SO_RCVTIMEO / SO_SNDTIMEO are not applied to waits"
        }
        libc::SYS_sendmsg | libc::SYS_sendto => {
            "SCM_RIGHTS whole; SCM_CREDENTIALS is checked, and receivers see the peer's credentials at connection rather than the sender's"
        }
        libc::SYS_recvmsg | libc::SYS_recvfrom => {
            "no sender addresses for datagrams; SCM_CREDENTIALS gives the peer's credentials at connection (a socketpair's creator) rather than the sender's"
        }
        libc::SYS_sendfile => "the input must be a regular file (Linux 5.12+ also takes other files)",
        libc::SYS_copy_file_range => "RLIMIT_FSIZE is not applied",
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => {
            "a signal that runs no handler (a stop, then SIGCONT) restarts the wait with its whole timeout, where Linux returns EINTR"
        }
        libc::SYS_memfd_create => "a host memfd (its seals are the host's); MFD_HUGETLB is EINVAL",
        libc::SYS_open | libc::SYS_openat | libc::SYS_openat2 => {
            "Gofer files, /proc and /dev; /proc/self/fd/N and /dev/std* share the open file; no O_TMPFILE, O_PATH opens the file for reading"
        }
        libc::SYS_prctl => {
            "PR_SET/GET_NAME, PR_SET/GET_NO_NEW_PRIVS (no privilege gain through execve exists yet to stop), PR_SET/GET_PDEATHSIG, PR_SET/GET_CHILD_SUBREAPER, PR_SET/GET_DUMPABLE, PR_SET/GET_TIMERSLACK (recorded, per process), PR_CAPBSET_READ / DROP, PR_CAP_AMBIENT, PR_SET/GET_KEEPCAPS, PR_GET_SECUREBITS (always 0); others EINVAL"
        }
        libc::SYS_mq_notify => "SIGEV_SIGNAL and SIGEV_NONE; SIGEV_THREAD needs netlink sockets (EINVAL)",
        libc::SYS_mq_open => "queues are the Sentry's; poll reports a full queue writable; no permission checks yet",
        libc::SYS_syslog => "the Sentry's own short kernel log; no CAP_SYSLOG check yet",
        libc::SYS_preadv2 | libc::SYS_pwritev2 => "flags: RWF_HIPRI, RWF_DSYNC and RWF_SYNC; others EOPNOTSUPP",
        libc::SYS_ioctl => {
            "FIONREAD, FIOCLEX, FIONCLEX; on a terminal: TCGETS, TCSETS(W|F), TIOCGWINSZ, TIOCSWINSZ, TCFLSH, TCXONC, TIOCOUTQ, TIOCGPGRP, TIOCSPGRP, TIOCGSID; ENOTTY otherwise"
        }
        libc::SYS_flock => "locks are the Sentry's (the host never sees them); a blocked flock retries every 5 ms",
        libc::SYS_fcntl => {
            "F_DUPFD(_CLOEXEC), F_GETFD, F_SETFD, F_GETFL, F_SETFL, record locks (F_GETLK, F_SETLK, F_SETLKW and the OFD forms; the Sentry's own, never the host's; no EDEADLK detection; a blocked lock retries every 5 ms), F_GETPIPE_SZ / F_SETPIPE_SZ and seals (the host object's); no leases or F_SETOWN"
        }
        libc::SYS_readlink | libc::SYS_readlinkat => "no /proc/PID/fd links yet",
        libc::SYS_access | libc::SYS_faccessat | libc::SYS_faccessat2 => {
            "no permission checks against the mode bits yet (the sandbox's credentials are not checked on access)"
        }
        libc::SYS_clock_gettime | libc::SYS_clock_getres => {
            "the caller's own CPU-time clocks (its stub's host CPU time), not other processes' (clock_getcpuclockid)"
        }
        libc::SYS_clock_nanosleep => "no sleeps on CPU-time clocks",
        libc::SYS_mremap => {
            "the VMA list keeps the moved mapping's attributes; no MREMAP_DONTUNMAP bookkeeping of the old range's contents"
        }
        libc::SYS_execve => "ELF (static, PIE, dynamic with its interpreter) and #! scripts; no execveat",
        _ => return None,
    })
}

/// The Markdown of the compatibility table.
pub fn table_markdown() -> String {
    let mut out = String::from(
        "# System call compatibility\n\n\
         Generated from the Sentry's system call table (`sentry/src/syscalls/compat.rs`); \
         `tests/tests/compatibility_doc.rs` fails when this file and the table differ \
         (run it with `MOAT_BLESS=1` to rewrite this file).\n\n\
         Every call not implemented returns ENOSYS and writes one line to the debug log. \
         Calls made through `int 0x80` or with x32 numbers are never read as 64-bit calls.\n\n",
    );
    let (mut full, mut part) = (0, 0);
    let mut rows = String::new();
    for nr in 0..=LAST {
        let status = match (implemented(nr), partial(nr)) {
            (true, None) => {
                full += 1;
                "implemented".to_string()
            }
            (true, Some(note)) => {
                part += 1;
                format!("partial: {note}")
            }
            (false, _) => "ENOSYS".to_string(),
        };
        rows.push_str(&format!("| {nr} | {} | {status} |\n", name(nr)));
    }
    out.push_str(&format!("{full} implemented, {part} partial, the rest ENOSYS.\n\n"));
    out.push_str("| nr | name | status |\n|---:|---|---|\n");
    out.push_str(&rows);
    out
}
