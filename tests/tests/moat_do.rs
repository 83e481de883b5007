//! `moat do` until the Sentry can run programs: it must say so in one line
//! and fail, never run the command outside a sandbox.

use moat_tests::*;

#[test]
fn moat_do_refuses_clearly_and_runs_nothing() {
    let dir = Scratch::new("do");
    let marker = dir.path().join("ran");
    let out = std::process::Command::new(moat_bin())
        .args(["do", "--", "/bin/sh", "-c"])
        .arg(format!("echo ran > {}", marker.display()))
        .output()
        .expect("run moat do");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.contains("Sentry cannot run programs yet"), "{err:?}");
    assert!(out.stdout.is_empty());
    assert!(!marker.exists(), "the command ran");
}
