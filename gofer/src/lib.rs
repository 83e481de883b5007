//! moat's Gofer: the process that serves one container's files to the
//! Sentry, and the protocol between them.
//!
//! The Sentry never opens a host path. It asks the Gofer, over a
//! `SOCK_SEQPACKET` socketpair, to walk, stat, create or open files one
//! component at a time; the Gofer answers with handles it holds as `O_PATH`
//! descriptors and, for `open` and `create`, donates a descriptor of that one
//! file. Symlinks come back as data for the Sentry to resolve inside the
//! sandbox's own tree. See `docs/gofer.md` for the design.

pub mod client;
mod fileops;
pub mod hostfs;
pub mod inherit;
pub mod names;
pub mod protocol;
pub mod reply;
pub mod sandbox;
pub mod server;
pub mod transport;
pub mod wire;

pub use client::{ClientError, GoferClient};
pub use protocol::{HandleId, Owner, Request, SetAttr, TimeSet};
pub use reply::{DirBatch, DirEntry, Node, Stat, StatFs, WalkReply, XattrData};
pub use server::{MountSpec, Server, ServerConfig, ServerError};
