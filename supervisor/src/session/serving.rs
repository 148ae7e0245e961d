//! Serving threads: more than one thread receiving and answering the
//! requests a policy decides without Lua (`rules.run`).
//!
//! Each serving thread blocks in its own `SECCOMP_IOCTL_NOTIF_RECV` on the
//! run's listener; the kernel hands each notification to exactly one
//! receiver, so a request is served by one thread only, from receipt to
//! answer.  The thread runs the same front as the main thread
//! ([`Front::dispatch`]: one copy of every argument, `ID_VALID` after it)
//! and the policy's Lua-free decision ([`Decide`]: decide on the shared,
//! immutable rule set, act, answer).  The main thread keeps receiving
//! too, and keeps everything that is not Lua-free or that it owns:
//! whatever a serving thread cannot finish it hands to the main thread
//! ([`Handoff`], woken through the doorbell):
//! - socket calls (the DNS stub, the names given for addresses);
//! - execs (answered by the thread that seizes the program's thread, and
//!   the main thread reaps: both must be the same thread);
//! - anything the decision leaves to the policy's Lua.
//!
//! Blocking work (a FIFO open, a connect) never runs on a serving thread:
//! the answer module runs it on a blocking thread as before.  A program
//! thread makes one call at a time and waits for its answer, so the order
//! of a thread's calls is kept whichever serving thread answers each.
//!
//! Stopping: the serving threads are marked *in RECV* around the ioctl
//! (under a lock, as the doorbell's main thread); [`Serving::stop`] sets
//! the stop mark and takes each one out of its RECV with the wake signal,
//! again every millisecond until it has ended (a signal that lands just
//! before the ioctl is lost).

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::front::{Dispatched, Front};
use crate::answer::Outcome;
use crate::pending::Pending;
use crate::request::net::SockCall;
use crate::request::Args;
use kernel::notify::{sys as notif_sys, Notif};
use kernel::sys;

/// The policy's decision without Lua, on a serving thread: decides, acts
/// and answers the request (`None`), or gives it back for the main
/// thread's policy loop (`Some`).
pub type Decide = dyn Fn(Box<Pending>) -> Option<Box<Pending>> + Send + Sync;

/// At most this many serving threads by default (the main thread
/// included).
pub const DEFAULT_MAX: usize = 4;

/// How long [`Serving::stop`] waits for the serving threads to end.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// The number of serving threads for `asked` (`--serving-threads`; `None`:
/// two per CPU available, at most [`DEFAULT_MAX`]).  The main thread
/// counts.  More receivers than CPUs: a serving thread spends much of a
/// request waiting (the program thread's wake-up, the kernel's work for
/// `/proc` and the file system), and one blocked in RECV costs nothing;
/// measured on 2 CPUs, 4 did better than 2 in every run
/// (docs/performance.md).
pub fn count(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_mul(2)
            .min(DEFAULT_MAX)
    })
}

/// What a serving thread hands to the main thread.
pub enum Handoff {
    /// A request the policy's loop answers.
    Request(Box<Pending>),
    /// A socket call, decoded (`Session::socket` finishes it).
    Socket(Notif, bpf::Sys, SockCall),
}

/// One serving thread's marks.
#[derive(Default)]
struct Slot {
    /// In (or about to enter) its RECV.
    in_recv: Mutex<bool>,
    /// Its kernel tid (0: not yet started).
    tid: AtomicI32,
}

struct Shared {
    front: Front,
    decide: Arc<Decide>,
    stop: AtomicBool,
    queue: Mutex<VecDeque<Handoff>>,
    /// Readable while `queue` is not empty (the doorbell watches it).
    wake: EventFd,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The serving threads of a run (besides the main thread).
pub struct Serving {
    shared: Arc<Shared>,
    slots: Vec<Arc<Slot>>,
    threads: Vec<JoinHandle<()>>,
}

impl Serving {
    /// The hand-off queue, no thread yet ([`Serving::spawn`]): its
    /// [`Serving::wake_fd`] must be watched first.
    pub fn new(front: Front, decide: Arc<Decide>) -> Result<Serving, Errno> {
        let wake =
            EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Serving {
            shared: Arc::new(Shared {
                front,
                decide,
                stop: AtomicBool::new(false),
                queue: Mutex::new(VecDeque::new()),
                wake,
            }),
            slots: Vec::new(),
            threads: Vec::new(),
        })
    }

    /// Readable while something waits for the main thread.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.shared.wake.as_fd()
    }

    /// Starts `n` serving threads; returns how many started.  The signals
    /// the session reads from its signalfd are blocked in the calling
    /// thread already, so in these too.
    pub fn spawn(&mut self, n: usize) -> usize {
        for i in 0..n {
            let slot = Arc::new(Slot::default());
            let (sh, sl) = (self.shared.clone(), slot.clone());
            let t = std::thread::Builder::new()
                .name(format!("supervisor-serve{}", i + 1))
                .spawn(move || serve(&sh, &sl));
            match t {
                Ok(t) => {
                    self.slots.push(slot);
                    self.threads.push(t);
                }
                Err(_) => break,
            }
        }
        self.threads.len()
    }

    /// The next thing handed to the main thread, if any.
    pub fn pop(&self) -> Option<Handoff> {
        let mut q = lock(&self.shared.queue);
        let h = q.pop_front();
        if q.is_empty() {
            // Under the queue's lock: a hand-off after this writes again.
            let _ = self.shared.wake.read();
        }
        h
    }

    /// Ends the serving threads (waiting a while for them), and fails
    /// what they handed over and nobody took.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let until = Instant::now() + STOP_WAIT;
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < until {
            for s in &self.slots {
                let in_recv = lock(&s.in_recv);
                let tid = s.tid.load(Ordering::SeqCst);
                if *in_recv && tid > 0 {
                    // Under the lock: the thread cannot have left its RECV.
                    let _ = sys::tkill(tid as u32, sys::wake_signal());
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let left: Vec<Handoff> = lock(&self.shared.queue).drain(..).collect();
        for h in left {
            match h {
                // Dropped unanswered: answered EPERM.
                Handoff::Request(p) => drop(p),
                Handoff::Socket(n, ..) => {
                    let f = &self.shared.front;
                    f.run.audit.supervisor(n.id, "the run is over");
                    f.answerer.answer(n.id, n.pid, Outcome::Fail(Errno::EPERM));
                }
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn hand_off(&self, h: Handoff) {
        let mut q = lock(&self.queue);
        q.push_back(h);
        let _ = self.wake.write(1);
    }

    /// Serves one notification.
    fn handle(&self, n: Notif) {
        match self.front.dispatch(n, false, None) {
            Dispatched::Answered => {}
            Dispatched::Socket(n, s, call) => self.hand_off(Handoff::Socket(n, s, call)),
            Dispatched::Held(p) if matches!(p.req.args, Args::Exec { .. }) => {
                self.hand_off(Handoff::Request(p))
            }
            Dispatched::Held(p) => {
                if let Some(p) = (self.decide)(p) {
                    self.hand_off(Handoff::Request(p))
                }
            }
        }
    }
}

/// A serving thread: receive, serve, until stopped or no process is left
/// under the filter.
fn serve(sh: &Shared, slot: &Slot) {
    slot.tid.store(sys::gettid(), Ordering::SeqCst);
    // Directories' names by fchdir and getcwd (else by readlink).
    let _ = crate::resolve::own_fs_context();
    let listener = sh.front.listener().clone();
    loop {
        {
            let mut in_recv = lock(&slot.in_recv);
            if sh.stop.load(Ordering::SeqCst) {
                return;
            }
            *in_recv = true;
        }
        let r = notif_sys::recv(listener.fd());
        *lock(&slot.in_recv) = false;
        match r {
            Ok(n) => sh.handle(n),
            // Stopped, or a signal for another reason: look again.
            Err(Errno::EINTR) => {}
            // The thread vanished, or no process is left under the filter
            // (then every RECV fails at once: end rather than spin).
            Err(Errno::ENOENT) => {
                let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
                let hup = poll(&mut fds, PollTimeout::ZERO).is_ok()
                    && fds[0]
                        .revents()
                        .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
                if hup {
                    return;
                }
            }
            // Cannot receive: the main thread serves on alone.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_the_one_asked_else_two_per_cpu_at_most_four() {
        assert_eq!(count(Some(1)), 1);
        assert_eq!(count(Some(6)), 6);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(count(None), (2 * cpus).min(DEFAULT_MAX));
        assert!((1..=DEFAULT_MAX).contains(&count(None)));
    }
}
