//! Shared world and helpers of the `gofer_escapes_*` tests. Escapes:
//! nothing outside the served trees may be read, written, linked, renamed
//! over or even stat'ed through the Gofer.
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

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use moat_gofer::{ClientError, GoferClient, HandleId, Node, Owner, WalkReply};
use moat_tests::*;
use nix::errno::Errno;

pub(crate) mod scenarios;

pub(crate) const CANARY: &[u8] = b"CANARY: this file must never be reached through the gofer";
pub(crate) const ROOT: Owner = Owner { uid: 0, gid: 0 };

// ------------------------------------------------------------------ world

pub(crate) struct World {
    base: Scratch,
}

impl World {
    pub(crate) fn new(tag: &str) -> World {
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

    pub(crate) fn base(&self) -> &Path {
        self.base.path()
    }

    pub(crate) fn tree(&self) -> PathBuf {
        self.base().join("tree")
    }

    pub(crate) fn other(&self) -> PathBuf {
        self.base().join("other")
    }

    pub(crate) fn mounts(&self) -> Vec<TestMount> {
        vec![TestMount::rw(&self.tree()), TestMount::rw(&self.other())]
    }

    /// Everything outside the two mounts.
    pub(crate) fn outside_state(&self) -> BTreeMap<PathBuf, FileState> {
        snapshot(self.base(), &[&self.tree(), &self.other()])
    }

    /// (dev, ino) of everything outside the mounts, and of the base's
    /// ancestors up to `/`: no walk may ever return one of these.
    pub(crate) fn forbidden(&self) -> BTreeSet<(u64, u64)> {
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
pub(crate) struct FileState {
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
pub(crate) fn snapshot(root: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, FileState> {
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

pub(crate) fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let (c, n) = (cpath(p), CString::new(name).unwrap());
    // SAFETY: NUL-terminated strings; `value` readable for its length.
    let r = unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(r, 0, "setxattr {}: {}", p.display(), Errno::last());
}

pub(crate) fn xattrs(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
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

pub(crate) fn dev_ino(p: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
    (m.dev(), m.ino())
}

/// (dev, ino) of `dir` and everything under it.
pub(crate) fn inodes_under(dir: &Path) -> BTreeSet<(u64, u64)> {
    let mut set: BTreeSet<(u64, u64)> = snapshot(dir, &[]).values().map(|s| (s.dev, s.ino)).collect();
    set.insert(dev_ino(dir));
    set
}

// ---------------------------------------------------------------- helpers

#[track_caller]
pub(crate) fn errno_of<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Errno {
    match r {
        Err(ClientError::Errno(e)) => e,
        other => panic!("expected an errno from the gofer, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn expect_err<T: std::fmt::Debug>(r: Result<T, ClientError>, want: Errno, what: &str) {
    match r {
        Err(ClientError::Errno(e)) if e == want => {}
        other => panic!("{what}: expected {want}, got {other:?}"),
    }
}

pub(crate) fn walk(c: &GoferClient, dir: HandleId, names: &[&[u8]]) -> WalkReply {
    c.walk(dir, names).unwrap_or_else(|e| panic!("walk {names:?}: {e}"))
}

/// The node `names` leads to, which must exist.
#[track_caller]
pub(crate) fn lookup(c: &GoferClient, dir: HandleId, names: &[&[u8]]) -> Node {
    let w = walk(c, dir, names);
    assert_eq!((w.errno, w.nodes.len()), (0, names.len()), "walk {names:?}: {w:?}");
    w.nodes[w.nodes.len() - 1]
}

pub(crate) fn release(c: &GoferClient, w: &WalkReply) {
    let hs: Vec<HandleId> = w.nodes.iter().map(|n| n.handle).collect();
    c.release(&hs).unwrap();
}

pub(crate) fn read_fd(fd: OwnedFd) -> Vec<u8> {
    let mut v = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut v).unwrap();
    v
}

pub(crate) fn key(n: &Node) -> (u64, u64) {
    (n.stat.dev, n.stat.ino)
}

#[track_caller]
pub(crate) fn assert_no_forbidden(w: &World, forbidden: &BTreeSet<(u64, u64)>, nodes: &[Node], what: &str) {
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

// ------------------------------------------------------ ProcessGofer helpers

#[track_caller]
pub(crate) fn finish(g: ProcessGofer) {
    let out = g.finish();
    assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}
