//! A private containerd and dockerd for end-to-end tests: sockets, state
//! and data under one scratch directory, moat registered with `moat
//! install --config-file`, stopped (and their mounts undone) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::{Scratch, moat_bin};

/// The running daemons.
pub struct Docker {
    dir: Scratch,
    containerd: Child,
    dockerd: Child,
    /// Whether docker's parent cgroup existed before (it is removed at the
    /// end if this test made it).
    had_docker_cgroup: bool,
}

fn wait_for(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    assert!(crate::oci::wait_until(secs, &mut ready), "{what} did not come up in {secs} s");
}

impl Docker {
    /// Starts containerd, registers moat, starts dockerd using that
    /// containerd, and imports a busybox image as `moat-test/busybox`.
    pub fn start() -> Docker {
        let dir = Scratch::new_in(Path::new("/var/tmp"), "docker");
        let d = dir.path().to_path_buf();
        let config = format!(
            "version = 2\nroot = \"{0}/containerd/root\"\nstate = \"{0}/containerd/state\"\n[grpc]\n  address = \"{0}/containerd.sock\"\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{0}/containerd/opt\"\n",
            d.display()
        );
        std::fs::write(d.join("containerd.toml"), config).unwrap();
        let clog = std::fs::File::create(d.join("containerd.log")).unwrap();
        let containerd = Command::new("containerd")
            .arg("--config")
            .arg(d.join("containerd.toml"))
            .stdout(clog.try_clone().unwrap())
            .stderr(clog)
            .spawn()
            .expect("start containerd (tests/run.sh installs it)");
        wait_for("containerd", 30, || d.join("containerd.sock").exists());
        let install =
            Command::new(moat_bin()).args(["install", "--config-file"]).arg(d.join("daemon.json")).output().unwrap();
        assert!(install.status.success(), "moat install: {install:?}");
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--containerd")
            .arg(d.join("containerd.sock"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd (tests/run.sh installs docker.io)");
        let had_docker_cgroup = !crate::oci::cgroup_dirs("docker").is_empty();
        let mut docker = Docker { dir, containerd, dockerd, had_docker_cgroup };
        wait_for("dockerd", 60, || docker.cli(&["info"]).status.success());
        let rootfs = d.join("image-rootfs");
        crate::oci::busybox_rootfs(&rootfs);
        let tar = Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(&rootfs)
            .args(["-cf"])
            .arg(d.join("image.tar"))
            .arg(".")
            .status()
            .unwrap();
        assert!(tar.success());
        let import = docker.cli(&["import", d.join("image.tar").to_str().unwrap(), "moat-test/busybox"]);
        assert!(import.status.success(), "docker import: {import:?}");
        docker.containerd_check();
        docker
    }

    fn containerd_check(&mut self) {
        assert!(self.containerd.try_wait().unwrap().is_none(), "containerd exited");
        assert!(self.dockerd.try_wait().unwrap().is_none(), "dockerd exited");
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// docker's exec root, where moat's state lives (`runtime-runc/moby`).
    pub fn state_root(&self) -> PathBuf {
        self.dir().join("exec/runtime-runc/moby")
    }

    /// `docker -H … ARGS` with its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        c.stdin(Stdio::null());
        crate::oci::run_to_files(c)
    }

    /// `docker -H … ARGS`, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.arg("-H").arg(format!("unix://{}", self.dir().join("docker.sock").display())).args(args);
        c
    }
}

fn stop(child: &mut Child, secs: u64) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
    if !crate::oci::wait_until(secs, || child.try_wait().ok().flatten().is_some()) {
        let _ = child.kill();
    }
    let _ = child.wait();
}

impl Drop for Docker {
    fn drop(&mut self) {
        let leftovers = self.cli(&["ps", "-aq"]);
        for id in String::from_utf8_lossy(&leftovers.stdout).split_whitespace() {
            let _ = self.cli(&["rm", "-f", id]);
        }
        stop(&mut self.dockerd, 30);
        stop(&mut self.containerd, 30);
        if !self.had_docker_cgroup {
            for d in crate::oci::cgroup_dirs("docker") {
                let _ = std::fs::remove_dir(d);
            }
        }
        // Whatever the daemons left mounted under the scratch directory.
        if let Ok(info) = procfs::process::Process::myself().and_then(|p| p.mountinfo()) {
            let mut points: Vec<PathBuf> =
                info.into_iter().map(|m| m.mount_point).filter(|p| p.starts_with(self.dir.path())).collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
            for p in points {
                let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}
