//! Escapes through `..`: chains of `..` clamp at each mount's root, also
//! from a directory moved out of the mount (by the host, or by a rename in
//! an enclosing mount). Runs against `ThreadGofer`, an unconfined server in
//! this process: only the Gofer's own checks protect the canary. World and
//! helpers: `gofer_escapes_common`.

use moat_tests::*;

mod gofer_escapes_common;
use gofer_escapes_common::scenarios::*;
use gofer_escapes_common::*;

// ------------------------------------------------------ ThreadGofer tests

#[test]
fn dotdot_chains_never_leave_the_root() {
    let w = World::new("esc-dotdot");
    let before = w.outside_state();
    let g = ThreadGofer::start(&w.mounts());
    dotdot_stays_in_the_root(g.client(), &w);
    root_is_the_source(g.client(), &w);
    assert!(g.join());
    assert_eq!(w.outside_state(), before);
}

#[test]
fn dotdot_from_a_directory_moved_out_of_the_mount_stays_inside() {
    let w = World::new("esc-moved");
    let g = ThreadGofer::start(&w.mounts());
    dotdot_from_a_directory_moved_out(g.client(), &w);
    assert!(g.join());
}

#[test]
fn dotdot_after_a_rename_in_an_enclosing_mount_stays_inside() {
    let (s, mounts) = nested_layout("esc-nested");
    let g = ThreadGofer::start(&mounts);
    dotdot_after_a_rename_in_an_enclosing_mount(g.client(), s.path());
    assert!(g.join());
}
