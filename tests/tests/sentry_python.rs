//! Differential tests with the Python scripts of `tests/py/` (threads,
//! pools, multiprocessing with fork and spawn, subprocess, signals, select,
//! mmap, sockets, asyncio, ctypes, sqlite3): each runs under Debian's
//! `/usr/bin/python3` natively and under `moat do`, with the same stdout
//! and exit status.

use std::path::Path;
use std::process::Command;

use moat_tests::differential::shell_status;
use moat_tests::*;

/// Runs every script of `tests/py` from a copy in a directory the sandbox
/// sees (a clone of this repository may be under /tmp, which is the
/// sandbox's own tmpfs); returns the scripts that differ.
fn differing_scripts() -> (usize, Vec<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("py");
    let dir = Scratch::new_in(Path::new("/var/tmp"), "python-scripts");
    let mut names: Vec<String> = std::fs::read_dir(&src)
        .expect("read tests/py")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".py"))
        .collect();
    names.sort();
    let mut differ = Vec::new();
    for name in &names {
        let script = dir.path().join(name);
        std::fs::copy(src.join(name), &script).expect("copy script");
        let mut native = Command::new("/usr/bin/python3");
        native.arg(&script);
        let native = moat_tests::differential::run(native, b"");
        let mut moat = Command::new(moat_bin());
        moat.args(["do", "--", "/usr/bin/python3"]).arg(&script);
        let moat = moat_tests::differential::run(moat, b"");
        if native.stdout != moat.stdout || shell_status(&native) != shell_status(&moat) {
            differ.push(format!(
                "{name}: native {:?}\n{}\n--- moat {:?}\n{}\n--- moat stderr\n{}",
                shell_status(&native),
                String::from_utf8_lossy(&native.stdout),
                shell_status(&moat),
                String::from_utf8_lossy(&moat.stdout),
                String::from_utf8_lossy(&moat.stderr)
            ));
        }
    }
    (names.len(), differ)
}

#[test]
fn python_scripts_match_native() {
    let (n, differ) = differing_scripts();
    assert!(n >= 23, "only {n} scripts found in tests/py");
    assert!(differ.is_empty(), "{} of {n} scripts differ:\n{}", differ.len(), differ.join("\n"));
}
