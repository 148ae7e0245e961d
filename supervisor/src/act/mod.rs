//! Acting with the supervisor's authority (`use_master_credentials`):
//! exactly the request the policy saw, on the objects resolved for it.

pub mod dns;
mod file;
pub mod listen;
pub mod net;
pub mod stat;

use std::os::fd::OwnedFd;

use nix::errno::Errno;

use crate::pending::Pending;

pub use file::{fd_stat, stat_values};

/// What to answer.
pub enum Outcome {
    /// The call returns this value.
    Value(i64),
    /// The call fails with this errno.
    Fail(Errno),
    /// Install this descriptor in the program; the call returns its number.
    Fd { fd: OwnedFd, cloexec: bool },
    /// Work that may block (opening a FIFO or a device): run it off the
    /// request loop, then answer with its outcome.
    Blocking(Box<dyn FnOnce() -> Outcome + Send>),
    /// A signal interrupted blocking work done for the call: the kernel
    /// restarts the call or fails it with EINTR, as for its own calls
    /// (`-ERESTARTSYS`; see `interrupt`).
    Restart,
    /// The notification is gone (thread died or was killed): no answer.
    Gone,
}

impl From<Result<(), Errno>> for Outcome {
    fn from(r: Result<(), Errno>) -> Self {
        match r {
            Ok(()) => Outcome::Value(0),
            Err(Errno::ESRCH) => Outcome::Gone,
            Err(e) => Outcome::Fail(e),
        }
    }
}

impl Outcome {
    /// A failure because the notification is gone is no answer at all.
    pub fn normalize(self) -> Outcome {
        match self {
            Outcome::Fail(Errno::ESRCH) => Outcome::Gone,
            o => o,
        }
    }
}

/// Performs `p` with the supervisor's authority.
pub fn perform(p: &mut Pending) -> Outcome {
    let r = match p.req.args {
        crate::request::Args::Socket { .. } => net::perform(p),
        _ => file::perform(p),
    };
    match r {
        Ok(o) => o,
        Err(Errno::ESRCH) => Outcome::Gone,
        Err(e) => Outcome::Fail(e),
    }
}
