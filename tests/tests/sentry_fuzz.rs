//! Hostile programs: random system call numbers and arguments (unmapped,
//! kernel and wild pointers, huge sizes). Run only under moat, with the
//! host's root read-only: the Sentry must answer every call and stay up.

use std::path::Path;
use std::process::Command;

use moat_tests::differential::shell_status;
use moat_tests::*;

#[test]
fn random_system_calls_never_break_the_sentry() {
    let dir = Scratch::new_in(Path::new("/var/tmp"), "fuzz");
    let bin = dir.path().join("fuzz_calls");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/fuzz_calls.c");
    let built = Command::new("gcc").args(["-static", "-O1", "-w", "-o"]).arg(&bin).arg(&src).status().unwrap();
    assert!(built.success());
    for seed in 1..=6 {
        let out = Command::new(moat_bin()).arg("do").arg("--").arg(&bin).arg(seed.to_string()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("moat:"), "seed {seed}: the Sentry failed: {err}");
        // The program's own end: a normal exit, or a signal it brought on
        // itself (128 + N), never the sandbox's failure (status 1 with a
        // moat: line, checked above).
        let status = shell_status(&out).unwrap_or(-1);
        assert!(status == 0 || status > 128, "seed {seed}: status {status}: {err}");
    }
}
