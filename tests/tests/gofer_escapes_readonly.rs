//! Writes to a read-only mount: every one is refused and changes nothing,
//! against `ThreadGofer` and the confined `moat gofer` process. Helpers:
//! `gofer_escapes_common`.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use moat_gofer::{GoferClient, SetAttr, TimeSet};
use moat_tests::*;
use nix::errno::Errno;
use nix::fcntl::RenameFlags;

mod gofer_escapes_common;
use gofer_escapes_common::*;

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
fn read_only_mount_refuses_every_write() {
    let (s, mounts) = ro_world("esc-ro");
    let g = ThreadGofer::start(&mounts);
    read_only_refuses_every_write(g.client(), s.path());
    assert!(g.join());
}

// ----------------------------------------------------- ProcessGofer tests

#[test]
fn process_gofer_read_only_mount_refuses_every_write() {
    let (s, mounts) = ro_world("esc-proc-ro");
    let g = ProcessGofer::start(&mounts);
    read_only_refuses_every_write(g.client(), s.path());
    finish(g);
}
