//! `moat install` / `moat uninstall`: a `runtimes.NAME` entry in docker's
//! daemon.json (path and runtimeArgs), keeping a backup of the file as it
//! was, and every other setting as it is.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

fn read(config: &Path) -> anyhow::Result<Map<String, Value>> {
    match std::fs::read(config) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes).with_context(|| format!("parse {}", config.display()))? {
            Value::Object(m) => Ok(m),
            _ => bail!("{}: not a JSON object", config.display()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(e).with_context(|| format!("read {}", config.display())),
    }
}

fn write(config: &Path, doc: &Map<String, Value>) -> anyhow::Result<()> {
    if config.exists() {
        let backup = config.with_extension("json.moat-backup");
        std::fs::copy(config, &backup)
            .with_context(|| format!("back {} up to {}", config.display(), backup.display()))?;
    } else if let Some(dir) = config.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(doc).context("encode daemon.json")?;
    text.push('\n');
    super::state::write_atomically(config, text.as_bytes())
}

/// Adds (or replaces) `runtimes.<name>` = this binary with `args`.
pub fn install(config: &Path, name: &str, args: &[String]) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("find the moat binary")?;
    let mut doc = read(config)?;
    let runtimes = doc.entry("runtimes").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(runtimes) = runtimes else {
        bail!("{}: \"runtimes\" is not an object", config.display());
    };
    let mut entry = Map::new();
    entry.insert("path".into(), Value::String(exe.display().to_string()));
    if !args.is_empty() {
        entry.insert("runtimeArgs".into(), Value::Array(args.iter().cloned().map(Value::String).collect()));
    }
    runtimes.insert(name.to_string(), Value::Object(entry));
    write(config, &doc)?;
    println!(
        "added runtime {name:?} to {}; restart dockerd to use it: docker run --runtime={name} …",
        config.display()
    );
    Ok(())
}

/// Removes `runtimes.<name>` (and `runtimes` if that leaves it empty).
pub fn uninstall(config: &Path, name: &str) -> anyhow::Result<()> {
    let mut doc = read(config)?;
    let removed = match doc.get_mut("runtimes") {
        Some(Value::Object(r)) => {
            let had = r.remove(name).is_some();
            if r.is_empty() {
                doc.remove("runtimes");
            }
            had
        }
        _ => false,
    };
    if !removed {
        bail!("{}: no runtime {name:?} to remove", config.display());
    }
    write(config, &doc)?;
    println!("removed runtime {name:?} from {}; restart dockerd", config.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_keeps_other_settings_and_uninstall_undoes_it() {
        let dir = std::env::temp_dir().join(format!("moat-install-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("daemon.json");
        std::fs::write(&f, r#"{"debug": true, "runtimes": {"other": {"path": "/x"}}}"#).unwrap();
        install(&f, "moat", &["--debug".to_string()]).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert_eq!(doc["debug"], true);
        assert_eq!(doc["runtimes"]["other"]["path"], "/x");
        assert_eq!(doc["runtimes"]["moat"]["runtimeArgs"][0], "--debug");
        assert!(dir.join("daemon.json.moat-backup").exists());
        uninstall(&f, "moat").unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        assert!(doc["runtimes"].get("moat").is_none());
        assert!(uninstall(&f, "moat").is_err());
        std::fs::write(&f, "[1]").unwrap();
        assert!(install(&f, "moat", &[]).is_err(), "not an object");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
