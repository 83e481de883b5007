//! Shared peer and helpers of the `gofer_hostile_*` tests. A hostile peer:
//! raw bytes on the Gofer's socket. Whatever arrives, the server answers
//! each message with a well-formed reply (u32 errno, then a body only on
//! success), uses no descriptor it is sent, and stays up until the peer
//! hangs up.
//!
//! Wire format: request = u16 LE opcode + fields; reply = u32 LE errno
//! (0 = ok) + body.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use moat_gofer::protocol::{Opcode, Request};
use moat_gofer::reply::{self, Node, Stat, StatFs};
use moat_gofer::transport::{self, Received};
use moat_gofer::wire::{Decoder, MAX_MESSAGE};
use moat_gofer::{HandleId, Owner, SetAttr, TimeSet};
use moat_tests::*;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg, setsockopt, sockopt};
use nix::sys::time::TimeVal;

pub(crate) const OWNER: Owner = Owner { uid: 0, gid: 0 };

/// Every errno the Gofer may answer with: its own (protocol and checks)
/// and those of the file calls it makes for a request.
pub(crate) const DOCUMENTED: &[Errno] = &[
    // protocol
    Errno::EBADMSG,
    Errno::ENOSYS,
    Errno::EMSGSIZE,
    Errno::E2BIG,
    // handles and names
    Errno::EBADF,
    Errno::ENOENT,
    Errno::ENOTDIR,
    Errno::EISDIR,
    Errno::EINVAL,
    Errno::ENAMETOOLONG,
    Errno::EEXIST,
    Errno::ENOTEMPTY,
    Errno::EBUSY,
    Errno::ELOOP,
    Errno::EXDEV,
    Errno::EROFS,
    Errno::ENFILE,
    Errno::EMFILE,
    // file types and permissions
    Errno::ENXIO,
    Errno::EOPNOTSUPP,
    Errno::EACCES,
    Errno::EPERM,
    // attributes and data
    Errno::ERANGE,
    Errno::ENODATA,
    Errno::EFBIG,
    Errno::EOVERFLOW,
    Errno::EMLINK,
    Errno::ENOSPC,
    Errno::EDQUOT,
    Errno::ETXTBSY,
    Errno::EIO,
];

// ------------------------------------------------------------------ peer

/// One decoded reply.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) errno: u32,
    pub(crate) body: Vec<u8>,
    /// Descriptors donated with the reply, closed with the answer.
    _fds: Vec<OwnedFd>,
}

impl Answer {
    pub(crate) fn errno(&self) -> Errno {
        Errno::from_raw(self.errno as i32)
    }
}

pub(crate) struct Peer {
    pub(crate) sock: OwnedFd,
}

impl Peer {
    pub(crate) fn new(sock: OwnedFd) -> Peer {
        // A server that stopped answering fails the test instead of hanging it.
        setsockopt(&sock, sockopt::ReceiveTimeout, &TimeVal::new(20, 0)).unwrap();
        Peer { sock }
    }

    pub(crate) fn send(&self, data: &[u8]) {
        transport::send(self.sock.as_fd(), data, None).unwrap_or_else(|e| panic!("send {} bytes: {e}", data.len()));
    }

    pub(crate) fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) {
        let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg = [ControlMessage::ScmRights(&raw)];
        sendmsg::<()>(self.sock.as_raw_fd(), &[IoSlice::new(data)], &cmsg, MsgFlags::MSG_NOSIGNAL, None)
            .unwrap_or_else(|e| panic!("sendmsg with {} fds: {e}", fds.len()));
    }

    pub(crate) fn recv(&self, what: &str) -> Received {
        match transport::recv(self.sock.as_fd()) {
            Ok(Some(m)) => m,
            Ok(None) => panic!("{what}: the server hung up"),
            Err(e) => panic!("{what}: no reply: {e}"),
        }
    }

    /// Sends raw bytes and checks the reply's shape.
    pub(crate) fn call(&self, data: &[u8]) -> Answer {
        self.send(data);
        check_shape(data, self.recv(&describe(data)))
    }

    pub(crate) fn request(&self, r: &Request) -> Answer {
        self.call(&r.encode())
    }

    /// The server still answers a valid request.
    #[track_caller]
    pub(crate) fn assert_alive(&self, after: &str) {
        let a = self.request(&Request::Attach { mount: 0 });
        assert_eq!(a.errno, 0, "after {after}: attach failed with {}", a.errno());
        let node = decode_node(&a.body);
        assert!(node.stat.is_dir());
        let r = self.request(&Request::Release { handles: vec![node.handle] });
        assert_eq!(r.errno, 0, "after {after}: release failed with {}", r.errno());
    }

    pub(crate) fn attach(&self, mount: u32) -> Node {
        let a = self.request(&Request::Attach { mount });
        assert_eq!(a.errno, 0, "attach {mount}: {}", a.errno());
        decode_node(&a.body)
    }

    pub(crate) fn lookup(&self, dir: HandleId, name: &[u8]) -> Node {
        let a = self.request(&Request::Walk { dir, names: vec![name.to_vec()] });
        assert_eq!(a.errno, 0);
        let w = reply::decode::walk(&mut Decoder::new(&a.body)).unwrap();
        assert_eq!((w.errno, w.nodes.len()), (0, 1), "walk {:?}", String::from_utf8_lossy(name));
        w.nodes[0]
    }
}

fn describe(data: &[u8]) -> String {
    let head: Vec<String> = data.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("message of {} bytes [{}{}]", data.len(), head.join(" "), if data.len() > 16 { " …" } else { "" })
}

pub(crate) fn decode_node(body: &[u8]) -> Node {
    let mut d = Decoder::new(body);
    let n = Node::decode(&mut d).unwrap();
    d.end().unwrap();
    n
}

/// Checks that `msg` is a well-formed reply to `req`: an errno from
/// [`DOCUMENTED`] with no body and no descriptor, or 0 with exactly the
/// body (and descriptor) of the request's opcode.
pub(crate) fn check_shape(req: &[u8], msg: Received) -> Answer {
    let what = describe(req);
    assert!(!msg.truncated, "{what}: reply larger than MAX_MESSAGE");
    assert!(msg.data.len() >= 4, "{what}: reply of {} bytes has no errno", msg.data.len());
    let mut d = Decoder::new(&msg.data);
    let errno = d.u32().unwrap();
    let body = msg.data[4..].to_vec();
    if errno != 0 {
        let e = Errno::from_raw(errno as i32);
        assert!(DOCUMENTED.contains(&e), "{what}: undocumented errno {errno} ({e})");
        assert!(body.is_empty(), "{what}: error {e} with a {}-byte body", body.len());
        assert!(msg.fds.is_empty(), "{what}: error {e} carried descriptors");
        return Answer { errno, body, _fds: msg.fds };
    }
    let op = Request::decode(req)
        .unwrap_or_else(|e| panic!("{what}: success for a request that does not decode ({e})"))
        .unwrap_or_else(|| panic!("{what}: success for an unknown opcode"))
        .opcode();
    let mut d = Decoder::new(&body);
    let decoded = match op {
        Opcode::Attach | Opcode::Create | Opcode::Mkdir | Opcode::Mknod | Opcode::Symlink | Opcode::Link => {
            Node::decode(&mut d).map(drop)
        }
        Opcode::Walk => reply::decode::walk(&mut d).map(drop),
        Opcode::Stat => Stat::decode(&mut d).map(drop),
        Opcode::Readlink => d.bytes().map(drop),
        Opcode::Readdir => reply::decode::dir(&mut d).map(drop),
        Opcode::StatFs => StatFs::decode(&mut d).map(drop),
        Opcode::GetXattr | Opcode::ListXattr => reply::decode::xattr(&mut d).map(drop),
        Opcode::Open
        | Opcode::Unlink
        | Opcode::Rename
        | Opcode::SetAttr
        | Opcode::SetXattr
        | Opcode::RemoveXattr
        | Opcode::Release => Ok(()),
    };
    decoded.and_then(|()| d.end()).unwrap_or_else(|e| panic!("{what}: {op:?} reply body does not decode: {e}"));
    let want_fds = usize::from(matches!(op, Opcode::Open | Opcode::Create));
    assert_eq!(msg.fds.len(), want_fds, "{what}: {op:?} reply carried {} descriptors", msg.fds.len());
    Answer { errno, body, _fds: msg.fds }
}

/// What the server must answer to bytes that are not a valid request, or
/// None when they are one (then any documented answer will do).
fn expected_for(data: &[u8]) -> Option<Errno> {
    if data.len() > MAX_MESSAGE {
        return Some(Errno::EMSGSIZE);
    }
    match Request::decode(data) {
        Err(_) => Some(Errno::EBADMSG),
        Ok(None) => Some(Errno::ENOSYS),
        Ok(Some(_)) => None,
    }
}

/// xorshift64*: a small deterministic generator.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ------------------------------------------------------------------ tree

pub(crate) fn make_tree(tag: &str) -> Scratch {
    let s = Scratch::new(tag);
    std::fs::create_dir(s.path().join("d")).unwrap();
    std::fs::write(s.path().join("f"), b"file").unwrap();
    std::fs::write(s.path().join("d/g"), b"g").unwrap();
    let (p, n) = (CString::new(s.path().join("f").as_os_str().as_bytes()).unwrap(), c"user.keep");
    // SAFETY: NUL-terminated strings, a 1-byte value.
    assert_eq!(unsafe { libc::setxattr(p.as_ptr(), n.as_ptr(), b"k".as_ptr().cast(), 1, 0) }, 0);
    s
}

/// mode, uid, nlink, mtime, ctime, content.
pub(crate) type FileState = (u32, u32, u64, (i64, i64), (i64, i64), Option<Vec<u8>>);

/// Everything about the files under `root` that a request could change
/// (access times aside).
pub(crate) fn snapshot(root: &Path) -> BTreeMap<PathBuf, FileState> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let m = std::fs::symlink_metadata(&dir).unwrap();
        out.insert(
            dir.clone(),
            (m.mode(), m.uid(), m.nlink(), (m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()), None),
        );
        for ent in std::fs::read_dir(&dir).unwrap() {
            let p = ent.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p);
                continue;
            }
            let content = m.is_file().then(|| std::fs::read(&p).unwrap());
            let times = ((m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()));
            out.insert(p, (m.mode(), m.uid(), m.nlink(), times.0, times.1, content));
        }
    }
    out
}

/// One valid request of each opcode, on the root `root` and the file `file`.
pub(crate) fn templates(root: HandleId, file: HandleId) -> Vec<Request> {
    let name = |s: &str| s.as_bytes().to_vec();
    vec![
        Request::Attach { mount: 0 },
        Request::Walk { dir: root, names: vec![name("d"), name("g")] },
        Request::Stat { handle: root },
        Request::Open { handle: file, flags: libc::O_RDWR as u32 },
        Request::Create { dir: root, name: name("t-create"), flags: libc::O_RDWR as u32, mode: 0o644, owner: OWNER },
        Request::Mkdir { dir: root, name: name("t-mkdir"), mode: 0o755, owner: OWNER },
        Request::Mknod { dir: root, name: name("t-fifo"), mode: libc::S_IFIFO | 0o644, owner: OWNER },
        Request::Symlink { dir: root, name: name("t-sym"), target: name("f"), owner: OWNER },
        Request::Link { dir: root, name: name("t-link"), target: file },
        Request::Unlink { dir: root, name: name("f"), flags: 0 },
        Request::Rename { old_dir: root, old_name: name("f"), new_dir: root, new_name: name("t-moved"), flags: 0 },
        Request::Readlink { handle: file },
        Request::Readdir { dir: root, offset: 0, max_entries: 10 },
        Request::SetAttr {
            handle: file,
            attr: SetAttr {
                mode: Some(0o600),
                uid: Some(1),
                gid: Some(1),
                size: Some(0),
                atime: TimeSet::At { sec: 1, nsec: 2 },
                mtime: TimeSet::Now,
            },
        },
        Request::StatFs { handle: root },
        Request::GetXattr { handle: file, name: name("user.keep"), size: 64 },
        Request::SetXattr { handle: file, name: name("user.t"), value: name("v"), flags: 0 },
        Request::ListXattr { handle: file, size: 256 },
        Request::RemoveXattr { handle: file, name: name("user.keep") },
        Request::Release { handles: vec![file, root] },
    ]
}

/// Hostile messages built from valid ones: random bytes, random opcodes
/// with garbage bodies, and valid requests with a few bytes changed or
/// their tail cut or grown.
pub(crate) fn fuzz(peer: &Peer, rng: &mut Rng, count: usize, valid: &[Vec<u8>]) -> HashMap<u32, usize> {
    let mut seen = HashMap::new();
    for i in 0..count {
        let msg = match i % 3 {
            0 => {
                let n = rng.below(301) as usize;
                rng.bytes(n)
            }
            1 => {
                let mut m = (1 + rng.below(20) as u16).to_le_bytes().to_vec();
                let n = rng.below(299) as usize;
                m.extend(rng.bytes(n));
                m
            }
            _ => {
                let mut m = valid[rng.below(valid.len() as u64) as usize].clone();
                match rng.below(4) {
                    0 => m.truncate(rng.below(m.len() as u64) as usize),
                    1 => {
                        let n = 1 + rng.below(8) as usize;
                        m.extend(rng.bytes(n));
                    }
                    _ => {
                        for _ in 0..1 + rng.below(3) {
                            let at = rng.below(m.len() as u64) as usize;
                            m[at] = rng.next() as u8;
                        }
                    }
                }
                m
            }
        };
        let a = peer.call(&msg);
        if let Some(want) = expected_for(&msg) {
            assert_eq!(a.errno(), want, "{}", describe(&msg));
        }
        *seen.entry(a.errno).or_insert(0) += 1;
    }
    seen
}

pub(crate) fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
}

/// The read end sees end-of-file: every copy of the write end is closed.
#[track_caller]
pub(crate) fn assert_eof(r: &OwnedFd, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut p = [PollFd::new(r.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut p, PollTimeout::from(100u16)).unwrap();
        if n > 0 {
            let mut b = [0u8; 1];
            assert_eq!(nix::unistd::read(r, &mut b).unwrap(), 0, "{what}: data in the pipe");
            return;
        }
        assert!(Instant::now() < deadline, "{what}: the server kept a descriptor it was sent open");
    }
}
