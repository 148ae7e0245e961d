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
    /// The program thread's credentials (read for this notification),
    /// taken by an acting thread that keeps them ([`kernel::creds::run_as`]).
    Program(Arc<Creds>),
    /// The same, taken by the calling thread itself for the call
    /// ([`Authority::here`]).
    ProgramHere(Arc<Creds>),
}

impl Authority {
    /// The program's authority for `task`'s notification; the caller
    /// settles the notification before acting.
    pub fn program(task: &mut Task) -> Result<Authority, Errno> {
        Ok(Authority::Program(task.creds()?))
    }

    /// Runs `f` with this authority.  As the program: on an acting thread
    /// that holds the program's credentials (the caller waits; see
    /// [`kernel::creds::run_as`]), or with [`Authority::here`] on the
    /// calling thread, switched for the length of `f` and back.  If no
    /// thread can take the program's credentials `f` is not run and the
    /// call fails with EPERM (never acts with the wrong identity).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> Result<T, Errno> + Send) -> Result<T, Errno> {
        let r = match self {
            Authority::Supervisor => return f(),
            Authority::Program(c) => creds::run_as(c, f),
            Authority::ProgramHere(c) => creds::run_here(c, f),
        };
        r.unwrap_or_else(|e| {
            eprintln!("supervisor: cannot act as the program: {e}");
            Err(Errno::EPERM)
        })
    }

    /// This authority exercised by the calling thread itself: for work
    /// bound to that thread (its working directory), and for blocking work
    /// (a signal to the program's thread interrupts the thread doing it).
    pub fn here(&self) -> Authority {
        match self {
            Authority::Supervisor => Authority::Supervisor,
            Authority::Program(c) | Authority::ProgramHere(c) => Authority::ProgramHere(c.clone()),
        }
    }

    /// This authority with capability `cap` added to the program's
    /// effective set (the supervisor's own authority is unchanged).
    pub fn with_capability(&self, cap: u32) -> Authority {
        match self {
            Authority::Supervisor => Authority::Supervisor,
            Authority::Program(c) | Authority::ProgramHere(c) => {
                let mut n = Creds::clone(c);
                n.cap_eff |= 1u64 << cap;
                let n = Arc::new(n);
                match self {
                    Authority::ProgramHere(_) => Authority::ProgramHere(n),
                    _ => Authority::Program(n),
                }
            }
        }
    }

    pub fn is_program(&self) -> bool {
        matches!(self, Authority::Program(_) | Authority::ProgramHere(_))
    }
}
