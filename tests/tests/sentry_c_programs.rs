//! Differential tests with small C programs (`tests/c/*.c`), each about one
//! area and printing what it sees: built `-static` with gcc, run natively
//! and under `moat do`, same stdout and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moat_tests::differential::shell_status;
use moat_tests::*;

/// A scratch directory the sandbox sees, removed when dropped: not under
/// /tmp or /dev/shm, which are the sandbox's own private tmpfs mounts (and
/// a clone of this repository may well be under /tmp).
fn visible_scratch(tag: &str) -> Scratch {
    Scratch::new_in(Path::new("/var/tmp"), tag)
}

/// Builds `tests/c/NAME.c` into `dir`.
fn build(name: &str, dir: &Scratch) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(format!("{name}.c"));
    let out = dir.path().join(format!("c-{name}"));
    let status = Command::new("gcc")
        .args(["-static", "-O1", "-w", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("run gcc (tests/run.sh installs it)");
    assert!(status.success(), "gcc {}", src.display());
    out
}

/// Runs a command built in place (with no input).
fn run(cmd: &mut Command) -> Output {
    let mut owned = Command::new(cmd.get_program());
    owned.args(cmd.get_args());
    moat_tests::differential::run(owned, b"")
}

fn same_as_native(name: &str) {
    let dir = visible_scratch(name);
    let bin = build(name, &dir);
    let native = run(&mut Command::new(&bin));
    // Under a shell, so the program is not the sandbox's init (pid 1 ignores
    // signals it has no handler for, which `init_ignores_...` checks).
    let script = format!("{}; exit $?", bin.display());
    let moat = run(Command::new(moat_bin()).args(["do", "--", "/bin/busybox", "sh", "-c", &script]));
    let show = |o: &Output| format!("{:?}\n{}", o.status, String::from_utf8_lossy(&o.stdout));
    assert!(
        native.stdout == moat.stdout && shell_status(&native) == shell_status(&moat),
        "{name} differs\n--- native {}\n--- moat {}\n--- moat stderr\n{}",
        show(&native),
        show(&moat),
        String::from_utf8_lossy(&moat.stderr)
    );
}

#[test]
fn sigsegv_handlers_see_the_fault() {
    same_as_native("sig_segv");
}

#[test]
fn handler_flags_masks_fp_state_and_altstack() {
    same_as_native("sig_handlers");
}

#[test]
fn fork_exec_wait_and_orphans() {
    same_as_native("fork_wait");
}

#[test]
fn pipes_between_processes() {
    same_as_native("pipes");
}

#[test]
fn memory_mappings_and_brk() {
    same_as_native("memory");
}

#[test]
fn file_call_errors() {
    same_as_native("file_errors");
}

#[test]
fn timers_sleeps_and_fd_limits() {
    same_as_native("timers");
}

#[test]
fn sigwait_sigqueue_select_madvise_mremap_getdents() {
    same_as_native("misc_calls");
}

#[test]
fn stop_continue_and_wait_statuses() {
    same_as_native("job_control");
}

#[test]
fn exec_arguments_environment_auxv_and_errors() {
    same_as_native("exec_args");
}

#[test]
fn descriptor_duplication_and_close_on_exec() {
    same_as_native("fds");
}

#[test]
fn process_groups_and_sessions() {
    same_as_native("sessions");
}

#[test]
fn signals_during_fork_and_wait() {
    same_as_native("signal_storm");
}

#[test]
fn file_size_limit_brk_and_maps() {
    same_as_native("limits");
}

#[test]
fn sa_restart_and_eintr() {
    same_as_native("restart");
}

#[test]
fn zombies_until_reaped() {
    same_as_native("zombies");
}

#[test]
fn reads_writes_holes_append_truncate() {
    same_as_native("files_rw");
}

#[test]
fn directories_and_their_errors() {
    same_as_native("dirs");
}

#[test]
fn symlinks_loops_and_dangling_links() {
    same_as_native("symlinks");
}

#[test]
fn fork_copies_memory() {
    same_as_native("cow");
}

#[test]
fn scripts_and_interpreters() {
    same_as_native("scripts");
}

#[test]
fn umask_modes_and_times() {
    same_as_native("times_modes");
}

#[test]
fn poll_on_pipes() {
    same_as_native("poll_pipes");
}

#[test]
fn ids_limits_cpus_and_uname() {
    same_as_native("sysinfo");
}

#[test]
fn text_file_busy() {
    same_as_native("txtbsy");
}

#[test]
fn wild_pointers_get_linuxs_answers() {
    same_as_native("wild_pointers");
}

#[test]
fn init_ignores_its_own_signals_without_a_handler() {
    // As the init of a PID namespace on Linux: SIGTERM from inside with no
    // handler does nothing, a handler still runs, and a fault still kills.
    let out = run(Command::new(moat_bin()).args([
        "do",
        "--",
        "/bin/busybox",
        "sh",
        "-c",
        "kill -TERM $$; echo survived; trap 'echo handled' USR1; kill -USR1 $$",
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "survived\nhandled\n");
    assert_eq!(out.status.code(), Some(0));
    let dir = visible_scratch("init");
    let bin = build("sig_segv", &dir);
    let out = run(Command::new(moat_bin()).arg("do").arg("--").arg(&bin));
    assert_eq!(shell_status(&out), Some(139), "a fault kills init");
}

#[test]
fn ppoll_pselect_masks_and_sa_nocldstop() {
    same_as_native("sigmask_waits");
}

#[test]
fn cpu_time_and_peak_memory_accounting() {
    same_as_native("cpu_usage");
}

#[test]
fn virtual_and_profiling_interval_timers() {
    same_as_native("cpu_timers");
}

#[test]
fn flock_locks_belong_to_open_files() {
    same_as_native("flock");
}

#[test]
fn openat2_how_checks_and_resolve_restrictions() {
    same_as_native("openat2");
}

#[test]
fn positioned_vectored_reads_and_writes() {
    same_as_native("vectored_io");
}

#[test]
fn pseudo_terminals_and_their_line_discipline() {
    same_as_native("ptys");
}

#[test]
fn no_new_privs_is_set_once_and_kept() {
    same_as_native("no_new_privs");
}

#[test]
fn posix_message_queues() {
    same_as_native("mqueue");
}

#[test]
fn file_mappings_share_the_files_pages() {
    same_as_native("mmap_files");
}

#[test]
fn eventfd_timerfd_and_epoll() {
    same_as_native("event_objects");
}

#[test]
fn sendfile_splice_tee_copy_file_range_fallocate_getcpu() {
    same_as_native("transfers");
}

#[test]
fn prctl_death_signal_subreaper_dumpable_slack() {
    same_as_native("prctl_misc");
}

#[test]
fn unix_socketpairs_and_descriptor_passing() {
    same_as_native("unix_sockets");
}

#[test]
fn named_unix_sockets_bind_listen_accept_connect() {
    same_as_native("unix_named");
}

#[test]
fn fcntl_record_locks_between_processes() {
    same_as_native("record_locks");
}

#[test]
fn fifos_between_processes() {
    same_as_native("fifos");
}

#[test]
fn scheduling_policies_and_robust_list_head() {
    same_as_native("sched_calls");
}

#[test]
fn signalfd_reads_pending_signals() {
    same_as_native("signalfd");
}

#[test]
fn inotify_sees_the_sandboxs_changes() {
    same_as_native("inotify");
}

#[test]
fn clone3_and_posix_spawn() {
    same_as_native("clone3");
}

#[test]
fn time_through_the_vdso() {
    same_as_native("vdso");
}

#[test]
fn setting_ids_as_root_and_as_a_user() {
    same_as_native("set_ids");
}

#[test]
fn threads_create_join_detach_once_and_tls() {
    same_as_native("threads_basic");
}

#[test]
fn threads_mutexes_condvars_barriers_rwlocks_semaphores() {
    same_as_native("threads_sync");
}

#[test]
fn futex_wait_wake_requeue_wake_op_bitsets_private_and_shared() {
    same_as_native("futex_ops");
}

#[test]
fn futex_priority_inheritance_locks() {
    same_as_native("futex_pi");
}

#[test]
fn robust_mutexes_between_threads_and_processes() {
    same_as_native("robust_mutex");
}

#[test]
fn thread_directed_signals_and_per_thread_masks() {
    same_as_native("thread_signals");
}

#[test]
fn exit_of_a_thread_versus_the_process() {
    same_as_native("thread_exit");
}

#[test]
fn execve_and_fork_from_a_thread() {
    same_as_native("thread_exec");
}

#[test]
fn raw_clone_of_threads_and_shared_memory_processes() {
    same_as_native("thread_clone_raw");
}

#[test]
fn threads_blocked_in_io_are_woken_in_turn() {
    same_as_native("threads_io");
}

#[test]
fn credentials_and_capabilities_through_set_ids_capset_prctl_and_execve() {
    same_as_native("caps_ids");
}

#[test]
fn chown_chmod_and_kill_are_checked_against_credentials() {
    same_as_native("cap_checks");
}

#[test]
fn file_access_follows_mode_bits_owners_and_capabilities() {
    same_as_native("dac_access");
}

#[test]
fn the_clock_is_set_only_with_sys_time_and_only_to_now() {
    same_as_native("clock_set");
}
