//! The system call table: number to handler. Each handler decodes its
//! arguments and calls into the layers below; the semantics live there.
//! Anything not in the table gets ENOSYS and one debug-log line.

mod attr;
pub mod compat;
mod creds;
mod epoll;
mod event_fds;
mod file_lock;
mod fs;
mod futex;
mod info;
mod inotify;
mod kernel_log;
mod mem;
mod mqueue;
mod openat2;
mod poll;
mod proc;
mod process;
mod record_lock;
mod rw;
mod sched;
mod signal;
mod socket;
mod socket_names;
mod strace;
mod time;
mod transfer;
mod tree;
mod tty;
mod xattr;

use std::sync::OnceLock;
use std::time::Instant;

use nix::errno::Errno;

use crate::arch::SyscallArgs;
use crate::kernel::{KernelError, KernelRef, Task};
use crate::mm::MmError;

/// A handler's failure: an errno for the application, or the end of the
/// sandbox.
#[derive(Debug)]
pub enum SysError {
    /// Returned to the application.
    Errno(Errno),
    /// Ends the sandbox.
    Fatal(KernelError),
    /// A signal interrupted the call; it restarts or returns EINTR as the
    /// signal's delivery decides.
    Restart(crate::kernel::blocking::Restart),
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> Self {
        SysError::Errno(e)
    }
}

impl From<MmError> for SysError {
    fn from(e: MmError) -> Self {
        match e {
            MmError::Errno(e) => SysError::Errno(e),
            MmError::Platform(p) => SysError::Fatal(p.into()),
        }
    }
}

impl From<moat_gofer::ClientError> for SysError {
    fn from(e: moat_gofer::ClientError) -> Self {
        SysError::Errno(e.errno())
    }
}

impl From<crate::kernel::exec::ExecError> for SysError {
    fn from(e: crate::kernel::exec::ExecError) -> Self {
        match e {
            crate::kernel::exec::ExecError::Errno(e) => SysError::Errno(e),
            crate::kernel::exec::ExecError::Fatal(k) => SysError::Fatal(k),
        }
    }
}

/// What a handler returns.
pub type SysResult = Result<i64, SysError>;

/// Handler arguments: the kernel, the calling task, the six raw arguments.
type Handler = fn(&KernelRef, &mut Task, &[u64; 6]) -> SysResult;

/// The handler of system call `nr`, if moat implements it.
#[allow(non_upper_case_globals)] // libc's SYS_* names
fn handler(nr: u64) -> Option<Handler> {
    use libc::*;
    let nr = i64::try_from(nr).ok()?;
    Some(match nr {
        SYS_read => rw::read,
        SYS_write => rw::write,
        SYS_readv => rw::readv,
        SYS_writev => rw::writev,
        SYS_pread64 => rw::pread64,
        SYS_pwrite64 => rw::pwrite64,
        SYS_open => fs::open,
        SYS_openat => fs::openat,
        SYS_openat2 => openat2::openat2,
        SYS_syslog => kernel_log::syslog,
        SYS_mq_open => mqueue::mq_open,
        SYS_mq_unlink => mqueue::mq_unlink,
        SYS_mq_timedsend => mqueue::mq_timedsend,
        SYS_mq_timedreceive => mqueue::mq_timedreceive,
        SYS_mq_notify => mqueue::mq_notify,
        SYS_mq_getsetattr => mqueue::mq_getsetattr,
        SYS_preadv => rw::preadv,
        SYS_pwritev => rw::pwritev,
        SYS_preadv2 => rw::preadv2,
        SYS_pwritev2 => rw::pwritev2,
        SYS_close => fs::close,
        SYS_lseek => fs::lseek,
        SYS_dup => fs::dup,
        SYS_dup2 => fs::dup2,
        SYS_dup3 => fs::dup3,
        SYS_fcntl => fs::fcntl,
        SYS_flock => file_lock::flock,
        SYS_ioctl => fs::ioctl,
        SYS_getcwd => fs::getcwd,
        SYS_chdir => fs::chdir,
        SYS_readlink => fs::readlink,
        SYS_readlinkat => fs::readlinkat,
        SYS_access => fs::access,
        SYS_faccessat => fs::faccessat,
        SYS_faccessat2 => fs::faccessat,
        SYS_getdents64 => fs::getdents64,
        SYS_fstat => attr::fstat,
        SYS_stat => attr::stat,
        SYS_lstat => attr::lstat,
        SYS_newfstatat => attr::newfstatat,
        SYS_brk => mem::brk,
        SYS_mmap => mem::mmap,
        SYS_munmap => mem::munmap,
        SYS_mprotect => mem::mprotect,
        SYS_madvise => mem::madvise,
        SYS_msync => mem::msync,
        SYS_mincore => mem::mincore,
        SYS_memfd_create => mem::memfd_create,
        SYS_futex => futex::futex,
        SYS_getxattr => xattr::getxattr,
        SYS_lgetxattr => xattr::lgetxattr,
        SYS_fgetxattr => xattr::fgetxattr,
        SYS_listxattr => xattr::listxattr,
        SYS_llistxattr => xattr::llistxattr,
        SYS_flistxattr => xattr::flistxattr,
        SYS_setxattr => xattr::setxattr,
        SYS_lsetxattr => xattr::lsetxattr,
        SYS_removexattr => xattr::removexattr,
        SYS_lremovexattr => xattr::lremovexattr,
        SYS_mremap => mem::mremap,
        SYS_exit => proc::exit,
        SYS_exit_group => proc::exit_group,
        SYS_execve => proc::execve,
        SYS_getpid => proc::getpid,
        SYS_gettid => proc::gettid,
        SYS_getppid => process::getppid,
        SYS_getuid => creds::getuid,
        SYS_geteuid => creds::geteuid,
        SYS_getgid => creds::getgid,
        SYS_getegid => creds::getegid,
        SYS_capget => creds::capget,
        SYS_capset => creds::capset,
        SYS_set_tid_address => proc::set_tid_address,
        SYS_arch_prctl => proc::arch_prctl,
        SYS_prctl => proc::prctl,
        SYS_uname => proc::uname,
        SYS_getrandom => proc::getrandom,
        SYS_umask => proc::umask,
        SYS_sched_yield => proc::sched_yield,
        SYS_clone3 => process::clone3,
        SYS_setuid => creds::setuid,
        SYS_setgid => creds::setgid,
        SYS_setreuid => creds::setreuid,
        SYS_setregid => creds::setregid,
        SYS_setresuid => creds::setresuid,
        SYS_setresgid => creds::setresgid,
        SYS_setgroups => creds::setgroups,
        SYS_setfsuid => creds::setfsuid,
        SYS_setfsgid => creds::setfsgid,
        SYS_sched_get_priority_max => sched::sched_get_priority_max,
        SYS_sched_get_priority_min => sched::sched_get_priority_min,
        SYS_sched_getscheduler => sched::sched_getscheduler,
        SYS_sched_setscheduler => sched::sched_setscheduler,
        SYS_sched_getparam => sched::sched_getparam,
        SYS_sched_setparam => sched::sched_setparam,
        SYS_sched_rr_get_interval => sched::sched_rr_get_interval,
        SYS_set_robust_list => sched::set_robust_list,
        SYS_get_robust_list => sched::get_robust_list,
        SYS_prlimit64 => proc::prlimit64,
        SYS_getrlimit => proc::getrlimit,
        SYS_setrlimit => proc::setrlimit,
        SYS_rt_sigaction => signal::rt_sigaction,
        SYS_rt_sigprocmask => signal::rt_sigprocmask,
        SYS_poll => poll::poll,
        SYS_fork => process::fork,
        SYS_vfork => process::vfork,
        SYS_clone => process::clone,
        SYS_wait4 => process::wait4,
        SYS_waitid => process::waitid,
        SYS_getpgid => process::getpgid,
        SYS_getpgrp => process::getpgrp,
        SYS_getsid => process::getsid,
        SYS_setpgid => process::setpgid,
        SYS_setsid => process::setsid,
        SYS_kill => signal::kill,
        SYS_tgkill => signal::tgkill,
        SYS_tkill => signal::tkill,
        SYS_rt_sigreturn => signal::rt_sigreturn,
        SYS_rt_sigsuspend => signal::rt_sigsuspend,
        SYS_rt_sigpending => signal::rt_sigpending,
        SYS_rt_sigtimedwait => signal::rt_sigtimedwait,
        SYS_rt_sigqueueinfo => signal::rt_sigqueueinfo,
        SYS_pause => signal::pause,
        SYS_sigaltstack => signal::sigaltstack,
        SYS_pipe => fs::pipe,
        SYS_sysinfo => info::sysinfo,
        SYS_getrusage => info::getrusage,
        SYS_times => info::times,
        SYS_sched_getaffinity => info::sched_getaffinity,
        SYS_sched_setaffinity => info::sched_setaffinity,
        SYS_getgroups => info::getgroups,
        SYS_getresuid => creds::getresuid,
        SYS_getresgid => creds::getresgid,
        SYS_getpriority => info::getpriority,
        SYS_setpriority => info::setpriority,
        SYS_mkdir => tree::mkdir,
        SYS_mkdirat => tree::mkdirat,
        SYS_mknod => tree::mknod,
        SYS_mknodat => tree::mknodat,
        SYS_unlink => tree::unlink,
        SYS_unlinkat => tree::unlinkat,
        SYS_rmdir => tree::rmdir,
        SYS_rename => tree::rename,
        SYS_renameat => tree::renameat,
        SYS_renameat2 => tree::renameat2,
        SYS_symlink => tree::symlink,
        SYS_symlinkat => tree::symlinkat,
        SYS_link => tree::link,
        SYS_linkat => tree::linkat,
        SYS_chmod => tree::chmod,
        SYS_fchmod => tree::fchmod,
        SYS_fchmodat => tree::fchmodat,
        SYS_chown => tree::chown,
        SYS_lchown => tree::lchown,
        SYS_fchown => tree::fchown,
        SYS_fchownat => tree::fchownat,
        SYS_utimensat => tree::utimensat,
        SYS_truncate => tree::truncate,
        SYS_ftruncate => tree::ftruncate,
        SYS_fsync => tree::fsync,
        SYS_fdatasync => tree::fdatasync,
        SYS_sync => tree::sync,
        SYS_statfs => tree::statfs,
        SYS_fstatfs => tree::fstatfs,
        SYS_statx => tree::statx,
        SYS_fchdir => tree::fchdir,
        SYS_close_range => tree::close_range,
        SYS_pipe2 => fs::pipe2,
        SYS_creat => fs::creat,
        SYS_socket => socket::socket,
        SYS_socketpair => socket::socketpair,
        SYS_sendmsg => socket::sendmsg,
        SYS_sendto => socket::sendto,
        SYS_recvmsg => socket::recvmsg,
        SYS_recvfrom => socket::recvfrom,
        SYS_shutdown => socket::shutdown,
        SYS_getsockopt => socket::getsockopt,
        SYS_setsockopt => socket::setsockopt,
        SYS_getsockname => socket_names::getsockname,
        SYS_getpeername => socket_names::getpeername,
        SYS_bind => socket_names::bind,
        SYS_listen => socket_names::listen,
        SYS_accept => socket_names::accept,
        SYS_accept4 => socket_names::accept4,
        SYS_connect => socket_names::connect,
        SYS_sendfile => transfer::sendfile,
        SYS_copy_file_range => transfer::copy_file_range,
        SYS_splice => transfer::splice,
        SYS_tee => transfer::tee,
        SYS_fadvise64 => transfer::fadvise64,
        SYS_fallocate => transfer::fallocate,
        SYS_getcpu => info::getcpu,
        SYS_inotify_init => inotify::inotify_init,
        SYS_inotify_init1 => inotify::inotify_init1,
        SYS_inotify_add_watch => inotify::inotify_add_watch,
        SYS_inotify_rm_watch => inotify::inotify_rm_watch,
        SYS_signalfd => event_fds::signalfd,
        SYS_signalfd4 => event_fds::signalfd4,
        SYS_eventfd => event_fds::eventfd,
        SYS_eventfd2 => event_fds::eventfd2,
        SYS_timerfd_create => event_fds::timerfd_create,
        SYS_timerfd_settime => event_fds::timerfd_settime,
        SYS_timerfd_gettime => event_fds::timerfd_gettime,
        SYS_epoll_create => epoll::epoll_create,
        SYS_epoll_create1 => epoll::epoll_create1,
        SYS_epoll_ctl => epoll::epoll_ctl,
        SYS_epoll_wait => epoll::epoll_wait,
        SYS_epoll_pwait => epoll::epoll_pwait,
        SYS_epoll_pwait2 => epoll::epoll_pwait2,
        SYS_ppoll => poll::ppoll,
        SYS_select => poll::select,
        SYS_pselect6 => poll::pselect6,
        SYS_clock_gettime => time::clock_gettime,
        SYS_clock_getres => time::clock_getres,
        SYS_gettimeofday => time::gettimeofday,
        SYS_settimeofday => time::settimeofday,
        SYS_clock_settime => time::clock_settime,
        SYS_time => time::time,
        SYS_nanosleep => time::nanosleep,
        SYS_getitimer => time::getitimer,
        SYS_setitimer => time::setitimer,
        SYS_alarm => time::alarm,
        SYS_clock_nanosleep => time::clock_nanosleep,
        _ => return None,
    })
}

/// Whether moat implements system call `nr` (for the compatibility table).
pub fn implemented(nr: u64) -> bool {
    handler(nr).is_some()
}

/// The name of system call `nr`, as strace prints it.
pub fn name(nr: u64) -> String {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (0..512)
            .map(|n| libseccomp::ScmpSyscall::from_raw_syscall(n).get_name().unwrap_or_else(|_| format!("syscall_{n}")))
            .collect()
    });
    usize::try_from(nr).ok().and_then(|i| names.get(i).cloned()).unwrap_or_else(|| format!("syscall_{nr}"))
}

/// x32 system calls have this bit set; they are never read as 64-bit ones.
const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// Runs the system call `call` of `task` and returns the raw value for rax.
pub fn dispatch(kernel: &KernelRef, task: &mut Task, call: &SyscallArgs) -> Result<i64, KernelError> {
    let decoded = kernel.strace.then(|| strace::arguments(task, call));
    let started = kernel.strace.then(Instant::now);
    let found = if call.nr & X32_SYSCALL_BIT != 0 { None } else { handler(call.nr) };
    task.sync_fs();
    let result = match found {
        Some(h) => h(kernel, task, &call.args),
        None => {
            kernel.log_line(&format!("unimplemented system call {} ({})", name(call.nr), call.nr));
            Err(SysError::Errno(Errno::ENOSYS))
        }
    };
    let value = match result {
        Ok(v) => v,
        Err(SysError::Errno(e)) => -(e as i64),
        Err(SysError::Restart(r)) => {
            task.restart = Some(r);
            -(Errno::EINTR as i64)
        }
        Err(SysError::Fatal(k)) => return Err(k),
    };
    if let Some(t) = started {
        let shown = if (-4095..0).contains(&value) {
            format!("-1 {}", Errno::from_raw(-value as i32))
        } else if value > 0xffff {
            format!("{value:#x}")
        } else {
            value.to_string()
        };
        kernel.log_line(&format!(
            "[{}] {}({}) = {shown} <{:.1}us>",
            task.tid,
            name(call.nr),
            decoded.unwrap_or_default(),
            t.elapsed().as_secs_f64() * 1e6
        ));
    }
    Ok(value)
}

/// A `struct timespec` in application memory as a duration: EFAULT if
/// unreadable, EINVAL if negative or with nanoseconds out of range.
pub(crate) fn read_timespec(t: &Task, addr: u64) -> Result<std::time::Duration, Errno> {
    let b = t.mm.copy_in(addr, 16)?;
    let word =
        |i: usize| i64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
    let (sec, nsec) = (word(0), word(8));
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(std::time::Duration::new(sec as u64, nsec as u32))
}

/// A `struct timeval` in application memory as a duration, checked as
/// `read_timespec` checks.
pub(crate) fn read_timeval(t: &Task, addr: u64) -> Result<std::time::Duration, Errno> {
    let b = t.mm.copy_in(addr, 16)?;
    let word =
        |i: usize| i64::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]]);
    let (sec, usec) = (word(0), word(8));
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok(std::time::Duration::new(sec as u64, usec as u32 * 1000))
}

/// Milliseconds for a host poll, rounded up, -1 for none.
pub(crate) fn poll_ms(d: Option<std::time::Duration>) -> i32 {
    d.map_or(-1, |d| i32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX))
}

/// An argument as a C `int` (the upper half ignored, as Linux does).
pub(crate) fn int(v: u64) -> i32 {
    v as u32 as i32
}
