//! supervisor: run a program under a seccomp user-notification filter
//! whose requests a Lua policy answers.
//!
//! The data path: [`session`] receives a notification, [`request`] decodes
//! it (one copy of each argument, see [`memory`]), [`policy`] decides,
//! [`act`] performs (resolving paths with [`resolve`]), and [`notify`]
//! answers.  [`launch`] starts the program with the filter from the `bpf`
//! crate.  [`audit`] records every request (`--log`, `--summary`).

pub mod act;
pub mod audit;
pub mod dns;
pub mod doorbell;
pub mod exit;
pub mod fuzzing;
pub mod interrupt;
pub mod jobs;
pub mod launch;
pub mod learn;
pub mod memory;
pub mod notify;
pub mod own;
pub mod pending;
pub mod policy;
pub mod reap;
pub mod request;
pub mod resolve;
pub mod session;
pub mod sys;
pub mod task;
