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

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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

    /// `openat2(dir, name, {flags, mode, resolve})` with this authority.
    /// As the program, an open that creates nothing is performed by the
    /// calling thread through an io_uring personality of the program's
    /// credentials (`kernel::creds::uring`: no hand-off to an acting
    /// thread) if `plain`: the caller knows the entry was a regular file,
    /// a directory, a symlink or missing (the kernel's inline try adds
    /// `O_NONBLOCK`, taken off the file after, which a device or FIFO
    /// open may heed); otherwise, and whenever io_uring is not to be had,
    /// as [`Authority::run`] does.
    pub fn openat2(
        &self,
        dir: BorrowedFd,
        name: &CStr,
        (flags, mode, resolve): (i32, u32, u64),
        plain: bool,
    ) -> Result<OwnedFd, Errno> {
        if let (Authority::Program(c), true) = (self, plain) {
            if let Some(r) = creds::uring::openat2_as(c, dir, name, flags, mode, resolve) {
                return r;
            }
        }
        self.run(|| kernel::sys::openat2(dir, name, flags, mode, resolve))
    }

    /// `stat(dir, name, flags)` with this authority, `stat` being the call
    /// (fstatat or statx) given the directory, name and flags to use.  As
    /// the program, the stat of an entry (`AT_SYMLINK_NOFOLLOW`) is a
    /// lookup as the program through an io_uring personality
    /// ([`kernel::creds::uring::lookup_as`]: the one permission a stat
    /// checks, search on `dir`) and `stat` of what it found
    /// (`AT_EMPTY_PATH`) by the calling thread; `is_dir`: the entry was a
    /// directory when resolved (its lookup then triggers an automount as
    /// the stat would, unless `AT_NO_AUTOMOUNT`).  Otherwise, and whenever
    /// io_uring is not to be had, as [`Authority::run`] does.
    pub fn stat<T: Send>(
        &self,
        dir: BorrowedFd,
        name: &CStr,
        flags: i32,
        is_dir: bool,
        stat: impl Fn(BorrowedFd, &CStr, i32) -> Result<T, Errno> + Send + Sync,
    ) -> Result<T, Errno> {
        if let Authority::Program(c) = self {
            if flags & libc::AT_EMPTY_PATH == 0 && flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
                let directory = is_dir && flags & libc::AT_NO_AUTOMOUNT == 0;
                if let Some(r) = creds::uring::lookup_as(c, dir, name, directory) {
                    let found = r?;
                    return stat(found.as_fd(), c"", flags | libc::AT_EMPTY_PATH);
                }
            }
        }
        self.run(|| stat(dir, name, flags))
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
