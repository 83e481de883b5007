//! Gofer benchmark: the same file work through the confined `moat gofer`
//! process and directly with system calls, in one run. Prints Markdown
//! table rows (µs per operation and the ratio) for `docs/performance.md`.
//!
//! Usage: moat-bench-gofer [--cpus same|any]   (MOAT_BIN names the binary)
//! `same` pins this process and the Gofer to CPU 0, as the Sentry will pin
//! itself next to what it drives; `any` lets the scheduler place them.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

use moat_gofer::GoferClient;
use moat_tests::*;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::stat::{Mode, fstat, fstatat};
use nix::unistd::Pid;

const FILES: usize = 100_000;
const DIR_ENTRIES: usize = 10_000;

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b/c/d")).unwrap();
    std::fs::write(root.join("a/b/c/d/file"), "x").unwrap();
    for (dir, n) in [("many", FILES), ("list", DIR_ENTRIES)] {
        std::fs::create_dir(root.join(dir)).unwrap();
        for i in 0..n {
            std::fs::File::create(root.join(dir).join(format!("f{i:06}"))).unwrap();
        }
    }
}

/// µs per op of `f` run `n` times (after a warm-up tenth).
fn time(n: usize, mut f: impl FnMut(usize)) -> f64 {
    for i in 0..n / 10 {
        f(i);
    }
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn open_path(c: &GoferClient, root: u64) -> f64 {
    time(20_000, |_| {
        let w = c.walk(root, &[b"a", b"b", b"c", b"d", b"file"]).unwrap();
        let fd = c.open(w.nodes[4].handle, libc::O_RDONLY).unwrap();
        fstat(&fd).unwrap();
        drop(fd);
        let hs: Vec<u64> = w.nodes.iter().map(|n| n.handle).collect();
        c.release(&hs).unwrap();
    })
}

fn open_path_native(root: &Path) -> f64 {
    let dir = nix::fcntl::open(root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    time(20_000, |_| {
        let fd = openat(dir.as_fd(), "a/b/c/d/file", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).unwrap();
        fstat(&fd).unwrap();
    })
}

fn names(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("f{i:06}").into_bytes()).collect()
}

fn stat_many(c: &GoferClient, root: u64) -> f64 {
    let dir = c.walk(root, &[b"many"]).unwrap().nodes[0].handle;
    let names = names(FILES);
    let mut held = Vec::with_capacity(1000);
    let us = time(FILES, |i| {
        let w = c.walk(dir, &[&names[i % FILES]]).unwrap();
        held.push(w.nodes[0].handle);
        if held.len() == 1000 {
            c.release(&held).unwrap();
            held.clear();
        }
    });
    c.release(&held).unwrap();
    us
}

fn stat_many_native(root: &Path) -> f64 {
    let dir = nix::fcntl::open(&root.join("many"), OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    let names = names(FILES);
    time(FILES, |i| {
        fstatat(dir.as_fd(), names[i % FILES].as_slice(), AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
    })
}

fn readdir(c: &GoferClient, root: u64) -> f64 {
    let dir = c.walk(root, &[b"list"]).unwrap().nodes[0].handle;
    let per_listing = time(20, |_| {
        let (mut off, mut n) = (0, 0);
        loop {
            let b = c.readdir(dir, off, 0).unwrap();
            n += b.entries.len();
            off = b.entries.last().map_or(off, |e| e.offset);
            if b.eof {
                break;
            }
        }
        assert_eq!(n, DIR_ENTRIES + 2);
    });
    per_listing / (DIR_ENTRIES + 2) as f64
}

fn readdir_native(root: &Path) -> f64 {
    let path = root.join("list");
    let per_listing = time(20, |_| {
        let mut d = nix::dir::Dir::open(&path, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        assert_eq!(d.iter().count(), DIR_ENTRIES + 2);
    });
    per_listing / (DIR_ENTRIES + 2) as f64
}

fn main() {
    let same_cpu = !std::env::args().any(|a| a == "any");
    if same_cpu {
        let mut set = CpuSet::new();
        set.set(0).unwrap();
        sched_setaffinity(Pid::from_raw(0), &set).unwrap();
    }
    let scratch = Scratch::new("bench-gofer");
    make_tree(scratch.path());
    let g = ProcessGofer::start(&[TestMount::ro(scratch.path())]);
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let placement = if same_cpu { "one CPU" } else { "any CPU" };
    let rows = [
        ("walk + open + fstat + close, 4-level path", open_path(c, root), open_path_native(scratch.path()), "op"),
        ("stat (walk one name) of 100,000 files", stat_many(c, root), stat_many_native(scratch.path()), "file"),
        ("readdir of 10,000 entries", readdir(c, root), readdir_native(scratch.path()), "entry"),
    ];
    for (what, gofer, native, unit) in rows {
        println!("| {what} ({placement}) | {gofer:.2} | {native:.2} | {:.1}× | µs per {unit} |", gofer / native);
    }
    drop(g);
}
