//! Running one command natively and under `moat do`, and comparing what a
//! user sees: stdout and the status a shell reports.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::moat_bin;

/// Runs `cmd` from `/` with `stdin` fed to it, capturing its output.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.current_dir("/").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    // A program may end without reading its input: that is its business.
    if let Err(e) = input.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

/// The status as a shell reports it (and `moat do` returns it): the exit
/// code, or 128 + the signal that killed the process.
pub fn shell_status(o: &Output) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    o.status.code().or(o.status.signal().map(|s| 128 + s))
}

/// Runs `argv` natively and under `moat do`; a description of how they
/// differ, or None.
pub fn compare(argv: &[&str], stdin: &[u8]) -> Option<String> {
    let mut native = Command::new(argv[0]);
    native.args(&argv[1..]);
    let mut moat = Command::new(moat_bin());
    moat.arg("do").arg("--").args(argv);
    let (n, m) = (run(native, stdin), run(moat, stdin));
    if n.stdout == m.stdout && shell_status(&n) == shell_status(&m) {
        return None;
    }
    Some(format!(
        "{argv:?}: native {:?} {:?}, moat {:?} {:?} (moat stderr {:?})",
        shell_status(&n),
        String::from_utf8_lossy(&n.stdout),
        shell_status(&m),
        String::from_utf8_lossy(&m.stdout),
        String::from_utf8_lossy(&m.stderr)
    ))
}

/// Compares every case (argv, stdin) and fails listing all differences.
pub fn check_all(cases: &[(&[&str], &[u8])]) {
    let diffs: Vec<String> = cases.iter().filter_map(|(a, i)| compare(a, i)).collect();
    assert!(diffs.is_empty(), "{} of {} cases differ:\n{}", diffs.len(), cases.len(), diffs.join("\n"));
}
