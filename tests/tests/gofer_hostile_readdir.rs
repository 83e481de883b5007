//! Big directories listed through the raw socket in batches, each resuming
//! from the last entry's offset: every entry is seen exactly once, on tmpfs
//! and on the temp dir's file system (hash-cookie offsets). Runs against
//! `ThreadGofer`; peer and helpers: `gofer_hostile_common`.

use std::collections::HashMap;
use std::path::Path;

use moat_gofer::HandleId;
use moat_gofer::protocol::Request;
use moat_gofer::reply;
use moat_gofer::wire::Decoder;
use moat_tests::*;

mod gofer_hostile_common;
use gofer_hostile_common::*;

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
