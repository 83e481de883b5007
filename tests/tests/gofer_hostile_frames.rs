//! Malformed frames from a hostile peer: random bytes, truncated or padded
//! requests, empty, oversized and unknown messages, forged counts and
//! lengths. Each gets a documented errno, changes nothing, and the server
//! stays up. Runs against `ThreadGofer`; peer and helpers:
//! `gofer_hostile_common`.

use std::collections::HashMap;

use moat_gofer::protocol::{Opcode, Request};
use moat_gofer::reply;
use moat_gofer::wire::{Decoder, Encoder, MAX_MESSAGE};
use moat_tests::*;
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};

mod gofer_hostile_common;
use gofer_hostile_common::*;

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
