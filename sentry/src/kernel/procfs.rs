//! The sandbox's /proc: its own processes only, and system files whose
//! figures are the host's or moat's own (never the host's processes).
//!
//! Per-process files read [`ProcInfo`], which tasks keep current at start,
//! exec, chdir and PR_SET_NAME, and whose descriptor list a task copies
//! when it makes a call on a /proc path. Not yet: maps, fdinfo and the other
//! per-process files the glibc workloads issue lists.

use std::cell::Cell;
use std::sync::{Mutex, OnceLock, Weak};

use nix::errno::Errno;

use super::Kernel;
use super::process::ProcState;
use crate::vfs::synth::{SynthFs, SynthNode};

/// `f_type` of procfs (PROC_SUPER_MAGIC).
const PROC_MAGIC: u64 = 0x9fa0;

thread_local! {
    /// The task this Sentry thread runs (one task per thread).
    static CURRENT: Cell<i32> = const { Cell::new(0) };
}

/// Records that this Sentry thread runs task `tid` ("self" in /proc).
pub fn set_current(tid: i32) {
    CURRENT.with(|c| c.set(tid));
}

fn current() -> i32 {
    CURRENT.with(|c| c.get())
}

/// What /proc shows of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// `comm`.
    pub comm: Vec<u8>,
    /// argv, each followed by a NUL.
    pub cmdline: Vec<u8>,
    /// Executable path.
    pub exe: Vec<u8>,
    /// Working directory.
    pub cwd: Vec<u8>,
    /// Open descriptors and what they name, as of the process's last
    /// call on a /proc path.
    pub fds: Vec<(i32, Vec<u8>)>,
    /// /proc/PID/maps, as of the same moment.
    pub maps: Vec<u8>,
    /// The environment it was exec'd with, each string followed by a NUL.
    pub environ: Vec<u8>,
    /// /proc/PID/limits text, as of its last call on a /proc path.
    pub limits: Vec<u8>,
    /// Real user and group id, as of the same moment.
    pub ids: (u32, u32),
    /// Credentials as /proc/PID/status shows them.
    pub creds: super::Creds,
    /// Each descriptor's status flags and position (fdinfo).
    pub fdinfo: Vec<(i32, i32, u64)>,
    /// The host pid of its stub (whose memory figures are the process's).
    pub stub_pid: i32,
    /// Its auxiliary vector.
    pub auxv: Vec<u8>,
}

/// The process information of the live and zombie processes, by pid.
#[derive(Debug, Default)]
pub struct ProcInfos {
    infos: Mutex<std::collections::HashMap<i32, ProcInfo>>,
}

impl ProcInfos {
    /// Sets what /proc shows of `pid`.
    pub fn set(&self, pid: i32, info: ProcInfo) {
        self.infos.lock().unwrap_or_else(|p| p.into_inner()).insert(pid, info);
    }

    /// Changes what /proc shows of `pid`.
    pub fn update(&self, pid: i32, f: impl FnOnce(&mut ProcInfo)) {
        if let Some(i) = self.infos.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&pid) {
            f(i);
        }
    }

    /// Forgets `pid` (reaped).
    pub fn remove(&self, pid: i32) {
        self.infos.lock().unwrap_or_else(|p| p.into_inner()).remove(&pid);
    }

    /// The credentials process `pid` last published.
    pub fn creds(&self, pid: i32) -> Option<super::Creds> {
        self.infos.lock().unwrap_or_else(|p| p.into_inner()).get(&pid).map(|i| i.creds.clone())
    }

    /// A copy of what /proc shows of `pid`.
    pub fn get_copy(&self, pid: i32) -> Option<ProcInfo> {
        self.get(pid)
    }

    fn get(&self, pid: i32) -> Option<ProcInfo> {
        self.infos.lock().unwrap_or_else(|p| p.into_inner()).get(&pid).cloned()
    }
}

/// The process file system.
#[derive(Debug, Default)]
pub struct ProcFs {
    kernel: OnceLock<Weak<Kernel>>,
}

impl ProcFs {
    /// Points it at its kernel (made after the VFS that mounts it).
    pub fn attach(&self, k: &super::KernelRef) {
        let _ = self.kernel.set(std::sync::Arc::downgrade(k));
    }

    fn kernel(&self) -> Result<std::sync::Arc<Kernel>, Errno> {
        self.kernel.get().and_then(Weak::upgrade).ok_or(Errno::ENOENT)
    }
}

fn dir(names: &[(&str, u8)]) -> SynthNode {
    let mut e = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
    e.extend(names.iter().map(|(n, t)| (n.as_bytes().to_vec(), *t)));
    SynthNode::Dir(e)
}

fn host_file(path: &str) -> Result<SynthNode, Errno> {
    std::fs::read(path).map(SynthNode::File).map_err(|_| Errno::ENOENT)
}

const PID_FILES: [(&str, u8); 19] = [
    ("auxv", libc::DT_REG),
    ("fd", libc::DT_DIR),
    ("fdinfo", libc::DT_DIR),
    ("task", libc::DT_DIR),
    ("environ", libc::DT_REG),
    ("limits", libc::DT_REG),
    ("statm", libc::DT_REG),
    ("mounts", libc::DT_REG),
    ("mountinfo", libc::DT_REG),
    ("cgroup", libc::DT_REG),
    ("oom_score_adj", libc::DT_REG),
    ("loginuid", libc::DT_REG),
    ("maps", libc::DT_REG),
    ("stat", libc::DT_REG),
    ("status", libc::DT_REG),
    ("cmdline", libc::DT_REG),
    ("comm", libc::DT_REG),
    ("exe", libc::DT_LNK),
    ("cwd", libc::DT_LNK),
];

impl ProcFs {
    fn root(&self, k: &Kernel) -> SynthNode {
        let mut e =
            vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR), (b"self".to_vec(), libc::DT_LNK)];
        for f in ["meminfo", "cpuinfo", "uptime", "loadavg", "version", "mounts", "filesystems", "stat"] {
            e.push((f.as_bytes().to_vec(), libc::DT_REG));
        }
        e.push((b"sys".to_vec(), libc::DT_DIR));
        e.extend(k.procs().pids().map(|p| (p.to_string().into_bytes(), libc::DT_DIR)));
        SynthNode::Dir(e)
    }

    fn system_file(&self, k: &Kernel, name: &[u8]) -> Result<SynthNode, Errno> {
        Ok(match name {
            b"meminfo" => host_file("/proc/meminfo")?,
            b"cpuinfo" => host_file("/proc/cpuinfo")?,
            b"uptime" => host_file("/proc/uptime")?,
            b"loadavg" => {
                let host = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
                let loads: Vec<&str> = host.split_whitespace().take(3).collect();
                let procs = k.procs();
                let last = procs.pids().max().unwrap_or(1);
                let n = procs.pids().count();
                SynthNode::File(format!("{} 1/{n} {last}\n", loads.join(" ")).into_bytes())
            }
            b"version" => {
                SynthNode::File(format!("Linux version {} (moat) #1 SMP moat\n", super::RELEASE).into_bytes())
            }
            b"mounts" => SynthNode::File(super::procfs_sys::MOUNTS.to_vec()),
            b"stat" => host_file("/proc/stat")?,
            b"sys" => super::procfs_sys::lookup(k, &[])?,
            b"filesystems" => SynthNode::File(b"nodev\tproc\nnodev\ttmpfs\nnodev\tdevtmpfs\n\t9p\n".to_vec()),
            _ => return Err(Errno::ENOENT),
        })
    }

    /// Whether `name` is a thread id of process `pid`.
    fn thread_of(&self, k: &Kernel, pid: i32, name: &[u8]) -> bool {
        std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .is_some_and(|t| threads_of(k, pid).contains(&t))
    }

    fn pid_file(&self, k: &Kernel, pid: i32, name: &[u8]) -> Result<SynthNode, Errno> {
        let proc = *k.procs().get(pid).ok_or(Errno::ENOENT)?;
        let info = k.proc_infos.get(pid).unwrap_or_default();
        let state = match proc.state {
            ProcState::Running => ("S", "sleeping"),
            ProcState::Zombie(_) => ("Z", "zombie"),
        };
        let comm = String::from_utf8_lossy(&info.comm).into_owned();
        let threads = threads_of(k, pid);
        Ok(match name {
            b"" => dir(&PID_FILES),
            b"cmdline" => SynthNode::File(info.cmdline),
            b"maps" => SynthNode::File(info.maps),
            b"comm" => SynthNode::File(format!("{comm}\n").into_bytes()),
            b"exe" => SynthNode::Symlink(info.exe),
            b"fd" => {
                let mut e = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                e.extend(info.fds.iter().map(|(fd, _)| (fd.to_string().into_bytes(), libc::DT_LNK)));
                SynthNode::Dir(e)
            }
            b"cwd" => SynthNode::Symlink(info.cwd),
            b"environ" => SynthNode::File(info.environ),
            b"auxv" => SynthNode::File(info.auxv),
            b"limits" => SynthNode::File(info.limits),
            b"statm" => host_file(&format!("/proc/{}/statm", info.stub_pid))
                .unwrap_or(SynthNode::File(b"0 0 0 0 0 0 0\n".to_vec())),
            b"mounts" => SynthNode::File(super::procfs_sys::MOUNTS.to_vec()),
            b"mountinfo" => SynthNode::File(super::procfs_sys::mountinfo()),
            b"cgroup" => SynthNode::File(b"0::/\n".to_vec()),
            b"oom_score_adj" => SynthNode::File(b"0\n".to_vec()),
            b"loginuid" => SynthNode::File(b"4294967295".to_vec()),
            b"task" => {
                let mut e = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                e.extend(threads.iter().map(|t| (t.to_string().into_bytes(), libc::DT_DIR)));
                SynthNode::Dir(e)
            }
            b"fdinfo" => {
                let mut e = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                e.extend(info.fdinfo.iter().map(|(fd, _, _)| (fd.to_string().into_bytes(), libc::DT_REG)));
                SynthNode::Dir(e)
            }
            b"stat" => {
                // The 52 fields of proc_pid_stat(5); times and memory are
                // not accounted yet.
                let mut f = format!("{pid} ({comm}) {} {} {} {} 0 -1 4194560", state.0, proc.ppid, proc.pgid, proc.sid);
                f.push_str(&" 0".repeat(4)); // minflt..cmajflt
                f.push_str(&" 0".repeat(4)); // utime..cstime
                // priority nice threads itreal starttime vsize rss
                f.push_str(&format!(" 20 0 {} 0 0 0 0", threads.len()));
                f.push_str(&" 0".repeat(52 - 24));
                f.push('\n');
                SynthNode::File(f.into_bytes())
            }
            b"status" => SynthNode::File(status_text(&comm, pid, state, proc.ppid, &info.creds, threads.len())),
            _ => return Err(Errno::ENOENT),
        })
    }
}

impl SynthFs for ProcFs {
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
        let k = self.kernel()?;
        match rel {
            [] => Ok(self.root(&k)),
            [first, rest @ ..] => {
                if first.as_slice() == b"self" {
                    return match rest {
                        [] => Ok(SynthNode::Symlink(current().to_string().into_bytes())),
                        _ => {
                            let mut path = vec![current().to_string().into_bytes()];
                            path.extend(rest.iter().cloned());
                            self.lookup(&path)
                        }
                    };
                }
                let pid = std::str::from_utf8(first).ok().and_then(|s| s.parse::<i32>().ok());
                match (pid, rest) {
                    (Some(pid), []) => self.pid_file(&k, pid, b""),
                    (Some(pid), [name]) => self.pid_file(&k, pid, name),
                    (Some(pid), [d, n]) if d.as_slice() == b"fdinfo" => {
                        let info = k.proc_infos.get(pid).ok_or(Errno::ENOENT)?;
                        let fd = std::str::from_utf8(n).ok().and_then(|s| s.parse::<i32>().ok());
                        let (_, flags, pos) =
                            info.fdinfo.iter().find(|(f, _, _)| Some(*f) == fd).ok_or(Errno::ENOENT)?;
                        Ok(SynthNode::File(format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t0\n").into_bytes()))
                    }
                    (Some(pid), [d, t, more @ ..]) if d.as_slice() == b"task" && self.thread_of(&k, pid, t) => {
                        // A thread's files are its process's.
                        let mut path = vec![pid.to_string().into_bytes()];
                        path.extend(more.iter().cloned());
                        self.lookup(&path)
                    }
                    (Some(pid), [d, n]) if d.as_slice() == b"fd" => {
                        let info = k.proc_infos.get(pid).ok_or(Errno::ENOENT)?;
                        let fd = std::str::from_utf8(n).ok().and_then(|s| s.parse::<i32>().ok());
                        info.fds
                            .iter()
                            .find(|(f, _)| Some(*f) == fd)
                            .map(|(_, p)| SynthNode::Symlink(p.clone()))
                            .ok_or(Errno::ENOENT)
                    }
                    (Some(_), _) => Err(Errno::ENOENT),
                    (None, []) => self.system_file(&k, first),
                    (None, rest) if first.as_slice() == b"sys" => super::procfs_sys::lookup(&k, rest),
                    (None, _) => Err(Errno::ENOTDIR),
                }
            }
        }
    }

    fn magic(&self) -> u64 {
        PROC_MAGIC
    }
}

/// The thread ids of process `pid`, its own first (listed until the
/// process ends, as Linux lists an exited leader).
fn threads_of(k: &Kernel, pid: i32) -> Vec<i32> {
    let mut t = vec![pid];
    if let Some(g) = k.group(pid) {
        t.extend(g.tids().into_iter().filter(|&x| x != pid));
    }
    t
}

/// /proc/PID/status: identity, ids, threads, capabilities.
fn status_text(comm: &str, pid: i32, state: (&str, &str), ppid: i32, c: &super::Creds, threads: usize) -> Vec<u8> {
    let groups: Vec<String> = c.groups.iter().map(u32::to_string).collect();
    let k = &c.caps;
    format!(
        "Name:\t{comm}\nUmask:\t0022\nState:\t{} ({})\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\n\
         TracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t64\nGroups:\t{} \nThreads:\t{threads}\n\
         CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\nCapAmb:\t{:016x}\n\
         NoNewPrivs:\t{}\nSeccomp:\t0\n",
        state.0,
        state.1,
        c.ruid,
        c.uid,
        c.suid,
        c.fsuid,
        c.rgid,
        c.gid,
        c.sgid,
        c.fsgid,
        groups.join(" "),
        k.inheritable,
        k.permitted,
        k.effective,
        k.bounding,
        k.ambient,
        u8::from(c.no_new_privs),
    )
    .into_bytes()
}
