//! Confinement of the Gofer process: its own mount namespace that holds only
//! the container's mounts, then the fewest capabilities and system calls
//! that serving files needs.
//!
//! Layout after [`enter`]: the root is a small read-only tmpfs holding
//! `/0`, `/1`, … (each mount's source, bind-mounted with its own read-only
//! flag, `nosuid`, `nodev`) and `/fd` (this process's `/proc/self/fd`, to
//! reopen `O_PATH` handles). Each mount is a separate tree, so `..` at the
//! root of one can never reach another, and no host path is visible at all.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use caps::{CapSet, Capability, CapsHashSet};
use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, mkdir, pivot_root};
use thiserror::Error;

use crate::server::{MountSpec, ServerConfig};

/// Capabilities the Gofer keeps: enough to create, chown and reach files of
/// any owner, nothing more.
pub const KEPT_CAPABILITIES: [Capability; 5] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_DAC_READ_SEARCH,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
];

/// System calls the Gofer makes once it serves: its seccomp allowlist.
/// Anything else kills the Gofer (and only it).
#[rustfmt::skip]
pub const ALLOWED_SYSCALLS: &[&str] = &[
    // serving
    "recvmsg", "sendmsg", "poll", "ppoll", "openat", "close", "fcntl", "newfstatat", "fstatfs",
    "mkdirat", "mknodat", "symlinkat", "linkat", "unlinkat", "renameat", "renameat2",
    "readlinkat", "getdents64", "lseek", "fchmodat", "fchownat", "ftruncate", "utimensat",
    "getxattr", "setxattr", "listxattr", "removexattr",
    // the Rust runtime: memory, locks, error output, exit
    "mmap", "munmap", "mremap", "madvise", "brk", "futex", "write", "sigaltstack",
    "rt_sigreturn", "rt_sigprocmask", "getrandom", "sched_yield", "exit", "exit_group",
];

/// What one mount serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A host directory, bind-mounted.
    Bind(PathBuf),
    /// A fresh tmpfs, private to this Gofer's mount namespace: it lives
    /// and dies with the Gofer and is never visible on the host.
    Tmpfs,
    /// A host directory under an overlay whose upper layer is a private
    /// tmpfs: the sandbox may change it, the host never sees the changes
    /// (`--overlay memory`).
    Overlay(PathBuf),
}

/// Where one mount's source comes from.
#[derive(Debug, Clone)]
pub struct MountSource {
    /// What to serve.
    pub kind: SourceKind,
    /// Serve it read-only.
    pub readonly: bool,
}

/// A step of confinement that failed.
#[derive(Debug, Error)]
pub enum SandboxError {
    /// A host call of the set-up failed.
    #[error("{what} {path}: {errno}")]
    Setup {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: String,
        /// The errno.
        errno: Errno,
    },
    /// Capabilities could not be reduced.
    #[error("drop capabilities: {0}")]
    Caps(#[from] caps::errors::CapsError),
    /// The seccomp filter could not be built or loaded.
    #[error("seccomp filter: {0}")]
    Seccomp(#[from] libseccomp::error::SeccompError),
}

fn step<T>(what: &'static str, path: impl AsRef<Path>, r: nix::Result<T>) -> Result<T, SandboxError> {
    r.map_err(|errno| SandboxError::Setup { what, path: path.as_ref().display().to_string(), errno })
}

/// Where the staging root is built, in the Gofer's private mount namespace
/// only; the sources are opened before it is covered.
const STAGING: &str = "/tmp";

/// Enters a new mount namespace whose root holds only `sources`, and returns
/// the server configuration for them. Must run single-threaded, as root.
pub fn enter(sources: &[MountSource]) -> Result<ServerConfig, SandboxError> {
    step("unshare mount namespace", "", unshare(CloneFlags::CLONE_NEWNS))?;
    step(
        "make mounts private",
        "/",
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>),
    )?;
    // Opened inside the new namespace (a bind needs a source mount of this
    // namespace) and before the staging tmpfs may cover them.
    let mut opened = Vec::with_capacity(sources.len());
    for s in sources {
        let fd = match &s.kind {
            // A directory or a single file (docker binds /etc/hosts).
            SourceKind::Bind(path) => {
                Some(step("open mount source", path, open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()))?)
            }
            SourceKind::Overlay(path) => Some(step(
                "open mount source",
                path,
                open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()),
            )?),
            SourceKind::Tmpfs => None,
        };
        opened.push(fd);
    }
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    step(
        "mount staging tmpfs",
        STAGING,
        mount(Some("tmpfs"), STAGING, Some("tmpfs"), base | MsFlags::MS_NOEXEC, Some("mode=0755,size=16k")),
    )?;
    let staging = Path::new(STAGING);
    for (i, (s, fd)) in sources.iter().zip(&opened).enumerate() {
        let target = staging.join(i.to_string());
        let is_file = fd
            .as_ref()
            .is_some_and(|fd| nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT != libc::S_IFDIR));
        if is_file {
            let made = open(
                &target,
                OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            );
            drop(step("create mount point", &target, made)?);
        } else {
            step("mkdir mount point", &target, mkdir(&target, Mode::from_bits_truncate(0o755)))?;
        }
        match (fd, &s.kind) {
            (Some(fd), SourceKind::Overlay(_)) => overlay(&proc_fd(fd), &target, s.readonly, base)?,
            (Some(fd), _) => bind(&proc_fd(fd), &target, s.readonly, base)?,
            (None, _) => {
                let mut flags = base;
                if s.readonly {
                    flags |= MsFlags::MS_RDONLY;
                }
                step("mount tmpfs", &target, mount(Some("tmpfs"), &target, Some("tmpfs"), flags, Some("mode=1777")))?;
            }
        }
    }
    let fd_dir = staging.join("fd");
    step("mkdir", &fd_dir, mkdir(&fd_dir, Mode::from_bits_truncate(0o755)))?;
    bind(Path::new("/proc/self/fd"), &fd_dir, true, base | MsFlags::MS_NOEXEC)?;
    drop(opened);
    step(
        "remount staging read-only",
        STAGING,
        mount(None::<&str>, STAGING, None::<&str>, MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base, None::<&str>),
    )?;
    step("chdir", STAGING, chdir(STAGING))?;
    step("pivot_root", STAGING, pivot_root(".", "."))?;
    step("detach old root", "/", umount2(".", MntFlags::MNT_DETACH))?;
    step("chdir", "/", chdir("/"))?;

    let mut mounts = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        let p = format!("/{i}");
        let root = step(
            "open mount root",
            &p,
            open(p.as_str(), OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()),
        )?;
        mounts.push(MountSpec { root, readonly: s.readonly });
    }
    Ok(ServerConfig { mounts, proc_fd_dir: PathBuf::from("/fd"), max_handles: raise_fd_limit()? })
}

fn proc_fd(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// An overlay of `lower` at `target`, its upper layer and work directory
/// on a tmpfs mounted there first (the overlay then covers it).
fn overlay(lower: &Path, target: &Path, readonly: bool, flags: MsFlags) -> Result<(), SandboxError> {
    step("mount overlay tmpfs", target, mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some("mode=0755")))?;
    let (upper, work) = (target.join("upper"), target.join("work"));
    step("mkdir", &upper, mkdir(&upper, Mode::from_bits_truncate(0o755)))?;
    step("mkdir", &work, mkdir(&work, Mode::from_bits_truncate(0o755)))?;
    let options = format!("lowerdir={},upperdir={},workdir={}", lower.display(), upper.display(), work.display());
    let mut f = flags;
    if readonly {
        f |= MsFlags::MS_RDONLY;
    }
    step("mount overlay", target, mount(Some("overlay"), target, Some("overlay"), f, Some(options.as_str())))
}

fn bind(src: &Path, target: &Path, readonly: bool, flags: MsFlags) -> Result<(), SandboxError> {
    step("bind mount", target, mount(Some(src), target, None::<&str>, MsFlags::MS_BIND, None::<&str>))?;
    let mut f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags;
    if readonly {
        f |= MsFlags::MS_RDONLY;
    }
    step("remount", target, mount(None::<&str>, target, None::<&str>, f, None::<&str>))
}

/// Raises the descriptor limit to its hard limit (every handle is one) and
/// returns how many handles to allow, leaving room for the rest.
fn raise_fd_limit() -> Result<usize, SandboxError> {
    let (_, hard) = step("getrlimit", "RLIMIT_NOFILE", getrlimit(Resource::RLIMIT_NOFILE))?;
    step("setrlimit", "RLIMIT_NOFILE", setrlimit(Resource::RLIMIT_NOFILE, hard, hard))?;
    Ok((hard as usize).saturating_sub(64).max(64))
}

/// Keeps only [`KEPT_CAPABILITIES`] (in every set, bounding included) and
/// sets no_new_privs.
pub fn drop_capabilities() -> Result<(), SandboxError> {
    let keep: CapsHashSet = KEPT_CAPABILITIES.into_iter().collect();
    for cap in caps::all() {
        if !keep.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)?;
        }
    }
    caps::clear(None, CapSet::Ambient)?;
    caps::clear(None, CapSet::Inheritable)?;
    caps::set(None, CapSet::Effective, &keep)?;
    caps::set(None, CapSet::Permitted, &keep)?;
    step("set no_new_privs", "", nix::sys::prctl::set_no_new_privs())
}

/// Loads the allowlist of [`ALLOWED_SYSCALLS`]; any other call kills the
/// process.
pub fn install_seccomp() -> Result<(), SandboxError> {
    let mut filter = ScmpFilterContext::new(ScmpAction::KillProcess)?;
    for name in ALLOWED_SYSCALLS {
        filter.add_rule(ScmpAction::Allow, ScmpSyscall::from_name(name)?)?;
    }
    filter.load()?;
    Ok(())
}
