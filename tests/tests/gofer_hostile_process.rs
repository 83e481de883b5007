//! A hostile peer against the confined `moat gofer` process: it survives
//! malformed frames, garbage and descriptors sent with them, keeps no
//! handle of a walk reply too big to send, and exits cleanly and silently
//! when the peer hangs up. Peer and helpers: `gofer_hostile_common`.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use moat_gofer::HandleId;
use moat_gofer::protocol::Request;
use moat_gofer::reply;
use moat_gofer::wire::{Decoder, MAX_MESSAGE};
use moat_tests::*;
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};

mod gofer_hostile_common;
use gofer_hostile_common::*;

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
