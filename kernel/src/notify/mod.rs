//! The listener: receiving notifications and answering them.
//!
//! This is the kernel interface only: the answer module is the one module
//! that sends answers through it (exactly one per notification, each
//! recorded for the audit log).

pub mod sys;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

pub use sys::Notif;

/// The supervisor's end of the notify filter.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    /// The credentials of its threads, read once each when the filter
    /// watches every change of them (`crate::creds::cache`).
    creds: crate::creds::cache::Cache,
}

impl Listener {
    pub fn new(fd: OwnedFd) -> Self {
        // Synchronous wake-ups keep the round trip on one CPU (Linux 6.6);
        // an older kernel only loses speed.
        let _ = sys::set_flags(fd.as_fd(), sys::FD_SYNC_WAKE_UP);
        Listener {
            fd,
            creds: Default::default(),
        }
    }

    /// The credentials of the notifying threads read so far (a cache that
    /// is disabled unless the filter watches every credential change).
    pub fn credentials(&self) -> &crate::creds::cache::Cache {
        &self.creds
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

    /// `SECCOMP_IOCTL_NOTIF_SEND`: the call returns `val`, or fails with
    /// `-error`, or (with [`sys::FLAG_CONTINUE`]) goes on in the kernel.
    /// `Err(ENOENT)`: the thread is gone.  Only the answer module answers.
    pub fn send(&self, id: u64, val: i64, error: i32, flags: u32) -> Result<(), Errno> {
        sys::send(self.fd(), id, val, error, flags)
    }

    /// `SECCOMP_IOCTL_NOTIF_ADDFD`: installs a duplicate of `fd` in the
    /// program (at number `at`, replacing what was there, or at the lowest
    /// free number); with `send`, its number is also the call's answer.
    /// Returns the number.  Only the answer module installs.
    pub fn addfd(
        &self,
        id: u64,
        fd: BorrowedFd,
        at: Option<u32>,
        cloexec: bool,
        send: bool,
    ) -> Result<i32, Errno> {
        sys::addfd(self.fd(), id, fd, at, cloexec, send)
    }
}
