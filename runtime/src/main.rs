//! `moat`: the one binary users install. The OCI runtime commands follow
//! runc's command line; `moat do` runs a command in a sandbox with no
//! bundle; `moat boot` and `moat gofer` are the hidden entry points of the
//! Sentry and Gofer processes.

mod boot_cmd;
mod do_cmd;
mod fds;
mod gofer_cmd;
mod oci;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "moat", version, about = "moat: a sandboxed OCI container runtime", args_override_self = true)]
struct Cli {
    /// Directory of container state.
    #[arg(long, global = true, default_value = "/run/moat")]
    root: PathBuf,
    /// Log file for errors and warnings (standard error by default).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// More logging.
    #[arg(long, global = true)]
    debug: bool,
    /// cgroupsPath is systemd's slice:prefix:name.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Platform that runs application code.
    #[arg(long, global = true, default_value = "ptrace", value_parser = ["ptrace"])]
    platform: String,
    /// Networking: none (loopback only; inet sockets come later).
    #[arg(long, global = true, default_value = "none", value_parser = ["none"])]
    network: String,
    /// Log every system call of the sandbox to the debug log.
    #[arg(long, global = true)]
    strace: bool,
    /// Directory for the Sentry's debug log (sentry.log; with --strace, every call).
    #[arg(long, global = true)]
    debug_log: Option<PathBuf>,
    /// Overlay over the root file system: memory keeps every change in the
    /// sandbox's memory, never on the host.
    #[arg(long, global = true, default_value = "none", value_parser = ["none", "memory"])]
    overlay: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct CreateArgs {
    /// Bundle directory (default: the current directory).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Unix socket to send the terminal's master end to.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// File to write the sandbox's host pid to.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Accepted for runc compatibility (moat has no pivot_root to skip).
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for runc compatibility (no session keyring is made).
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass this many descriptors after the standard streams (3, 4, …) on
    /// to the container's process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Container id.
    id: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a sandbox over the host's root (read-only) or a rootfs.
    Do(do_cmd::DoArgs),
    /// Create a container from a bundle; init waits for start.
    Create(CreateArgs),
    /// Start a created container's init.
    Start {
        /// Container id.
        id: String,
    },
    /// Create and start a container, and wait for it unless --detach.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once started.
        #[arg(short, long)]
        detach: bool,
    },
    /// Run a new process in a running container.
    Exec {
        /// The process as OCI process JSON.
        #[arg(short, long)]
        process: Option<PathBuf>,
        /// Return once started (a child process waits for it).
        #[arg(short, long)]
        detach: bool,
        /// File to write the waiting process's pid to.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Allocate a terminal.
        #[arg(short, long)]
        tty: bool,
        /// Unix socket to send the terminal's master end to.
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Working directory.
        #[arg(long)]
        cwd: Option<String>,
        /// Environment variable, K=V.
        #[arg(short, long)]
        env: Vec<String>,
        /// UID[:GID].
        #[arg(short, long)]
        user: Option<String>,
        /// Capabilities to add (applied with the security context issue).
        #[arg(short, long)]
        cap: Vec<String>,
        /// Start the process with no_new_privs set.
        #[arg(long)]
        no_new_privs: bool,
        /// Container id.
        id: String,
        /// Command and arguments (without --process).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print a container's OCI state.
    State {
        /// Container id.
        id: String,
    },
    /// Send a signal to a container's init (or every process with --all).
    Kill {
        /// Every process of the container.
        #[arg(short, long)]
        all: bool,
        /// Container id.
        id: String,
        /// Signal name or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything it left.
    Delete {
        /// Kill it first if it runs.
        #[arg(short, long)]
        force: bool,
        /// Container id.
        id: String,
    },
    /// List containers.
    List {
        /// table or json.
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Ids only.
        #[arg(short, long)]
        quiet: bool,
    },
    /// The host processes of a container.
    Ps {
        /// table or json.
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Container id.
        id: String,
        /// ps options (accepted; the table is moat's own).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause {
        /// Container id.
        id: String,
    },
    /// Thaw a paused container.
    Resume {
        /// Container id.
        id: String,
    },
    /// Change a running container's resource limits.
    Update {
        /// Memory limit in bytes.
        #[arg(long)]
        memory: Option<i64>,
        /// CPU shares (relative weight).
        #[arg(long)]
        cpu_shares: Option<u64>,
        /// CFS quota in microseconds.
        #[arg(long)]
        cpu_quota: Option<i64>,
        /// CFS period in microseconds.
        #[arg(long)]
        cpu_period: Option<u64>,
        /// Most processes.
        #[arg(long)]
        pids_limit: Option<i64>,
        /// OCI resources JSON file (- for standard input).
        #[arg(short, long)]
        resources: Option<String>,
        /// Container id.
        id: String,
    },
    /// Print a container's resource usage as JSON events.
    Events {
        /// Print the stats once and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats (5s, 500ms).
        #[arg(long, default_value = "5s", value_parser = oci::control_cmds::parse_interval)]
        interval: std::time::Duration,
        /// Container id.
        id: String,
    },
    /// Write a default config.json for a bundle.
    Spec {
        /// Bundle directory.
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print the OCI features document.
    Features,
    /// Register moat as a docker runtime in daemon.json.
    Install {
        /// docker's daemon configuration.
        #[arg(long, default_value = "/etc/docker/daemon.json")]
        config_file: PathBuf,
        /// Runtime name for `docker run --runtime=NAME`.
        #[arg(long, default_value = "moat")]
        runtime: String,
        /// Flags docker passes to moat before each command (runtimeArgs).
        #[arg(last = true)]
        runtime_args: Vec<String>,
    },
    /// Remove moat's runtime entry from docker's daemon.json.
    Uninstall {
        /// docker's daemon configuration.
        #[arg(long, default_value = "/etc/docker/daemon.json")]
        config_file: PathBuf,
        /// Runtime name.
        #[arg(long, default_value = "moat")]
        runtime: String,
    },
    /// Start a Sentry (internal).
    #[command(hide = true)]
    Boot(boot_cmd::BootArgs),
    /// Start a Gofer serving a container's mounts (internal).
    #[command(hide = true)]
    Gofer(gofer_cmd::GoferArgs),
}

impl CreateArgs {
    fn request(&self) -> anyhow::Result<oci::create::CreateRequest<'_>> {
        Ok(oci::create::CreateRequest {
            preserve_fds: self.preserve_fds,
            id: &self.id,
            bundle: &self.bundle,
            pid_file: self.pid_file.as_deref(),
            console_socket: self.console_socket.as_deref(),
        })
    }
}

fn run(cli: Cli, g: &oci::Global) -> anyhow::Result<i32> {
    match cli.command {
        Command::Do(args) => {
            let globals = do_cmd::Debugging { strace: g.strace, debug_log: g.debug_log.clone(), overlay: g.overlay };
            do_cmd::run(args, &globals)
        }
        Command::Boot(args) => boot_cmd::run(args),
        Command::Gofer(args) => gofer_cmd::run(args),
        Command::Create(a) => oci::create::create(g, &a.request()?).map(|_| 0),
        Command::Start { id } => oci::commands::start(g, &id).map(|()| 0),
        Command::Run { create, detach } => oci::commands::run(g, &create.request()?, detach),
        Command::Exec {
            process,
            detach,
            pid_file,
            tty,
            console_socket,
            cwd,
            env,
            user,
            cap,
            no_new_privs,
            id,
            command,
        } => {
            if !cap.is_empty() {
                g.warn(&format!("{id}: exec --cap is not enforced yet"));
            }
            let req = oci::exec::ExecRequest {
                id,
                process_file: process,
                args: command,
                detach,
                pid_file,
                tty,
                console_socket,
                cwd,
                env,
                user,
                no_new_privs,
            };
            oci::exec::exec(g, &req)
        }
        Command::State { id } => oci::commands::state(g, &id).map(|()| 0),
        Command::Kill { all, id, signal } => oci::commands::kill_cmd(g, &id, &signal, all).map(|()| 0),
        Command::Delete { force, id } => oci::commands::delete(g, &id, force).map(|()| 0),
        Command::List { format, quiet } => oci::commands::list(g, format == "json", quiet).map(|()| 0),
        Command::Pause { id } => oci::control_cmds::pause(g, &id).map(|()| 0),
        Command::Resume { id } => oci::control_cmds::resume(g, &id).map(|()| 0),
        Command::Update { memory, cpu_shares, cpu_quota, cpu_period, pids_limit, resources, id } => {
            let f = oci::control_cmds::UpdateFlags { memory, cpu_shares, cpu_quota, cpu_period, pids_limit, resources };
            oci::control_cmds::update(g, &id, &f).map(|()| 0)
        }
        Command::Events { stats, interval, id } => oci::control_cmds::events(g, &id, stats, interval).map(|()| 0),
        Command::Spec { bundle } => oci::spec_cmd::spec(&bundle).map(|()| 0),
        Command::Features => oci::spec_cmd::features().map(|()| 0),
        Command::Install { config_file, runtime, runtime_args } => {
            oci::install::install(&config_file, &runtime, &runtime_args).map(|()| 0)
        }
        Command::Uninstall { config_file, runtime } => oci::install::uninstall(&config_file, &runtime).map(|()| 0),
        Command::Ps { format, id, .. } => oci::commands::ps(g, &id, format == "json").map(|()| 0),
    }
}

/// `moat boot` or `moat gofer` from their arguments (argv[0] first) in a
/// child forked from another moat command instead of exec'd: what `main`
/// would do, returning the exit status.
pub(crate) fn run_internal(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("moat: {e}");
            return 1;
        }
    };
    let g = global(&cli);
    match run(cli, &g) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moat: {e:#}");
            1
        }
    }
}

fn global(cli: &Cli) -> oci::Global {
    oci::Global {
        root: cli.root.clone(),
        log: cli.log.clone(),
        log_json: cli.log_format == "json",
        debug: cli.debug,
        systemd_cgroup: cli.systemd_cgroup,
        strace: cli.strace,
        debug_log: cli.debug_log.clone(),
        overlay: cli.overlay == "memory",
    }
}

fn main() {
    let cli = Cli::parse();
    let g = global(&cli);
    let _ = (&cli.platform, &cli.network);
    let internal = matches!(cli.command, Command::Do(_) | Command::Boot(_) | Command::Gofer(_));
    match run(cli, &g) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            if !internal && g.log.is_some() {
                g.log("error", &format!("{e:#}"));
            }
            eprintln!("moat: {e:#}");
            std::process::exit(1);
        }
    }
}
