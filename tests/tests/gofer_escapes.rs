//! Escapes: nothing outside the served trees may be read, written, linked,
//! renamed over or even stat'ed through the Gofer.
//!
//! Layout of one test world (one scratch directory `base`):
//!
//! ```text
//! base/canary                 "CANARY..."  (reachable by `tree/..` if `..` escaped)
//! base/outside/canary         "CANARY...", xattr user.canary=secret
//! base/outside/f              "CANARY..."
//! base/tree/                  mount 0
//!   hello "inside", sub/deeper/f, empty/, symlinks abs, rel, linkdir, loops…
//! base/other/                 mount 1 (same file system: EXDEV only by the Gofer)
//! ```
//!
//! Most tests run against `ThreadGofer`, an unconfined server in this
//! process: only the Gofer's own checks protect the canary there, so these
//! tests fail if a check goes. A few run against the confined `moat gofer`
//! process as well.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use moat_gofer::{ClientError, GoferClient, HandleId, Node, Owner, SetAttr, TimeSet, WalkReply};
use moat_tests::*;
use nix::errno::Errno;
use nix::fcntl::{OFlag, RenameFlags, open, renameat2};
use nix::sys::stat::Mode;

const CANARY: &[u8] = b"CANARY: this file must never be reached through the gofer";
const ROOT: Owner = Owner { uid: 0, gid: 0 };

// ------------------------------------------------------------------ world

struct World {
    base: Scratch,
}

impl World {
    fn new(tag: &str) -> World {
        let base = Scratch::new(tag);
        let b = base.path();
        for d in ["outside", "outside/sub", "tree", "tree/sub", "tree/sub/deeper", "tree/empty", "other"] {
            std::fs::create_dir(b.join(d)).unwrap();
        }
        std::fs::write(b.join("canary"), CANARY).unwrap();
        std::fs::write(b.join("outside/canary"), CANARY).unwrap();
        std::fs::write(b.join("outside/f"), CANARY).unwrap();
        set_xattr(&b.join("outside/canary"), "user.canary", b"secret");
        std::fs::write(b.join("tree/hello"), b"inside").unwrap();
        std::fs::write(b.join("tree/sub/deeper/f"), b"deep").unwrap();
        std::fs::write(b.join("other/other_file"), b"other").unwrap();
        let outside = b.join("outside");
        let links: [(&str, PathBuf); 13] = [
            ("tree/abs", outside.join("canary")),
            ("tree/rel", "../outside/canary".into()),
            ("tree/sub/rel2", "../../outside/canary".into()),
            ("tree/topcanary", "../canary".into()),
            ("tree/linkdir", outside.clone()),
            ("tree/rellinkdir", "../outside".into()),
            ("tree/sub/uplink", "../..".into()),
            ("tree/a", "b".into()),
            ("tree/b", "a".into()),
            ("tree/selfloop", "selfloop".into()),
            ("tree/c1", "c2".into()),
            ("tree/c2", "c3".into()),
            ("tree/c3", "abs".into()),
        ];
        for (name, target) in links {
            symlink(target, b.join(name)).unwrap();
        }
        World { base }
    }

    fn base(&self) -> &Path {
        self.base.path()
    }

    fn tree(&self) -> PathBuf {
        self.base().join("tree")
    }

    fn other(&self) -> PathBuf {
        self.base().join("other")
    }

    fn mounts(&self) -> Vec<TestMount> {
        vec![TestMount::rw(&self.tree()), TestMount::rw(&self.other())]
    }

    /// Everything outside the two mounts.
    fn outside_state(&self) -> BTreeMap<PathBuf, FileState> {
        snapshot(self.base(), &[&self.tree(), &self.other()])
    }

    /// (dev, ino) of everything outside the mounts, and of the base's
    /// ancestors up to `/`: no walk may ever return one of these.
    fn forbidden(&self) -> BTreeSet<(u64, u64)> {
        let mut set: BTreeSet<(u64, u64)> = self.outside_state().values().map(|s| (s.dev, s.ino)).collect();
        let mut p = Some(self.base());
        while let Some(dir) = p {
            set.insert(dev_ino(dir));
            p = dir.parent();
        }
        set
    }
}

/// What must not change about a file outside the served trees.
#[derive(Debug, PartialEq, Eq)]
struct FileState {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u64,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    content: Option<Vec<u8>>,
    target: Option<PathBuf>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Every file under `root` (not `root` itself), symlinks not followed,
/// skipping the subtrees in `skip`.
fn snapshot(root: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, FileState> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for ent in std::fs::read_dir(&dir).unwrap() {
            let p = ent.unwrap().path();
            if skip.iter().any(|s| *s == p) {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            if ft.is_dir() {
                todo.push(p.clone());
            }
            let state = FileState {
                dev: m.dev(),
                ino: m.ino(),
                mode: m.mode(),
                nlink: m.nlink(),
                uid: m.uid(),
                gid: m.gid(),
                size: m.size(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                content: ft.is_file().then(|| std::fs::read(&p).unwrap()),
                target: ft.is_symlink().then(|| std::fs::read_link(&p).unwrap()),
                xattrs: xattrs(&p),
            };
            out.insert(p, state);
        }
    }
    out
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let (c, n) = (cpath(p), CString::new(name).unwrap());
    // SAFETY: NUL-terminated strings; `value` readable for its length.
    let r = unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(r, 0, "setxattr {}: {}", p.display(), Errno::last());
}

fn xattrs(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 4096];
    // SAFETY: NUL-terminated path; `names` writable for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in names[..n as usize].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let cn = CString::new(name).unwrap();
        let mut v = vec![0u8; 65536];
        // SAFETY: as above.
        let len = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(len.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

fn dev_ino(p: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
    (m.dev(), m.ino())
}

/// (dev, ino) of `dir` and everything under it.
fn inodes_under(dir: &Path) -> BTreeSet<(u64, u64)> {
    let mut set: BTreeSet<(u64, u64)> = snapshot(dir, &[]).values().map(|s| (s.dev, s.ino)).collect();
    set.insert(dev_ino(dir));
    set
}

// ---------------------------------------------------------------- helpers

#[track_caller]
fn errno_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Errno {
    match r {
        Err(ClientError::Errno(e)) => e,
        other => panic!("expected an errno from the gofer, got {other:?}"),
    }
}

#[track_caller]
fn expect_err<T: std::fmt::Debug>(r: Result<T, ClientError>, want: Errno, what: &str) {
    match r {
        Err(ClientError::Errno(e)) if e == want => {}
        other => panic!("{what}: expected {want}, got {other:?}"),
    }
}

fn walk(c: &GoferClient, dir: HandleId, names: &[&[u8]]) -> WalkReply {
    c.walk(dir, names).unwrap_or_else(|e| panic!("walk {names:?}: {e}"))
}

/// The node `names` leads to, which must exist.
#[track_caller]
fn lookup(c: &GoferClient, dir: HandleId, names: &[&[u8]]) -> Node {
    let w = walk(c, dir, names);
    assert_eq!((w.errno, w.nodes.len()), (0, names.len()), "walk {names:?}: {w:?}");
    w.nodes[w.nodes.len() - 1]
}

fn release(c: &GoferClient, w: &WalkReply) {
    let hs: Vec<HandleId> = w.nodes.iter().map(|n| n.handle).collect();
    c.release(&hs).unwrap();
}

fn read_fd(fd: OwnedFd) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut v).unwrap();
    v
}

fn key(n: &Node) -> (u64, u64) {
    (n.stat.dev, n.stat.ino)
}

#[track_caller]
fn assert_no_forbidden(w: &World, forbidden: &BTreeSet<(u64, u64)>, nodes: &[Node], what: &str) {
    for n in nodes {
        assert!(
            !forbidden.contains(&key(n)),
            "{what}: the gofer handed out a file outside its mounts (dev {} ino {}) under {}",
            n.stat.dev,
            n.stat.ino,
            w.base().display()
        );
    }
}

// ------------------------------------------------------- shared scenarios

/// Symlinks to the canary come back as symlink nodes, as data, and never
/// open.
fn symlinks_are_returned_not_followed(c: &GoferClient, w: &World) {
    let root = c.attach(0).unwrap().handle;
    let forbidden = w.forbidden();
    let cases: [(&[&[u8]], PathBuf); 4] = [
        (&[b"abs"], w.base().join("outside/canary")),
        (&[b"rel"], "../outside/canary".into()),
        (&[b"sub", b"rel2"], "../../outside/canary".into()),
        (&[b"topcanary"], "../canary".into()),
    ];
    for (names, target) in cases {
        let wr = walk(c, root, names);
        assert_eq!(wr.errno, 0, "{names:?}");
        assert_eq!(wr.nodes.len(), names.len(), "{names:?}: {wr:?}");
        assert_no_forbidden(w, &forbidden, &wr.nodes, "walk to a symlink");
        let link = wr.nodes[names.len() - 1];
        assert!(link.stat.is_symlink(), "{names:?} walked to mode {:o}", link.stat.mode);
        let host: PathBuf = names.iter().fold(w.tree(), |p, n| p.join(std::str::from_utf8(n).unwrap()));
        assert_eq!(key(&link), dev_ino(&host), "{names:?} is not the symlink itself");
        assert!(c.stat(link.handle).unwrap().is_symlink());
        assert_eq!(c.readlink(link.handle).unwrap(), target.as_os_str().as_bytes(), "{names:?}");
        for flags in [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC, libc::O_PATH] {
            expect_err(c.open(link.handle, flags), Errno::ELOOP, &format!("open {names:?} flags {flags:o}"));
        }
        // Walking on from the symlink handle is walking from a non-directory.
        let on = walk(c, link.handle, &[b"."]);
        assert_eq!((on.errno, on.nodes.len()), (Errno::ENOTDIR as i32, 0), "walk from a symlink handle");
        release(c, &wr);
    }
    c.release(&[root]).unwrap();
}

/// A walk through a symlink to a directory stops at the symlink.
fn walk_stops_at_symlinked_directories(c: &GoferClient, w: &World) {
    let root = c.attach(0).unwrap().handle;
    let forbidden = w.forbidden();
    let cases: [&[&[u8]]; 6] = [
        &[b"linkdir", b"canary"],
        &[b"rellinkdir", b"canary"],
        &[b"linkdir", b"..", b"canary"],
        &[b"rellinkdir", b"f"],
        &[b"sub", b"uplink", b"canary"],
        &[b"sub", b"uplink", b"outside", b"canary"],
    ];
    for names in cases {
        let wr = walk(c, root, names);
        assert_no_forbidden(w, &forbidden, &wr.nodes, "walk through a symlink");
        assert_eq!(wr.errno, 0, "{names:?}: {wr:?}");
        let last = wr.nodes.last().expect("no node");
        assert!(last.stat.is_symlink(), "{names:?}: walk did not stop at the symlink: {wr:?}");
        assert!(wr.nodes.len() < names.len(), "{names:?}: walked past the symlink");
        // The symlink handle is no directory to walk, list or create in.
        expect_err(c.readdir(last.handle, 0, 0), Errno::ENOTDIR, "readdir of a symlink handle");
        expect_err(c.mkdir(last.handle, b"evil", 0o755, ROOT), Errno::ENOTDIR, "mkdir in a symlink handle");
        expect_err(c.create(last.handle, b"evil", libc::O_RDWR, 0o644, ROOT), Errno::ENOTDIR, "create in symlink");
        let on = walk(c, last.handle, &[b"canary"]);
        assert_eq!((on.errno, on.nodes.len()), (Errno::ENOTDIR as i32, 0));
        release(c, &wr);
    }
    assert!(!w.base().join("outside/evil").exists());
    c.release(&[root]).unwrap();
}

/// `..` clamps at the root of each mount, from anywhere below it.
fn dotdot_stays_in_the_root(c: &GoferClient, w: &World) {
    let root = c.attach(0).unwrap();
    let forbidden = w.forbidden();
    assert_eq!(key(&root), dev_ino(&w.tree()), "root of mount 0 is not the source directory");
    let dots: Vec<&[u8]> = vec![b".."; 50];

    let wr = walk(c, root.handle, &dots);
    assert_eq!((wr.errno, wr.nodes.len()), (0, 50));
    assert!(wr.nodes.iter().all(|n| key(n) == key(&root)), "`..` left the root");
    let top = wr.nodes[49].handle;
    for name in [&b"canary"[..], b"outside", b"tree", b"other"] {
        let r = walk(c, top, &[name]);
        assert_eq!((r.errno, r.nodes.len()), (Errno::ENOENT as i32, 0), "{:?} after 50 `..`", name);
    }
    release(c, &wr);

    let mut plus = dots.clone();
    plus.push(b"canary");
    let wr = walk(c, root.handle, &plus);
    assert_eq!((wr.errno, wr.nodes.len()), (Errno::ENOENT as i32, 50));
    release(c, &wr);

    // From a subdirectory, in one walk and from its handle.
    let sub = lookup(c, root.handle, &[b"sub", b"deeper"]);
    let wr = walk(c, sub.handle, &plus);
    assert_no_forbidden(w, &forbidden, &wr.nodes, "`..` from sub/deeper");
    assert_eq!(wr.errno, Errno::ENOENT as i32, "{wr:?}");
    assert_eq!(key(&wr.nodes[0]), dev_ino(&w.tree().join("sub")));
    assert!(wr.nodes[1..].iter().all(|n| key(n) == key(&root)));
    release(c, &wr);

    let interleaved: [&[&[u8]]; 5] = [
        &[b"sub", b"..", b"..", b"..", b"outside"],
        &[b"sub", b"..", b"..", b"..", b"canary"],
        &[b"sub", b"deeper", b"..", b"..", b"..", b"..", b"canary"],
        &[b"sub", b".", b"..", b".", b"..", b"tree"],
        &[b"empty", b"..", b"..", b"other"],
    ];
    for names in interleaved {
        let wr = walk(c, root.handle, names);
        assert_no_forbidden(w, &forbidden, &wr.nodes, "interleaved `..`");
        assert_eq!(wr.errno, Errno::ENOENT as i32, "{names:?}: {wr:?}");
        assert_eq!(wr.nodes.len(), names.len() - 1, "{names:?}");
        release(c, &wr);
    }
    // Names that exist inside are found inside, whatever `..` came before.
    let hello = lookup(c, root.handle, &[b"..", b"..", b"hello"]);
    assert_eq!(key(&hello), dev_ino(&w.tree().join("hello")));
    assert_eq!(read_fd(c.open(hello.handle, libc::O_RDONLY).unwrap()), b"inside");

    // readdir of the root reports `..` as the root itself.
    let dir = c.readdir(root.handle, 0, 0).unwrap();
    let dd = dir.entries.iter().find(|e| e.name == b"..").expect("no `..` entry");
    assert_eq!(dd.ino, root.stat.ino, "readdir of the root leaks the inode of its parent");

    // Mount 1 is its own boundary.
    let r1 = c.attach(1).unwrap();
    assert_eq!(key(&r1), dev_ino(&w.other()));
    let mut up: Vec<&[u8]> = vec![b".."; 20];
    up.push(b"tree");
    let wr = walk(c, r1.handle, &up);
    assert_eq!((wr.errno, wr.nodes.len()), (Errno::ENOENT as i32, 20));
    assert!(wr.nodes.iter().all(|n| key(n) == key(&r1)), "`..` left the root of mount 1");
}

/// Root of the mount as the test sees it on the host: listing and file
/// system are the tree's.
fn root_is_the_source(c: &GoferClient, w: &World) {
    let root = c.attach(0).unwrap();
    assert_eq!(key(&root), dev_ino(&w.tree()));
    let mut names = BTreeSet::new();
    let mut offset = 0;
    loop {
        let b = c.readdir(root.handle, offset, 0).unwrap();
        for e in &b.entries {
            assert!(names.insert(e.name.clone()), "{:?} listed twice", String::from_utf8_lossy(&e.name));
        }
        if b.eof {
            break;
        }
        offset = b.entries.last().expect("empty batch before eof").offset;
    }
    let mut want: BTreeSet<Vec<u8>> =
        std::fs::read_dir(w.tree()).unwrap().map(|e| e.unwrap().file_name().as_bytes().to_vec()).collect();
    want.insert(b".".to_vec());
    want.insert(b"..".to_vec());
    assert_eq!(names, want, "root listing is not the tree's");
    let sf = c.statfs(root.handle).unwrap();
    let host = nix::sys::statfs::statfs(&w.tree()).unwrap();
    assert_eq!(sf.fs_type, host.filesystem_type().0 as u64, "statfs of the root is not the tree's file system");
    assert_eq!(sf.bsize, host.block_size() as u64);
    assert_eq!(sf.blocks, host.blocks());
}

/// A directory handed out, then moved outside the mount by someone else
/// (here: the host): `..` from it must not reach what is outside.
fn dotdot_from_a_directory_moved_out(c: &GoferClient, w: &World) {
    let root = c.attach(0).unwrap().handle;
    let deeper = lookup(c, root, &[b"sub", b"deeper"]).handle;
    std::fs::rename(w.tree().join("sub/deeper"), w.base().join("outside/deeper")).unwrap();
    let forbidden = w.forbidden();
    let inside = inodes_under(&w.tree());
    let attempts: [&[&[u8]]; 3] = [&[b"..", b"canary"], &[b"..", b"..", b"canary"], &[&b".."[..]; 30]];
    for names in attempts {
        let wr = walk(c, deeper, names);
        assert_no_forbidden(w, &forbidden, &wr.nodes, "`..` from a directory moved out of the mount");
        for n in &wr.nodes {
            assert!(inside.contains(&key(n)), "{names:?}: `..` reached a file that is not in the mount: {n:?}");
        }
    }
}

/// With nested mount sources (mount 1 holds mount 0's source), the client
/// alone moves a mount-0 directory out of mount 0 by a rename in mount 1;
/// `..` from its mount-0 handle must not leave mount 0.
fn dotdot_after_a_rename_in_an_enclosing_mount(c: &GoferClient, base: &Path) {
    let root0 = c.attach(0).unwrap().handle;
    let root1 = c.attach(1).unwrap().handle;
    let deeper = lookup(c, root0, &[b"sub", b"deeper"]).handle;
    let inner_sub = lookup(c, root1, &[b"inner", b"sub"]).handle;
    c.rename(inner_sub, b"deeper", root1, b"deeper", 0).unwrap();
    assert!(base.join("outer/deeper").is_dir());
    let inside = inodes_under(&base.join("outer/inner"));
    let attempts: [&[&[u8]]; 3] = [&[b"..", b"..", b"canary"], &[b"..", b"inner"], &[&b".."[..]; 30]];
    for names in attempts {
        let wr = walk(c, deeper, names);
        for n in &wr.nodes {
            assert!(inside.contains(&key(n)), "{names:?}: `..` from a mount-0 handle left mount 0: {n:?}");
        }
        assert!(
            wr.nodes.iter().all(|n| key(n) != dev_ino(&base.join("canary"))),
            "the canary outside both mounts was reached"
        );
    }
}

fn nested_layout(tag: &str) -> (Scratch, Vec<TestMount>) {
    let s = Scratch::new(tag);
    let b = s.path();
    std::fs::create_dir_all(b.join("outer/inner/sub/deeper")).unwrap();
    std::fs::write(b.join("canary"), CANARY).unwrap();
    let mounts = vec![TestMount::rw(&b.join("outer/inner")), TestMount::rw(&b.join("outer"))];
    (s, mounts)
}

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
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                renameat2(&dir, "d", &dir, "d_alt", RenameFlags::RENAME_EXCHANGE).expect("swap");
                swaps += 1;
                if swaps % 64 == 0 {
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

fn ro_world(tag: &str) -> (Scratch, Vec<TestMount>) {
    let s = Scratch::new(tag);
    let b = s.path();
    for d in ["rw", "ro", "ro/sub", "ro/empty"] {
        std::fs::create_dir(b.join(d)).unwrap();
    }
    std::fs::write(b.join("ro/hello"), b"read only").unwrap();
    std::fs::write(b.join("ro/sub/inner"), b"inner").unwrap();
    symlink("hello", b.join("ro/lnk")).unwrap();
    set_xattr(&b.join("ro/hello"), "user.keep", b"v");
    let mounts = vec![TestMount::rw(&b.join("rw")), TestMount::ro(&b.join("ro"))];
    (s, mounts)
}

/// Every write under the read-only mount 1 fails with EROFS (EEXIST or
/// EISDIR first where Linux checks those first) and changes nothing.
fn read_only_refuses_every_write(c: &GoferClient, base: &Path) {
    let ro = base.join("ro");
    let before = snapshot(&ro, &[]);
    let root_state = std::fs::symlink_metadata(&ro).unwrap();
    let r = c.attach(1).unwrap().handle;
    let hello = lookup(c, r, &[b"hello"]).handle;
    let sub = lookup(c, r, &[b"sub"]).handle;
    let lnk = lookup(c, r, &[b"lnk"]).handle;
    use Errno::{EEXIST, EISDIR, EROFS};
    let fifo = libc::S_IFIFO | 0o644;
    let sock = libc::S_IFSOCK | 0o644;
    let now = SetAttr { atime: TimeSet::Now, mtime: TimeSet::Now, ..SetAttr::default() };
    let rw = libc::O_RDWR;
    let checks: Vec<(&str, Errno, Errno)> = vec![
        ("create new", errno_of(c.create(r, b"new", rw, 0o644, ROOT)), EROFS),
        ("create existing", errno_of(c.create(r, b"hello", rw, 0o644, ROOT)), EEXIST),
        ("create in sub", errno_of(c.create(sub, b"new", libc::O_WRONLY, 0o644, ROOT)), EROFS),
        ("mkdir new", errno_of(c.mkdir(r, b"newdir", 0o755, ROOT)), EROFS),
        ("mkdir existing", errno_of(c.mkdir(r, b"sub", 0o755, ROOT)), EEXIST),
        ("mknod fifo", errno_of(c.mknod(r, b"fifo", fifo, ROOT)), EROFS),
        ("mknod fifo existing", errno_of(c.mknod(r, b"hello", fifo, ROOT)), EEXIST),
        ("mknod socket", errno_of(c.mknod(r, b"sock", sock, ROOT)), EROFS),
        ("symlink", errno_of(c.symlink(r, b"s", b"hello", ROOT)), EROFS),
        ("symlink existing", errno_of(c.symlink(r, b"sub", b"x", ROOT)), EEXIST),
        ("link", errno_of(c.link(r, b"hl", hello)), EROFS),
        ("link in sub", errno_of(c.link(sub, b"hl", hello)), EROFS),
        ("link existing", errno_of(c.link(r, b"lnk", hello)), EEXIST),
        ("unlink", errno_of(c.unlink(r, b"hello", 0)), EROFS),
        ("unlink symlink", errno_of(c.unlink(r, b"lnk", 0)), EROFS),
        ("unlink missing", errno_of(c.unlink(r, b"missing", 0)), EROFS),
        ("rmdir empty", errno_of(c.unlink(r, b"empty", libc::AT_REMOVEDIR)), EROFS),
        ("rmdir full", errno_of(c.unlink(r, b"sub", libc::AT_REMOVEDIR)), EROFS),
        ("rename", errno_of(c.rename(r, b"hello", r, b"renamed", 0)), EROFS),
        ("rename over", errno_of(c.rename(r, b"hello", sub, b"inner", 0)), EROFS),
        ("rename exchange", errno_of(c.rename(r, b"hello", r, b"empty", RenameFlags::RENAME_EXCHANGE.bits())), EROFS),
        ("rename noreplace", errno_of(c.rename(r, b"empty", r, b"moved", RenameFlags::RENAME_NOREPLACE.bits())), EROFS),
        ("chmod", errno_of(c.set_attr(hello, SetAttr { mode: Some(0o777), ..SetAttr::default() })), EROFS),
        ("chmod dir", errno_of(c.set_attr(r, SetAttr { mode: Some(0o700), ..SetAttr::default() })), EROFS),
        (
            "chown",
            errno_of(c.set_attr(hello, SetAttr { uid: Some(4242), gid: Some(4242), ..SetAttr::default() })),
            EROFS,
        ),
        ("truncate", errno_of(c.set_attr(hello, SetAttr { size: Some(0), ..SetAttr::default() })), EROFS),
        ("truncate dir", errno_of(c.set_attr(sub, SetAttr { size: Some(0), ..SetAttr::default() })), EISDIR),
        ("utimes now", errno_of(c.set_attr(hello, now)), EROFS),
        (
            "utimes at",
            errno_of(c.set_attr(hello, SetAttr { mtime: TimeSet::At { sec: 1, nsec: 0 }, ..SetAttr::default() })),
            EROFS,
        ),
        ("utimes symlink", errno_of(c.set_attr(lnk, now)), EROFS),
        ("setxattr", errno_of(c.set_xattr(hello, b"user.new", b"v", 0)), EROFS),
        ("setxattr replace", errno_of(c.set_xattr(hello, b"user.keep", b"w", libc::XATTR_REPLACE)), EROFS),
        ("setxattr dir", errno_of(c.set_xattr(r, b"user.new", b"v", 0)), EROFS),
        ("removexattr", errno_of(c.remove_xattr(hello, b"user.keep")), EROFS),
        ("open O_WRONLY", errno_of(c.open(hello, libc::O_WRONLY)), EROFS),
        ("open O_RDWR", errno_of(c.open(hello, libc::O_RDWR)), EROFS),
        ("open O_TRUNC", errno_of(c.open(hello, libc::O_RDONLY | libc::O_TRUNC)), EROFS),
        ("open O_APPEND", errno_of(c.open(hello, libc::O_WRONLY | libc::O_APPEND)), EROFS),
        ("open dir O_RDWR", errno_of(c.open(sub, libc::O_RDWR)), EISDIR),
    ];
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("{what}: got {got}, want {want}"))
        .collect();
    assert!(wrong.is_empty(), "read-only mount:\n{}", wrong.join("\n"));
    // Reads still work, and nothing changed.
    assert_eq!(read_fd(c.open(hello, libc::O_RDONLY).unwrap()), b"read only");
    assert_eq!(c.get_xattr(hello, b"user.keep", 16).unwrap().data, b"v");
    assert_eq!(snapshot(&ro, &[]), before, "the read-only tree changed");
    let after = std::fs::symlink_metadata(&ro).unwrap();
    assert_eq!(
        (after.mode(), after.mtime(), after.mtime_nsec(), after.ctime(), after.ctime_nsec()),
        (root_state.mode(), root_state.mtime(), root_state.mtime_nsec(), root_state.ctime(), root_state.ctime_nsec())
    );
    // The read-write mount next to it does take writes.
    let r0 = c.attach(0).unwrap().handle;
    c.mkdir(r0, b"made", 0o755, ROOT).unwrap();
    assert!(base.join("rw/made").is_dir());
}

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

#[test]
fn names_with_slash_or_nul_are_refused() {
    let w = World::new("esc-names");
    let before = w.outside_state();
    let tree_before = snapshot(&w.tree(), &[]);
    let g = ThreadGofer::start(&w.mounts());
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let hello = lookup(c, root, &[b"hello"]).handle;
    let canary = w.base().join("outside/canary");
    let canary_path = canary.as_os_str().as_bytes().to_vec();
    let slashy: [&[u8]; 12] = [
        b"../outside/canary",
        b"../canary",
        b"sub/../../canary",
        b"linkdir/canary",
        b"linkdir/",
        b"rellinkdir/f",
        b"sub/uplink/canary",
        b"/",
        b"./hello",
        b"hello/",
        b"sub/deeper",
        &canary_path,
    ];
    for name in slashy {
        let wr = walk(c, root, &[name]);
        assert_eq!((wr.errno, wr.nodes.len()), (Errno::EINVAL as i32, 0), "walk {:?}", String::from_utf8_lossy(name));
        let wr = walk(c, root, &[b"sub", name]);
        assert_eq!(
            (wr.errno, wr.nodes.len()),
            (Errno::EINVAL as i32, 1),
            "walk sub/{:?}",
            String::from_utf8_lossy(name)
        );
        release(c, &wr);
    }
    for name in [&b"hello\0"[..], b"x\0y", b"\0", b"..\0/canary"] {
        let wr = walk(c, root, &[name]);
        assert_eq!((wr.errno, wr.nodes.len()), (Errno::EINVAL as i32, 0), "walk {name:?}");
    }
    let e = Errno::EINVAL;
    let fifo = libc::S_IFIFO | 0o644;
    let ops: Vec<(&str, Errno)> = vec![
        ("mkdir a/b", errno_of(c.mkdir(root, b"sub/made", 0o755, ROOT))),
        ("mkdir linkdir/made", errno_of(c.mkdir(root, b"linkdir/made", 0o755, ROOT))),
        ("mkdir ../made", errno_of(c.mkdir(root, b"../made", 0o755, ROOT))),
        ("create x\\0y", errno_of(c.create(root, b"x\0y", libc::O_RDWR, 0o644, ROOT))),
        ("create linkdir/evil", errno_of(c.create(root, b"linkdir/evil", libc::O_RDWR, 0o644, ROOT))),
        ("create ../evil", errno_of(c.create(root, b"../evil", libc::O_RDWR, 0o644, ROOT))),
        ("mknod linkdir/fifo", errno_of(c.mknod(root, b"linkdir/fifo", fifo, ROOT))),
        ("symlink linkdir/s", errno_of(c.symlink(root, b"linkdir/s", b"x", ROOT))),
        ("symlink x\\0", errno_of(c.symlink(root, b"s\0", b"x", ROOT))),
        ("link linkdir/hl", errno_of(c.link(root, b"linkdir/hl", hello))),
        ("link ../hl", errno_of(c.link(root, b"../hl", hello))),
        ("unlink linkdir/canary", errno_of(c.unlink(root, b"linkdir/canary", 0))),
        ("unlink ../canary", errno_of(c.unlink(root, b"../canary", 0))),
        ("rmdir ../outside/sub", errno_of(c.unlink(root, b"../outside/sub", libc::AT_REMOVEDIR))),
        ("rename linkdir/canary", errno_of(c.rename(root, b"linkdir/canary", root, b"stolen", 0))),
        ("rename ../canary", errno_of(c.rename(root, b"../canary", root, b"stolen", 0))),
        ("rename to linkdir/hello", errno_of(c.rename(root, b"hello", root, b"linkdir/hello", 0))),
        ("rename to ../hello", errno_of(c.rename(root, b"hello", root, b"../hello", 0))),
        (
            "exchange with ../canary",
            errno_of(c.rename(root, b"hello", root, b"../canary", RenameFlags::RENAME_EXCHANGE.bits())),
        ),
        ("rename x\\0", errno_of(c.rename(root, b"hello\0", root, b"y", 0))),
    ];
    let wrong: Vec<String> =
        ops.iter().filter(|(_, got)| *got != e).map(|(what, got)| format!("{what}: got {got}")).collect();
    assert!(wrong.is_empty(), "names with '/' or NUL must be EINVAL:\n{}", wrong.join("\n"));
    assert!(g.join());
    assert_eq!(w.outside_state(), before, "something outside changed");
    assert_eq!(snapshot(&w.tree(), &[]), tree_before, "something inside changed");
}

#[test]
fn hard_links_take_only_live_handles_of_the_same_mount() {
    let w = World::new("esc-link");
    let before = w.outside_state();
    let g = ThreadGofer::start(&w.mounts());
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let root1 = c.attach(1).unwrap().handle;
    let hello = lookup(c, root, &[b"hello"]);
    let made = c.link(root, b"hl", hello.handle).unwrap();
    assert_eq!(key(&made), key(&hello));
    assert_eq!(std::fs::metadata(w.tree().join("hello")).unwrap().nlink(), 2);

    let stale = lookup(c, root, &[b"hello"]).handle;
    c.release(&[stale]).unwrap();
    for (i, h) in [0, u64::MAX, 1 << 63, stale, stale + 1_000_000].into_iter().enumerate() {
        let name = format!("forged{i}");
        expect_err(c.link(root, name.as_bytes(), h), Errno::EBADF, &format!("link of handle {h}"));
        expect_err(c.link(h, name.as_bytes(), hello.handle), Errno::EBADF, &format!("link into handle {h}"));
        assert!(!w.tree().join(&name).exists());
    }
    // Across mounts: both are on one file system, so only the Gofer's own
    // check gives EXDEV.
    let other = lookup(c, root1, &[b"other_file"]);
    expect_err(c.link(root, b"x_other", other.handle), Errno::EXDEV, "link mount 1 -> mount 0");
    expect_err(c.link(root1, b"x_hello", hello.handle), Errno::EXDEV, "link mount 0 -> mount 1");
    expect_err(c.link(root1, b"x_root", root), Errno::EXDEV, "link mount 0 root -> mount 1");
    assert!(!w.tree().join("x_other").exists() && !w.other().join("x_hello").exists());
    assert_eq!(std::fs::metadata(w.other().join("other_file")).unwrap().nlink(), 1);

    // A hard link of a symlink handle links the symlink, not its target.
    let abs = lookup(c, root, &[b"abs"]);
    let l = c.link(root, b"abs_hl", abs.handle).unwrap();
    assert!(l.stat.is_symlink());
    assert_eq!(key(&l), dev_ino(&w.tree().join("abs")));
    let linkdir = lookup(c, root, &[b"linkdir"]);
    assert!(c.link(root, b"linkdir_hl", linkdir.handle).unwrap().stat.is_symlink());
    // Directories cannot be hard-linked at all.
    let sub = lookup(c, root, &[b"sub"]);
    expect_err(c.link(root, b"sub_hl", sub.handle), Errno::EPERM, "link of a directory");
    assert!(!w.tree().join("sub_hl").exists());
    assert!(g.join());
    assert_eq!(w.outside_state(), before, "the canary was linked");
}

#[test]
fn renames_across_mounts_or_out_of_the_tree_are_refused() {
    let w = World::new("esc-rename");
    let before = w.outside_state();
    let g = ThreadGofer::start(&w.mounts());
    let c = g.client();
    let r0 = c.attach(0).unwrap().handle;
    let r1 = c.attach(1).unwrap().handle;
    let sub = lookup(c, r0, &[b"sub"]).handle;
    let ex = RenameFlags::RENAME_EXCHANGE.bits();
    let nr = RenameFlags::RENAME_NOREPLACE.bits();
    expect_err(c.rename(r0, b"hello", r1, b"moved", 0), Errno::EXDEV, "rename to mount 1");
    expect_err(c.rename(r1, b"other_file", r0, b"moved", 0), Errno::EXDEV, "rename from mount 1");
    expect_err(c.rename(r0, b"hello", r1, b"other_file", 0), Errno::EXDEV, "rename over a mount-1 file");
    expect_err(c.rename(r0, b"hello", r1, b"other_file", ex), Errno::EXDEV, "exchange across mounts");
    expect_err(c.rename(sub, b"deeper", r1, b"deeper", nr), Errno::EXDEV, "noreplace across mounts");
    expect_err(c.rename(0, b"hello", r0, b"x", 0), Errno::EBADF, "forged old dir");
    expect_err(c.rename(r0, b"hello", u64::MAX, b"x", 0), Errno::EBADF, "forged new dir");
    expect_err(c.rename(r0, b"sub/../hello", r0, b"x", 0), Errno::EINVAL, "old name with '/'");
    expect_err(c.rename(r0, b"hello", r0, b"sub/x", 0), Errno::EINVAL, "new name with '/'");
    expect_err(c.rename(r0, b"hello", r0, b"../x", 0), Errno::EINVAL, "new name ../x");
    expect_err(c.rename(r0, b"..", r0, b"x", 0), Errno::EBUSY, "rename ..");
    expect_err(c.rename(r0, b"hello", r0, b"..", 0), Errno::EBUSY, "rename over ..");
    assert_eq!(std::fs::read(w.tree().join("hello")).unwrap(), b"inside");
    assert!(w.tree().join("sub/deeper").is_dir());
    assert_eq!(std::fs::read(w.other().join("other_file")).unwrap(), b"other");
    // Renaming over a symlink to the canary replaces the symlink only.
    c.rename(r0, b"hello", r0, b"abs", 0).unwrap();
    assert_eq!(std::fs::read(w.tree().join("abs")).unwrap(), b"inside");
    c.rename(r0, b"rel", r0, b"linkdir", ex).unwrap();
    assert_eq!(std::fs::read_link(w.tree().join("linkdir")).unwrap(), Path::new("../outside/canary"));
    assert!(g.join());
    assert_eq!(w.outside_state(), before, "the canary was renamed over or moved");
}

#[test]
fn operations_on_a_symlink_handle_never_reach_its_target() {
    let w = World::new("esc-linkops");
    let g = ThreadGofer::start(&w.mounts());
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let abs = lookup(c, root, &[b"abs"]);
    let canary = w.base().join("outside/canary");
    let before = w.outside_state();
    expect_err(
        c.set_attr(abs.handle, SetAttr { mode: Some(0o777), ..SetAttr::default() }),
        Errno::EOPNOTSUPP,
        "chmod of a symlink handle",
    );
    expect_err(
        c.set_attr(abs.handle, SetAttr { size: Some(0), ..SetAttr::default() }),
        Errno::EINVAL,
        "truncate of a symlink handle",
    );
    let t = |sec| TimeSet::At { sec, nsec: 0 };
    c.set_attr(abs.handle, SetAttr { atime: t(1), mtime: t(2), ..SetAttr::default() }).unwrap();
    assert_eq!(std::fs::symlink_metadata(w.tree().join("abs")).unwrap().mtime(), 2, "utimes missed the symlink");
    c.set_attr(abs.handle, SetAttr { uid: Some(4242), ..SetAttr::default() }).unwrap();
    assert_eq!(std::fs::symlink_metadata(w.tree().join("abs")).unwrap().uid(), 4242, "chown missed the symlink");
    match c.get_xattr(abs.handle, b"user.canary", 64) {
        Ok(x) => panic!("read the canary's xattr through a symlink handle: {:?}", String::from_utf8_lossy(&x.data)),
        Err(e) => assert_eq!(e.errno(), Errno::ENODATA),
    }
    let list = c.list_xattr(abs.handle, 4096).unwrap();
    assert!(!list.data.windows(11).any(|s| s == b"user.canary"), "listed the canary's xattrs");
    assert!(c.set_xattr(abs.handle, b"user.evil", b"x", 0).is_err(), "user xattr on a symlink");
    assert!(c.remove_xattr(abs.handle, b"user.canary").is_err());
    assert_eq!(xattrs(&canary), vec![(b"user.canary".to_vec(), b"secret".to_vec())]);
    assert_eq!(w.outside_state(), before, "an operation on the symlink reached the canary");
    assert!(g.join());
}

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

#[test]
fn read_only_mount_refuses_every_write() {
    let (s, mounts) = ro_world("esc-ro");
    let g = ThreadGofer::start(&mounts);
    read_only_refuses_every_write(g.client(), s.path());
    assert!(g.join());
}

// ----------------------------------------------------- ProcessGofer tests

#[track_caller]
fn finish(g: ProcessGofer) {
    let out = g.finish();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}

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

#[test]
fn process_gofer_race_never_reads_the_outside() {
    let w = World::new("esc-proc-race");
    let g = ProcessGofer::start(&w.mounts());
    let (d, l) = race_dir_for_symlink(g.client(), &w, 2000);
    eprintln!("race: {d} walks saw the directory, {l} the symlink");
    finish(g);
}

#[test]
fn process_gofer_read_only_mount_refuses_every_write() {
    let (s, mounts) = ro_world("esc-proc-ro");
    let g = ProcessGofer::start(&mounts);
    read_only_refuses_every_write(g.client(), s.path());
    finish(g);
}
