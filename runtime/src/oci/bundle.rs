//! Reading and checking a bundle's `config.json` into what a sandbox
//! needs. Every refusal names the field at fault.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

/// A mount the sandbox gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanMount {
    /// A host directory or file served by the Gofer.
    Bind {
        /// Host path (absolute).
        source: PathBuf,
        /// Where the sandbox sees it.
        destination: String,
        /// Mounted read-only.
        readonly: bool,
    },
    /// A fresh tmpfs served by the Gofer.
    Tmpfs {
        /// Where the sandbox sees it.
        destination: String,
    },
}

/// The network namespace the sandbox's host processes live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// A new one, with loopback up.
    New,
    /// An existing one, joined by path.
    Join(PathBuf),
    /// The caller's own (the spec asks for no network namespace).
    Host,
}

/// What `create` builds, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The parsed spec.
    pub spec: Spec,
    /// Root file system (absolute, existing directory).
    pub rootfs: PathBuf,
    /// `root.readonly`.
    pub root_readonly: bool,
    /// Init's arguments.
    pub args: Vec<String>,
    /// Init's environment.
    pub env: Vec<String>,
    /// Init's working directory.
    pub cwd: String,
    /// Init's user and groups.
    pub uid: u32,
    /// Init's group.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// `process.user.umask` (Linux's default 022 when absent).
    pub umask: u32,
    /// rlimits as (RLIMIT_* number, soft, hard).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// Host name inside.
    pub hostname: String,
    /// Mounts served by the Gofer, in spec order.
    pub mounts: Vec<PlanMount>,
    /// `process.terminal`.
    pub terminal: bool,
    /// `process.noNewPrivileges`.
    pub no_new_privs: bool,
    /// `process.capabilities` as boot's `--caps` takes them (inheritable,
    /// permitted, effective, bounding, ambient masks); None when absent.
    pub caps: Option<String>,
    /// Network namespace.
    pub netns: NetNs,
    /// `linux.cgroupsPath`, if given.
    pub cgroups_path: Option<String>,
    /// `linux.resources`.
    pub resources: Option<LinuxResources>,
    /// Things accepted but not enforced yet, one line each.
    pub warnings: Vec<String>,
}

/// Parses `config.json` bytes; a type error names the JSON path.
pub fn parse_spec(bytes: &[u8]) -> anyhow::Result<Spec> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        anyhow::anyhow!("config.json: {}: {}", if path == "." { "document" } else { &path }, e.inner())
    })
}

/// Mount types the Sentry provides itself (the spec's entry is accepted
/// and the Sentry's own file system stands at that place).
const SENTRY_MOUNTS: [&str; 6] = ["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];

fn rlimit_number(name: &str) -> Option<u32> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

fn clean_destination(field: &str, dest: &Path) -> anyhow::Result<String> {
    let s = dest.to_str().with_context(|| format!("{field}: not UTF-8"))?;
    if !s.starts_with('/') {
        bail!("{field}: {s:?} is not an absolute path");
    }
    let parts: Vec<&str> = s.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if parts.contains(&"..") {
        bail!("{field}: {s:?} contains ..");
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Loads and checks `bundle/config.json`.
pub fn load(bundle: &Path) -> anyhow::Result<Plan> {
    let path = bundle.join("config.json");
    let bytes = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let spec = parse_spec(&bytes)?;
    check(spec, bundle)
}

fn check(spec: Spec, bundle: &Path) -> anyhow::Result<Plan> {
    let mut warnings = Vec::new();
    let root = spec.root().as_ref().context("config.json: root: missing")?;
    let rootfs = if root.path().is_absolute() { root.path().clone() } else { bundle.join(root.path()) };
    let rootfs =
        std::fs::canonicalize(&rootfs).with_context(|| format!("config.json: root.path: {}", rootfs.display()))?;
    if !rootfs.is_dir() {
        bail!("config.json: root.path: {} is not a directory", rootfs.display());
    }
    let process = spec.process().as_ref().context("config.json: process: missing")?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("config.json: process.args: empty");
    }
    let cwd = process.cwd().to_str().context("config.json: process.cwd: not UTF-8")?.to_string();
    if !cwd.starts_with('/') {
        bail!("config.json: process.cwd: {cwd:?} is not an absolute path");
    }
    let user = process.user();
    let mut rlimits = Vec::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        let name = r.typ().to_string();
        let n = rlimit_number(&name).with_context(|| format!("config.json: process.rlimits[{i}].type: {name:?}"))?;
        if r.soft() > r.hard() {
            bail!("config.json: process.rlimits[{i}]: soft limit {} above hard limit {}", r.soft(), r.hard());
        }
        rlimits.push((n, r.soft(), r.hard()));
    }
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("config.json: mounts[{i}]");
        let dest = clean_destination(&format!("{field}.destination"), m.destination())?;
        let typ = m.typ().clone().unwrap_or_default();
        let options = m.options().clone().unwrap_or_default();
        let bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        if bind {
            let src = m.source().as_ref().with_context(|| format!("{field}.source: missing for a bind mount"))?;
            let src = if src.is_absolute() { src.clone() } else { bundle.join(src) };
            if !src.exists() {
                bail!("{field}.source: {} does not exist", src.display());
            }
            let readonly = options.iter().any(|o| o == "ro");
            mounts.push(PlanMount::Bind { source: src, destination: dest, readonly });
        } else if typ == "tmpfs" {
            if dest == "/dev" {
                // The Sentry's own devfs is the container's /dev.
                continue;
            }
            mounts.push(PlanMount::Tmpfs { destination: dest });
        } else if SENTRY_MOUNTS.contains(&typ.as_str()) {
            let provided = (typ == "proc" && dest == "/proc")
                || (typ == "sysfs" && dest == "/sys")
                || (typ.starts_with("cgroup") && dest == "/sys/fs/cgroup")
                || (typ == "devpts" && dest == "/dev/pts")
                || (typ == "mqueue" && dest == "/dev/mqueue");
            if !provided {
                warnings.push(format!("mounts[{i}]: {typ} at {dest} is not provided yet"));
            }
        } else {
            bail!("{field}.type: unsupported mount type {typ:?}");
        }
    }
    let linux = spec.linux().as_ref();
    let mut netns = NetNs::Host;
    for (i, ns) in linux.and_then(|l| l.namespaces().as_ref()).into_iter().flatten().enumerate() {
        let field = format!("config.json: linux.namespaces[{i}]");
        match (ns.typ(), ns.path()) {
            (LinuxNamespaceType::Network, None) => netns = NetNs::New,
            (LinuxNamespaceType::Network, Some(p)) => netns = NetNs::Join(p.clone()),
            (LinuxNamespaceType::User, _) => bail!("{field}.type: user namespaces are not supported"),
            (LinuxNamespaceType::Time, _) => bail!("{field}.type: time namespaces are not supported"),
            (t, Some(p)) => {
                bail!("{field}.path: joining an existing {t:?} namespace ({}) is not supported", p.display())
            }
            // The Sentry is the container's pid, mount, ipc, uts and cgroup
            // namespace: nothing in it reaches the host's.
            (_, None) => {}
        }
    }
    if let Some(l) = linux {
        if l.seccomp().is_some() {
            warnings.push("linux.seccomp: not enforced yet".into());
        }
        if l.masked_paths().as_ref().is_some_and(|p| !p.is_empty()) {
            warnings.push("linux.maskedPaths: not enforced yet".into());
        }
        if l.readonly_paths().as_ref().is_some_and(|p| !p.is_empty()) {
            warnings.push("linux.readonlyPaths: not enforced yet".into());
        }
        // The Sentry's /dev has its own harmless devices; host devices are
        // never handed into the sandbox.
        for d in l.devices().iter().flatten() {
            warnings.push(format!(
                "linux.devices: {} is not provided (no host device reaches the sandbox)",
                d.path().display()
            ));
        }
    }
    if process.apparmor_profile().as_ref().is_some_and(|p| !p.is_empty()) {
        warnings.push("process.apparmorProfile: moat applies no AppArmor profile".into());
    }
    Ok(Plan {
        rootfs,
        root_readonly: root.readonly().unwrap_or(false),
        args,
        env: process.env().clone().unwrap_or_default(),
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        rlimits,
        hostname: spec.hostname().clone().unwrap_or_default(),
        mounts,
        terminal: process.terminal().unwrap_or(false),
        no_new_privs: process.no_new_privileges().unwrap_or(false),
        caps: process.capabilities().as_ref().map(|c| caps_arg(c, &mut warnings)),
        netns,
        cgroups_path: linux.and_then(|l| l.cgroups_path().as_ref()).map(|p| p.display().to_string()),
        resources: linux.and_then(|l| l.resources().clone()),
        warnings,
        spec,
    })
}

/// The five sets of `process.capabilities` as hex masks: inheritable,
/// permitted, effective, bounding, ambient. Names this kernel does not know
/// are left out, with a warning.
pub(crate) fn caps_arg(c: &oci_spec::runtime::LinuxCapabilities, warnings: &mut Vec<String>) -> String {
    use std::str::FromStr;
    let mut mask = |set: &Option<oci_spec::runtime::Capabilities>| {
        let mut m = 0u64;
        for cap in set.iter().flatten() {
            let name = serde_json::to_value(cap).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            match caps::Capability::from_str(&name) {
                Ok(k) => m |= k.bitmask(),
                Err(_) => warnings.push(format!("process.capabilities: {name} is not known, left out")),
            }
        }
        m
    };
    let sets = [mask(c.inheritable()), mask(c.permitted()), mask(c.effective()), mask(c.bounding()), mask(c.ambient())];
    sets.map(|m| format!("{m:x}")).join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_names_its_field() {
        let e =
            parse_spec(br#"{"ociVersion":"1.0.2","process":{"user":{"uid":"zero","gid":0},"cwd":"/"}}"#).unwrap_err();
        assert!(e.to_string().contains("process.user.uid"), "{e}");
        let e = parse_spec(b"{not json").unwrap_err();
        assert!(e.to_string().starts_with("config.json:"), "{e}");
    }

    #[test]
    fn destinations_are_made_canonical() {
        assert_eq!(clean_destination("f", Path::new("/a//b/./c/")).unwrap(), "/a/b/c");
        assert!(clean_destination("f", Path::new("a/b")).is_err());
        assert!(clean_destination("f", Path::new("/a/../b")).is_err());
    }
}
