//! Whose authority a performed call uses: the supervisor's own
//! (`use_master_credentials`, the capability-broker pattern) or the
//! program's (`use_program_credentials`: the program thread's fsuid, fsgid,
//! groups, effective capabilities and real/effective ids, taken by the
//! acting thread for the one syscall that touches the object; see
//! [`kernel::creds`]).
//!
//! Any act arm applies it the same way: read [`Authority::of`] before the
//! notification is settled (the credentials come from `/proc/<tid>/status`),
//! then wrap exactly the syscall that acts on the resolved object in
//! [`Authority::run`].  Reading the program's memory, `/proc/<tid>` and
//! writing results stay the supervisor's own work.

use std::sync::Arc;

use nix::errno::Errno;

use kernel::creds::{self, Creds};
use kernel::task::Task;

/// The identity a performed call is checked and done with.
#[derive(Clone, Debug)]
pub enum Authority {
    /// The supervisor's own credentials.
    Supervisor,
    /// The program thread's credentials (read for this notification).
    Program(Arc<Creds>),
}

impl Authority {
    /// The program's authority for `task`'s notification; the caller
    /// settles the notification before acting.
    pub fn program(task: &mut Task) -> Result<Authority, Errno> {
        Ok(Authority::Program(task.creds()?))
    }

    /// Runs `f` with this authority.  As the program: on the calling
    /// thread, switched for the length of `f` and back; if the thread
    /// cannot take the program's credentials `f` is not run and the call
    /// fails with EPERM (never acts with the wrong identity).
    pub fn run<T>(&self, f: impl FnOnce() -> Result<T, Errno>) -> Result<T, Errno> {
        match self {
            Authority::Supervisor => f(),
            Authority::Program(c) => match creds::run_as(c, f) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("supervisor: cannot act as the program: {e}");
                    Err(Errno::EPERM)
                }
            },
        }
    }

    /// This authority with capability `cap` added to the program's
    /// effective set (the supervisor's own authority is unchanged).
    pub fn with_capability(&self, cap: u32) -> Authority {
        match self {
            Authority::Supervisor => Authority::Supervisor,
            Authority::Program(c) => {
                let mut c = Creds::clone(c);
                c.cap_eff |= 1u64 << cap;
                Authority::Program(Arc::new(c))
            }
        }
    }

    pub fn is_program(&self) -> bool {
        matches!(self, Authority::Program(_))
    }
}
