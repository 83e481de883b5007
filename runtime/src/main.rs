//! `moat`: the one binary users install. `moat do` runs a command in a
//! sandbox; `moat boot` and `moat gofer` are the hidden entry points of the
//! Sentry and Gofer processes. The OCI commands come with the lifecycle issue.

mod boot_cmd;
mod do_cmd;
mod fds;
mod gofer_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "moat", version, about = "moat: a sandboxed OCI container runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a sandbox over the host's root (read-only) or a rootfs.
    Do(do_cmd::DoArgs),
    /// Start a Sentry (internal).
    #[command(hide = true)]
    Boot(boot_cmd::BootArgs),
    /// Start a Gofer serving a container's mounts (internal).
    #[command(hide = true)]
    Gofer(gofer_cmd::GoferArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Do(args) => do_cmd::run(args),
        Command::Boot(args) => boot_cmd::run(args),
        Command::Gofer(args) => gofer_cmd::run(args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("moat: {e:#}");
            std::process::exit(1);
        }
    }
}
