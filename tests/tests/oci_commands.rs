//! The OCI commands' output formats and the sandbox's host-side set-up:
//! runc-style JSON logs, list and ps tables, kill --all, network
//! namespaces, rlimits (against runc), and the Sentry's debug log.

use std::path::Path;

use moat_tests::oci::{Bundle, Runtime, wait_until};

fn id(name: &str) -> String {
    format!("oc{}-{name}", std::process::id())
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn errors_go_to_the_log_as_runc_writes_them() {
    let rt = Runtime::new();
    let b = Bundle::new("log", &["true"]);
    b.edit(|c| c["root"]["path"] = "missing".into());
    let log = b.path().join("log.json");
    let out = rt.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id("log"),
    ]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("root.path"), "{last}");
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    // What is accepted but not provided is a warning there.
    b.edit(|c| {
        c["root"]["path"] = "rootfs".into();
        c["linux"]["devices"] = serde_json::json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]);
    });
    let cid = id("log2");
    ok(&rt.run(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &cid,
    ]));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().any(|l| l.contains("\"warning\"") && l.contains("/dev/fuse is not provided")), "{text}");
    ok(&rt.run(&["delete", &cid]));
}

#[test]
fn list_and_ps_tables_and_kill_all() {
    let rt = Runtime::new();
    let script = "trap 'echo init-usr1' USR1; sh -c \"trap 'echo child-usr1' USR1; while :; do sleep 0.05; done\" & while :; do sleep 0.05; done";
    let b = Bundle::new("all", &["sh", "-c", script]);
    // In the bundle's scratch directory, so a failing test leaves nothing.
    let out_file = b.path().join("out");
    let cid = id("all");
    let started = rt
        .cmd(&["run", "--detach", "--bundle", b.path().to_str().unwrap(), &cid])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(started.success());
    let list = rt.run(&["list"]);
    ok(&list);
    let table = String::from_utf8_lossy(&list.stdout).to_string();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]);
    assert!(table.lines().any(|l| l.starts_with(&cid) && l.contains("running")), "{table}");
    let quiet = rt.run(&["list", "-q"]);
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), format!("{cid}\n"));
    let ps = rt.run(&["ps", &cid]);
    ok(&ps);
    let ps = String::from_utf8_lossy(&ps.stdout).to_string();
    assert!(ps.contains("moat boot") && ps.contains("moat gofer"), "{ps}");
    // --all: every process of the sandbox gets it, the child too.
    assert!(wait_until(10, || rt.run(&["exec", &cid, "sh", "-c", "ps | grep -c \"c trap 'echo [c]hild\""]).stdout
        == b"1\n"));
    ok(&rt.run(&["kill", "--all", &cid, "USR1"]));
    assert!(wait_until(10, || {
        let t = std::fs::read_to_string(&out_file).unwrap();
        t.contains("init-usr1") && t.contains("child-usr1")
    }));
    ok(&rt.run(&["delete", "--force", &cid]));
}

fn netns_of(pid: i64) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
}

#[test]
fn network_namespaces_new_with_loopback_up_or_joined_by_path() {
    let rt = Runtime::new();
    let b = Bundle::new("netns", &["sleep", "1000"]);
    let cid = id("netns");
    ok(&rt.run(&["run", "--detach", "--bundle", b.path().to_str().unwrap(), &cid]));
    let pid = rt.state(&cid)["pid"].as_i64().unwrap();
    assert_ne!(netns_of(pid), netns_of(std::process::id() as i64), "a new network namespace");
    let lo = std::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["cat", "/sys/class/net/lo/flags"])
        .output()
        .unwrap();
    let flags = u32::from_str_radix(String::from_utf8_lossy(&lo.stdout).trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is up");
    // A second container joins the first one's namespace by path.
    let b2 = Bundle::new("netns2", &["sleep", "1000"]);
    let path = format!("/proc/{pid}/ns/net");
    b2.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut() {
            if n["type"] == "network" {
                n["path"] = path.clone().into();
            }
        }
    });
    let cid2 = id("netns2");
    ok(&rt.run(&["run", "--detach", "--bundle", b2.path().to_str().unwrap(), &cid2]));
    let pid2 = rt.state(&cid2)["pid"].as_i64().unwrap();
    assert_eq!(netns_of(pid2), netns_of(pid));
    ok(&rt.run(&["delete", "--force", &cid2]));
    ok(&rt.run(&["delete", "--force", &cid]));
}

#[test]
fn rlimits_and_umask_match_runc() {
    let rt = Runtime::new();
    let b = Bundle::new("limits", &["sh", "-c", "ulimit -n; ulimit -s; umask"]);
    b.edit(|c| {
        c["process"]["rlimits"] = serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 4321},
            {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608}
        ]);
        c["process"]["user"]["umask"] = 0o027.into();
    });
    let moat = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &id("limits")]);
    let reference = moat_tests::oci::runc_run(b.path(), &id("limits-runc"));
    assert_eq!(String::from_utf8_lossy(&moat.stdout), String::from_utf8_lossy(&reference.stdout));
    assert_eq!(String::from_utf8_lossy(&moat.stdout), "321\n4096\n0027\n");
}

#[test]
fn strace_into_the_debug_log() {
    let rt = Runtime::new();
    let b = Bundle::new("strace", &["sh", "-c", "echo traced"]);
    let cid = id("strace");
    let logs = b.path().join("logs");
    let out = rt.run(&[
        "--strace",
        "--debug-log",
        logs.to_str().unwrap(),
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &cid,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "traced\n", "{out:?}");
    let log = std::fs::read_to_string(logs.join(format!("sentry-{cid}.log"))).unwrap();
    assert!(log.contains("write(1, \"traced\\n\""), "{log}");
}

#[test]
fn the_containers_own_cgroup_limits_show_under_sys_fs_cgroup_as_with_runc() {
    let rt = Runtime::new();
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null \
                  || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max";
    let b = Bundle::new("cgview", &["sh", "-c", script]);
    b.edit(|c| c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 314572800}, "pids": {"limit": 77}}));
    let moat = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &id("cgview")]);
    let reference = moat_tests::oci::runc_run(b.path(), &id("cgview-runc"));
    assert_eq!(String::from_utf8_lossy(&moat.stdout), String::from_utf8_lossy(&reference.stdout), "{moat:?}");
    assert_eq!(String::from_utf8_lossy(&moat.stdout), "314572800\n77\n");
}

#[test]
fn preserved_descriptors_reach_init_as_with_runc() {
    let rt = Runtime::new();
    let b = Bundle::new(
        "fds",
        &["sh", "-c", "read line <&3; echo \"got $line\"; echo written >&4; { true >&5; } 2>/dev/null || echo no-fd-5"],
    );
    let input = b.path().join("input");
    std::fs::write(&input, "from-fd-3\n").unwrap();
    let run = |runtime: &str, root: &Path, out: &Path, cid: &str| {
        let script = format!(
            "exec 3<{} 4>{}; exec {runtime} --root {} run --preserve-fds 2 --bundle {} {cid}",
            input.display(),
            out.display(),
            root.display(),
            b.path().display()
        );
        let mut c = std::process::Command::new("/bin/sh");
        c.args(["-c", &script]);
        moat_tests::oci::run_to_files(c)
    };
    let moat_out = b.path().join("moat-fd4");
    let moat = run(moat_tests::moat_bin().to_str().unwrap(), rt.root(), &moat_out, &id("fds"));
    let runc_root = moat_tests::Scratch::new_in(Path::new("/var/tmp"), "runc-root");
    let runc_out = b.path().join("runc-fd4");
    let reference = run("runc", runc_root.path(), &runc_out, &id("fds-runc"));
    assert!(reference.status.success(), "{reference:?}");
    assert_eq!(String::from_utf8_lossy(&moat.stdout), String::from_utf8_lossy(&reference.stdout), "{moat:?}");
    assert!(String::from_utf8_lossy(&moat.stdout).starts_with("got from-fd-3\n"));
    assert_eq!(std::fs::read_to_string(&moat_out).unwrap(), "written\n");
}

#[test]
fn no_new_privileges_from_the_spec_and_exec_as_with_runc() {
    let rt = Runtime::new();
    let b = Bundle::new("nnp", &["/nnp"]);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/no_new_privs.c");
    let built = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-w", "-o"])
        .arg(b.path().join("rootfs/nnp"))
        .arg(&src)
        .status()
        .unwrap();
    assert!(built.success());
    for nnp in [true, false] {
        b.edit(|c| c["process"]["noNewPrivileges"] = nnp.into());
        let moat = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &id("nnp")]);
        let reference = moat_tests::oci::runc_run(b.path(), &id("nnp-runc"));
        assert_eq!(String::from_utf8_lossy(&moat.stdout), String::from_utf8_lossy(&reference.stdout), "{nnp}");
        let expect = format!("before {}, set: 0, now 1", u8::from(nnp));
        assert!(String::from_utf8_lossy(&moat.stdout).contains(&expect), "{moat:?}");
    }
    // exec --no-new-privs, in a container whose init has it off.
    b.edit(|c| c["process"]["args"] = serde_json::json!(["sleep", "1000"]));
    let cid = id("nnp-exec");
    ok(&rt.run(&["run", "--detach", "--bundle", b.path().to_str().unwrap(), &cid]));
    let with = rt.run(&["exec", "--no-new-privs", &cid, "/nnp"]);
    assert!(String::from_utf8_lossy(&with.stdout).contains("before 1,"), "{with:?}");
    let without = rt.run(&["exec", &cid, "/nnp"]);
    assert!(String::from_utf8_lossy(&without.stdout).contains("before 0,"), "{without:?}");
    ok(&rt.run(&["delete", "--force", &cid]));
}

#[test]
fn overlay_memory_leaves_the_bundle_untouched() {
    let rt = Runtime::new();
    let b =
        Bundle::new("overlay", &["sh", "-c", "echo new > /made && rm /etc/group && cat /made && ls /etc/group 2>&1"]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    let out = rt.run(&["--overlay", "memory", "run", "--bundle", b.path().to_str().unwrap(), &id("overlay")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("new\n") && text.contains("No such file or directory"), "{out:?}");
    assert!(!b.path().join("rootfs/made").exists(), "a write reached the bundle");
    assert!(b.path().join("rootfs/etc/group").exists(), "a deletion reached the bundle");
}
