//! Differential tests: the same busybox command natively and under
//! `moat do` (host root, read-only), same stdout and exit status.
//!

use std::process::Command;

use moat_tests::differential::run;
use moat_tests::*;

const BUSYBOX: &str = "/bin/busybox";

/// Compares busybox applet invocations (argv without the busybox path).
fn check_all(cases: &[(&[&str], &[u8])]) {
    if !std::path::Path::new(BUSYBOX).exists() {
        panic!("{BUSYBOX} is missing: tests/run.sh installs busybox-static");
    }
    let full: Vec<(Vec<&str>, &[u8])> =
        cases.iter().map(|(a, i)| (std::iter::once(BUSYBOX).chain(a.iter().copied()).collect(), *i)).collect();
    let refs: Vec<(&[&str], &[u8])> = full.iter().map(|(a, i)| (a.as_slice(), *i)).collect();
    moat_tests::differential::check_all(&refs);
}

#[test]
fn applets_match_native() {
    let text: &[u8] = b"banana\napple\ncherry\napple\n";
    check_all(&[
        (&["echo", "hello", "world"], b""),
        (&["echo", "-n", "no newline"], b""),
        (&["printf", "%s-%d-%x\\n", "a", "42", "255"], b""),
        (&["true"], b""),
        (&["false"], b""),
        (&["cat", "/etc/passwd"], b""),
        (&["cat"], text),
        (&["cat", "/nonexistent"], b""),
        (&["head", "-n", "2", "/etc/passwd"], b""),
        (&["tail", "-n", "2", "/etc/passwd"], b""),
        (&["wc", "-l", "/etc/passwd"], b""),
        (&["wc"], text),
        (&["sort"], text),
        (&["sort", "-r", "-u"], text),
        (&["uniq", "-c"], b"a\na\nb\n"),
        (&["tr", "a-z", "A-Z"], text),
        (&["cut", "-d:", "-f1,3", "/etc/passwd"], b""),
        (&["grep", "-n", "root", "/etc/passwd"], b""),
        (&["grep", "-c", "nomatch-xyz", "/etc/passwd"], b""),
        (&["sed", "s/a/A/g"], text),
        (&["awk", "-F:", "{ n++ } END { print n, $1 }", "/etc/passwd"], b""),
        (&["seq", "1", "3", "20"], b""),
        (&["expr", "6", "*", "7"], b""),
        (&["expr", "1", "=", "2"], b""),
        (&["basename", "/a/b/c.txt", ".txt"], b""),
        (&["dirname", "/a/b/c.txt"], b""),
        (&["md5sum", "/etc/passwd"], b""),
        (&["sha256sum", "/etc/hostname"], b""),
        (&["od", "-c"], b"od\x01\x7f"),
        (&["base64"], text),
        (&["ls", "/"], b""),
        (&["ls", "-la", "/etc/hostname", "/etc/passwd"], b""),
        (&["ls", "/nonexistent"], b""),
        (&["readlink", "-f", "/bin/sh"], b""),
        (&["realpath", "/usr/../etc/./passwd"], b""),
        (&["stat", "-c", "%n %s %a %u %g %F", "/etc/passwd", "/usr/bin"], b""),
        (&["test", "-d", "/usr"], b""),
        (&["test", "-f", "/usr"], b""),
        (&["sh", "-c", "echo $((6 * 7)); x=abc; echo ${#x} ${x%c}"], b""),
        (&["sh", "-c", "for i in 1 2 3; do echo i=$i; done; f() { return 3; }; f; echo $?"], b""),
        (&["sh", "-c", "case foo in f*) echo matched;; esac; exit 7"], b""),
        (&["sh", "-c", "read a b; echo \"$b $a\""], b"one two\n"),
        (&["sh", "-c", "cd /usr/bin && pwd && cd .. && pwd"], b""),
        (&["sh", "-c", "[ -x /bin/busybox ] && echo yes"], b""),
        (&["nproc"], b""),
        (
            &[
                "sh",
                "-c",
                "[ -e /dev/stdin ] && echo a; [ -e /proc/self/fd/1 ] && echo b; test -r /dev/stdin && echo c; [ -e /proc/self/fd/9 ] || echo d; [ -p /dev/stdin ] && echo pipe",
            ],
            b"x",
        ),
        (&["cat", "/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible"], b""),
        (&["getconf", "_NPROCESSORS_ONLN"], b""),
        (&["stat", "-f", "-c", "%T", "/sys"], b""),
        (&["id"], b""),
        (&["uname", "-m", "-s"], b""),
        (&["env", "-i", "A=1", "B=2", "/bin/busybox", "env"], b""),
        (&["printenv", "HOME"], b""),
        (&["date", "+%Y"], b""),
        (&["timeout", "5", "/bin/busybox", "echo", "in time"], b""),
        (&["dd", "if=/etc/passwd", "of=/dev/null", "bs=100", "count=1", "status=none"], b""),
        (&["dd", "if=/dev/zero", "bs=1k", "count=4", "status=none"], b""),
        (&["head", "-c", "16", "/dev/zero"], b""),
        (
            &["sh", "-c", "echo gone > /dev/null; echo $?; /bin/busybox head -c 8 /dev/urandom | /bin/busybox wc -c"],
            b"",
        ),
        (&["sh", "-c", "echo to-stdout > /dev/stdout; /bin/busybox cat /dev/stdin"], b"from stdin\n"),
        (&["stat", "-c", "%F %t %T", "/dev/null", "/dev/zero"], b""),
        (&["sh", "-c", "/bin/busybox cat /proc/self/cmdline | /bin/busybox tr '\\0' ' '"], b""),
        (&["tar", "cf", "-", "-C", "/etc", "hostname"], b""),
        (&["gzip", "-c", "/etc/hostname"], b""),
        (&["xargs", "echo"], b"a b\nc\n"),
    ]);
}

#[test]
fn shell_scripts_match_native() {
    let sh = |script: &'static str| -> (&'static [&'static str], &'static [u8]) {
        (Box::leak(Box::new(["sh", "-c", script])), b"")
    };
    check_all(&[
        sh("echo one | /bin/busybox tr a-z A-Z | /bin/busybox rev"),
        sh("x=$(echo inner; echo two); echo \"[$x]\"; echo $(( $(echo 3) + 4 ))"),
        sh("(cd /usr && pwd; exit 4); echo status $?; pwd"),
        sh("f() { local a=$1; echo f:$a; return $(($a + 1)); }; f 5; echo $?"),
        sh("set -e; true; false; echo not reached"),
        sh("trap 'echo trapped USR1' USR1; kill -USR1 $$; echo after"),
        sh("trap 'echo bye' EXIT; echo body"),
        sh("/bin/busybox sleep 0.1 & p=$!; wait $p; echo waited $?"),
        sh("(exit 3) & wait $!; echo job $?; (exit 1) & (exit 2) & wait; echo all done"),
        sh("/bin/busybox false; echo $?; /bin/busybox true; echo $?; ! /bin/busybox true; echo $?"),
        sh("/bin/busybox cat <<EOF\nhere $((1+1))\ndoc\nEOF"),
        sh("/bin/busybox seq 1 5000 | /bin/busybox sort -rn | /bin/busybox head -n 3"),
        sh("yes | /bin/busybox head -n 3"),
        sh("/bin/busybox find /etc/ssl -maxdepth 1 -name 'c*' | /bin/busybox sort"),
        sh("/bin/busybox grep -rl root /etc/passwd /etc/group | /bin/busybox sort"),
        sh("echo a b c | /bin/busybox xargs -n 1 echo item"),
        sh("exec /bin/busybox echo replaced"),
        sh("/bin/busybox sh -c 'kill -TERM $$; echo not reached'; echo child status $?"),
        sh("/bin/busybox sh -c 'trap \"echo int\" INT; kill -INT $$; echo survived'"),
        sh("/bin/busybox sleep 5 & p=$!; kill $p; wait $p; echo killed sleeper $?"),
        sh(
            "trap 'echo caught' USR1; (/bin/busybox sleep 1; kill -USR1 $$) & /bin/busybox sleep 5 & wait $!; echo wait ended $?",
        ),
        sh("/bin/busybox sh -c 'exit 7'; echo inner $?"),
        sh("ulimit -n; ulimit -n 200; ulimit -n"),
    ]);
}

#[test]
fn identity_inside_the_sandbox() {
    let inside = |args: &[&str]| {
        let mut c = Command::new(moat_bin());
        c.args(["do", "--", BUSYBOX]).args(args);
        let out = run(c, b"");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The sandbox's init is pid 1 with no parent, and the kernel is moat's.
    assert_eq!(inside(&["sh", "-c", "echo $$ $PPID"]), "1 0\n");
    assert_eq!(inside(&["uname", "-r"]), "6.1.0-moat\n");
    assert_eq!(inside(&["uname", "-s"]), "Linux\n");
    // /proc shows the sandbox's processes only: never this host process.
    let pids = inside(&["sh", "-c", "/bin/busybox sleep 1 & ls /proc | /bin/busybox grep '^[0-9]'"]);
    let host_pid = std::process::id().to_string();
    assert!(pids.lines().all(|p| p != host_pid), "host pid visible: {pids}");
    assert!(pids.lines().count() <= 4, "only the sandbox's few processes: {pids}");
    assert_eq!(inside(&["readlink", "/proc/self"]).trim().parse::<i32>().ok(), Some(1));
    let ps = inside(&["ps", "-o", "pid,comm"]);
    assert_eq!(ps.lines().skip(1).map(|l| l.split_whitespace().next().unwrap_or("")).collect::<Vec<_>>(), ["1"]);
    assert_eq!(inside(&["cat", "/proc/version"]), "Linux version 6.1.0-moat (moat) #1 SMP moat\n");
}
