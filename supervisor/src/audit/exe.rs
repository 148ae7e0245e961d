//! The `pid` and `executable` of a record, read once per process image
//! instead of once per request (issue 20: `readlink /proc/<tid>/exe` was
//! the largest cost `--log` added to the request path).
//!
//! A process's main thread (its tid is its pid) is remembered with a pidfd
//! and the executable read at its first request.  A later request of the
//! same tid takes them from here when:
//!
//! * the pidfd's process still exists (`pidfd_send_signal(…, 0)`), and the
//!   request's notification is still pending afterwards (`ID_VALID`, as
//!   before): both held the pid at once, so they are the same task — the
//!   tid was not reused by another process;
//! * no exec of that process was received since the executable was read
//!   (an exec is a trapped call whenever the log is on: the request
//!   `exec`).  While an exec of the process is being answered nothing of it
//!   is cached (its image may change at any moment); its record closes once
//!   the exec is done (verified at the exec event, or refused) and the next
//!   request reads the new image.  An exec let through unverified
//!   (`use_slave_credentials`: CONTINUE) changes the image after its record
//!   closes: that process is never cached again.
//!
//! What is not seen: `prctl(PR_SET_MM, PR_SET_MM_EXE_FILE)` (a process with
//! `CAP_SYS_RESOURCE` in its user namespace, once it has unmapped its
//! image) points `/proc/<pid>/exe` at another file without an exec; the
//! record then names the image the process was started with (docs/audit.md).
//!
//! Other threads (tid ≠ pid) are read as before, per request.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;

/// Processes remembered at most (each holds a pidfd): beyond, all are
/// forgotten.
const MAX: usize = 128;

struct Known {
    pidfd: OwnedFd,
    exe: Option<Arc<[u8]>>,
}

/// What [`Cache::lookup`] found.
pub enum Found {
    /// The process's executable, if it is known and still that process's
    /// (valid once the notification is checked pending afterwards).
    Hit(Option<Arc<[u8]>>),
    /// Read it; [`Cache::fill`] with this ticket may keep it.
    Miss(Ticket),
}

/// A fill allowed only if no exec came in between.
pub struct Ticket {
    epoch: u64,
}

#[derive(Default)]
pub struct Cache {
    known: HashMap<u32, Known>,
    /// Execs received and not yet closed, per process (`u32::MAX`: a
    /// process not known, which stops every fill).
    execs: HashMap<u32, u32>,
    /// The exec notifications open, and their process.
    exec_of: HashMap<u64, u32>,
    /// Those let through with the thread seized and verified at the exec
    /// event (closed once the exec is done).
    verified: HashSet<u64>,
    /// Processes let exec unverified: never cached.
    never: HashSet<u32>,
    /// Bumped at each exec received or closed.
    epoch: u64,
}

/// A process not known (its tgid unreadable).
const UNKNOWN: u32 = u32::MAX;

impl Cache {
    /// Request `id` of thread `tid` arrived (not an exec).
    pub fn lookup(&mut self, tid: u32) -> Found {
        let ticket = Ticket { epoch: self.epoch };
        let Some(k) = self.known.get(&tid) else {
            return Found::Miss(ticket);
        };
        match kernel::sys::pidfd_send_signal(k.pidfd.as_fd(), 0) {
            // EPERM: it exists, the supervisor may not signal it.
            Ok(()) | Err(Errno::EPERM) => Found::Hit(k.exe.clone()),
            Err(_) => {
                self.known.remove(&tid);
                Found::Miss(ticket)
            }
        }
    }

    /// May `tid`'s executable be kept?  Then a pidfd of it, to be taken
    /// before the notification is checked pending (so that it is that
    /// thread's process).
    pub fn wants(&self, tid: u32, t: &Ticket) -> Option<OwnedFd> {
        if !self.fillable(tid, t) {
            return None;
        }
        // A main thread only: pidfd_open of another thread fails (EINVAL)
        // on the kernels without PIDFD_THREAD, and means its process on
        // none; the pid is then read from /proc as before.
        kernel::sys::pidfd_open(tid as i32).ok()
    }

    fn fillable(&self, tid: u32, t: &Ticket) -> bool {
        t.epoch == self.epoch
            && !self.execs.contains_key(&tid)
            && !self.execs.contains_key(&UNKNOWN)
            && !self.never.contains(&tid)
    }

    /// Keeps what was read for `tid` (a main thread: its pid is `tid`),
    /// with the pidfd [`Cache::wants`] gave, if no exec came since.
    pub fn fill(&mut self, tid: u32, t: &Ticket, pidfd: OwnedFd, exe: Option<Arc<[u8]>>) {
        if !self.fillable(tid, t) {
            return;
        }
        if self.known.len() >= MAX {
            self.known.clear();
        }
        self.known.insert(tid, Known { pidfd, exe });
    }

    /// Exec notification `id` of process `pid` (`None`: unreadable)
    /// arrived: its image may change until its record closes.
    pub fn exec_received(&mut self, id: u64, pid: Option<u32>) {
        let p = pid.unwrap_or(UNKNOWN);
        self.epoch += 1;
        *self.execs.entry(p).or_default() += 1;
        self.exec_of.insert(id, p);
        self.forget(p);
    }

    /// Exec notification `id` is answered by verifying it at its exec
    /// event: its record closes once the image is the new one (or the
    /// exec failed).
    pub fn exec_verified(&mut self, id: u64) {
        if self.exec_of.contains_key(&id) {
            self.verified.insert(id);
        }
    }

    /// The record of notification `id` closed; `continued`: it was let
    /// through (CONTINUE), so an exec not verified may happen later.
    pub fn closed(&mut self, id: u64, continued: bool) {
        let Some(p) = self.exec_of.remove(&id) else {
            return;
        };
        let unverified = continued && !self.verified.remove(&id);
        self.epoch += 1;
        if let Some(n) = self.execs.get_mut(&p) {
            *n -= 1;
            if *n == 0 {
                self.execs.remove(&p);
            }
        }
        self.forget(p);
        if unverified {
            if p == UNKNOWN {
                // Which process is not known: none is cached any more.
                self.execs.insert(UNKNOWN, 1);
            } else {
                self.never.insert(p);
            }
        }
    }

    fn forget(&mut self, p: u32) {
        if p == UNKNOWN {
            self.known.clear();
        } else {
            self.known.remove(&p);
        }
    }
}
