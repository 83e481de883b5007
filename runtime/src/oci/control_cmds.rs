//! pause, resume, update and events: the commands that act on the
//! sandbox's cgroups.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, bail};
use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources};

use super::state::{StateRoot, Status};
use super::{Global, cgroups, stats};

/// `moat pause ID`.
pub fn pause(g: &Global, id: &str) -> anyhow::Result<()> {
    let locked = StateRoot::new(&g.root)?.open(id)?;
    let mut c = locked.read()?;
    match c.status() {
        Status::Running | Status::Created => {}
        s => bail!("cannot pause a {} container", s.as_str()),
    }
    stats::freeze(&c.cgroups, true)?;
    c.status = Status::Paused;
    locked.write(&c)
}

/// `moat resume ID`.
pub fn resume(g: &Global, id: &str) -> anyhow::Result<()> {
    let locked = StateRoot::new(&g.root)?.open(id)?;
    let mut c = locked.read()?;
    if c.status() != Status::Paused {
        bail!("container {id} is not paused");
    }
    stats::freeze(&c.cgroups, false)?;
    c.status = Status::Running;
    locked.write(&c)
}

/// Limits given as `update` flags.
#[derive(Debug, Default)]
pub struct UpdateFlags {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU shares.
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs.
    pub cpu_quota: Option<i64>,
    /// CFS period in µs.
    pub cpu_period: Option<u64>,
    /// Most processes (host processes of the sandbox).
    pub pids_limit: Option<i64>,
    /// OCI `LinuxResources` JSON file, `-` for standard input.
    pub resources: Option<String>,
}

fn resources_of(f: &UpdateFlags) -> anyhow::Result<LinuxResources> {
    if let Some(src) = &f.resources {
        let mut text = Vec::new();
        if src == "-" {
            std::io::stdin().read_to_end(&mut text).context("read resources from standard input")?;
        } else {
            text = std::fs::read(src).with_context(|| format!("read {src}"))?;
        }
        let de = &mut serde_json::Deserializer::from_slice(&text);
        return serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("resources: {}: {}", e.path(), e.inner()));
    }
    let mut r = LinuxResources::default();
    if let Some(m) = f.memory {
        r.set_memory(Some(LinuxMemoryBuilder::default().limit(m).build().context("memory")?));
    }
    if f.cpu_shares.is_some() || f.cpu_quota.is_some() || f.cpu_period.is_some() {
        let mut b = LinuxCpuBuilder::default();
        if let Some(s) = f.cpu_shares {
            b = b.shares(s);
        }
        if let Some(q) = f.cpu_quota {
            b = b.quota(q);
        }
        if let Some(p) = f.cpu_period {
            b = b.period(p);
        }
        r.set_cpu(Some(b.build().context("cpu")?));
    }
    if let Some(p) = f.pids_limit {
        r.set_pids(Some(LinuxPidsBuilder::default().limit(p).build().context("pids")?));
    }
    Ok(r)
}

/// `moat update ID`: new limits for a running sandbox.
pub fn update(g: &Global, id: &str, flags: &UpdateFlags) -> anyhow::Result<()> {
    let locked = StateRoot::new(&g.root)?.open(id)?;
    let c = locked.read()?;
    if c.status() == Status::Stopped {
        bail!("container {id} is not running");
    }
    cgroups::apply(&c.cgroups, &resources_of(flags)?)
}

/// `moat events ID`: stats every `interval` (once with `--stats`), in
/// runc's JSON, until the container stops.
pub fn events(g: &Global, id: &str, once: bool, interval: Duration) -> anyhow::Result<()> {
    let root = StateRoot::new(&g.root)?;
    loop {
        let c = root.open(id)?.read()?;
        if c.status() == Status::Stopped {
            if once {
                bail!("container {id} is not running");
            }
            return Ok(());
        }
        let doc = serde_json::json!({ "type": "stats", "id": id, "data": stats::stats(&c.cgroups) });
        println!("{doc}");
        if once {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// Parses runc's interval form: `5s`, `500ms`, `1m`, or bare seconds.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let bad = || format!("interval {s:?}: expected a duration such as 5s or 500ms");
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_like_runcs() {
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5h").is_err());
    }

    #[test]
    fn update_flags_become_resources() {
        let f = UpdateFlags { memory: Some(1 << 20), pids_limit: Some(7), ..UpdateFlags::default() };
        let r = resources_of(&f).unwrap();
        assert_eq!(r.memory().as_ref().and_then(|m| m.limit()), Some(1 << 20));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(7));
        assert!(r.cpu().is_none());
    }
}
