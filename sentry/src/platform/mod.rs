//! Platforms: run application code until it traps, with the registers in
//! hand. A platform knows nothing of tasks.

pub mod ptrace;
