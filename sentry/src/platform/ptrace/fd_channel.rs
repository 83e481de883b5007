//! Giving host descriptors to a stub. A file mapping in the application's
//! address space is a host mapping of the file itself (its page cache,
//! coherent with read and write and with every other mapper), so the stub
//! must hold the file. A stub gets a datagram socket to the Sentry the
//! first time it needs one; the Sentry sends the descriptor on it with
//! `SCM_RIGHTS`, and an injected `recvmsg` takes it in the stub.
//!
//! The `recvmsg` needs memory in the stub for its message header: the
//! stub's data page, which the application can write but never map over.
//! A stub's threads are stopped while the Sentry injects into it, so none
//! can change the header meanwhile; a thread that scribbles there between
//! injections only makes the next transfer fail.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use nix::sys::uio::{RemoteIoVec, process_vm_readv, process_vm_writev};

use super::{PlatformError, StubProcess, stub};

/// The Sentry's end of a stub's socket and the stub's descriptor number.
#[derive(Debug)]
pub(super) struct Channel {
    sentry_end: OwnedFd,
    stub_fd: i32,
}

// Layout of the data page: the socketpair's two numbers, then a msghdr
// with one iovec of one byte and room for one descriptor's cmsg.
const SV: u64 = 0;
const MSG: u64 = 64;
const IOV: u64 = 128;
const BYTE: u64 = 160;
const CMSG: u64 = 192;
/// `CMSG_SPACE(sizeof(int))` on x86-64.
const CMSG_SPACE_INT: u64 = 24;
/// `CMSG_LEN(sizeof(int))` on x86-64.
const CMSG_LEN_INT: u64 = 20;

impl StubProcess {
    /// Puts a duplicate of `fd` (the same open file description) into the
    /// stub and returns its number there, close-on-exec.
    pub fn install_fd(&mut self, fd: BorrowedFd<'_>) -> Result<i32, PlatformError> {
        if self.channel.is_none() {
            self.channel = Some(self.open_channel()?);
        }
        let (sentry_end, stub_fd) = match &self.channel {
            Some(c) => (c.sentry_end.as_raw_fd(), c.stub_fd),
            None => return Err(self.host("descriptor channel", Errno::EBADF)),
        };
        let fds = [fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(sentry_end, &[IoSlice::new(&[0])], &cmsg, MsgFlags::MSG_DONTWAIT, None)
            .map_err(|e| self.host("send descriptor to stub", e))?;
        let data = self.stub + stub::DATA_OFFSET;
        // The kernel shortens msg_controllen on each receive: the header is
        // written afresh every time.
        let header = msghdr_bytes(data);
        self.write_data(MSG, &header)?;
        let flags = (libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) as u64;
        let r = self.inject(libc::SYS_recvmsg, [stub_fd as u64, data + MSG, flags, 0, 0, 0])?;
        crate::arch::syscall_result(r).map_err(|e| self.host("receive descriptor in stub", Errno::from_raw(e)))?;
        let mut got = [0u8; 20];
        self.read_data(CMSG, &mut got)?;
        let word = |i: usize| u64::from_le_bytes(got[i..i + 8].try_into().unwrap_or([0; 8]));
        let level = i32::from_le_bytes([got[8], got[9], got[10], got[11]]);
        let kind = i32::from_le_bytes([got[12], got[13], got[14], got[15]]);
        let number = i32::from_le_bytes([got[16], got[17], got[18], got[19]]);
        if word(0) != CMSG_LEN_INT || level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS || number < 0 {
            return Err(self.host("receive descriptor in stub", Errno::EPROTO));
        }
        Ok(number)
    }

    /// Closes descriptor `n` of the stub.
    pub fn close_fd(&mut self, n: i32) -> Result<(), PlatformError> {
        self.inject_ok(libc::SYS_close, [n as u64, 0, 0, 0, 0, 0], "close stub descriptor").map(drop)
    }

    /// A socketpair made in the stub, whose one end the Sentry takes with
    /// pidfd_getfd (it may: it traces the stub).
    fn open_channel(&mut self) -> Result<Channel, PlatformError> {
        let data = self.stub + stub::DATA_OFFSET;
        let kind = (libc::SOCK_DGRAM | libc::SOCK_CLOEXEC) as u64;
        self.inject_ok(libc::SYS_socketpair, [libc::AF_UNIX as u64, kind, 0, data + SV, 0, 0], "stub socketpair")?;
        let mut sv = [0u8; 8];
        self.read_data(SV, &mut sv)?;
        let theirs = i32::from_le_bytes([sv[0], sv[1], sv[2], sv[3]]);
        let stub_fd = i32::from_le_bytes([sv[4], sv[5], sv[6], sv[7]]);
        let pidfd = pidfd_open(self.pid.as_raw()).map_err(|e| self.host("pidfd_open stub", e))?;
        let sentry_end = pidfd_getfd(&pidfd, theirs).map_err(|e| self.host("take stub socket", e))?;
        self.close_fd(theirs)?;
        Ok(Channel { sentry_end, stub_fd })
    }

    fn write_data(&self, off: u64, bytes: &[u8]) -> Result<(), PlatformError> {
        let remote = [RemoteIoVec { base: (self.stub + stub::DATA_OFFSET + off) as usize, len: bytes.len() }];
        match process_vm_writev(self.pid, &[IoSlice::new(bytes)], &remote) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(_) => Err(self.host("write stub data page", Errno::EFAULT)),
            Err(e) => Err(self.host("write stub data page", e)),
        }
    }

    fn read_data(&self, off: u64, buf: &mut [u8]) -> Result<(), PlatformError> {
        let len = buf.len();
        let remote = [RemoteIoVec { base: (self.stub + stub::DATA_OFFSET + off) as usize, len }];
        match process_vm_readv(self.pid, &mut [IoSliceMut::new(buf)], &remote) {
            Ok(n) if n == len => Ok(()),
            Ok(_) => Err(self.host("read stub data page", Errno::EFAULT)),
            Err(e) => Err(self.host("read stub data page", e)),
        }
    }
}

/// The msghdr, its iovec and an empty control buffer, laid out from MSG to
/// the end of CMSG, for a data page at `data`.
fn msghdr_bytes(data: u64) -> Vec<u8> {
    let mut b = vec![0u8; (CMSG + CMSG_SPACE_INT - MSG) as usize];
    let put = |b: &mut Vec<u8>, at: u64, v: u64| {
        let i = (at - MSG) as usize;
        b[i..i + 8].copy_from_slice(&v.to_le_bytes());
    };
    // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    put(&mut b, MSG + 16, data + IOV);
    put(&mut b, MSG + 24, 1);
    put(&mut b, MSG + 32, data + CMSG);
    put(&mut b, MSG + 40, CMSG_SPACE_INT);
    // struct iovec: base, len.
    put(&mut b, IOV, data + BYTE);
    put(&mut b, IOV + 8, 1);
    b
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: a plain system call without pointers; nix has no wrapper.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    Errno::result(r)?;
    // SAFETY: pidfd_open returned a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

fn pidfd_getfd(pidfd: &OwnedFd, target: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: a plain system call without pointers; nix has no wrapper.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0) };
    Errno::result(r)?;
    // SAFETY: pidfd_getfd returned a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_given_to_the_stub_maps_there() {
        let mut s = StubProcess::spawn().unwrap();
        let mut f = tempfile_with(b"mapped through the stub");
        f.flush().unwrap();
        let n = s.install_fd(std::os::fd::AsFd::as_fd(&f)).unwrap();
        let second = s.install_fd(std::os::fd::AsFd::as_fd(&f)).unwrap();
        assert_ne!(n, second, "each transfer is a new descriptor");
        let flags = libc::MAP_PRIVATE as u64;
        let r = s.inject(libc::SYS_mmap, [0, 4096, libc::PROT_READ as u64, flags, n as u64, 0]).unwrap();
        let addr = crate::arch::syscall_result(r).unwrap();
        let mut buf = [0u8; 23];
        let remote = [RemoteIoVec { base: addr as usize, len: buf.len() }];
        process_vm_readv(s.pid(), &mut [IoSliceMut::new(&mut buf)], &remote).unwrap();
        assert_eq!(&buf, b"mapped through the stub");
        s.close_fd(n).unwrap();
        let fds = std::fs::read_dir(format!("/proc/{}/fd", s.pid())).unwrap().count();
        assert_eq!(fds, 2, "the channel and the second copy are left");
    }

    fn tempfile_with(data: &[u8]) -> std::fs::File {
        let path = std::env::temp_dir().join(format!("moat-fd-channel-{}", std::process::id()));
        let mut f = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f.write_all(data).unwrap();
        f
    }
}
