//! Conformance of the Gofer with Linux: every operation runs through the
//! client and server on one tree and directly (nix / libc) on a twin tree;
//! results, errnos and the trees afterwards must be the same.
//!
//! Layout of each twin: mount 0 under the temp dir, mount 1 on another file
//! system (for EXDEV), mount 2 read-only (natively a real
//! read-only bind mount, for EROFS). Paths in scenarios start with `@1/` or
//! `@2/` for mounts 1 and 2.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use moat_gofer::{GoferClient, Owner};
use moat_tests::conformance::{Fs, Native, Op, ROOT, ViaGofer};
use moat_tests::*;
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

// ---------------------------------------------------------------- fixture

/// Unmounts a native read-only bind mount when dropped.
struct RoBind(PathBuf);

impl RoBind {
    fn new(src: &Path, target: &Path) -> RoBind {
        std::fs::create_dir_all(target).unwrap();
        nix::mount::mount(Some(src), target, None::<&str>, MsFlags::MS_BIND, None::<&str>).expect("bind");
        let guard = RoBind(target.to_path_buf());
        let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        nix::mount::mount(None::<&str>, target, None::<&str>, f, None::<&str>).expect("remount ro");
        guard
    }
}

impl Drop for RoBind {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

fn populate(m0: &Path, m1: &Path, ro: &Path) {
    let w = |p: PathBuf, s: &str, mode: u32| {
        std::fs::write(&p, s).unwrap();
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &p,
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .unwrap();
    };
    for d in ["dir", "dir/sub", "empty", "full", "full/x"] {
        std::fs::create_dir(m0.join(d)).unwrap();
    }
    w(m0.join("dir/file"), "hello", 0o644);
    w(m0.join("dir/sub/deep"), "deep", 0o600);
    w(m0.join("topfile"), "top data", 0o640);
    std::os::unix::fs::symlink("dir/file", m0.join("link")).unwrap();
    std::os::unix::fs::symlink("nowhere", m0.join("dangling")).unwrap();
    nix::unistd::mkfifo(&m0.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    std::fs::create_dir(m1.join("m1dir")).unwrap();
    w(m1.join("m1file"), "m1", 0o644);
    std::fs::create_dir(ro.join("rodir")).unwrap();
    w(ro.join("rodir/x"), "x", 0o644);
    w(ro.join("rofile"), "read only", 0o644);
}

struct Twins {
    native: Vec<PathBuf>,
    served: Vec<PathBuf>,
    // Fields drop in order: the read-only bind mount must go before its
    // scratch directory is removed.
    _ro: RoBind,
    _scratch: Vec<Scratch>,
}

fn twins() -> Twins {
    nix::sys::stat::umask(Mode::empty());
    let tmp = Scratch::new("conf");
    let var = Scratch::new_in(&other_fs_base(), "conf");
    let (n0, n1, nro_src, nro) =
        (tmp.path().join("n0"), var.path().join("n1"), tmp.path().join("nro-src"), tmp.path().join("nro"));
    let (s0, s1, sro) = (tmp.path().join("s0"), var.path().join("s1"), tmp.path().join("sro"));
    for d in [&n0, &n1, &nro_src, &s0, &s1, &sro] {
        std::fs::create_dir(d).unwrap();
    }
    populate(&n0, &n1, &nro_src);
    populate(&s0, &s1, &sro);
    let ro = RoBind::new(&nro_src, &nro);
    Twins { native: vec![n0, n1, nro], served: vec![s0, s1, sro], _scratch: vec![tmp, var], _ro: ro }
}

/// A name one byte over NAME_MAX.
fn long_name() -> &'static str {
    Box::leak("n".repeat(256).into_boxed_str())
}

#[rustfmt::skip]
fn scenario() -> Vec<Op> {
    use Op::*;
    let long = long_name();
    vec![
        // lookups
        Stat(""), Stat("dir"), Stat("dir/file"), Stat("link"), Stat("fifo"), Stat("missing"), Stat("dir/file/x"),
        Stat("dir/missing/x"), Stat(long), Stat("dir/."), Stat("dir/.."), Stat("dir/sub/../file"), Readdir(""),
        Readdir("dir"), Readdir("empty"), Readdir("dir/file"), Readdir("@1"), Readdir("@2/rodir"), Readlink("link"),
        Readlink("dangling"), Readlink("dir/file"), Readlink("dir"),
        // open
        Read("dir/file"), Open("link", libc::O_RDONLY), Open("dir", libc::O_WRONLY), Open("dir", libc::O_RDWR),
        Open("dir", libc::O_RDONLY | libc::O_DIRECTORY), Open("dir/file", libc::O_RDONLY | libc::O_DIRECTORY),
        Open("missing", libc::O_RDONLY), Open("dir/file", libc::O_RDWR | libc::O_APPEND),
        // create
        Create("newfile", 0o640), Create("newfile", 0o640), Create("dir/file/x", 0o644), Create("missing/x", 0o644),
        Create(long, 0o644), Create("link", 0o644), Create("dangling", 0o644), Create("dir/.", 0o644),
        Write("newfile", "abc"), Read("newfile"), Stat("newfile"), Create("suid", 0o4755), Stat("suid"),
        // mkdir
        Mkdir("newdir", 0o750), Mkdir("newdir", 0o755), Mkdir("dir/file/x", 0o755), Mkdir(long, 0o755),
        Mkdir("dangling", 0o755), Mkdir("dir/.", 0o755), Mkdir("dir/..", 0o755), Stat("newdir"),
        Mkdir("sticky", 0o1777), Stat("sticky"),
        // mknod
        Mknod("newfifo", libc::S_IFIFO | 0o644), Mknod("newsock", libc::S_IFSOCK | 0o600),
        Mknod("newfifo", libc::S_IFIFO | 0o644), Stat("newfifo"), Stat("newsock"), Open("newsock", libc::O_RDONLY),
        // symlink
        Symlink("target/x", "sl1"), Readlink("sl1"), Stat("sl1"), Symlink("x", "dir/file"), Symlink("", "sl2"),
        Symlink("/abs/path", "sl3"), Readlink("sl3"),
        // link
        Link("dir/file", "hard1"), Stat("dir/file"), Link("dir", "hard2"), Link("dir/file", "dir/sub/deep"),
        Link("@1/m1file", "hardx"), Link("dir/file", "@1/x"), Link("link", "hardlink-to-symlink"),
        Stat("hardlink-to-symlink"), Link("missing", "h3"),
        // unlink / rmdir
        Unlink("hard1"), Stat("dir/file"), Unlink("missing"), Unlink("dir"), Unlink("dir/."), Unlink("dir/.."),
        Rmdir("dir/file"), Rmdir("full"), Rmdir("empty"), Rmdir("missing"), Rmdir("dir/."), Rmdir("dir/.."),
        Rmdir("link"), Unlink("dangling"), Readdir(""),
        // rename
        Rename("newfile", "renamed", 0), Rename("missing", "x", 0), Rename("dir", "dir/sub/inside", 0),
        Rename("newdir", "full", 0), Rename("renamed", "topfile", libc::RENAME_NOREPLACE),
        Rename("renamed", "topfile", libc::RENAME_EXCHANGE), Read("renamed"), Read("topfile"),
        Rename("renamed", "dir", 0), Rename("dir", "topfile", 0), Rename("topfile", "@1/x", 0),
        Rename("topfile", "x", libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE), Rename("topfile", "x", 0x100),
        Rename("dir/.", "x", 0), Rename("topfile", "dir/..", 0), Rename("newdir", "movedir", 0), Readdir(""),
        Rename("@1/m1file", "@1/m1dir/moved", 0), Readdir("@1/m1dir"),
        // set attributes
        Chmod("topfile", 0o4755), Stat("topfile"), Chmod("link", 0o600), Chmod("dir", 0o700), Stat("dir"),
        Chown("topfile", 1000, 1001), Stat("topfile"), Chown("link", 7, 8), Stat("link"), Truncate("topfile", 2),
        Read("topfile"), Truncate("dir", 0), Truncate("fifo", 0), Truncate("topfile", 100_000), Stat("topfile"),
        Utimes("topfile", (1000, 5), (2000, 7)), Times("topfile"), Utimes("link", (3000, 0), (4000, 9)),
        Times("link"), Utimes("dir", (5, 6), (7, 8)), Times("dir"),
        // xattrs
        SetXattr("dir/file", "user.a", "one", 0), GetXattr("dir/file", "user.a", 100),
        GetXattr("dir/file", "user.a", 0), GetXattr("dir/file", "user.a", 1),
        SetXattr("dir/file", "user.a", "two", libc::XATTR_CREATE),
        SetXattr("dir/file", "user.b", "x", libc::XATTR_REPLACE), GetXattr("dir/file", "user.none", 100),
        SetXattr("dir/file", "user.c", "", 0), ListXattr("dir/file"), RemoveXattr("dir/file", "user.a"),
        RemoveXattr("dir/file", "user.a"), ListXattr("dir/file"), SetXattr("link", "user.x", "1", 0),
        SetXattr("dir", "user.d", "dirval", 0), GetXattr("dir", "user.d", 100), SetXattr("dir/file", "", "v", 0),
        SetXattr("dir/file", "nonamespace", "v", 0),
        // statfs
        StatFs(""), StatFs("@1"), StatFs("dir/file"),
        // read-only mount
        Create("@2/new", 0o644), Create("@2/rofile", 0o644), Mkdir("@2/rodir", 0o755), Mkdir("@2/n", 0o755),
        Mknod("@2/f", libc::S_IFIFO | 0o644), Symlink("x", "@2/rofile"), Symlink("x", "@2/s"),
        Link("@2/rofile", "@2/l"), Link("@2/rofile", "@2/rodir/x"), Unlink("@2/rofile"), Unlink("@2/missing"),
        Rmdir("@2/rodir"), Rename("@2/rofile", "@2/z", 0), Rename("@2/missing", "@2/z", 0),
        Open("@2/rofile", libc::O_RDWR), Open("@2/rofile", libc::O_WRONLY),
        Open("@2/rofile", libc::O_RDONLY | libc::O_TRUNC), Open("@2/rodir", libc::O_WRONLY), Read("@2/rofile"),
        Truncate("@2/rofile", 0), Truncate("@2/rodir", 0), Chmod("@2/rofile", 0o600), Chown("@2/rofile", 1, 1),
        Utimes("@2/rofile", (1, 1), (1, 1)), SetXattr("@2/rofile", "user.a", "v", 0),
        RemoveXattr("@2/rofile", "user.a"), ListXattr("@2/rofile"), StatFs("@2"), Stat("@2/rofile"), Readdir("@2"),
    ]
}

fn run_scenario(client: &GoferClient, t: &Twins) {
    let mut native = Native { mounts: t.native.clone() };
    let roots = (0..3).map(|m| client.attach(m).unwrap().handle).collect();
    let mut gofer = ViaGofer { client, roots, made: Vec::new() };
    let mut mismatches = Vec::new();
    let ops = scenario();
    let mut errors_seen = std::collections::BTreeSet::new();
    for op in &ops {
        let n = native.run(op);
        let g = gofer.run(op);
        if let Err(e) = &n {
            errors_seen.insert(format!("{e:?}"));
        }
        if n != g {
            mismatches.push(format!("{op:?}: native {n:?}, gofer {g:?}"));
        }
        let made = std::mem::take(&mut gofer.made);
        if !made.is_empty() {
            client.release(&made).unwrap();
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} operations differ:\n{}",
        mismatches.len(),
        ops.len(),
        mismatches.join("\n")
    );
    for want in ["ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EXDEV", "ELOOP", "ENAMETOOLONG", "EROFS"] {
        assert!(errors_seen.contains(want), "scenario never produced {want}: {errors_seen:?}");
    }
    for (i, (n, s)) in t.native.iter().zip(&t.served).enumerate() {
        assert_eq!(tree_snapshot(n), tree_snapshot(s), "trees of mount {i} differ");
    }
}

#[test]
fn thread_gofer_matches_linux() {
    let t = twins();
    let mounts = [TestMount::rw(&t.served[0]), TestMount::rw(&t.served[1]), TestMount::ro(&t.served[2])];
    let g = ThreadGofer::start(&mounts);
    run_scenario(g.client(), &t);
    assert!(g.join(), "server thread failed");
}

#[test]
fn process_gofer_matches_linux() {
    let t = twins();
    let mounts = [TestMount::rw(&t.served[0]), TestMount::rw(&t.served[1]), TestMount::ro(&t.served[2])];
    let g = ProcessGofer::start(&mounts);
    run_scenario(g.client(), &t);
    let out = g.finish();
    assert!(out.status.success(), "gofer exited {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
}

#[test]
fn owner_is_applied_and_setid_bits_survive() {
    let dir = Scratch::new("owner");
    let g = ThreadGofer::start(&[TestMount::rw(dir.path())]);
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let who = Owner { uid: 1234, gid: 5678 };
    let d = c.mkdir(root, b"d", 0o1775, who).unwrap();
    let (f, _fd) = c.create(root, b"f", libc::O_WRONLY, 0o4755, ROOT).unwrap();
    let s = c.symlink(root, b"s", b"t", who).unwrap();
    let p = c.mknod(root, b"p", libc::S_IFIFO | 0o600, who).unwrap();
    for (node, name) in [(d, "d"), (s, "s"), (p, "p")] {
        let st = nix::sys::stat::lstat(&dir.path().join(name)).unwrap();
        assert_eq!((st.st_uid, st.st_gid), (1234, 5678), "{name}");
        assert_eq!((node.stat.uid, node.stat.gid), (1234, 5678), "{name} reply");
    }
    let st = nix::sys::stat::lstat(&dir.path().join("f")).unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o4755);
    assert_eq!(f.stat.mode & 0o7777, 0o4755);
    assert_eq!(nix::sys::stat::lstat(&dir.path().join("d")).unwrap().st_mode & 0o7777, 0o1775);
}

#[test]
fn device_nodes_are_neither_made_nor_opened() {
    let dir = Scratch::new("dev");
    // A device node in an image (root may make one here) must not give the
    // sandbox the host's device.
    nix::sys::stat::mknod(
        &dir.path().join("null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let g = ThreadGofer::start(&[TestMount::rw(dir.path())]);
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let err = c.mknod(root, b"zero", libc::S_IFCHR | 0o666, ROOT).unwrap_err();
    assert_eq!(err.errno(), Errno::EPERM);
    let w = c.walk(root, &[b"null"]).unwrap();
    assert_eq!(w.nodes[0].stat.mode & libc::S_IFMT, libc::S_IFCHR);
    assert_eq!(c.open(w.nodes[0].handle, libc::O_RDWR).unwrap_err().errno(), Errno::EACCES);
    assert!(!dir.path().join("zero").exists());
}

#[test]
fn donated_descriptors_are_the_files_with_the_asked_access() {
    let dir = Scratch::new("donate");
    std::fs::write(dir.path().join("f"), "0123456789").unwrap();
    let g = ThreadGofer::start(&[TestMount::rw(dir.path())]);
    let c = g.client();
    let root = c.attach(0).unwrap().handle;
    let f = c.walk(root, &[b"f"]).unwrap().nodes[0].handle;
    let ro = c.open(f, libc::O_RDONLY).unwrap();
    // SAFETY: write on a valid fd with a valid buffer.
    let r = unsafe { libc::write(ro.as_raw_fd(), b"x".as_ptr().cast(), 1) };
    assert_eq!((r, Errno::last()), (-1, Errno::EBADF), "read-only fd must not write");
    let flags = nix::fcntl::fcntl(&ro, nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert_ne!(flags & libc::FD_CLOEXEC, 0, "donated fd is close-on-exec");
    let st = nix::sys::stat::fstat(&ro).unwrap();
    let native = nix::sys::stat::stat(&dir.path().join("f")).unwrap();
    assert_eq!((st.st_dev, st.st_ino), (native.st_dev, native.st_ino));
}
