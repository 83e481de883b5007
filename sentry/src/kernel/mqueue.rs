//! POSIX message queues, kept in the Sentry: named queues of prioritised
//! messages. A queue's descriptor is a host eventfd that is readable while
//! messages wait, so poll and select see a queue as Linux shows it (a full
//! queue is still reported writable: the eventfd cannot say "full").

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;

/// Linux's MQ_PRIO_MAX.
pub const PRIO_MAX: u32 = 32768;
/// Linux's HARD_MSGMAX and HARD_MSGSIZEMAX.
const HARD_MSGMAX: i64 = 65536;
const HARD_MSGSIZEMAX: i64 = 16 << 20;
/// Defaults of a queue made without attributes (msg_default, msgsize_default).
pub const DEFAULT_MAXMSG: i64 = 10;
/// See [`DEFAULT_MAXMSG`].
pub const DEFAULT_MSGSIZE: i64 = 8192;

/// A registration of mq_notify: who gets which signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify {
    /// The registered process.
    pub pid: i32,
    /// Signal to send (0 for SIGEV_NONE).
    pub signo: i32,
    /// `sigev_value`.
    pub value: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Messages by (highest priority first, then arrival).
    msgs: BTreeMap<(std::cmp::Reverse<u32>, u64), Vec<u8>>,
    seq: u64,
    notify: Option<Notify>,
    receivers_waiting: usize,
}

/// One queue.
#[derive(Debug)]
pub struct MessageQueue {
    /// Most messages.
    pub maxmsg: i64,
    /// Largest message.
    pub msgsize: i64,
    state: Mutex<State>,
    changed: Condvar,
    ready: OwnedFd,
}

/// Why a wait on a queue ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The call's errno.
    Errno(Errno),
}

impl From<Errno> for QueueError {
    fn from(e: Errno) -> Self {
        QueueError::Errno(e)
    }
}

/// What the caller's wait checks between naps: a signal pending for it.
pub trait Interrupt {
    /// Whether a signal the caller does not block is pending.
    fn pending(&self) -> bool;
}

impl MessageQueue {
    fn new(maxmsg: i64, msgsize: i64) -> Result<Arc<Self>, Errno> {
        let ready = nix::sys::eventfd::EventFd::from_value_and_flags(
            0,
            nix::sys::eventfd::EfdFlags::EFD_CLOEXEC | nix::sys::eventfd::EfdFlags::EFD_NONBLOCK,
        )?;
        Ok(Arc::new(MessageQueue {
            maxmsg,
            msgsize,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            ready: ready.into(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A descriptor for a new open of the queue (readable while it holds
    /// messages).
    pub fn descriptor(&self) -> Result<OwnedFd, Errno> {
        self.ready.try_clone().map_err(|_| Errno::EMFILE)
    }

    fn set_readable(&self, readable: bool) {
        if readable {
            let _ = nix::unistd::write(self.ready.as_fd(), &1u64.to_ne_bytes());
        } else {
            let mut b = [0u8; 8];
            let _ = nix::unistd::read(&self.ready, &mut b);
        }
    }

    /// Messages waiting.
    pub fn current(&self) -> i64 {
        self.lock().msgs.len() as i64
    }

    /// Bytes of the messages waiting (QSIZE in /dev/mqueue).
    pub fn current_bytes(&self) -> i64 {
        self.lock().msgs.values().map(|m| m.len() as i64).sum()
    }

    /// The queue's status line, as a read of it (or of /dev/mqueue/NAME)
    /// shows it.
    pub fn status_text(&self) -> String {
        let (how, signo, pid) = match self.notification() {
            Some(n) if n.signo > 0 => (0, n.signo, n.pid),
            Some(n) => (1, 0, n.pid),
            None => (0, 0, 0),
        };
        format!("QSIZE:{:<10} NOTIFY:{how:<5} SIGNO:{signo:<5} NOTIFY_PID:{pid:<6}\n", self.current_bytes())
    }

    /// The registered notification, for /dev/mqueue.
    pub fn notification(&self) -> Option<Notify> {
        self.lock().notify
    }

    /// Waits on `state` until `ready` holds, the deadline passes
    /// (ETIMEDOUT), or a signal comes (EINTR); never when `nonblocking`
    /// (EAGAIN).
    fn wait_until<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        nonblocking: bool,
        deadline: Option<Instant>,
        intr: &dyn Interrupt,
        ready: impl Fn(&State) -> bool,
    ) -> Result<MutexGuard<'a, State>, QueueError> {
        while !ready(&state) {
            if nonblocking {
                return Err(Errno::EAGAIN.into());
            }
            if intr.pending() {
                return Err(Errno::EINTR.into());
            }
            let nap = Duration::from_millis(10);
            let nap = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Errno::ETIMEDOUT.into());
                    }
                    left.min(nap)
                }
                None => nap,
            };
            state = self.changed.wait_timeout(state, nap).unwrap_or_else(|p| p.into_inner()).0;
        }
        Ok(state)
    }

    /// Adds a message; returns the notification to send, if the queue was
    /// empty with a registration and no receiver waiting (it is then
    /// removed, as Linux removes it).
    pub fn send(
        &self,
        msg: Vec<u8>,
        prio: u32,
        nonblocking: bool,
        deadline: Option<Instant>,
        intr: &dyn Interrupt,
    ) -> Result<Option<Notify>, QueueError> {
        if msg.len() as i64 > self.msgsize {
            return Err(Errno::EMSGSIZE.into());
        }
        if prio >= PRIO_MAX {
            return Err(Errno::EINVAL.into());
        }
        let max = self.maxmsg as usize;
        let mut s = self.wait_until(self.lock(), nonblocking, deadline, intr, |s| s.msgs.len() < max)?;
        let was_empty = s.msgs.is_empty();
        let seq = s.seq;
        s.seq += 1;
        s.msgs.insert((std::cmp::Reverse(prio), seq), msg);
        let notify = if was_empty && s.receivers_waiting == 0 { s.notify.take() } else { None };
        drop(s);
        if was_empty {
            self.set_readable(true);
        }
        self.changed.notify_all();
        Ok(notify)
    }

    /// Takes the oldest message of the highest priority into a buffer of
    /// `room` bytes: (message, priority).
    pub fn receive(
        &self,
        room: usize,
        nonblocking: bool,
        deadline: Option<Instant>,
        intr: &dyn Interrupt,
    ) -> Result<(Vec<u8>, u32), QueueError> {
        if (room as i64) < self.msgsize {
            return Err(Errno::EMSGSIZE.into());
        }
        let mut s = self.lock();
        s.receivers_waiting += 1;
        let waited = self.wait_until(s, nonblocking, deadline, intr, |s| !s.msgs.is_empty());
        let mut s = match waited {
            Ok(s) => s,
            Err(e) => {
                self.lock().receivers_waiting -= 1;
                return Err(e);
            }
        };
        s.receivers_waiting -= 1;
        let Some((key, msg)) = s.msgs.pop_first() else { return Err(Errno::EAGAIN.into()) };
        let empty = s.msgs.is_empty();
        drop(s);
        if empty {
            self.set_readable(false);
        }
        self.changed.notify_all();
        Ok((msg, key.0.0))
    }

    /// mq_notify: registers `n`, or with None removes `pid`'s registration.
    pub fn set_notify(&self, pid: i32, n: Option<Notify>) -> Result<(), Errno> {
        let mut s = self.lock();
        match n {
            None => {
                if s.notify.is_some_and(|r| r.pid == pid) {
                    s.notify = None;
                }
                Ok(())
            }
            Some(_) if s.notify.is_some() => Err(Errno::EBUSY),
            Some(n) => {
                s.notify = n.into();
                Ok(())
            }
        }
    }
}

/// The sandbox's queues by name.
#[derive(Debug, Default)]
pub struct MessageQueues {
    names: Mutex<HashMap<Vec<u8>, Arc<MessageQueue>>>,
}

/// Checks a queue name as the mq_open system call gets it (without the
/// leading slash glibc removes).
pub fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name == b"." || name == b".." {
        return Err(Errno::ENOENT);
    }
    if name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    Ok(())
}

impl MessageQueues {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Arc<MessageQueue>>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// mq_open's lookup and creation: `create` is (maxmsg, msgsize) when
    /// O_CREAT is given (None: the defaults).
    pub fn open(
        &self,
        name: &[u8],
        create: Option<Option<(i64, i64)>>,
        exclusive: bool,
    ) -> Result<Arc<MessageQueue>, Errno> {
        check_name(name)?;
        let mut names = self.lock();
        if let Some(q) = names.get(name) {
            if create.is_some() && exclusive {
                return Err(Errno::EEXIST);
            }
            return Ok(q.clone());
        }
        let Some(attr) = create else { return Err(Errno::ENOENT) };
        let (maxmsg, msgsize) = attr.unwrap_or((DEFAULT_MAXMSG, DEFAULT_MSGSIZE));
        if maxmsg <= 0 || msgsize <= 0 || maxmsg > HARD_MSGMAX || msgsize > HARD_MSGSIZEMAX {
            return Err(Errno::EINVAL);
        }
        let q = MessageQueue::new(maxmsg, msgsize)?;
        names.insert(name.to_vec(), q.clone());
        Ok(q)
    }

    /// mq_unlink.
    pub fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        check_name(name)?;
        self.lock().remove(name).map(drop).ok_or(Errno::ENOENT)
    }

    /// The queues, for /dev/mqueue.
    pub fn list(&self) -> Vec<(Vec<u8>, Arc<MessageQueue>)> {
        let mut v: Vec<_> = self.lock().iter().map(|(n, q)| (n.clone(), q.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Never;
    impl Interrupt for Never {
        fn pending(&self) -> bool {
            false
        }
    }

    #[test]
    fn messages_come_out_by_priority_then_order() {
        let qs = MessageQueues::default();
        let q = qs.open(b"q", Some(Some((4, 16))), true).unwrap();
        assert_eq!(qs.open(b"q", Some(None), true).err(), Some(Errno::EEXIST));
        assert_eq!(qs.open(b"none", None, false).err(), Some(Errno::ENOENT));
        assert_eq!(qs.open(b"a/b", None, false).err(), Some(Errno::EACCES));
        for (m, p) in [(&b"low"[..], 1), (b"high1", 5), (b"high2", 5), (b"mid", 3)] {
            q.send(m.to_vec(), p, true, None, &Never).unwrap();
        }
        assert_eq!(q.send(b"x".to_vec(), 0, true, None, &Never), Err(QueueError::Errno(Errno::EAGAIN)), "full");
        assert_eq!(q.send(vec![0; 17], 0, true, None, &Never), Err(QueueError::Errno(Errno::EMSGSIZE)));
        let order: Vec<Vec<u8>> = (0..4).map(|_| q.receive(16, true, None, &Never).unwrap().0).collect();
        assert_eq!(order, [b"high1".to_vec(), b"high2".to_vec(), b"mid".to_vec(), b"low".to_vec()]);
        assert_eq!(q.receive(16, true, None, &Never), Err(QueueError::Errno(Errno::EAGAIN)));
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(q.receive(16, false, Some(soon), &Never), Err(QueueError::Errno(Errno::ETIMEDOUT)));
        qs.unlink(b"q").unwrap();
        assert_eq!(qs.unlink(b"q"), Err(Errno::ENOENT));
    }
}
