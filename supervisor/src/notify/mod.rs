//! The listener: receiving notifications and answering them.
//!
//! Every notification gets exactly one answer.  [`Listener`] answers by id;
//! the session makes sure each id is answered once.  Every answer is
//! recorded here for the audit log; once the log has failed, nothing is
//! answered any more (the run is ending, see [`crate::audit`]).

pub mod sys;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use crate::audit::{self, Answered};

pub use sys::Notif;

/// The supervisor's end of the notify filter.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl Listener {
    pub fn new(fd: OwnedFd) -> Self {
        // Synchronous wake-ups keep the round trip on one CPU (Linux 6.6);
        // an older kernel only loses speed.
        let _ = sys::set_flags(fd.as_fd(), sys::FD_SYNC_WAKE_UP);
        Listener { fd }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Receives one notification.  `Ok(None)` when the notifying thread
    /// vanished between poll and receive (nothing to answer).
    pub fn recv(&self) -> Result<Option<Notif>, Errno> {
        loop {
            match sys::recv(self.fd()) {
                Ok(n) => return Ok(Some(n)),
                Err(Errno::EINTR) => continue,
                Err(Errno::ENOENT) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    pub fn id_valid(&self, id: u64) -> bool {
        sys::id_valid(self.fd(), id)
    }

    /// The call returns `val`.
    pub fn reply_value(&self, id: u64, val: i64) {
        if audit::stopped() {
            return;
        }
        let sent = Self::ignore_gone(sys::send(self.fd(), id, val, 0, 0));
        audit::answered(id, Answered::Value(val), sent);
    }

    /// The call fails with `errno`.
    pub fn reply_errno(&self, id: u64, errno: Errno) {
        let e = if errno as i32 == 0 {
            Errno::EPERM
        } else {
            errno
        };
        if audit::stopped() {
            return;
        }
        let sent = Self::ignore_gone(sys::send(self.fd(), id, 0, -(e as i32), 0));
        audit::answered(id, Answered::Errno(e as i32), sent);
    }

    /// The call was interrupted by a signal: `-ERESTARTSYS`, which the
    /// kernel turns into a restart or EINTR when it delivers the signal.
    /// Only for a thread whose signal-pending flag is certainly set.
    pub fn reply_restart(&self, id: u64) {
        const ERESTARTSYS: i32 = 512;
        if audit::stopped() {
            return;
        }
        let sent = Self::ignore_gone(sys::send(self.fd(), id, 0, -ERESTARTSYS, 0));
        audit::answered(id, Answered::Interrupted, sent);
    }

    /// The kernel runs the call itself, with the program's credentials.
    pub fn reply_continue(&self, id: u64) {
        if audit::stopped() {
            return;
        }
        let sent = Self::ignore_gone(sys::send(self.fd(), id, 0, 0, sys::FLAG_CONTINUE));
        audit::answered(id, Answered::Continue, sent);
    }

    /// Installs a duplicate of `fd` in the program; returns its number there.
    pub fn inject(&self, id: u64, fd: BorrowedFd, cloexec: bool) -> Result<i32, Errno> {
        sys::addfd(self.fd(), id, fd, None, cloexec, false)
    }

    /// Installs a duplicate of `fd` in the program and answers the call
    /// with its number there, in one step (`SECCOMP_ADDFD_FLAG_SEND`: no
    /// second wake-up of the thread, and no window in which the descriptor
    /// is installed but the call unanswered).  On an error the call is
    /// still unanswered.
    pub fn inject_reply(&self, id: u64, fd: BorrowedFd, cloexec: bool) -> Result<i32, Errno> {
        if audit::stopped() {
            return Ok(-1);
        }
        let r = sys::addfd(self.fd(), id, fd, None, cloexec, true);
        if let Ok(n) = r {
            audit::answered(id, Answered::Value(n.into()), true);
        }
        r
    }

    /// Installs a duplicate of `fd` in the program at number `at`,
    /// replacing what was there (`SECCOMP_ADDFD_FLAG_SETFD`).
    pub fn inject_at(&self, id: u64, fd: BorrowedFd, at: i32, cloexec: bool) -> Result<i32, Errno> {
        let at = u32::try_from(at).map_err(|_| Errno::EBADF)?;
        sys::addfd(self.fd(), id, fd, Some(at), cloexec, false)
    }

    /// Whether the answer reached the thread.
    fn ignore_gone(r: Result<(), Errno>) -> bool {
        // ENOENT: the thread died or was killed meanwhile; its call has no
        // one left to return to.  Anything else is a supervisor bug, but
        // still not a reason to crash the sandbox.
        if let Err(e) = r {
            if e != Errno::ENOENT {
                eprintln!("supervisor: answering a notification failed: {e}");
            }
            return false;
        }
        true
    }
}
