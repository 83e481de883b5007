//! syslog(2): the kernel log, which in a sandbox is the Sentry's own
//! (`dmesg` shows it), never the host's.

use nix::errno::Errno;

use super::{SysResult, int};
use crate::kernel::{KernelRef, Task};

/// What the Sentry's kernel log holds.
const LOG: &str = "\
<6>[    0.000000] moat: starting the Sentry, a Linux kernel in user space\n\
<6>[    0.000000] moat: platform ptrace: application system calls stop in the Sentry (PTRACE_SYSEMU)\n\
<6>[    0.000000] moat: files are served by the container's Gofer\n\
<6>[    0.000000] moat: the host kernel's own log is not visible here\n";

const SYSLOG_ACTION_CLOSE: i32 = 0;
const SYSLOG_ACTION_OPEN: i32 = 1;
const SYSLOG_ACTION_READ: i32 = 2;
const SYSLOG_ACTION_READ_ALL: i32 = 3;
const SYSLOG_ACTION_READ_CLEAR: i32 = 4;
const SYSLOG_ACTION_CLEAR: i32 = 5;
const SYSLOG_ACTION_CONSOLE_OFF: i32 = 6;
const SYSLOG_ACTION_CONSOLE_LEVEL: i32 = 8;
const SYSLOG_ACTION_SIZE_UNREAD: i32 = 9;
const SYSLOG_ACTION_SIZE_BUFFER: i32 = 10;

pub(super) fn syslog(_k: &KernelRef, t: &mut Task, a: &[u64; 6]) -> SysResult {
    let (action, buf, len) = (int(a[0]), a[1], int(a[2]));
    match action {
        SYSLOG_ACTION_CLOSE | SYSLOG_ACTION_OPEN | SYSLOG_ACTION_CLEAR => Ok(0),
        SYSLOG_ACTION_CONSOLE_OFF..=SYSLOG_ACTION_CONSOLE_LEVEL => Ok(0),
        SYSLOG_ACTION_SIZE_BUFFER => Ok(LOG.len() as i64),
        SYSLOG_ACTION_SIZE_UNREAD => Ok(0),
        SYSLOG_ACTION_READ | SYSLOG_ACTION_READ_ALL | SYSLOG_ACTION_READ_CLEAR => {
            if len < 0 {
                return Err(Errno::EINVAL.into());
            }
            if len == 0 {
                return Ok(0);
            }
            // READ_ALL gives the newest bytes that fit; the log is small.
            let bytes = LOG.as_bytes();
            let n = bytes.len().min(len as usize);
            t.mm.copy_out(buf, &bytes[bytes.len() - n..])?;
            Ok(n as i64)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}
