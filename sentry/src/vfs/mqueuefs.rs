//! /dev/mqueue: the sandbox's message queues as files, each reading as
//! Linux's mqueue file system shows one.

use std::sync::Arc;

use nix::errno::Errno;

use super::synth::{SynthFs, SynthNode};
use crate::kernel::mqueue::MessageQueues;

/// `f_type` of the mqueue file system (MQUEUE_MAGIC).
const MAGIC: u64 = 0x1980_0202;

/// The message queue file system.
#[derive(Debug)]
pub struct MqueueFs {
    /// The queues it shows.
    pub queues: Arc<MessageQueues>,
}

impl SynthFs for MqueueFs {
    fn lookup(&self, rel: &[Vec<u8>]) -> Result<SynthNode, Errno> {
        match rel {
            [] => {
                let mut entries = vec![(b".".to_vec(), libc::DT_DIR), (b"..".to_vec(), libc::DT_DIR)];
                entries.extend(self.queues.list().into_iter().map(|(n, _)| (n, libc::DT_REG)));
                Ok(SynthNode::Dir(entries))
            }
            [name] => {
                let (_, q) = self.queues.list().into_iter().find(|(n, _)| n == name).ok_or(Errno::ENOENT)?;
                Ok(SynthNode::File(q.status_text().into_bytes()))
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn magic(&self) -> u64 {
        MAGIC
    }
}
