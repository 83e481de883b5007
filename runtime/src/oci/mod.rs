//! The OCI runtime: runc's command line over moat's sandboxes.

pub mod boot;
pub mod bundle;
pub mod cgroups;
pub mod commands;
pub mod console;
pub mod control;
pub mod control_cmds;
pub mod create;
pub mod exec;
pub mod hooks;
pub mod install;
pub mod signals;
pub mod spawn;
pub mod spec_cmd;
pub mod state;
pub mod stats;

use std::io::Write;
use std::path::PathBuf;

/// runc's global flags, as every command sees them.
#[derive(Debug, Clone)]
pub struct Global {
    /// State root (`--root`).
    pub root: PathBuf,
    /// Log file (`--log`); standard error when absent.
    pub log: Option<PathBuf>,
    /// Log lines as JSON (`--log-format json`), as containerd reads them.
    pub log_json: bool,
    /// `--debug`.
    pub debug: bool,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// `--strace`: the Sentry logs every system call.
    pub strace: bool,
    /// `--debug-log DIR`: the Sentry's log goes to DIR/sentry-ID.log.
    pub debug_log: Option<PathBuf>,
    /// `--overlay memory`: the rootfs's changes stay in memory.
    pub overlay: bool,
}

impl Global {
    /// Writes one log line at `level` the way runc does.
    pub fn log(&self, level: &str, msg: &str) {
        let line = if self.log_json {
            let time = state::rfc3339(std::time::SystemTime::now());
            format!("{}\n", serde_json::json!({ "level": level, "msg": msg, "time": time }))
        } else {
            format!(
                "time=\"{}\" level={level} msg=\"{}\"\n",
                state::rfc3339(std::time::SystemTime::now()),
                msg.replace('"', "\\\"")
            )
        };
        match &self.log {
            Some(p) => {
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// A debug line, with `--debug` only.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.log("debug", msg);
        }
    }

    /// A warning: something accepted but not enforced.
    pub fn warn(&self, msg: &str) {
        self.log("warning", msg);
    }
}
