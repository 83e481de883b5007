//! Shared pieces of moat's integration tests: scratch directories, the
//! `moat` binary, and Gofers to talk to, in this process or as the real
//! confined `moat gofer` process.

pub mod conformance;
pub mod differential;
pub mod docker;
pub mod oci;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use moat_gofer::GoferClient;
use moat_gofer::server::{MountSpec, Server, ServerConfig};
use nix::fcntl::{OFlag, open};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::stat::Mode;

/// A directory removed (with everything in it) when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A new empty directory under `base` (for example `/tmp` or `/var/tmp`).
    pub fn new_in(base: &Path, tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("moat-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        Scratch { path }
    }

    /// A new empty directory under the system's temp dir.
    pub fn new(tag: &str) -> Scratch {
        Scratch::new_in(&std::env::temp_dir(), tag)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Every file under `root`, sorted: path, type and permission bits, owner,
/// link count, size, and content (small files) or symlink target. Two trees
/// that went through the same operations must give the same list.
pub fn tree_snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let p = root.join(&rel);
        let st = nix::sys::stat::lstat(&p).expect("lstat in snapshot");
        let kind = st.st_mode & libc::S_IFMT;
        let detail = match kind {
            libc::S_IFREG if st.st_size < 4096 => format!("{:?}", std::fs::read(&p).expect("read in snapshot")),
            libc::S_IFLNK => format!("-> {:?}", std::fs::read_link(&p).expect("readlink in snapshot")),
            libc::S_IFDIR => {
                for e in std::fs::read_dir(&p).expect("readdir in snapshot") {
                    stack.push(rel.join(e.expect("dir entry").file_name()));
                }
                String::new()
            }
            _ => String::new(),
        };
        let size = if kind == libc::S_IFREG { st.st_size } else { 0 };
        out.push(format!(
            "{} mode={:o} uid={} gid={} nlink={} size={size} {detail}",
            rel.display(),
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_nlink
        ));
    }
    out.sort();
    out
}

/// A scratch base on a different file system than [`std::env::temp_dir`],
/// for tests that need EXDEV.
pub fn other_fs_base() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let tmp_dev = std::fs::metadata(std::env::temp_dir()).expect("stat temp dir").dev();
    ["/dev/shm", "/var/tmp", "/run", "/tmp"]
        .iter()
        .map(PathBuf::from)
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.dev() != tmp_dev))
        .expect("no directory on a second file system for EXDEV tests")
}

/// The `moat` binary: `$MOAT_BIN`, or the one cargo built beside this test.
pub fn moat_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MOAT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> → target/<profile>/moat
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("moat");
    assert!(bin.exists(), "{} not built: run `cargo build` first or set MOAT_BIN", bin.display());
    bin
}

/// A mount for a test Gofer.
#[derive(Clone, Debug)]
pub struct TestMount {
    /// Source directory.
    pub path: PathBuf,
    /// Read-only.
    pub readonly: bool,
}

impl TestMount {
    /// A read-write mount of `path`.
    pub fn rw(path: &Path) -> TestMount {
        TestMount { path: path.to_path_buf(), readonly: false }
    }

    /// A read-only mount of `path`.
    pub fn ro(path: &Path) -> TestMount {
        TestMount { path: path.to_path_buf(), readonly: true }
    }
}

/// A Gofer server running on a thread of this process, unconfined: only its
/// own checks keep it inside its mounts, which is what the escape tests
/// exercise.
pub struct ThreadGofer {
    /// Client connected to it.
    pub client: Option<GoferClient>,
    thread: Option<JoinHandle<()>>,
}

impl ThreadGofer {
    /// Starts a server over `mounts` and connects a client.
    pub fn start(mounts: &[TestMount]) -> ThreadGofer {
        let (client_end, server_end) = seqpacket_pair();
        let thread = spawn_server(mounts, server_end);
        ThreadGofer { client: Some(GoferClient::new(client_end)), thread: Some(thread) }
    }

    /// Starts a server over `mounts` and returns the raw client socket, for
    /// tests that speak the wire format themselves.
    pub fn start_raw(mounts: &[TestMount]) -> (OwnedFd, ThreadGofer) {
        let (client_end, server_end) = seqpacket_pair();
        let thread = spawn_server(mounts, server_end);
        (client_end, ThreadGofer { client: None, thread: Some(thread) })
    }

    /// The client.
    pub fn client(&self) -> &GoferClient {
        self.client.as_ref().expect("client")
    }

    /// Waits for the server thread to end (after the client hung up) and
    /// tells whether it ended cleanly.
    pub fn join(mut self) -> bool {
        self.client = None;
        self.thread.take().map(|t| t.join().is_ok()).unwrap_or(false)
    }
}

impl Drop for ThreadGofer {
    fn drop(&mut self) {
        self.client = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spawn_server(mounts: &[TestMount], server_end: OwnedFd) -> JoinHandle<()> {
    let specs = mounts
        .iter()
        .map(|m| MountSpec {
            root: open(&m.path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
                .unwrap_or_else(|e| panic!("open {}: {e}", m.path.display())),
            readonly: m.readonly,
        })
        .collect();
    let config = ServerConfig { mounts: specs, proc_fd_dir: PathBuf::from("/proc/self/fd"), max_handles: 200_000 };
    let mut server = Server::new(config).expect("server");
    std::thread::spawn(move || {
        use std::os::fd::AsFd;
        server.serve(server_end.as_fd()).expect("serve");
    })
}

/// A connected `SOCK_SEQPACKET` pair, close-on-exec.
pub fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).expect("socketpair")
}

/// The real `moat gofer` process: own mount namespace, pivot_root,
/// capabilities dropped, seccomp on.
pub struct ProcessGofer {
    /// Client connected to it.
    pub client: Option<GoferClient>,
    /// The process (taken by [`ProcessGofer::finish`]).
    pub child: Option<Child>,
}

impl ProcessGofer {
    /// Starts `moat gofer` over `mounts`, with `extra` arguments.
    pub fn start_with(mounts: &[TestMount], extra: &[&str]) -> ProcessGofer {
        let (client_end, server_end) = seqpacket_pair();
        let mut cmd = Command::new(moat_bin());
        cmd.arg("gofer").arg("--sock-fd").arg("3");
        for m in mounts {
            cmd.arg("--mount").arg(format!("{}:{}", if m.readonly { "ro" } else { "rw" }, m.path.display()));
        }
        cmd.args(extra).stdin(Stdio::null()).stderr(Stdio::piped());
        moat_gofer::inherit::give_fd(&mut cmd, server_end.as_raw_fd(), 3);
        let child = cmd.spawn().expect("spawn moat gofer");
        drop(server_end);
        ProcessGofer { client: Some(GoferClient::new(client_end)), child: Some(child) }
    }

    /// Starts `moat gofer` over `mounts`.
    pub fn start(mounts: &[TestMount]) -> ProcessGofer {
        Self::start_with(mounts, &[])
    }

    /// The client.
    pub fn client(&self) -> &GoferClient {
        self.client.as_ref().expect("client")
    }

    /// Host pid of the process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Hangs up and waits for the process.
    pub fn finish(mut self) -> std::process::Output {
        self.client = None;
        let child = self.child.take().expect("child");
        child.wait_with_output().expect("wait moat gofer")
    }
}

impl Drop for ProcessGofer {
    fn drop(&mut self) {
        self.client = None;
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}
