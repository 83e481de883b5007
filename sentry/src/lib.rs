//! moat's Sentry: a Linux kernel in user space.
//!
//! Layers, bottom up, as in `docs/architecture.md`: `arch` (registers and
//! ABI), `platform` (running application code in stubs), `mm` (address
//! spaces), `loader` (ELF), `vfs` (paths in the sandbox's tree), `kernel`
//! (tasks, execve, the run loop) and `syscalls` (the table). See
//! `docs/architecture.md` for what each does so far.

pub mod arch;
pub mod kernel;
pub mod loader;
pub mod mm;
pub mod platform;
pub mod syscalls;
pub mod vfs;

pub use moat_gofer::GoferClient;
