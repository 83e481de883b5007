//! `moat spec` (a default bundle configuration, as `runc spec` writes) and
//! `moat features` (what this runtime supports, as OCI's features
//! document lists it).

use std::path::Path;

use anyhow::{Context, bail};
use oci_spec::runtime::Spec;

/// Writes `bundle/config.json` with runc's defaults (terminal on, `sh`,
/// read-only rootfs `rootfs`), hostname `moat`.
pub fn spec(bundle: &Path) -> anyhow::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let mut s = Spec::default();
    s.set_version("1.0.2".into());
    s.set_hostname(Some("moat".into()));
    if let Some(p) = s.process_mut() {
        p.set_terminal(Some(true));
        p.set_args(Some(vec!["sh".into()]));
    }
    if let Some(r) = s.root_mut() {
        r.set_path("rootfs".into());
        r.set_readonly(Some(true));
    }
    let text = serde_json::to_string_pretty(&s).context("encode config.json")?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))
}

/// Prints the features document.
pub fn features() -> anyhow::Result<()> {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let doc = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "rprivate", "private"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "dev.moat.platform": "ptrace",
        },
    });
    println!("{}", serde_json::to_string_pretty(&doc).context("encode features")?);
    Ok(())
}
