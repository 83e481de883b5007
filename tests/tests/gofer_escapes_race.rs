//! Escapes by a race: a directory swapped for a symlink to the outside
//! while the Gofer walks through it, against `ThreadGofer` and the confined
//! `moat gofer` process. World and helpers: `gofer_escapes_common`.

use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use moat_gofer::GoferClient;
use moat_tests::*;
use nix::fcntl::{OFlag, RenameFlags, open, renameat2};
use nix::sys::stat::Mode;

mod gofer_escapes_common;
use gofer_escapes_common::*;

/// One thread swaps `tree/d` between a directory and a symlink to the
/// outside with RENAME_EXCHANGE; the other walks `d/f` and reads it.
fn race_dir_for_symlink(c: &GoferClient, w: &World, min_rounds: usize) -> (usize, usize) {
    let tree = w.tree();
    std::fs::create_dir(tree.join("d")).unwrap();
    std::fs::write(tree.join("d/f"), b"inside").unwrap();
    symlink(w.base().join("outside"), tree.join("d_alt")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let dir = open(&tree, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        std::thread::spawn(move || {
            let (mut swaps, mut rng) = (0u64, 0x9e37_79b9_7f4a_7c15u64);
            while !stop.load(Ordering::Relaxed) {
                renameat2(&dir, "d", &dir, "d_alt", RenameFlags::RENAME_EXCHANGE).expect("swap");
                swaps += 1;
                // On one CPU the walkers mostly run when this thread yields;
                // a fixed period would show them one state only, a random
                // one shows them both.
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if rng % 4 == 0 {
                    std::thread::yield_now();
                }
            }
            swaps
        })
    };
    let root = c.attach(0).unwrap().handle;
    let (mut as_dir, mut as_link) = (0usize, 0usize);
    let mut round = 0;
    while round < min_rounds || ((as_dir == 0 || as_link == 0) && round < 20 * min_rounds) {
        round += 1;
        let wr = walk(c, root, &[b"d", b"f"]);
        assert_eq!(wr.errno, 0, "round {round}: {wr:?}");
        match wr.nodes.as_slice() {
            [link] if link.stat.is_symlink() => as_link += 1,
            [dir, f] if dir.stat.is_dir() => {
                assert_eq!(f.stat.file_type(), libc::S_IFREG, "round {round}");
                let data = read_fd(c.open(f.handle, libc::O_RDONLY).unwrap());
                assert_eq!(
                    data,
                    b"inside",
                    "round {round}: read {:?} through the gofer",
                    String::from_utf8_lossy(&data)
                );
                as_dir += 1;
            }
            other => panic!("round {round}: walk d/f gave {other:?}"),
        }
        release(c, &wr);
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0);
    assert!(as_dir > 0 && as_link > 0, "no race happened: {as_dir} walks saw the directory, {as_link} the symlink");
    (as_dir, as_link)
}

// ------------------------------------------------------ ThreadGofer tests

#[test]
fn racing_a_directory_against_a_symlink_never_reads_the_outside() {
    let w = World::new("esc-race");
    let before_f = std::fs::read(w.base().join("outside/f")).unwrap();
    let g = ThreadGofer::start(&w.mounts());
    let (d, l) = race_dir_for_symlink(g.client(), &w, 5000);
    eprintln!("race: {d} walks saw the directory, {l} the symlink");
    assert!(g.join());
    assert_eq!(std::fs::read(w.base().join("outside/f")).unwrap(), before_f);
}

// ----------------------------------------------------- ProcessGofer tests

#[test]
fn process_gofer_race_never_reads_the_outside() {
    let w = World::new("esc-proc-race");
    let g = ProcessGofer::start(&w.mounts());
    let (d, l) = race_dir_for_symlink(g.client(), &w, 2000);
    eprintln!("race: {d} walks saw the directory, {l} the symlink");
    finish(g);
}
