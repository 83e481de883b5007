//! Handles and descriptors from a hostile peer: stale or forged handles are
//! EBADF and change nothing, and every descriptor sent to the server is
//! closed, also when a message carries more than it may. Runs against
//! `ThreadGofer`; peer and helpers: `gofer_hostile_common`.

use std::os::fd::{AsFd, BorrowedFd};

use moat_gofer::SetAttr;
use moat_gofer::protocol::Request;
use moat_gofer::transport;
use moat_gofer::wire::MAX_MESSAGE;
use moat_tests::*;
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};

mod gofer_hostile_common;
use gofer_hostile_common::*;

// ------------------------------------------------------ ThreadGofer tests

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
