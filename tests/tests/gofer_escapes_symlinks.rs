//! Escapes through symlinks: a symlink to the canary, to a directory
//! outside, or in a chain or loop comes back as a symlink node and is never
//! followed, opened or walked through. Runs against `ThreadGofer`, an
//! unconfined server in this process: only the Gofer's own checks protect
//! the canary. World and helpers: `gofer_escapes_common`.

use std::time::Duration;

use moat_tests::*;
use nix::errno::Errno;

mod gofer_escapes_common;
use gofer_escapes_common::scenarios::*;
use gofer_escapes_common::*;

// ------------------------------------------------------ ThreadGofer tests

#[test]
fn symlinks_to_the_canary_are_returned_not_followed() {
    let w = World::new("esc-symlink");
    let before = w.outside_state();
    let g = ThreadGofer::start(&w.mounts());
    symlinks_are_returned_not_followed(g.client(), &w);
    assert!(g.join());
    assert_eq!(w.outside_state(), before);
}

#[test]
fn walks_stop_at_a_symlink_to_a_directory() {
    let w = World::new("esc-linkdir");
    let before = w.outside_state();
    let g = ThreadGofer::start(&w.mounts());
    walk_stops_at_symlinked_directories(g.client(), &w);
    assert!(g.join());
    assert_eq!(w.outside_state(), before);
}

#[test]
fn symlink_chains_and_loops_stop_at_the_first_link() {
    let w = World::new("esc-loop");
    let before = w.outside_state();
    let mounts = w.mounts();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let g = ThreadGofer::start(&mounts);
        let c = g.client();
        let root = c.attach(0).unwrap().handle;
        let cases: [(&[&[u8]], &[u8]); 6] = [
            (&[b"a"], b"b"),
            (&[b"a", b"x"], b"b"),
            (&[b"b", b"a", b"b"], b"a"),
            (&[b"selfloop", b"selfloop"], b"selfloop"),
            (&[b"c1", b"canary"], b"c2"),
            (&[b"c3", b"c2"], b"abs"),
        ];
        for (names, target) in cases {
            let wr = walk(c, root, names);
            assert_eq!((wr.errno, wr.nodes.len()), (0, 1), "{names:?}: {wr:?}");
            assert!(wr.nodes[0].stat.is_symlink());
            assert_eq!(c.readlink(wr.nodes[0].handle).unwrap(), target);
            expect_err(c.open(wr.nodes[0].handle, libc::O_RDONLY), Errno::ELOOP, "open a looping symlink");
            release(c, &wr);
        }
        // Following a chain by hand, as the Sentry does, ends at a symlink
        // to the outside: a path the Sentry resolves in its own tree.
        let mut name = b"c1".to_vec();
        for _ in 0..3 {
            let n = lookup(c, root, &[name.as_slice()]);
            name = c.readlink(n.handle).unwrap();
        }
        assert_eq!(name, b"abs");
        let _ = tx.send(g.join());
    });
    let joined = rx.recv_timeout(Duration::from_secs(20)).expect("symlink loops hung the gofer (or the test panicked)");
    assert!(joined);
    assert_eq!(w.outside_state(), before);
}
