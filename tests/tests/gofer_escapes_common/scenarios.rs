//! Scenarios shared by the ThreadGofer and ProcessGofer tests: symlinks
//! returned and never followed, and `..` clamped at each mount's root.

use std::collections::BTreeSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use moat_gofer::GoferClient;
use moat_tests::*;
use nix::errno::Errno;

use super::*;

/// Symlinks to the canary come back as symlink nodes, as data, and never
/// open.
pub(crate) fn symlinks_are_returned_not_followed(c: &GoferClient, w: &World) {
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
pub(crate) fn walk_stops_at_symlinked_directories(c: &GoferClient, w: &World) {
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
pub(crate) fn dotdot_stays_in_the_root(c: &GoferClient, w: &World) {
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
pub(crate) fn root_is_the_source(c: &GoferClient, w: &World) {
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
pub(crate) fn dotdot_from_a_directory_moved_out(c: &GoferClient, w: &World) {
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
pub(crate) fn dotdot_after_a_rename_in_an_enclosing_mount(c: &GoferClient, base: &Path) {
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

pub(crate) fn nested_layout(tag: &str) -> (Scratch, Vec<TestMount>) {
    let s = Scratch::new(tag);
    let b = s.path();
    std::fs::create_dir_all(b.join("outer/inner/sub/deeper")).unwrap();
    std::fs::write(b.join("canary"), CANARY).unwrap();
    let mounts = vec![TestMount::rw(&b.join("outer/inner")), TestMount::rw(&b.join("outer"))];
    (s, mounts)
}
