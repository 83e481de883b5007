//! `process.terminal`: a host pseudo-terminal whose slave end is the
//! sandbox's standard streams (and the Sentry's controlling terminal, so
//! the host tells it of window changes), and whose master end goes to the
//! caller's `--console-socket` as runc sends it.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::Context;
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, connect, sendmsg, socket,
};

use super::bundle::Plan;

/// An open pseudo-terminal pair.
pub struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Terminal {
    /// Opens a pair sized as `process.consoleSize` says.
    pub fn open(plan: &Plan) -> anyhow::Result<Terminal> {
        Terminal::open_sized(plan.spec.process().as_ref().and_then(|p| p.console_size()))
    }

    /// Opens a pair of `size` (the host's default when None).
    pub fn open_sized(size: Option<oci_spec::runtime::Box>) -> anyhow::Result<Terminal> {
        let size = size.map(|b| nix::pty::Winsize {
            ws_row: b.height() as u16,
            ws_col: b.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
        let pty = nix::pty::openpty(size.as_ref(), None).context("open a pseudo-terminal")?;
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
                .context("set close-on-exec on the terminal")?;
        }
        Ok(Terminal { master: pty.master, slave: pty.slave })
    }

    /// The slave end, for the Sentry's standard streams.
    pub fn slave(&self) -> RawFd {
        self.slave.as_raw_fd()
    }

    /// Sends the master end over the Unix socket at `path`.
    pub fn send_master(self, path: &Path) -> anyhow::Result<()> {
        let sock =
            socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).context("console socket")?;
        let addr = UnixAddr::new(path).with_context(|| format!("console socket {}", path.display()))?;
        connect(sock.as_raw_fd(), &addr).with_context(|| format!("connect to console socket {}", path.display()))?;
        let fds = [self.master.as_raw_fd()];
        let name = b"/dev/ptmx";
        sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(name)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .with_context(|| format!("send the terminal to {}", path.display()))?;
        Ok(())
    }
}
