//! What the sandbox's cgroups say: the `events` stats document in runc's
//! shape (cpu, memory, pids), and freezing for `pause` / `resume`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Value, json};

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_string())
}

fn number(dir: &Path, file: &str) -> u64 {
    read(dir, file).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// `key value` lines as a JSON object of numbers.
fn flat_keyed(dir: &Path, file: &str) -> serde_json::Map<String, Value> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_string(), Value::from(v.trim().parse::<u64>().ok()?))))
        .collect()
}

/// The directory of `dirs` that has `file` (the hierarchy with that
/// controller).
fn with_file<'a>(dirs: &'a [PathBuf], file: &str) -> Option<&'a PathBuf> {
    dirs.iter().find(|d| d.join(file).exists())
}

/// The stats document `events --stats` prints for `dirs`.
pub fn stats(dirs: &[PathBuf]) -> Value {
    let ticks = procfs::ticks_per_second().max(1);
    let tick_ns = |t: u64| t.saturating_mul(1_000_000_000) / ticks;
    let cpu = if let Some(d) = with_file(dirs, "cpuacct.usage") {
        let stat = flat_keyed(d, "cpuacct.stat");
        let percpu: Vec<u64> = read(d, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let get = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0);
        json!({
            "usage": { "total": number(d, "cpuacct.usage"), "percpu": percpu,
                       "kernel": tick_ns(get("system")), "user": tick_ns(get("user")) },
            "throttling": {},
        })
    } else if let Some(d) = with_file(dirs, "cpu.stat") {
        let stat = flat_keyed(d, "cpu.stat");
        let us = |k: &str| stat.get(k).and_then(Value::as_u64).unwrap_or(0) * 1000;
        json!({ "usage": { "total": us("usage_usec"), "kernel": us("system_usec"), "user": us("user_usec") }, "throttling": {} })
    } else {
        json!({ "usage": {}, "throttling": {} })
    };
    let memory = if let Some(d) = with_file(dirs, "memory.usage_in_bytes") {
        json!({
            "usage": { "usage": number(d, "memory.usage_in_bytes"), "max": number(d, "memory.max_usage_in_bytes"),
                       "limit": number(d, "memory.limit_in_bytes"), "failcnt": number(d, "memory.failcnt") },
            "raw": flat_keyed(d, "memory.stat"),
        })
    } else if let Some(d) = with_file(dirs, "memory.current") {
        let limit = read(d, "memory.max").and_then(|s| s.parse::<u64>().ok()).unwrap_or(u64::MAX);
        json!({ "usage": { "usage": number(d, "memory.current"), "limit": limit }, "raw": flat_keyed(d, "memory.stat") })
    } else {
        json!({ "usage": {} })
    };
    let pids = match with_file(dirs, "pids.current") {
        Some(d) => {
            let limit = read(d, "pids.max").and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            json!({ "current": number(d, "pids.current"), "limit": limit })
        }
        None => json!({}),
    };
    json!({ "cpu": cpu, "memory": memory, "pids": pids, "blkio": {}, "hugetlb": {} })
}

/// Freezes (or thaws) the sandbox and waits until the kernel says it is.
pub fn freeze(dirs: &[PathBuf], frozen: bool) -> anyhow::Result<()> {
    if let Some(d) = with_file(dirs, "freezer.state") {
        let want = if frozen { "FROZEN" } else { "THAWED" };
        for _ in 0..1000 {
            std::fs::write(d.join("freezer.state"), want)
                .with_context(|| format!("write {want} to {}", d.display()))?;
            if read(d, "freezer.state").as_deref() == Some(want) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        bail!("{}: the sandbox did not become {want}", d.display());
    }
    if let Some(d) = with_file(dirs, "cgroup.freeze") {
        std::fs::write(d.join("cgroup.freeze"), if frozen { "1" } else { "0" })
            .with_context(|| format!("write cgroup.freeze in {}", d.display()))?;
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        for _ in 0..1000 {
            if read(d, "cgroup.events").is_some_and(|e| e.lines().any(|l| l == want)) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        bail!("{}: the sandbox did not become {want}", d.display());
    }
    bail!("no freezer for this container's cgroup")
}
