//! supervisor: run a program under a seccomp user-notification filter
//! whose requests a Lua policy answers.
//!
//! The data path (docs/architecture.md): [`session`] receives a
//! notification and runs the one request loop, [`request`] decodes it (one
//! copy of each argument, see `kernel::memory`), a strategy decides ([`policy`]:
//! the Lua master loop, slave filters, the spec's default; [`learn`]),
//! [`act`] carries out the verdict (resolving paths with [`resolve`]),
//! [`answer`] sends the one answer through `kernel::notify`, and [`audit`]
//! records it (`--log`, `--summary`).  [`launch`] starts the program with
//! the filter from the `bpf` crate; [`run`] is the run's context and how
//! it ends.

pub mod act;
pub mod agent;
pub mod answer;
pub mod audit;
pub mod cli;
pub mod dns;
pub mod doctor;
pub mod doorbell;
pub mod exit;
pub mod fuzzing;
pub mod idmap;
pub mod jobctl;
pub mod jobs;
pub mod launch;
pub mod learn;
pub mod own;
pub mod pending;
pub mod policy;
pub mod reap;
pub mod request;
pub mod resolve;
pub mod run;
pub mod session;
pub mod stubs;
