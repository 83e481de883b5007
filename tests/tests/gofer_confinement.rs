//! The confined `moat gofer` process: its seccomp allowlist, capabilities,
//! mount namespace, exit on hang-up, and clean failure on bad arguments.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use moat_gofer::sandbox::KEPT_CAPABILITIES;
use moat_tests::*;

fn mount_points(pid: i32) -> Vec<String> {
    let p = procfs::process::Process::new(pid).expect("process");
    p.mountinfo().expect("mountinfo").into_iter().map(|m| m.mount_point.display().to_string()).collect()
}

#[test]
fn a_call_outside_the_allowlist_kills_only_that_gofer() {
    let dir = Scratch::new("seccomp");
    std::fs::write(dir.path().join("f"), "x").unwrap();
    let healthy = ProcessGofer::start(&[TestMount::rw(dir.path())]);
    let root = healthy.client().attach(0).unwrap();
    let probing = ProcessGofer::start_with(&[TestMount::rw(dir.path())], &["--probe-seccomp"]);
    let out = probing.finish();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSYS),
        "probe gofer must die of SIGSYS, got {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The other Gofer, and this process, are untouched.
    let w = healthy.client().walk(root.handle, &[b"f"]).unwrap();
    assert_eq!(w.errno, 0);
    assert!(healthy.finish().status.success());
}

#[test]
fn keeps_only_the_file_capabilities_and_no_new_privs() {
    let dir = Scratch::new("caps");
    let g = ProcessGofer::start(&[TestMount::rw(dir.path())]);
    g.client().attach(0).unwrap(); // set-up is over once it answers
    let status = procfs::process::Process::new(g.pid() as i32).unwrap().status().unwrap();
    let want: u64 = KEPT_CAPABILITIES.iter().map(|c| 1u64 << c.index()).sum();
    assert_eq!(status.capeff, want, "effective");
    assert_eq!(status.capprm, want, "permitted");
    assert_eq!(status.capbnd, Some(want), "bounding");
    assert_eq!(status.capinh, 0, "inheritable");
    assert_eq!(status.capamb, Some(0), "ambient");
    assert_eq!(status.nonewprivs, Some(1));
    assert_eq!(status.seccomp, Some(2), "seccomp filter mode");
    assert!(g.finish().status.success());
}

#[test]
fn sees_only_its_own_mounts() {
    let a = Scratch::new("ns-a");
    let b = Scratch::new("ns-b");
    let host_mounts = mount_points(std::process::id() as i32);
    let g = ProcessGofer::start(&[TestMount::rw(a.path()), TestMount::ro(b.path())]);
    g.client().attach(0).unwrap();
    let mut seen = mount_points(g.pid() as i32);
    seen.sort();
    assert_eq!(seen, ["/", "/0", "/1", "/fd"], "gofer mount table");
    // Its root is a fresh tmpfs, and the host's table did not change.
    let root = nix::sys::stat::stat(format!("/proc/{}/root", g.pid()).as_str()).unwrap();
    let host_root = nix::sys::stat::stat("/").unwrap();
    assert_ne!((root.st_dev, root.st_ino), (host_root.st_dev, host_root.st_ino));
    assert!(g.finish().status.success());
    assert_eq!(mount_points(std::process::id() as i32), host_mounts);
}

#[test]
fn exits_cleanly_when_the_sentry_hangs_up() {
    let dir = Scratch::new("hangup");
    let g = ProcessGofer::start(&[TestMount::rw(dir.path())]);
    g.client().attach(0).unwrap();
    let out = g.finish();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn gofer_with(args: &[&str]) -> std::process::Output {
    Command::new(moat_bin()).arg("gofer").args(args).stdin(Stdio::null()).output().expect("run moat gofer")
}

#[test]
fn bad_arguments_fail_with_a_clear_error_and_leave_no_mount() {
    let dir = Scratch::new("badargs");
    let host_mounts = mount_points(std::process::id() as i32);
    let ok_mount = format!("rw:{}", dir.path().display());
    let missing = format!("rw:{}/missing", dir.path().display());
    let cases: [(&[&str], &str); 6] = [
        (&["--sock-fd", "0", "--mount", &ok_mount], "standard stream"),
        (&["--sock-fd", "77", "--mount", &ok_mount], "stat socket fd 77"),
        (&["--sock-fd", "3", "--mount", "rx:/x"], "mode must be rw, ro, overlay or overlay-ro"),
        (&["--sock-fd", "3", "--mount", "rw:relative"], "must be absolute"),
        (&["--sock-fd", "3", "--mount", "nocolon"], "expected rw:PATH, ro:PATH, overlay:PATH"),
        (&["--sock-fd", "3"], "--mount"),
    ];
    for (args, want) in cases {
        let out = gofer_with(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: stderr {err:?} lacks {want:?}");
    }
    // A missing mount source, with a real socket at fd 3.
    let (_mine, theirs) = seqpacket_pair();
    let out = {
        use std::os::fd::AsRawFd;
        let mut cmd = Command::new(moat_bin());
        cmd.args(["gofer", "--sock-fd", "3", "--mount", &missing]).stdin(Stdio::null());
        moat_gofer::inherit::give_fd(&mut cmd, theirs.as_raw_fd(), 3);
        cmd.output().unwrap()
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("open mount source") && err.contains("missing") && err.contains("ENOENT"), "{err}");
    assert_eq!(mount_points(std::process::id() as i32), host_mounts, "a failed gofer changed the host's mounts");
}

#[test]
fn published_allowlist_size_matches_the_filter() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md")).unwrap();
    let n = moat_gofer::sandbox::ALLOWED_SYSCALLS.len();
    assert!(doc.contains(&format!("**{n} system")), "docs/security.md must publish the Gofer's {n} allowed calls");
    for name in moat_gofer::sandbox::ALLOWED_SYSCALLS {
        assert!(libseccomp::ScmpSyscall::from_name(name).is_ok(), "{name} is not a system call");
    }
}
