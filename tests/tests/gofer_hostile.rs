//! A hostile peer: raw bytes on the Gofer's socket. Whatever arrives, the
//! server answers each message with a well-formed reply (u32 errno, then a
//! body only on success), uses no descriptor it is sent, and stays up until
//! the peer hangs up.
//!
//! Wire format: request = u16 LE opcode + fields; reply = u32 LE errno
//! (0 = ok) + body.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use moat_gofer::protocol::{Opcode, Request};
use moat_gofer::reply::{self, Node, Stat, StatFs};
use moat_gofer::transport::{self, Received};
use moat_gofer::wire::{Decoder, Encoder, MAX_MESSAGE};
use moat_gofer::{HandleId, Owner, SetAttr, TimeSet};
use moat_tests::*;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg, setsockopt, sockopt};
use nix::sys::time::TimeVal;

const OWNER: Owner = Owner { uid: 0, gid: 0 };

/// Every errno the Gofer may answer with: its own (protocol and checks)
/// and those of the file calls it makes for a request.
const DOCUMENTED: &[Errno] = &[
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
struct Answer {
    errno: u32,
    body: Vec<u8>,
    /// Descriptors donated with the reply, closed with the answer.
    _fds: Vec<OwnedFd>,
}

impl Answer {
    fn errno(&self) -> Errno {
        Errno::from_raw(self.errno as i32)
    }
}

struct Peer {
    sock: OwnedFd,
}

impl Peer {
    fn new(sock: OwnedFd) -> Peer {
        // A server that stopped answering fails the test instead of hanging it.
        setsockopt(&sock, sockopt::ReceiveTimeout, &TimeVal::new(20, 0)).unwrap();
        Peer { sock }
    }

    fn send(&self, data: &[u8]) {
        transport::send(self.sock.as_fd(), data, None).unwrap_or_else(|e| panic!("send {} bytes: {e}", data.len()));
    }

    fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) {
        let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg = [ControlMessage::ScmRights(&raw)];
        sendmsg::<()>(self.sock.as_raw_fd(), &[IoSlice::new(data)], &cmsg, MsgFlags::MSG_NOSIGNAL, None)
            .unwrap_or_else(|e| panic!("sendmsg with {} fds: {e}", fds.len()));
    }

    fn recv(&self, what: &str) -> Received {
        match transport::recv(self.sock.as_fd()) {
            Ok(Some(m)) => m,
            Ok(None) => panic!("{what}: the server hung up"),
            Err(e) => panic!("{what}: no reply: {e}"),
        }
    }

    /// Sends raw bytes and checks the reply's shape.
    fn call(&self, data: &[u8]) -> Answer {
        self.send(data);
        check_shape(data, self.recv(&describe(data)))
    }

    fn request(&self, r: &Request) -> Answer {
        self.call(&r.encode())
    }

    /// The server still answers a valid request.
    #[track_caller]
    fn assert_alive(&self, after: &str) {
        let a = self.request(&Request::Attach { mount: 0 });
        assert_eq!(a.errno, 0, "after {after}: attach failed with {}", a.errno());
        let node = decode_node(&a.body);
        assert!(node.stat.is_dir());
        let r = self.request(&Request::Release { handles: vec![node.handle] });
        assert_eq!(r.errno, 0, "after {after}: release failed with {}", r.errno());
    }

    fn attach(&self, mount: u32) -> Node {
        let a = self.request(&Request::Attach { mount });
        assert_eq!(a.errno, 0, "attach {mount}: {}", a.errno());
        decode_node(&a.body)
    }

    fn lookup(&self, dir: HandleId, name: &[u8]) -> Node {
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

fn decode_node(body: &[u8]) -> Node {
    let mut d = Decoder::new(body);
    let n = Node::decode(&mut d).unwrap();
    d.end().unwrap();
    n
}

/// Checks that `msg` is a well-formed reply to `req`: an errno from
/// [`DOCUMENTED`] with no body and no descriptor, or 0 with exactly the
/// body (and descriptor) of the request's opcode.
fn check_shape(req: &[u8], msg: Received) -> Answer {
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
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ------------------------------------------------------------------ tree

fn make_tree(tag: &str) -> Scratch {
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
type FileState = (u32, u32, u64, (i64, i64), (i64, i64), Option<Vec<u8>>);

/// Everything about the files under `root` that a request could change
/// (access times aside).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, FileState> {
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
fn templates(root: HandleId, file: HandleId) -> Vec<Request> {
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
fn fuzz(peer: &Peer, rng: &mut Rng, count: usize, valid: &[Vec<u8>]) -> HashMap<u32, usize> {
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

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
}

/// The read end sees end-of-file: every copy of the write end is closed.
#[track_caller]
fn assert_eof(r: &OwnedFd, what: &str) {
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

// ------------------------------------------------------ ThreadGofer tests

#[test]
fn random_bytes_get_documented_errnos_and_the_server_stays_up() {
    let tree = make_tree("hostile-fuzz");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let root = peer.attach(0).handle;
    let file = peer.lookup(root, b"f").handle;
    let valid: Vec<Vec<u8>> = templates(root, file).iter().map(Request::encode).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = HashMap::new();
    for round in 0..6 {
        for (k, v) in fuzz(&peer, &mut rng, 500, &valid) {
            *seen.entry(k).or_insert(0) += v;
        }
        peer.assert_alive(&format!("fuzz round {round}"));
    }
    eprintln!("fuzz replies by errno: {seen:?}");
    assert!(seen[&(Errno::EBADMSG as u32)] > 100 && seen[&(Errno::ENOSYS as u32)] > 100, "{seen:?}");
    drop(peer);
    assert!(g.join(), "server thread failed");
}

#[test]
fn truncated_frames_are_ebadmsg_and_change_nothing() {
    let tree = make_tree("hostile-trunc");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let root = peer.attach(0).handle;
    let file = peer.lookup(root, b"f").handle;
    let before = snapshot(tree.path());
    for req in templates(root, file) {
        let full = req.encode();
        for cut in 0..full.len() {
            let a = peer.call(&full[..cut]);
            assert_eq!(a.errno(), Errno::EBADMSG, "{:?} cut to {cut} of {} bytes", req.opcode(), full.len());
        }
        // The same with one byte too many.
        for extra in [&[0u8][..], &[0xff; 100]] {
            let mut long = full.clone();
            long.extend_from_slice(extra);
            let a = peer.call(&long);
            assert_eq!(a.errno(), Errno::EBADMSG, "{:?} with {} trailing bytes", req.opcode(), extra.len());
        }
    }
    assert_eq!(snapshot(tree.path()), before, "a truncated or padded request changed the tree");
    // The handles the cut Release named are still there.
    for h in [root, file] {
        assert_eq!(peer.request(&Request::Stat { handle: h }).errno, 0, "handle {h} was released");
    }
    peer.assert_alive("truncated frames");
    drop(peer);
    assert!(g.join());
}

#[test]
fn empty_oversized_and_unknown_messages() {
    let tree = make_tree("hostile-size");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    // Room for messages beyond MAX_MESSAGE, whatever the default buffer.
    setsockopt(&sock, sockopt::SndBufForce, &(4 * MAX_MESSAGE)).unwrap();
    let peer = Peer::new(sock);
    assert_eq!(peer.call(b"").errno(), Errno::EBADMSG, "empty message");
    assert_eq!(peer.call(&[1]).errno(), Errno::EBADMSG, "1-byte message");
    peer.assert_alive("an empty message");

    let attach = Request::Attach { mount: 0 }.encode();
    let padded = |len: usize| {
        let mut m = attach.clone();
        m.resize(len, 0);
        m
    };
    assert_eq!(peer.call(&padded(MAX_MESSAGE)).errno(), Errno::EBADMSG, "MAX_MESSAGE bytes");
    for len in [MAX_MESSAGE + 1, MAX_MESSAGE + 4096, 2 * MAX_MESSAGE, 3 * MAX_MESSAGE] {
        assert_eq!(peer.call(&padded(len)).errno(), Errno::EMSGSIZE, "{len} bytes");
        peer.assert_alive(&format!("a {len}-byte message"));
    }
    // A valid request of exactly MAX_MESSAGE bytes is served: a walk of
    // the most names a walk takes (the first missing), the last one longer
    // to fill up.
    let root = peer.attach(0).handle;
    let n = moat_gofer::protocol::MAX_WALK_NAMES;
    let len = (MAX_MESSAGE - 14) / n - 4;
    let mut names = vec![vec![b'n'; len]; n];
    names[n - 1] = vec![b'n'; len + (MAX_MESSAGE - 14 - n * (len + 4))];
    let walk = Request::Walk { dir: root, names }.encode();
    assert_eq!(walk.len(), MAX_MESSAGE);
    let a = peer.call(&walk);
    assert_eq!(a.errno, 0, "a valid MAX_MESSAGE-byte request: {}", a.errno());
    let w = reply::decode::walk(&mut Decoder::new(&a.body)).unwrap();
    assert_eq!((w.errno, w.nodes.len()), (Errno::ENOENT as i32, 0));

    for op in [0u16, 21, 22, 100, 255, 256, 0x7fff, 0x8000, 0xfffe, 0xffff] {
        let bare = op.to_le_bytes();
        assert_eq!(peer.call(&bare).errno(), Errno::ENOSYS, "opcode {op}");
        let mut with_body = bare.to_vec();
        with_body.extend_from_slice(&attach[2..]);
        with_body.extend_from_slice(&[0xab; 16]);
        assert_eq!(peer.call(&with_body).errno(), Errno::ENOSYS, "opcode {op} with a body");
    }
    peer.assert_alive("unknown opcodes");
    drop(peer);
    assert!(g.join());
}

#[test]
fn forged_counts_and_lengths_are_refused_without_allocating() {
    let tree = make_tree("hostile-count");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let root = peer.attach(0).handle;
    let file = peer.lookup(root, b"f").handle;
    let op = |o: Opcode| {
        let mut e = Encoder::new();
        e.u16(o as u16);
        e
    };
    let mut bad: Vec<(&str, Vec<u8>)> = Vec::new();
    for n in [u32::MAX, 0x4000_0000, 1 << 20, 3] {
        let mut e = op(Opcode::Walk);
        e.u64(root).u32(n).bytes(b"d").bytes(b"g");
        bad.push(("walk count", e.finish()));
        let mut e = op(Opcode::Release);
        e.u32(n).u64(file).u64(root);
        bad.push(("release count", e.finish()));
    }
    let mut e = op(Opcode::Walk);
    e.u64(root).u32(u32::MAX).u8(0).u8(0);
    bad.push(("walk count, 2 bytes", e.finish()));
    let mut e = op(Opcode::Walk);
    e.u64(root).u32(1).u32(u32::MAX).u8(b'd');
    bad.push(("walk name length", e.finish()));
    let mut e = op(Opcode::Create);
    e.u64(root).u32(u32::MAX).u32(0).u32(0o644).u32(0).u32(0);
    bad.push(("create name length", e.finish()));
    let mut e = op(Opcode::SetXattr);
    e.u64(file).bytes(b"user.x").u32(0xffff_fff0).u32(0);
    bad.push(("setxattr value length", e.finish()));
    let mut e = op(Opcode::Symlink);
    e.u64(root).bytes(b"s").u32(u32::MAX - 3).u32(0).u32(0);
    bad.push(("symlink target length", e.finish()));
    let mut e = op(Opcode::SetAttr);
    e.u64(file).u8(7);
    bad.push(("setattr option tag", e.finish()));
    let mut e = op(Opcode::SetAttr);
    e.u64(file).u8(0).u8(0).u8(0).u8(0).u8(3).u8(0);
    bad.push(("setattr time tag", e.finish()));
    for (what, msg) in &bad {
        assert_eq!(peer.call(msg).errno(), Errno::EBADMSG, "{what}");
    }
    // Release with a count larger than its list released nothing.
    assert_eq!(peer.request(&Request::Stat { handle: file }).errno, 0);
    // Sizes the server bounds itself are fine.
    assert_eq!(peer.request(&Request::Readdir { dir: root, offset: 0, max_entries: u32::MAX }).errno, 0);
    let get = peer.request(&Request::GetXattr { handle: file, name: b"user.keep".to_vec(), size: u32::MAX });
    assert_eq!(get.errno, 0);
    assert_eq!(reply::decode::xattr(&mut Decoder::new(&get.body)).unwrap().data, b"k");
    assert_eq!(peer.request(&Request::ListXattr { handle: file, size: u32::MAX }).errno, 0);
    peer.assert_alive("forged counts");
    drop(peer);
    assert!(g.join());
}

#[test]
fn stale_and_forged_handles_are_ebadf() {
    let tree = make_tree("hostile-handles");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let root = peer.attach(0).handle;
    let file = peer.lookup(root, b"f").handle;
    let stale = peer.lookup(root, b"d").handle;
    assert_eq!(peer.request(&Request::Release { handles: vec![stale] }).errno, 0);
    // Ids are never reused.
    let again = peer.lookup(root, b"d").handle;
    assert!(again > stale, "handle id {stale} reused as {again}");
    let before = snapshot(tree.path());
    let n = |s: &str| s.as_bytes().to_vec();
    for h in [0, stale, u64::MAX, 1 << 63, again + 1, again + 1_000_000] {
        let reqs = [
            Request::Walk { dir: h, names: vec![n("f")] },
            Request::Stat { handle: h },
            Request::Open { handle: h, flags: libc::O_RDONLY as u32 },
            Request::Create { dir: h, name: n("x"), flags: libc::O_RDWR as u32, mode: 0o644, owner: OWNER },
            Request::Mkdir { dir: h, name: n("x"), mode: 0o755, owner: OWNER },
            Request::Mknod { dir: h, name: n("x"), mode: libc::S_IFIFO | 0o644, owner: OWNER },
            Request::Symlink { dir: h, name: n("x"), target: n("f"), owner: OWNER },
            Request::Link { dir: root, name: n("x"), target: h },
            Request::Link { dir: h, name: n("x"), target: file },
            Request::Unlink { dir: h, name: n("f"), flags: 0 },
            Request::Rename { old_dir: h, old_name: n("f"), new_dir: root, new_name: n("x"), flags: 0 },
            Request::Rename { old_dir: root, old_name: n("f"), new_dir: h, new_name: n("x"), flags: 0 },
            Request::Readlink { handle: h },
            Request::Readdir { dir: h, offset: 0, max_entries: 0 },
            Request::SetAttr { handle: h, attr: SetAttr { mode: Some(0o600), ..SetAttr::default() } },
            Request::StatFs { handle: h },
            Request::GetXattr { handle: h, name: n("user.keep"), size: 64 },
            Request::SetXattr { handle: h, name: n("user.x"), value: n("v"), flags: 0 },
            Request::ListXattr { handle: h, size: 64 },
            Request::RemoveXattr { handle: h, name: n("user.keep") },
            Request::Release { handles: vec![h] },
        ];
        for r in reqs {
            assert_eq!(peer.request(&r).errno(), Errno::EBADF, "handle {h}: {r:?}");
        }
    }
    assert_eq!(snapshot(tree.path()), before, "a request on a forged handle changed the tree");
    peer.assert_alive("forged handles");
    drop(peer);
    assert!(g.join());
}

#[test]
fn descriptors_sent_to_the_server_are_closed() {
    let tree = make_tree("hostile-fds");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    setsockopt(&sock, sockopt::SndBufForce, &(4 * MAX_MESSAGE)).unwrap();
    let peer = Peer::new(sock);
    let attach = Request::Attach { mount: 0 }.encode();
    let mut oversized = attach.clone();
    oversized.resize(MAX_MESSAGE + 1, 0);
    let cases: [(&str, Vec<u8>, usize, u32); 6] = [
        ("valid request", attach.clone(), 1, 0),
        ("valid request, 4 fds", attach.clone(), 4, 0),
        ("garbage", vec![0x03, 0x00, 0xbe, 0xef], 1, Errno::EBADMSG as u32),
        ("empty message", Vec::new(), 2, Errno::EBADMSG as u32),
        ("unknown opcode", vec![0xff, 0xff, 0], 1, Errno::ENOSYS as u32),
        ("oversized message", oversized, 3, Errno::EMSGSIZE as u32),
    ];
    for (what, msg, nfds, want) in cases {
        let (r, w) = pipe();
        let fds: Vec<BorrowedFd<'_>> = (0..nfds).map(|_| w.as_fd()).collect();
        peer.send_fds(&msg, &fds);
        let a = check_shape(&msg, peer.recv(what));
        assert_eq!(a.errno, want, "{what}: {}", a.errno());
        if a.errno == 0 {
            let n = decode_node(&a.body);
            assert_eq!(peer.request(&Request::Release { handles: vec![n.handle] }).errno, 0);
        }
        drop(w);
        assert_eof(&r, what);
        peer.assert_alive(what);
    }
    drop(peer);
    assert!(g.join());
}

#[test]
fn more_descriptors_than_a_message_may_carry_are_closed_and_refused() {
    let tree = make_tree("hostile-manyfds");
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let attach = Request::Attach { mount: 0 }.encode();
    for nfds in [transport::MAX_FDS + 1, 16, 200] {
        let what = format!("attach with {nfds} descriptors");
        let (r, w) = pipe();
        let fds: Vec<BorrowedFd<'_>> = (0..nfds).map(|_| w.as_fd()).collect();
        peer.send_fds(&attach, &fds);
        let a = check_shape(&attach, peer.recv(&what));
        assert_eq!(a.errno(), Errno::EMSGSIZE, "{what}");
        drop(w);
        assert_eof(&r, &what);
        peer.assert_alive(&what);
    }
    drop(peer);
    assert!(g.join());
}

/// Reads `dir` in batches, resuming from the last entry's offset, until
/// the end; returns how often each name was seen and the batch count.
fn read_whole_dir(peer: &Peer, dir: HandleId, max_entries: u32) -> (HashMap<Vec<u8>, u32>, usize) {
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    let (mut offset, mut batches) = (0u64, 0usize);
    loop {
        let a = peer.request(&Request::Readdir { dir, offset, max_entries });
        assert_eq!(a.errno, 0, "readdir at {offset}: {}", a.errno());
        let b = reply::decode::dir(&mut Decoder::new(&a.body)).unwrap();
        batches += 1;
        if max_entries != 0 {
            assert!(b.entries.len() <= max_entries as usize);
        }
        for e in &b.entries {
            *seen.entry(e.name.clone()).or_insert(0) += 1;
        }
        if b.eof {
            return (seen, batches);
        }
        offset = b.entries.last().expect("an empty batch before the end").offset;
        assert!(batches < 1_000_000, "readdir does not end");
    }
}

/// Makes `n` empty files `entry-NNNNNN` in `dir`, then lists it through
/// the gofer with each batch size: every name once, plus `.` and `..`.
fn check_big_dir(base: &Path, n: usize, batch_sizes: &[u32]) {
    let tree = Scratch::new_in(base, "hostile-bigdir");
    let big = tree.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for i in 0..n {
        std::fs::File::create(big.join(format!("entry-{i:06}"))).unwrap();
    }
    let (sock, g) = ThreadGofer::start_raw(&[TestMount::rw(tree.path())]);
    let peer = Peer::new(sock);
    let root = peer.attach(0).handle;
    let dir = peer.lookup(root, b"big").handle;
    for &max_entries in batch_sizes {
        let (seen, batches) = read_whole_dir(&peer, dir, max_entries);
        let twice: Vec<_> = seen.iter().filter(|(_, c)| **c != 1).map(|(k, _)| String::from_utf8_lossy(k)).collect();
        assert!(twice.is_empty(), "max {max_entries}: seen more than once: {:?}", &twice[..twice.len().min(10)]);
        assert_eq!(seen.len(), n + 2, "max {max_entries}: {} names in {batches} batches", seen.len());
        assert!(seen.contains_key(&b"."[..]) && seen.contains_key(&b".."[..]));
        assert!((0..n).all(|i| seen.contains_key(format!("entry-{i:06}").as_bytes())));
        eprintln!("{}: max_entries {max_entries}: {n} entries in {batches} batches", base.display());
    }
    peer.assert_alive("a big readdir");
    drop(peer);
    assert!(g.join());
}

/// 100,000 entries, on tmpfs when there is one (creating that many files
/// on a disk file system takes too long for a test).
#[test]
fn readdir_of_100000_entries_sees_each_exactly_once() {
    let shm = Path::new("/dev/shm");
    let base = if nix::sys::statfs::statfs(shm).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    check_big_dir(&base, 100_000, &[0, 977]);
}

/// Fewer entries on the temp dir's file system (ext4 and the like: offsets
/// are hash cookies, not positions), in small batches.
#[test]
fn readdir_resumes_from_hash_cookies_on_the_temp_file_system() {
    check_big_dir(&std::env::temp_dir(), 3000, &[0, 97, 1]);
}

// ----------------------------------------------------- ProcessGofer tests

/// The confined `moat gofer` process, with the raw socket to it. `nofile`
/// sets its descriptor limit (soft and hard) when given.
fn spawn_process(mounts: &[TestMount], nofile: Option<u64>) -> (Peer, Child) {
    let (mine, theirs) = seqpacket_pair();
    let mut cmd = Command::new(moat_bin());
    cmd.args(["gofer", "--sock-fd", "3"]);
    for m in mounts {
        cmd.arg("--mount").arg(format!("{}:{}", if m.readonly { "ro" } else { "rw" }, m.path.display()));
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    moat_gofer::inherit::give_fd(&mut cmd, theirs.as_raw_fd(), 3);
    if let Some(n) = nofile {
        // SAFETY: between fork and exec the closure calls only setrlimit,
        // which is async-signal-safe, on a value it owns.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: n, rlim_max: n };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().expect("spawn moat gofer");
    drop(theirs);
    (Peer::new(mine), child)
}

/// Hangs up and checks that the process exits with status 0, silently.
#[track_caller]
fn hang_up(peer: Peer, child: Child) {
    drop(peer);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gofer exited with {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "gofer wrote: {}", String::from_utf8_lossy(&out.stderr));
}

fn open_fds(child: &Child) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", child.id())).unwrap().count()
}

#[test]
fn process_gofer_survives_a_hostile_peer_and_exits_cleanly() {
    let tree = make_tree("hostile-proc");
    let (peer, child) = spawn_process(&[TestMount::rw(tree.path())], None);
    setsockopt(&peer.sock, sockopt::SndBufForce, &(4 * MAX_MESSAGE)).unwrap();
    let root = peer.attach(0).handle;
    let file = peer.lookup(root, b"f").handle;
    let reqs = templates(root, file);
    let valid: Vec<Vec<u8>> = reqs.iter().map(Request::encode).collect();

    // Truncated frames first, while the tree is intact.
    let before = snapshot(tree.path());
    for (req, full) in reqs.iter().zip(&valid) {
        for cut in 0..full.len() {
            assert_eq!(peer.call(&full[..cut]).errno(), Errno::EBADMSG, "{:?} cut to {cut}", req.opcode());
        }
    }
    assert_eq!(snapshot(tree.path()), before);
    assert_eq!(peer.call(b"").errno(), Errno::EBADMSG);
    assert_eq!(peer.call(&[0xff, 0xff]).errno(), Errno::ENOSYS);
    let mut big = valid[0].clone();
    big.resize(MAX_MESSAGE + 1, 0);
    assert_eq!(peer.call(&big).errno(), Errno::EMSGSIZE);
    peer.assert_alive("truncated frames");

    // Descriptors it is sent are closed in the process too.
    let (r, w) = pipe();
    peer.send_fds(b"\x01\x00garbage", &[w.as_fd(), w.as_fd()]);
    assert_eq!(check_shape(b"\x01\x00garbage", peer.recv("garbage with fds")).errno(), Errno::EBADMSG);
    drop(w);
    assert_eof(&r, "fds sent to the gofer process");

    // Garbage: anything reaching a system call outside the allowlist
    // would kill the process.
    let mut rng = Rng(0x1234_5678_9abc_def1);
    fuzz(&peer, &mut rng, 900, &valid);
    peer.assert_alive("garbage");
    hang_up(peer, child);
}

#[test]
fn process_gofer_keeps_no_handle_of_a_walk_reply_too_big_to_send() {
    let tree = make_tree("hostile-bigwalk");
    let (peer, child) = spawn_process(&[TestMount::rw(tree.path())], None);
    let root = peer.attach(0).handle;
    let before = open_fds(&child);
    // 1100 components fit in a request, but 1100 nodes do not fit in a reply.
    let names = vec![b".".to_vec(); 1100];
    let a = peer.request(&Request::Walk { dir: root, names });
    let kept = if a.errno == 0 { reply::decode::walk(&mut Decoder::new(&a.body)).unwrap().nodes.len() } else { 0 };
    let after = open_fds(&child);
    assert_eq!(
        after,
        before + kept,
        "walk answered {} with {kept} handles, but the gofer holds {} more descriptors",
        a.errno(),
        after - before
    );
    peer.assert_alive("a walk too big to answer");
    hang_up(peer, child);
}

#[test]
fn process_gofer_still_attaches_after_walks_too_big_to_send() {
    let tree = make_tree("hostile-walkdos");
    // 4096 descriptors: the gofer allows 4032 handles.
    let (peer, child) = spawn_process(&[TestMount::rw(tree.path())], Some(4096));
    let root = peer.attach(0).handle;
    for i in 0..3 {
        let a = peer.request(&Request::Walk { dir: root, names: vec![b".".to_vec(); 20_000] });
        if a.errno == 0 {
            let w = reply::decode::walk(&mut Decoder::new(&a.body)).unwrap();
            let hs: Vec<HandleId> = w.nodes.iter().map(|n| n.handle).collect();
            assert_eq!(peer.request(&Request::Release { handles: hs }).errno, 0);
        }
        peer.assert_alive(&format!("{} walks of 20000 components", i + 1));
    }
    hang_up(peer, child);
}
