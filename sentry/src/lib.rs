//! moat's Sentry: a Linux kernel in user space.
//!
//! Not written yet: the layers of `docs/architecture.md` (arch, platform,
//! mm, auth, vfs, kernel, fs, net, syscalls) arrive with the Sentry core
//! issue. Until then this crate only re-exports the Gofer client it will use.

pub use moat_gofer::GoferClient;
