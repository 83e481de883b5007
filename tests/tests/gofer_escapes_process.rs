//! Escapes against the confined `moat gofer` process: the symlink and `..`
//! scenarios of `gofer_escapes_symlinks` and `gofer_escapes_dotdot`, with the
//! process's own confinement behind the Gofer's checks. World and helpers:
//! `gofer_escapes_common`.

use std::os::unix::fs::MetadataExt;

use moat_tests::*;
use nix::errno::Errno;

mod gofer_escapes_common;
use gofer_escapes_common::scenarios::*;
use gofer_escapes_common::*;

#[test]
fn process_gofer_returns_symlinks_and_cannot_climb_out() {
    let w = World::new("esc-proc");
    let before = w.outside_state();
    let g = ProcessGofer::start(&w.mounts());
    let c = g.client();
    let root = c.attach(0).unwrap();
    let host_tree = std::fs::metadata(w.tree()).unwrap();
    let wr = walk(c, root.handle, &[&b".."[..]; 20]);
    assert_eq!((wr.errno, wr.nodes.len()), (0, 20));
    for n in &wr.nodes {
        assert_eq!(key(n), (host_tree.dev(), host_tree.ino()), "confined gofer: `..` left the source directory");
    }
    let r = walk(c, wr.nodes[19].handle, &[b"canary"]);
    assert_eq!((r.errno, r.nodes.len()), (Errno::ENOENT as i32, 0));
    symlinks_are_returned_not_followed(c, &w);
    walk_stops_at_symlinked_directories(c, &w);
    dotdot_stays_in_the_root(c, &w);
    root_is_the_source(c, &w);
    finish(g);
    assert_eq!(w.outside_state(), before);
}

#[test]
fn process_gofer_dotdot_from_moved_directories_stays_inside() {
    let w = World::new("esc-proc-moved");
    let g = ProcessGofer::start(&w.mounts());
    dotdot_from_a_directory_moved_out(g.client(), &w);
    finish(g);
    let (s, mounts) = nested_layout("esc-proc-nested");
    let g = ProcessGofer::start(&mounts);
    dotdot_after_a_rename_in_an_enclosing_mount(g.client(), s.path());
    finish(g);
}
