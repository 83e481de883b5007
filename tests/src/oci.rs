//! OCI bundles and a private `--root` for the lifecycle and docker tests.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Scratch, moat_bin};

/// The static busybox the harness installs (`busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

/// A busybox root file system: the binary and a link per applet.
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "dev", "sys", "root", "data"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, dir.join("bin/busybox")).expect("copy busybox (tests/run.sh installs busybox-static)");
    let list = Command::new(BUSYBOX).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
}

/// A bundle in a scratch directory: busybox rootfs and `moat spec`'s
/// config.json with terminal off and the given arguments.
pub struct Bundle {
    dir: Scratch,
}

impl Bundle {
    /// A bundle running `args`.
    pub fn new(tag: &str, args: &[&str]) -> Bundle {
        let dir = Scratch::new_in(Path::new("/var/tmp"), tag);
        busybox_rootfs(&dir.path().join("rootfs"));
        let out = Command::new(moat_bin()).args(["spec", "--bundle"]).arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "moat spec: {out:?}");
        let b = Bundle { dir };
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
        });
        b
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rewrites config.json through `f`.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let p = self.path().join("config.json");
        let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }
}

/// A private `--root` for state.
pub struct Runtime {
    root: Scratch,
}

impl Drop for Runtime {
    /// A failed test must not leave its sandboxes running.
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.run(&["delete", "--force", &id]);
        }
        // moat's default parent cgroup, once no test uses it (another test's
        // create remakes it if it races this).
        for d in cgroup_dirs("moat") {
            let _ = std::fs::remove_dir(d);
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A fresh, empty state root.
    pub fn new() -> Runtime {
        Runtime { root: Scratch::new_in(Path::new("/var/tmp"), "root") }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `moat --root ROOT ARGS…` with no input.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(moat_bin());
        c.arg("--root").arg(self.root()).args(args).stdin(std::process::Stdio::null());
        c
    }

    /// Runs `moat --root ROOT ARGS…` to its end. Output goes through
    /// files, not pipes: a container's processes inherit `create`'s
    /// standard streams and would hold a pipe open long after it returns.
    pub fn run(&self, args: &[&str]) -> Output {
        run_to_files(self.cmd(args))
    }

    /// `state ID` parsed.
    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["state", id]);
        assert!(out.status.success(), "state {id}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Ids with a state directory.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// Runs `cmd` with its stdout and stderr in temporary files.
pub fn run_to_files(mut cmd: Command) -> Output {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("moat-test-out-{}-{n}", std::process::id()));
    let (o, e) = (base.with_extension("out"), base.with_extension("err"));
    let status =
        cmd.stdout(std::fs::File::create(&o).unwrap()).stderr(std::fs::File::create(&e).unwrap()).status().unwrap();
    let out = Output { status, stdout: std::fs::read(&o).unwrap(), stderr: std::fs::read(&e).unwrap() };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

/// Whether host process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    procfs::process::Process::new(pid).and_then(|p| p.stat()).is_ok_and(|s| s.state != 'Z')
}

/// Host processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
        .filter(|p| p.cmdline().is_ok_and(|c| c.join(" ").contains(needle)))
        .map(|p| p.pid)
        .collect()
}

/// Every cgroup directory named `rel` (relative to a hierarchy root).
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(rel))
        .chain([PathBuf::from("/sys/fs/cgroup").join(rel)])
        .filter(|p| p.is_dir())
        .collect()
}

/// Waits up to `secs` for `cond`.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// The reference: `runc run` of the same bundle (the harness installs
/// runc), with a state root of its own; asserts that runc succeeded.
pub fn runc_run(bundle: &Path, id: &str) -> Output {
    let root = Scratch::new_in(Path::new("/var/tmp"), "runc-root");
    let mut runc = Command::new("runc");
    runc.arg("--root").arg(root.path()).arg("run").arg("--bundle").arg(bundle).arg(id);
    let out = run_to_files(runc);
    assert!(out.status.success(), "runc: {out:?}");
    out
}
