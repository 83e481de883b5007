//! moat's Sentry: a Linux kernel in user space.
//!
//! Layers, bottom up, as in `docs/architecture.md`: `arch` (registers and
//! ABI), `platform` (running application code in stubs). The layers above
//! (mm, vfs, kernel, fs, syscalls) are being built.

pub mod arch;
pub mod mm;
pub mod platform;

pub use moat_gofer::GoferClient;
