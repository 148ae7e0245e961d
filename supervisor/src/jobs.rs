//! Work done off the request loop whose result comes back to it.
//!
//! A slave filter that forwarded a call waits for its result: when the
//! master's answer is work that may block (opening a FIFO, a blocking
//! connect, a name lookup upstream), the work runs on a blocking thread
//! and its result is queued here, under the token the caller chose; the
//! request loop returns it as `Event::Done` (session.rs).  Other
//! requests go on meanwhile.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::answer::Outcome;
use libc_service::GaiError;

/// What a job produced.
pub enum Done {
    /// The outcome of a call done for the program.
    Outcome(Outcome),
    /// The addresses of a name looked up upstream.
    Lookup(Result<Vec<IpAddr>, GaiError>),
}

/// A job: runs on a blocking thread.
pub type Job = Box<dyn FnOnce() -> Done + Send>;

struct Shared {
    queue: Mutex<VecDeque<(u64, Done)>>,
    /// Readable exactly while `queue` is not empty.
    wake: EventFd,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The finished jobs, waiting for the request loop.
#[derive(Clone)]
pub struct Jobs(Arc<Shared>);

impl Jobs {
    pub fn new() -> Result<Jobs, Errno> {
        Ok(Jobs(Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            wake: EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        })))
    }

    /// Queues the result of job `token`.
    pub fn finish(&self, token: u64, done: Done) {
        let mut q = lock(&self.0.queue);
        q.push_back((token, done));
        let _ = self.0.wake.write(1);
    }

    /// The next finished job, if any.
    pub fn try_recv(&self) -> Option<(u64, Done)> {
        let mut q = lock(&self.0.queue);
        let _ = self.0.wake.read(); // EAGAIN when already empty
        let d = q.pop_front();
        if !q.is_empty() {
            let _ = self.0.wake.write(1);
        }
        d
    }

    /// Readable (POLLIN) while finished jobs wait in [`Jobs::try_recv`].
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.0.wake.as_fd()
    }
}
