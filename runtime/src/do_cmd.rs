//! `moat do -- CMD ARGS…`: run one command in a sandbox, no bundle needed.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

/// Arguments of `moat do`.
#[derive(Args)]
pub struct DoArgs {
    /// Root file system to serve (default: the host's `/`, read-only).
    #[arg(long, default_value = "/")]
    rootfs: PathBuf,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Runs `moat do`. Until the Sentry can run programs, it says so and fails
/// rather than run anything outside a sandbox.
pub fn run(args: DoArgs) -> anyhow::Result<i32> {
    let _ = (&args.rootfs, &args.command);
    bail!("the Sentry cannot run programs yet, so `moat do` ran nothing")
}
