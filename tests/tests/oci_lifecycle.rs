//! The OCI lifecycle on a busybox bundle: every command, its state file,
//! its errors, hooks, and what is left on the host afterwards (nothing).

use std::process::Stdio;

use moat_tests::oci::{Bundle, Runtime, alive, cgroup_dirs, processes_mentioning, wait_until};

fn id(name: &str) -> String {
    format!("lc{}-{name}", std::process::id())
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{out:?}");
}

fn err_text(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Nothing of container `id` is left: no state, no process, no cgroup.
fn nothing_left(rt: &Runtime, id: &str) {
    assert!(!rt.root().join(id).exists(), "state of {id} left");
    assert!(wait_until(10, || processes_mentioning(id).is_empty()), "processes of {id} left");
    assert!(cgroup_dirs(&format!("moat/{id}")).is_empty(), "cgroups of {id} left");
}

#[test]
fn create_start_kill_delete_with_state_after_each_step() {
    let rt = Runtime::new();
    let b =
        Bundle::new("steps", &["sh", "-c", "trap 'echo got USR1' USR1; echo started; while :; do sleep 0.05; done"]);
    // In the bundle's scratch directory, so a failing test leaves nothing.
    let out_file = b.path().join("out");
    let cid = id("steps");
    let pid_file = b.path().join("pid");
    let out = std::fs::File::create(&out_file).unwrap();
    let created = rt
        .cmd(&["create", "--bundle", b.path().to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), &cid])
        .stdout(out)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    let s = rt.state(&cid);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], cid.as_str());
    assert_eq!(s["bundle"], b.path().to_str().unwrap());
    let pid = s["pid"].as_i64().unwrap() as i32;
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    assert!(alive(pid));
    // The sandbox's host processes are in its cgroup.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("/moat/{cid}")), "{cg}");
    // init waits for start: nothing printed yet.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "");
    let list = rt.run(&["list", "--format", "json"]);
    ok(&list);
    let l: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(l[0]["id"], cid.as_str());
    assert_eq!(l[0]["status"], "created");

    ok(&rt.run(&["start", &cid]));
    assert_eq!(rt.state(&cid)["status"], "running");
    assert!(wait_until(10, || std::fs::read_to_string(&out_file).unwrap().contains("started")));
    let again = rt.run(&["start", &cid]);
    assert!(err_text(&again).contains("running"), "{again:?}");

    // ps: host pids, the Sentry first.
    let ps = rt.run(&["ps", "--format", "json", &cid]);
    ok(&ps);
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids[0], pid);
    assert!(pids.len() >= 3, "sentry, a stub, the gofer: {pids:?}");

    ok(&rt.run(&["kill", &cid, "USR1"]));
    assert!(wait_until(10, || std::fs::read_to_string(&out_file).unwrap().contains("got USR1")));
    // SIGTERM from outside to an init without a handler: ignored, as Linux
    // ignores it for a PID namespace's init.
    ok(&rt.run(&["kill", &cid, "TERM"]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(rt.state(&cid)["status"], "running");
    let refused = rt.run(&["delete", &cid]);
    assert!(err_text(&refused).contains("not stopped"));

    ok(&rt.run(&["kill", &cid, "KILL"]));
    assert!(wait_until(10, || rt.state(&cid)["status"] == "stopped"));
    assert_eq!(rt.state(&cid)["pid"], 0);
    let dead = rt.run(&["kill", &cid, "USR1"]);
    assert!(err_text(&dead).contains("not running"));
    ok(&rt.run(&["delete", &cid]));
    nothing_left(&rt, &cid);
}

#[test]
fn run_passes_the_exit_status_and_cleans_up() {
    let rt = Runtime::new();
    let b = Bundle::new("run", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let cid = id("run");
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &cid]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err\n"));
    nothing_left(&rt, &cid);
    // user, groups, hostname, cwd and environment from the spec.
    b.edit(|c| {
        c["process"]["args"] = serde_json::json!(["sh", "-c", "id; hostname; pwd; echo $GREETING"]);
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        c["process"]["cwd"] = "/tmp".into();
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "GREETING=hello"]);
        c["hostname"] = "lifecycle".into();
    });
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &cid]);
    // runc (which the harness installs) is the reference for what a
    // container of this spec sees.
    let reference = moat_tests::oci::runc_run(b.path(), &id("runc"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&reference.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("lifecycle\n/tmp\nhello\n"), "{out:?}");
}

#[test]
fn a_sandbox_killed_from_outside_reads_as_stopped_and_delete_cleans_it() {
    let rt = Runtime::new();
    let b = Bundle::new("outside", &["sleep", "1000"]);
    let cid = id("outside");
    ok(&rt.run(&["run", "--detach", "--bundle", b.path().to_str().unwrap(), &cid]));
    let pid = rt.state(&cid)["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(wait_until(10, || rt.state(&cid)["status"] == "stopped"));
    ok(&rt.run(&["delete", &cid]));
    nothing_left(&rt, &cid);
}

#[test]
fn exec_attached_and_detached() {
    let rt = Runtime::new();
    let b = Bundle::new("exec", &["sleep", "1000"]);
    let cid = id("exec");
    ok(&rt.run(&["run", "--detach", "--bundle", b.path().to_str().unwrap(), &cid]));
    let out = rt.run(&["exec", &cid, "sh", "-c", "echo in $$; ps -o pid,args | grep -c '[s]leep 1000'; exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("in ") && text.ends_with("1\n"), "{text}");
    let missing = rt.run(&["exec", &cid, "/no/such/program"]);
    assert!(err_text(&missing).contains("no such file or directory"));
    // --detach: the process in --pid-file exits with the exec'd status.
    let pid_file = b.path().join("exec.pid");
    let started =
        rt.run(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), &cid, "sh", "-c", "sleep 0.3; exit 9"]);
    ok(&started);
    let waiter: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    // It is our child's child: reaped by init, so watch it from /proc.
    assert!(alive(waiter));
    assert!(wait_until(10, || !alive(waiter)));
    // A process file, as containerd passes it.
    let process = b.path().join("process.json");
    std::fs::write(
        &process,
        r#"{"args":["sh","-c","echo $X; id -u"],"env":["X=from-file"],"cwd":"/","user":{"uid":1000,"gid":1000}}"#,
    )
    .unwrap();
    let out = rt.run(&["exec", "--process", process.to_str().unwrap(), &cid]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-file\n1000\n", "{out:?}");
    ok(&rt.run(&["delete", "--force", &cid]));
    nothing_left(&rt, &cid);
}

/// A change to config.json.
type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn bad_input_gets_a_clear_error_and_leaves_nothing() {
    let rt = Runtime::new();
    let b = Bundle::new("bad", &["true"]);
    let cid = id("bad");
    let create = |rt: &Runtime| rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &cid]);
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("wrong type", Box::new(|c| c["process"]["user"]["uid"] = "root".into()), "process.user.uid"),
        ("missing rootfs", Box::new(|c| c["root"]["path"] = "nowhere".into()), "root.path"),
        ("empty args", Box::new(|c| c["process"]["args"] = serde_json::json!([])), "process.args"),
        (
            "mount type",
            Box::new(|c| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"destination":"/x","type":"nfs","source":"s"}))
            }),
            "unsupported mount type",
        ),
        (
            "rlimit",
            Box::new(|c| c["process"]["rlimits"] = serde_json::json!([{"type":"RLIMIT_NOPE","hard":1,"soft":1}])),
            "process.rlimits[0].type",
        ),
        (
            "user namespace",
            Box::new(|c| c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type":"user"}))),
            "user namespaces are not supported",
        ),
        (
            // Fails in the Sentry's child between clone and exec, after the
            // Gofer has started: both must go.
            "not a network namespace",
            Box::new(|c| {
                for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                    if n["type"] == "network" {
                        n["path"] = "/proc/self/ns/uts".into();
                    }
                }
            }),
            "join network namespace: EINVAL",
        ),
        (
            "missing program",
            Box::new(|c| c["process"]["args"] = serde_json::json!(["/no/such"])),
            "no such file or directory",
        ),
    ];
    let original = std::fs::read(b.path().join("config.json")).unwrap();
    for (what, change, expect) in cases {
        std::fs::write(b.path().join("config.json"), &original).unwrap();
        b.edit(|c| change(c));
        let e = err_text(&create(&rt));
        assert!(e.contains(expect), "{what}: {e}");
        nothing_left(&rt, &cid);
    }
    std::fs::write(b.path().join("config.json"), b"{ not json").unwrap();
    assert!(err_text(&create(&rt)).contains("config.json"));
    nothing_left(&rt, &cid);
    std::fs::write(b.path().join("config.json"), &original).unwrap();
    ok(&create(&rt));
    assert!(err_text(&create(&rt)).contains("already exists"), "duplicate id");
    ok(&rt.run(&["delete", &cid]));
    for cmd in ["start", "state", "delete"] {
        assert!(err_text(&rt.run(&[cmd, "nope"])).contains("does not exist"), "{cmd}");
    }
    assert!(err_text(&rt.run(&["kill", "nope", "KILL"])).contains("does not exist"));
    assert!(err_text(&rt.run(&["kill", &cid, "SIGNOPE"])).contains("unknown signal"));
    assert!(err_text(&rt.run(&["create", "--bundle", "/nonexistent", "x"])).contains("/nonexistent"));
    assert!(
        err_text(&rt.run(&["create", "--bundle", b.path().to_str().unwrap(), "bad/id"]))
            .contains("invalid container id")
    );
    ok(&rt.run(&["delete", "--force", "nope"]));
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn hooks_run_in_order_with_the_state_and_a_failing_one_fails_the_step() {
    let rt = Runtime::new();
    let b = Bundle::new("hooks", &["sh", "-c", "touch /init-ran"]);
    let cid = id("hooks");
    let log = b.path().join("hooks.log");
    let hook = |name: &str| {
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("printf '%s %s\\n' {name} \"$(cat)\" >> {}", log.display())],
        })
    };
    // startContainer runs inside the container (its /bin/sh, its host
    // name), before init: it records what it sees in the container's root.
    let inside = "{ hostname; cat; echo; [ -e /init-ran ] && echo init-ran || echo before-init; } > /start-hook.out";
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["hostname"] = "hooked".into();
        c["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", inside]}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    ok(&rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &cid]));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(&str, serde_json::Value)> = text
        .lines()
        .map(|l| {
            let (name, state) = l.split_once(' ').unwrap();
            (name, serde_json::from_str(state).unwrap())
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]);
    for (name, state) in &lines {
        assert_eq!(state["id"], cid.as_str(), "{name}");
        assert_eq!(state["bundle"], b.path().to_str().unwrap(), "{name}");
    }
    assert_eq!(lines[4].1["status"], "stopped");
    assert!(lines[0].1["pid"].as_i64().unwrap() > 0);
    let seen = std::fs::read_to_string(b.path().join("rootfs/start-hook.out")).unwrap();
    let seen: Vec<&str> = seen.lines().collect();
    assert_eq!(seen[0], "hooked", "the container's host name");
    let state: serde_json::Value = serde_json::from_str(seen[1]).unwrap();
    assert_eq!((state["id"].as_str(), state["status"].as_str()), (Some(cid.as_str()), Some("created")));
    assert_eq!(seen[2], "before-init");
    assert!(b.path().join("rootfs/init-ran").exists());
    // A failing startContainer hook fails start.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]})
    });
    ok(&rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &cid]));
    let e = err_text(&rt.run(&["start", &cid]));
    assert!(e.contains("startContainer hook") && e.contains("exit status 3"), "{e}");
    ok(&rt.run(&["delete", "--force", &cid]));
    // A failing createRuntime hook fails create, and nothing is left.
    b.edit(|c| {
        c["hooks"] =
            serde_json::json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 2"]}]})
    });
    let e = err_text(&rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &cid]));
    assert!(e.contains("createRuntime hook") && e.contains("broken"), "{e}");
    nothing_left(&rt, &cid);
    // A hook that outlives its timeout fails too.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
    });
    let e = err_text(&rt.run(&["create", "--bundle", b.path().to_str().unwrap(), &cid]));
    assert!(e.contains("timed out"), "{e}");
    nothing_left(&rt, &cid);
}

#[test]
fn twenty_containers_in_parallel() {
    let rt = Runtime::new();
    let b = Bundle::new("parallel", &["sh", "-c", "echo $HOSTNAME"]);
    let ids: Vec<String> = (0..20).map(|i| id(&format!("p{i}"))).collect();
    let handles: Vec<_> = ids
        .iter()
        .map(|cid| {
            let (root, bundle, cid) = (rt.root().to_path_buf(), b.path().to_path_buf(), cid.clone());
            std::thread::spawn(move || {
                let run = |args: &[&str]| {
                    let mut c = std::process::Command::new(moat_tests::moat_bin());
                    c.arg("--root").arg(&root).args(args);
                    moat_tests::oci::run_to_files(c)
                };
                let c = run(&["create", "--bundle", bundle.to_str().unwrap(), &cid]);
                let s = run(&["start", &cid]);
                let d = wait_until(30, || {
                    let st = run(&["state", &cid]);
                    String::from_utf8_lossy(&st.stdout).contains("stopped")
                });
                let del = run(&["delete", &cid]);
                (c.status.success() && s.status.success() && d && del.status.success(), format!("{c:?} {s:?} {del:?}"))
            })
        })
        .collect();
    for h in handles {
        let (good, why) = h.join().unwrap();
        assert!(good, "{why}");
    }
    for cid in &ids {
        nothing_left(&rt, cid);
    }
}

#[test]
fn spec_and_features_documents() {
    let rt = Runtime::new();
    let f = rt.run(&["features"]);
    ok(&f);
    let doc: serde_json::Value = serde_json::from_slice(&f.stdout).unwrap();
    assert!(doc["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "network"));
    let b = Bundle::new("spec", &["true"]);
    let again = rt.run(&["spec", "--bundle", b.path().to_str().unwrap()]);
    assert!(err_text(&again).contains("exists"));
}

/// The value of the first of `files` found in the container's cgroups.
fn cgroup_value(cid: &str, files: &[&str]) -> String {
    for d in cgroup_dirs(&format!("moat/{cid}")) {
        for f in files {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                return v.trim().to_string();
            }
        }
    }
    panic!("no {files:?} in the cgroups of {cid}");
}

#[test]
fn pause_resume_update_and_events() {
    let rt = Runtime::new();
    let b = Bundle::new("pause", &["sh", "-c", "while :; do echo tick; sleep 0.02; done"]);
    b.edit(|c| c["linux"]["resources"] = serde_json::json!({"memory": {"limit": 209715200}, "pids": {"limit": 100}}));
    let cid = id("pause");
    let out_file = b.path().join("out");
    let created = rt
        .cmd(&["create", "--bundle", b.path().to_str().unwrap(), &cid])
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    // The spec's limits hold for the whole sandbox.
    assert_eq!(cgroup_value(&cid, &["memory.limit_in_bytes", "memory.max"]), "209715200");
    assert_eq!(cgroup_value(&cid, &["pids.max"]), "100");
    ok(&rt.run(&["start", &cid]));
    let len = || std::fs::metadata(&out_file).unwrap().len();
    assert!(wait_until(10, || len() > 0));

    ok(&rt.run(&["pause", &cid]));
    assert_eq!(rt.state(&cid)["status"], "paused");
    let frozen = len();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(len(), frozen, "output grew while paused");
    assert!(err_text(&rt.run(&["pause", &cid])).contains("cannot pause a paused container"));

    let ev = rt.run(&["events", "--stats", &cid]);
    ok(&ev);
    let doc: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(doc["type"], "stats");
    assert_eq!(doc["id"], cid.as_str());
    assert!(doc["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["data"]["pids"]["current"].as_u64().unwrap() >= 3, "{doc}");
    assert_eq!(doc["data"]["pids"]["limit"], 100);
    assert!(doc["data"]["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{doc}");

    ok(&rt.run(&["resume", &cid]));
    assert_eq!(rt.state(&cid)["status"], "running");
    assert!(wait_until(10, || len() > frozen), "no output after resume");
    assert!(err_text(&rt.run(&["resume", &cid])).contains("not paused"));

    ok(&rt.run(&["update", "--memory", "104857600", "--pids-limit", "50", &cid]));
    assert_eq!(cgroup_value(&cid, &["memory.limit_in_bytes", "memory.max"]), "104857600");
    assert_eq!(cgroup_value(&cid, &["pids.max"]), "50");
    let res = b.path().join("resources.json");
    std::fs::write(&res, r#"{"pids": {"limit": 60}}"#).unwrap();
    let updated =
        rt.cmd(&["update", "--resources", "-", &cid]).stdin(std::fs::File::open(&res).unwrap()).status().unwrap();
    assert!(updated.success());
    assert_eq!(cgroup_value(&cid, &["pids.max"]), "60");
    std::fs::write(&res, r#"{"pids": {"limit": "many"}}"#).unwrap();
    let bad = rt.run(&["update", "--resources", res.to_str().unwrap(), &cid]);
    assert!(err_text(&bad).contains("pids.limit"));

    // A paused sandbox can still be killed and deleted.
    ok(&rt.run(&["pause", &cid]));
    ok(&rt.run(&["kill", &cid, "KILL"]));
    assert!(wait_until(10, || rt.state(&cid)["status"] == "stopped"));
    ok(&rt.run(&["delete", &cid]));
    nothing_left(&rt, &cid);
}

#[test]
fn dmesg_shows_the_sentrys_own_log() {
    let rt = Runtime::new();
    let b = Bundle::new("dmesg", &["dmesg"]);
    let cid = id("dmesg");
    let out = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &cid]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("moat: starting the Sentry"), "{text}");
    // Nothing of the host's kernel log.
    let host = std::process::Command::new("dmesg").output().unwrap();
    let host_first = String::from_utf8_lossy(&host.stdout).lines().next().unwrap_or("").to_string();
    assert!(host_first.is_empty() || !text.contains(&host_first));
}
