//! `moat do` as a user meets it: exit statuses, errors, and nothing left
//! behind.

use std::path::Path;
use std::process::{Command, Output};

use moat_tests::*;

fn moat_do(args: &[&str]) -> Output {
    Command::new(moat_bin()).arg("do").args(args).output().expect("run moat do")
}

/// Host processes whose command line starts with the moat binary.
fn moat_processes() -> Vec<i32> {
    let bin = moat_bin();
    procfs::process::all_processes()
        .expect("processes")
        .filter_map(|p| p.ok())
        .filter(|p| p.exe().is_ok_and(|e| e == bin))
        .map(|p| p.pid)
        .filter(|&pid| pid != std::process::id() as i32)
        .collect()
}

#[test]
fn exit_status_is_the_commands() {
    for code in [0, 1, 3, 255] {
        let out = moat_do(&["--", "/bin/busybox", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn missing_and_unrunnable_commands_fail_like_a_shell() {
    let out = moat_do(&["--", "/nonexistent/cmd"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exec /nonexistent/cmd: no such file or directory"));
    let out = moat_do(&["--", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exec /etc/passwd: permission denied"));
}

#[test]
fn bad_rootfs_is_a_clear_error() {
    let out = moat_do(&["--rootfs", "/nonexistent-root", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rootfs /nonexistent-root"), "{err}");
    let out = moat_do(&["--rootfs-rw", "--", "/bin/true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rootfs-rw needs --rootfs"));
}

#[test]
fn the_root_is_read_only_and_writes_fail() {
    let out = moat_do(&["--", "/bin/busybox", "sh", "-c", "echo x > /etc/moat-test-file"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "{out:?}");
    assert!(!std::path::Path::new("/etc/moat-test-file").exists());
}

#[test]
fn a_served_rootfs_can_be_written_when_asked() {
    let dir = Scratch::new("do-rw");
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("bin/busybox")).unwrap();
    let root = dir.path().to_str().unwrap();
    let out = moat_do(&["--rootfs", root, "--rootfs-rw", "--", "/bin/busybox", "sh", "-c", "echo hi > /out"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("out")).unwrap(), "hi\n");
    let script = "/bin/busybox stat -c %s /out; echo more >> /out; /bin/busybox stat -c %s /out";
    let out = moat_do(&["--rootfs", root, "--rootfs-rw", "--", "/bin/busybox", "sh", "-c", script]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "3\n8\n",
        "stat sees writes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = moat_do(&["--rootfs", root, "--", "/bin/busybox", "cat", "/out"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\nmore\n", "{}", String::from_utf8_lossy(&out.stderr));
    let out = moat_do(&["--rootfs", root, "--", "/bin/busybox", "sh", "-c", "echo no > /out"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"), "read-only by default");
}

#[test]
fn tmp_and_dev_shm_are_private_and_writable() {
    let name = format!("moat-private-{}", std::process::id());
    let script =
        format!("echo x > /tmp/{name} && echo y > /dev/shm/{name} && /bin/busybox cat /tmp/{name} /dev/shm/{name}");
    let out = moat_do(&["--", "/bin/busybox", "sh", "-c", &script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "x\ny\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!Path::new("/tmp").join(&name).exists() && !Path::new("/dev/shm").join(&name).exists());
    // A second sandbox starts with its own empty /tmp.
    let out = moat_do(&["--", "/bin/busybox", "ls", "-A", "/tmp"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

fn mount_count() -> usize {
    procfs::process::Process::myself().unwrap().mountinfo().unwrap().into_iter().count()
}

#[test]
fn killing_moat_do_ends_the_whole_sandbox() {
    let child = Command::new(moat_bin()).args(["do", "--", "/bin/busybox", "sleep", "30"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = child.id() as i32;
    let children_of = |pid: i32| -> Vec<i32> {
        procfs::process::all_processes()
            .unwrap()
            .filter_map(|p| p.ok())
            .filter(|p| p.stat().is_ok_and(|s| s.ppid == pid))
            .map(|p| p.pid)
            .collect()
    };
    let sandbox = children_of(pid);
    assert!(!sandbox.is_empty(), "moat do started its Sentry and Gofer");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let mut child = child;
    child.wait().unwrap();
    for _ in 0..50 {
        if sandbox.iter().all(|p| procfs::process::Process::new(*p).is_err()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("sandbox processes outlived moat do: {sandbox:?}");
}

#[test]
fn runs_leave_no_process_behind() {
    let mounts = mount_count();
    for i in 0..200 {
        match i % 4 {
            0 => moat_do(&["--", "/bin/busybox", "true"]),
            1 => moat_do(&["--", "/nonexistent"]),
            2 => moat_do(&["--", "/bin/busybox", "sh", "-c", "echo x > /tmp/f; /bin/busybox sleep 0 & wait"]),
            _ => moat_do(&["--", "/bin/busybox", "sh", "-c", "kill -9 $$"]),
        };
    }
    assert_eq!(mount_count(), mounts, "the host's mount table changed");
    // Other tests run moat in parallel; only processes that outlive a
    // moment would be strays.
    let mut left = moat_processes();
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        left.retain(|pid| procfs::process::Process::new(*pid).is_ok());
    }
    assert!(left.is_empty(), "moat processes left running: {left:?}");
}

fn signal_after(child: &std::process::Child, sig: nix::sys::signal::Signal, ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).expect("signal moat do");
}

#[test]
fn sigterm_to_moat_do_ends_an_init_without_a_handler() {
    let child = Command::new(moat_bin())
        .args(["do", "--", "/bin/busybox", "sleep", "30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    signal_after(&child, nix::sys::signal::Signal::SIGTERM, 500);
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the sleep was interrupted");
}

#[test]
fn a_forwarded_signal_reaches_inits_handler() {
    use std::io::{BufRead, Read};
    let script = "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do /bin/busybox sleep 0.1; done";
    let mut child = Command::new(moat_bin())
        .args(["do", "--", "/bin/busybox", "sh", "-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Only once the trap is set does the signal go.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "ready\n");
    signal_after(&child, nix::sys::signal::Signal::SIGTERM, 0);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn time_calls_do_not_trap() {
    // date reads the clock through the vDSO, which stubs keep: no
    // clock_gettime reaches the Sentry, where the same date run through
    // `syscall(2)` would show one.
    let dir = Scratch::new("vdso-log");
    let d = dir.path().to_str().unwrap();
    let out = moat_do(&["--strace", "--debug-log", d, "--", "/bin/busybox", "date", "+%Y"]);
    assert!(out.status.success(), "{out:?}");
    let native = std::process::Command::new("/bin/busybox").args(["date", "+%Y"]).output().unwrap();
    assert_eq!(out.stdout, native.stdout);
    let log = std::fs::read_to_string(dir.path().join("sentry.log")).unwrap();
    assert!(log.contains("] write(1, "), "the log is there: {log}");
    assert!(!log.contains("clock_gettime(") && !log.contains("gettimeofday("), "{log}");
}

#[test]
fn strace_logs_each_call_decoded_to_the_debug_log() {
    let dir = Scratch::new("debug-log");
    let d = dir.path().to_str().unwrap();
    let out = moat_do(&["--strace", "--debug-log", d, "--", "/bin/busybox", "cat", "/etc/hostname"]);
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read("/etc/hostname").unwrap(), "the log does not go to stdout");
    let log = std::fs::read_to_string(dir.path().join("sentry.log")).unwrap();
    assert!(log.contains("openat(-100, \"/etc/hostname\", 0x0, 0x0) = 3 <"), "{log}");
    // busybox cat copies with sendfile where the kernel has it, else writes.
    let to_stdout = |l: &str| l.starts_with("[1] write(1, ") || l.starts_with("[1] sendfile(1, ");
    assert!(log.lines().any(|l| to_stdout(l) && l.contains(") = ")), "{log}");
    assert!(log.contains("unimplemented system call rseq"), "unimplemented calls are named: {log}");
    assert!(log.lines().any(|l| l.contains("rseq(") && l.contains("= -1 ENOSYS")), "{log}");
}

#[test]
fn environment_and_working_directory() {
    // The caller's environment passes through and -e adds to it: the program sees exactly the
    // environment and directory it would see natively with the same variables and cwd.
    let script = "env | sort; pwd";
    let native = Command::new("/bin/busybox")
        .env("MOAT_TEST_INHERITED", "from-caller")
        .env("MOAT_TEST_ADDED", "yes")
        .current_dir("/etc")
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    let sandboxed = Command::new(moat_bin())
        .env("MOAT_TEST_INHERITED", "from-caller")
        .args(["do", "-e", "MOAT_TEST_ADDED=yes", "--cwd", "/etc", "--"])
        .args(["/bin/busybox", "sh", "-c", script])
        .output()
        .unwrap();
    assert!(native.status.success() && sandboxed.status.success(), "{sandboxed:?}");
    let native = String::from_utf8_lossy(&native.stdout);
    assert!(native.contains("MOAT_TEST_ADDED=yes") && native.ends_with("/etc\n"), "{native}");
    assert_eq!(String::from_utf8_lossy(&sandboxed.stdout), native);
    let out = moat_do(&["--cwd", "/nonexistent", "--", "/bin/busybox", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"), "{out:?}");
}

#[test]
fn a_bare_program_name_is_searched_along_path() {
    // The same name under the same PATH (and working directory, for an empty
    // PATH entry) must give what execvp gives natively (here through env(1)).
    let cases: [(&str, &str, &[&str]); 4] = [
        ("/usr/local/bin:/usr/bin:/bin", "/", &["busybox", "echo", "found"]),
        ("/nonexistent:/bin", "/", &["busybox", "echo", "second entry"]),
        ("/nonexistent", "/", &["busybox", "true"]),
        (":/nonexistent", "/bin", &["busybox", "echo", "empty entry is the cwd"]),
    ];
    for (path, cwd, argv) in cases {
        let native =
            Command::new("/usr/bin/env").env_clear().env("PATH", path).current_dir(cwd).args(argv).output().unwrap();
        let sandboxed = Command::new(moat_bin())
            .env_clear()
            .env("PATH", path)
            .args(["do", "--cwd", cwd, "--"])
            .args(argv)
            .output()
            .unwrap();
        assert_eq!(sandboxed.stdout, native.stdout, "PATH={path} {argv:?}: {sandboxed:?}");
        assert_eq!(sandboxed.status.code(), native.status.code(), "PATH={path} {argv:?}: {sandboxed:?}");
    }
}

#[test]
fn flock_locks_stay_inside_the_sandbox() {
    // A lock a sandboxed process takes on a file it shares with the host must
    // not reach the host: host programs waiting on it would be at its mercy.
    let dir = Scratch::new_in(Path::new("/var/tmp"), "flock");
    let file = dir.path().join("lockfile");
    std::fs::write(&file, b"x").unwrap();
    let script = format!(
        "import fcntl,time; f=open('{}'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(2)",
        file.display()
    );
    let mut child = Command::new(moat_bin())
        .args(["do", "--", "/usr/bin/python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "locked\n");
    let host = std::fs::File::open(&file).unwrap();
    let held = nix::fcntl::Flock::lock(host, nix::fcntl::FlockArg::LockExclusiveNonblock);
    assert!(held.is_ok(), "the host sees the sandbox's lock: {:?}", held.err().map(|e| e.1));
    assert!(child.wait().unwrap().success());
}

/// Runs `program args` with SIGINT and SIGHUP ignored, as a background job
/// or `nohup` starts it.
fn with_ignored_signals(program: &std::path::Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(program);
    c.args(args);
    // SAFETY: signal() is async-signal-safe; SIG_IGN installs no code.
    unsafe {
        c.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    c.output().unwrap()
}

#[test]
fn signals_the_caller_ignored_stay_ignored_as_across_exec() {
    let script = "trap 'echo int' INT; kill -INT $$; kill -HUP $$; echo survived";
    let native = with_ignored_signals(std::path::Path::new("/bin/busybox"), &["sh", "-c", script]);
    let moat = with_ignored_signals(&moat_tests::moat_bin(), &["do", "--", "/bin/busybox", "sh", "-c", script]);
    assert_eq!(String::from_utf8_lossy(&native.stdout), "survived\n");
    assert_eq!(moat.stdout, native.stdout, "{moat:?}");
    assert_eq!(moat.status.code(), native.status.code());
}

#[test]
fn overlay_memory_keeps_changes_away_from_the_host() {
    let name = format!("/etc/moat-overlay-test-{}", std::process::id());
    let script = format!("echo kept > {name} && cat {name} && rm /etc/hostname && ls /etc/hostname 2>&1; echo done");
    let out = std::process::Command::new(moat_bin())
        .args(["--overlay", "memory", "do", "--", "/bin/busybox", "sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("kept\n") && text.contains("No such file or directory") && text.ends_with("done\n"),
        "{out:?}"
    );
    assert!(!Path::new(&name).exists(), "the change reached the host");
    assert!(Path::new("/etc/hostname").exists(), "the deletion reached the host");
    // Without it, the host's root stays read-only.
    let ro = moat_do(&["--", "/bin/busybox", "sh", "-c", &format!("echo x > {name}")]);
    assert!(String::from_utf8_lossy(&ro.stderr).contains("Read-only file system"), "{ro:?}");
}
