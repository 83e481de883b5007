//! docker end to end: a private dockerd and containerd with moat
//! registered by `moat install`, each behaviour compared with docker's
//! default runtime (runc) where runc can show the reference.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use moat_tests::docker::Docker;
use moat_tests::oci::{cgroup_dirs, processes_mentioning, wait_until};

const IMG: &str = "moat-test/busybox";

fn run(d: &Docker, runtime: &str, extra: &[&str], cmd: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--network=none"];
    let rt = format!("--runtime={runtime}");
    args.push(&rt);
    args.extend(extra);
    args.push(IMG);
    args.extend(cmd);
    d.cli(&args)
}

/// The same `docker run` with runc and with moat: same stdout, same exit.
fn same_as_runc(d: &Docker, extra: &[&str], cmd: &[&str]) -> String {
    let runc = run(d, "runc", extra, cmd);
    let moat = run(d, "moat", extra, cmd);
    assert_eq!(
        (String::from_utf8_lossy(&moat.stdout), moat.status.code()),
        (String::from_utf8_lossy(&runc.stdout), runc.status.code()),
        "{extra:?} {cmd:?}\nrunc: {runc:?}\nmoat: {moat:?}"
    );
    String::from_utf8_lossy(&moat.stdout).into_owned()
}

/// `docker exec` into a detached container started with `run_extra`, with
/// runc and with moat: same stdout, same exit.
fn exec_same_as_runc(d: &Docker, run_extra: &[&str], exec_extra: &[&str], cmd: &[&str]) -> String {
    let outputs: Vec<Output> = ["runc", "moat"]
        .iter()
        .map(|rt| {
            let rt = format!("--runtime={rt}");
            let mut args = vec!["run", "-d", "--network=none", &rt];
            args.extend(run_extra);
            args.extend([IMG, "sleep", "1000"]);
            let started = d.cli(&args);
            assert!(started.status.success(), "{started:?}");
            let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
            let mut exec = vec!["exec"];
            exec.extend(exec_extra);
            exec.push(&id);
            exec.extend(cmd);
            let out = d.cli(&exec);
            assert!(d.cli(&["rm", "-f", &id]).status.success());
            out
        })
        .collect();
    let (runc, moat) = (&outputs[0], &outputs[1]);
    assert_eq!(
        (String::from_utf8_lossy(&moat.stdout), moat.status.code()),
        (String::from_utf8_lossy(&runc.stdout), runc.status.code()),
        "{run_extra:?} exec {exec_extra:?} {cmd:?}\nrunc: {runc:?}\nmoat: {moat:?}"
    );
    String::from_utf8_lossy(&moat.stdout).into_owned()
}

/// What to do on the terminal once a text has appeared.
enum Act {
    /// Type this.
    Type(&'static str),
    /// Resize the terminal to rows × columns.
    Resize(u16, u16),
}

/// Runs `cmd` on a new terminal, answering each expected text with its
/// action; returns what the terminal showed and the exit code.
fn drive_tty(mut cmd: Command, script: &[(&str, Act)], limit: Duration) -> (String, Option<i32>) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave.as_raw_fd();
    cmd.stdin(pty.slave.try_clone().unwrap())
        .stdout(pty.slave.try_clone().unwrap())
        .stderr(pty.slave.try_clone().unwrap());
    // SAFETY: setsid and ioctl are async-signal-safe; `slave` stays open
    // until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(pty.slave);
    let master: OwnedFd = pty.master;
    let mut seen = String::new();
    let mut transcript = String::new();
    let mut step = 0;
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let mut fds = [nix::poll::PollFd::new(std::os::fd::AsFd::as_fd(&master), nix::poll::PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, 200u16).unwrap_or(0) > 0 {
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                    transcript.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
        if step < script.len() && seen.contains(script[step].0) {
            // Let the program act on what it just printed (start the job
            // it echoed) before the next key arrives.
            std::thread::sleep(Duration::from_millis(300));
            match script[step].1 {
                Act::Type(text) => {
                    nix::unistd::write(&master, text.as_bytes()).unwrap();
                }
                Act::Resize(rows, cols) => {
                    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
                    // SAFETY: TIOCSWINSZ reads the winsize we own; the
                    // master is open.
                    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
                }
            }
            seen.clear();
            step += 1;
        }
        if child.try_wait().unwrap().is_some() && step == script.len() {
            break;
        }
    }
    let _ = child.kill();
    (transcript, child.wait().unwrap().code())
}

fn nothing_left(d: &Docker, id: &str) {
    assert!(wait_until(10, || processes_mentioning(id).is_empty()), "processes of {id} left");
    assert!(!d.state_root().join(id).exists(), "moat state of {id} left");
    assert!(cgroup_dirs(&format!("docker/{id}")).is_empty(), "cgroups of {id} left");
}

#[test]
fn docker_run_exec_logs_top_stop_kill_tty_volumes_and_users() {
    let d = Docker::start();
    let info = d.cli(&["info", "--format", "{{range $k, $v := .Runtimes}}{{$k}} {{end}}"]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("moat"), "{info:?}");

    // Plain runs and exit codes, against runc.
    assert_eq!(same_as_runc(&d, &[], &["echo", "hi"]), "hi\n");
    same_as_runc(&d, &[], &["sh", "-c", "exit 3"]);
    same_as_runc(&d, &["--user", "1000:1000"], &["id"]);
    // Capabilities: the spec's sets, what execve makes of them, and chown
    // checked against them.
    let caps = [
        "sh",
        "-c",
        "touch /tmp/f; chown 1 /tmp/f 2>/dev/null; echo chown rc=$?; grep -E 'Cap|NoNew' /proc/self/status",
    ];
    let out = same_as_runc(&d, &["--cap-drop", "CHOWN"], &caps);
    assert!(out.contains("chown rc=1"), "{out}");
    let out = same_as_runc(&d, &[], &caps);
    assert!(out.contains("chown rc=0"), "{out}");
    same_as_runc(&d, &["--cap-add", "SYS_TIME", "--security-opt", "no-new-privileges"], &caps);
    same_as_runc(&d, &["--user", "1000:1000", "--cap-add", "NET_ADMIN"], &caps);
    // docker exec processes get the container's capability sets too.
    let out = exec_same_as_runc(&d, &["--cap-drop", "CHOWN"], &[], &caps);
    assert!(out.contains("chown rc=1"), "{out}");
    exec_same_as_runc(&d, &["--cap-add", "SYS_TIME"], &["--user", "1000:1000"], &caps);
    same_as_runc(&d, &["-e", "A=b", "-w", "/tmp", "--hostname", "box"], &["sh", "-c", "echo $A; pwd; hostname"]);
    same_as_runc(&d, &[], &["/no/such/program"]);

    // Volumes and a read-only root.
    let vol = moat_tests::Scratch::new_in(std::path::Path::new("/var/tmp"), "volume");
    let v = format!("{}:/data", vol.path().display());
    let vro = format!("{}:/data:ro", vol.path().display());
    let touch = ["sh", "-c", "touch /data/written && echo data-ok; touch /oops 2>&1; echo rc=$?"];
    let out = same_as_runc(&d, &["--read-only", "-v", &v], &touch);
    assert!(out.contains("data-ok") && out.contains("Read-only file system"), "{out}");
    assert!(vol.path().join("written").exists());
    let out = same_as_runc(&d, &["-v", &vro], &["sh", "-c", "touch /data/again 2>&1; echo rc=$?"]);
    assert!(out.contains("Read-only file system"), "{out}");

    // A detached container: logs, exec, top, stats, signals, stop.
    let started = d.cli(&[
        "run",
        "-d",
        "--runtime=moat",
        "--network=none",
        IMG,
        "sh",
        "-c",
        "trap 'echo got usr1' USR1; echo started; while :; do sleep 0.1; done",
    ]);
    assert!(started.status.success(), "{started:?}");
    let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
    assert!(wait_until(10, || String::from_utf8_lossy(&d.cli(&["logs", &id]).stdout).contains("started")));
    let exec = d.cli(&["exec", &id, "sh", "-c", "echo in-exec; exit 7"]);
    assert_eq!((String::from_utf8_lossy(&exec.stdout).as_ref(), exec.status.code()), ("in-exec\n", Some(7)));
    let top = d.cli(&["top", &id]);
    assert!(String::from_utf8_lossy(&top.stdout).contains("moat boot"), "{top:?}");
    let stats = d.cli(&["stats", "--no-stream", "--format", "{{.MemUsage}}", &id]);
    let mem = String::from_utf8_lossy(&stats.stdout).to_string();
    assert!(mem.contains("iB /") && !mem.starts_with("0B"), "{stats:?}");
    assert!(d.cli(&["kill", "-s", "USR1", &id]).status.success());
    assert!(wait_until(10, || String::from_utf8_lossy(&d.cli(&["logs", &id]).stdout).contains("got usr1")));
    // SIGTERM is ignored by an init without a handler, so stop waits its
    // timeout and then kills.
    let t = Instant::now();
    assert!(d.cli(&["stop", "-t", "1", &id]).status.success());
    assert!(t.elapsed() >= Duration::from_secs(1));
    let code = d.cli(&["inspect", "-f", "{{.State.ExitCode}}", &id]);
    assert_eq!(String::from_utf8_lossy(&code.stdout).trim(), "137");
    assert!(d.cli(&["rm", &id]).status.success());
    nothing_left(&d, &id);

    // docker kill of a running container.
    let started = d.cli(&["run", "-d", "--runtime=moat", "--network=none", IMG, "sleep", "1000"]);
    let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
    assert!(d.cli(&["kill", &id]).status.success());
    let waited = d.cli(&["wait", &id]);
    assert_eq!(String::from_utf8_lossy(&waited.stdout).trim(), "137");
    assert!(d.cli(&["rm", "-f", &id]).status.success());
    nothing_left(&d, &id);

    // An interactive shell on a terminal.
    let mut it = d.command(&["run", "-it", "--rm", "--runtime=moat", "--network=none", IMG, "sh"]);
    it.env("TERM", "dumb");
    let script = [
        ("# ", Act::Type("echo $((6*7))\n")),
        // The terminal's settings can be changed from inside, not only read.
        ("42\r\n", Act::Type("stty rows 33 cols 77; stty -echo; stty size; stty | grep -c -- -echo; tty\n")),
        // The console has a name, as runc's /dev/pts/0.
        ("33 77\r\n1\r\n/dev/pts/0\r\n", Act::Type("exit 5\n")),
    ];
    let (screen, code) = drive_tty(it, &script, Duration::from_secs(60));
    assert_eq!(code, Some(5), "{screen:?}");
    // Window changes arrive as SIGWINCH and the new size is seen; Ctrl-C
    // reaches the shell's trap.
    let mut it = d.command(&["run", "-it", "--rm", "--runtime=moat", "--network=none", IMG]);
    it.args([
        "sh",
        "-c",
        "trap 'stty size; echo winch-seen' WINCH; trap 'exit 9' INT; echo ready; while :; do sleep 0.05; done",
    ]);
    let script = [("ready", Act::Resize(30, 100)), ("30 100\r\nwinch-seen", Act::Type("\x03"))];
    let (screen, code) = drive_tty(it, &script, Duration::from_secs(60));
    assert_eq!(code, Some(9), "{screen:?}");

    // Job control on the terminal: a background read stops its job with
    // SIGTTIN; Ctrl-Z stops the foreground job.
    let mut it = d.command(&["run", "-it", "--rm", "--runtime=moat", "--network=none", IMG, "sh"]);
    it.env("TERM", "dumb");
    let script = [
        ("# ", Act::Type("cat &\n")),
        ("# ", Act::Type("\n")),
        ("Stopped (tty input)", Act::Type("sleep 30\n")),
        ("sleep 30", Act::Type("\x1a")),
        ("Stopped", Act::Type("kill -9 %1 %2\n")),
        // A shell refuses the first exit while it still lists a stopped job.
        ("# ", Act::Type("exit 3\nexit 3\n")),
    ];
    let (screen, code) = drive_tty(it, &script, Duration::from_secs(60));
    assert!(!screen.contains("job control turned off"), "{screen:?}");
    assert_eq!(code, Some(3), "{screen:?}");

    // docker rm -f of a running container leaves nothing.
    let started = d.cli(&["run", "-d", "--runtime=moat", "--network=none", IMG, "sleep", "1000"]);
    let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
    assert!(d.cli(&["rm", "-f", &id]).status.success());
    nothing_left(&d, &id);
}
