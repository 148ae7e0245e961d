//! What is trapped.
//!
//! `supervisor` intercepts a fixed set of syscalls, the ones through which a
//! program exercises ambient authority over the file system (and, later,
//! the network).  This crate owns that set:
//!
//! * [`syscalls`]: the table of trapped syscalls by name, resolved to the
//!   numbers of an architecture with libseccomp, and the reverse map used by
//!   the supervisor to decode a notification;
//! * [`filter`]: generation of the classic-BPF program (libseccomp) that
//!   sends the mapped calls to the supervisor and kills foreign ABIs;
//! * [`creds`]: the calls through which a thread changes its own
//!   credentials, trapped so that credentials read once stay trusted;
//! * [`untrapped`]: the calls of the table a policy leaves to the
//!   kernel (`Trapped::AllBut`);
//! * [`posture`]: the calls that reach files or sockets without a mapped
//!   call, refused by that filter unless the user trusts the program;
//! * [`sys`]: loading that program with `seccomp(2)` and the flags Debian's
//!   libseccomp 2.5 cannot set (`NEW_LISTENER | WAIT_KILLABLE_RECV`);
//! * [`builder`]: filters for init scripts (a default action plus
//!   per-syscall actions), compiled to raw bytes.

pub mod builder;
pub mod creds;
pub mod doc;
pub mod families;
pub mod filter;
pub mod known;
pub mod posture;
mod prologue;
pub mod sys;
pub mod syscalls;
pub mod untrapped;

pub use families::Families;
pub use filter::{notify_filter, Posture, Program, Trapped};
pub use syscalls::{Sys, SyscallMap};
pub use untrapped::{Untrap, Untrapped};

/// Errors of this crate: one variant per failing step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("libseccomp: cannot create a filter context: {0}")]
    Context(#[source] libseccomp::error::SeccompError),
    #[error("libseccomp: cannot set filter attribute {attr}: {source}")]
    Attribute {
        attr: &'static str,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("libseccomp: cannot add a rule for syscall {name}: {source}")]
    Rule {
        name: &'static str,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("libseccomp: cannot export the BPF program: {0}")]
    Export(#[source] libseccomp::error::SeccompError),
    #[error("cannot create a buffer for the BPF program: {0}")]
    Buffer(#[source] std::io::Error),
    #[error("libseccomp produced a malformed BPF program ({0} bytes)")]
    Malformed(usize),
    #[error("unknown syscall name {0:?} (not a syscall of this architecture)")]
    UnknownSyscall(String),
    #[error("libseccomp: cannot add a rule for syscall {name}: {source}")]
    BuilderRule {
        name: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("the posture does not support the architecture {0:?} (x86_64 and aarch64 only)")]
    Architecture(libseccomp::ScmpArch),
    #[error("errno {errno} for {name:?} is out of range (1..=4095)")]
    BadErrno { name: String, errno: i32 },
}
