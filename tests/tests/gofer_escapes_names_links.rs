//! Escapes through names and links: names with `/` or NUL, hard links of
//! forged or foreign handles, renames across mounts or out of the tree, and
//! operations on a symlink handle that must not reach its target. Runs
//! against `ThreadGofer`, an unconfined server in this process: only the
//! Gofer's own checks protect the canary. World and helpers:
//! `gofer_escapes_common`.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use moat_gofer::{SetAttr, TimeSet};
use moat_tests::*;
use nix::errno::Errno;
use nix::fcntl::RenameFlags;

mod gofer_escapes_common;
use gofer_escapes_common::*;

// ------------------------------------------------------ ThreadGofer tests

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
