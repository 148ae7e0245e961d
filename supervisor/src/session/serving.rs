//! Serving threads: more than one thread receiving and answering the
//! requests a policy decides without Lua (`rules.run`).
//!
//! Each serving thread blocks in its own `SECCOMP_IOCTL_NOTIF_RECV` on the
//! run's listener; the kernel hands each notification to exactly one
//! receiver, so a request is served by one thread only, from receipt to
//! answer.  The thread runs the same front as the main thread
//! ([`Front::dispatch`]: one copy of every argument, `ID_VALID` after it)
//! and the policy's Lua-free decision ([`Decide`]: decide on the shared,
//! immutable rule set, act, answer).  The main thread keeps everything
//! that is not Lua-free or that it owns:
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
//! The main thread does not receive while serving threads run: it waits
//! for its doorbell only (hand-overs, the program's exit, signals,
//! lookups).  If every serving thread ends while the run goes on (RECV
//! failing), it receives again ([`Serving::receiving`]).
//!
//! How many receive at once ([`Gate`]): the kernel wakes *every* thread
//! waiting in RECV for each notification (its receivers wait
//! non-exclusively), and all but one find nothing and sleep again.  With
//! the program's calls coming one at a time (one thread calling, or
//! several taking turns), each receiver more only costs those wake-ups
//! (measured: about 5 µs of CPU per request with 4 receivers against 1,
//! the extra switches of the herd).  So one thread receives while the
//! calls come one at a time: after each answer it looks (`poll`, no wait)
//! whether a notification is already waiting, and if it is another
//! thread's than the one just answered, two calls overlapped: every
//! serving thread receives from then on, until [`CALM`] requests in a row
//! were each served with no other in progress.
//!
//! Stopping: the serving threads are marked *in RECV* around the ioctl
//! (under a lock, as the doorbell's main thread); [`Serving::stop`] sets
//! the stop mark, opens the gate, and takes each one out of its RECV with
//! the wake signal, again every millisecond until it has ended (a signal
//! that lands just before the ioctl is lost).

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

/// At most this many serving threads by default.
pub const DEFAULT_MAX: usize = 4;

/// How long [`Serving::stop`] waits for the serving threads to end.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Requests served in a row, each with no other in progress, after which
/// one thread alone receives again ([`Gate`]).
pub const CALM: u32 = 128;

/// The number of serving threads for `asked` (`--serving-threads`; `None`:
/// two per CPU available, at most [`DEFAULT_MAX`]); 1: the main thread
/// alone, no serving thread.  More receivers than CPUs: a serving thread
/// spends much of a request waiting (the program thread's wake-up, the
/// kernel's work for `/proc` and the file system); measured on 2 CPUs, 4
/// did better than 2 in every run (docs/performance.md).  They receive
/// all at once only while calls overlap ([`Gate`]).
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
    /// Readable while `queue` is not empty, or once no serving thread is
    /// left to receive (the doorbell watches it).
    wake: EventFd,
    gate: Gate,
    /// Requests being served (between their RECV and their answer).
    busy: AtomicUsize,
    /// Serving threads still receiving (not ended).
    alive: AtomicUsize,
}

/// Who may wait in RECV: one thread while the program's calls come one at
/// a time, every serving thread once two overlap (see the module's
/// documentation).
#[derive(Default)]
pub struct Gate {
    state: Mutex<Gauge>,
    opened: Condvar,
}

#[derive(Default)]
struct Gauge {
    /// Threads in (or about to enter) RECV.
    receiving: usize,
    /// Every serving thread may receive (else one).
    all: bool,
    /// Requests served in a row with no other in progress (all receiving).
    calm: u32,
    /// Stopping: no thread waits at the gate.
    closed: bool,
}

impl Gate {
    /// Waits until this thread may receive, and counts it in; `false` once
    /// the gate is closed (the run's end).
    pub fn enter(&self) -> bool {
        let mut g = lock(&self.state);
        loop {
            if g.closed {
                return false;
            }
            if g.all || g.receiving == 0 {
                g.receiving += 1;
                return true;
            }
            g = self.opened.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// This thread's RECV returned.  No one is woken: while one receives,
    /// it is this thread, which receives again once it has answered.
    pub fn left(&self) {
        let mut g = lock(&self.state);
        g.receiving = g.receiving.saturating_sub(1);
    }

    /// A request was served; `overlapped`: another was in progress at its
    /// start or its end.  `true` while one thread alone receives.
    pub fn served(&self, overlapped: bool) -> bool {
        let mut g = lock(&self.state);
        if !g.all {
            return true;
        }
        if overlapped {
            g.calm = 0;
        } else {
            g.calm += 1;
            if g.calm >= CALM {
                // The threads still in RECV leave it with their next
                // request, and wait here after it.
                g.all = false;
                g.calm = 0;
            }
        }
        !g.all
    }

    /// Two calls overlapped: every serving thread receives.
    pub fn overlap(&self) {
        let mut g = lock(&self.state);
        g.calm = 0;
        if !g.all {
            g.all = true;
            self.opened.notify_all();
        }
    }

    /// A serving thread ended: another may take its place.
    fn ended(&self) {
        let _g = lock(&self.state);
        self.opened.notify_all();
    }

    /// No thread waits at the gate any more.
    pub fn close(&self) {
        let mut g = lock(&self.state);
        g.closed = true;
        self.opened.notify_all();
    }

    /// Does every serving thread receive?
    #[cfg(test)]
    fn all(&self) -> bool {
        lock(&self.state).all
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The serving threads of a run.
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
                gate: Gate::default(),
                busy: AtomicUsize::new(0),
                alive: AtomicUsize::new(0),
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
            self.shared.alive.fetch_add(1, Ordering::SeqCst);
            let t = std::thread::Builder::new()
                .name(format!("supervisor-serve{}", i + 1))
                .spawn(move || {
                    serve(&sh, &sl);
                    sh.ended();
                });
            match t {
                Ok(t) => {
                    self.slots.push(slot);
                    self.threads.push(t);
                }
                Err(_) => {
                    self.shared.alive.fetch_sub(1, Ordering::SeqCst);
                    break;
                }
            }
        }
        self.threads.len()
    }

    /// Is a serving thread left to receive?  Else the main thread must.
    pub fn receiving(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst) > 0
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
        self.shared.gate.close();
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
    /// A serving thread ended: another takes its place at the gate; the
    /// last one wakes the main thread, which then receives (unless the
    /// run is stopping).
    fn ended(&self) {
        self.gate.ended();
        if self.alive.fetch_sub(1, Ordering::SeqCst) == 1 {
            let _q = lock(&self.queue);
            let _ = self.wake.write(1);
        }
    }

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
    // The thread just answered, when a notification was already waiting
    // as it finished (one receiving alone): if the next is another
    // thread's, two calls overlapped.
    let mut waiting_after: Option<u32> = None;
    loop {
        if !sh.gate.enter() {
            return;
        }
        {
            let mut in_recv = lock(&slot.in_recv);
            if sh.stop.load(Ordering::SeqCst) {
                sh.gate.left();
                return;
            }
            *in_recv = true;
        }
        let r = notif_sys::recv(listener.fd());
        *lock(&slot.in_recv) = false;
        sh.gate.left();
        match r {
            Ok(n) => {
                if waiting_after.take().is_some_and(|t| t != n.pid) {
                    sh.gate.overlap();
                }
                let tid = n.pid;
                let before = sh.busy.fetch_add(1, Ordering::SeqCst);
                sh.handle(n);
                let after = sh.busy.fetch_sub(1, Ordering::SeqCst) - 1;
                if sh.gate.served(before > 0 || after > 0) && waiting(&listener) {
                    waiting_after = Some(tid);
                }
            }
            // Stopped, or a signal for another reason: look again.
            Err(Errno::EINTR) => {}
            // The thread vanished, or no process is left under the filter
            // (then every RECV fails at once: end rather than spin).
            Err(Errno::ENOENT) => {
                if hung_up(&listener) {
                    return;
                }
            }
            // Cannot receive: the others (or the main thread) receive.
            Err(_) => return,
        }
    }
}

/// Is a notification waiting to be received?  (`poll` without a wait: no
/// wait-queue entry, so the kernel wakes no one more for it.)
fn waiting(listener: &kernel::notify::Listener) -> bool {
    let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok()
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
}

/// Has the listener hung up (no process left under the filter)?
fn hung_up(listener: &kernel::notify::Listener) -> bool {
    let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).is_ok()
        && fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
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

    /// Enters the gate on another thread; its handle says when it did.
    fn entering(g: &Arc<Gate>) -> std::sync::mpsc::Receiver<bool> {
        let (tx, rx) = std::sync::mpsc::channel();
        let g = g.clone();
        std::thread::spawn(move || {
            let _ = tx.send(g.enter());
        });
        rx
    }

    #[test]
    fn one_thread_receives_until_two_calls_overlap_then_all() {
        let g = Arc::new(Gate::default());
        assert!(g.enter());
        let second = entering(&g);
        // One receives: the second waits at the gate, whatever the first
        // does with the requests it serves one at a time.
        g.left();
        assert!(g.served(false));
        assert!(g.enter());
        assert!(second.try_recv().is_err());
        g.overlap();
        assert!(
            second.recv().unwrap(),
            "the second receives once calls overlapped"
        );
        assert!(g.all());
        // Both receive now; a third too.
        assert!(entering(&g).recv().unwrap());
    }

    #[test]
    fn after_calm_requests_one_receives_again() {
        let g = Gate::default();
        g.overlap();
        for _ in 0..CALM - 1 {
            assert!(!g.served(false));
        }
        // An overlap starts the count again.
        assert!(!g.served(true));
        for _ in 0..CALM - 1 {
            assert!(!g.served(false));
        }
        assert!(g.served(false));
        assert!(!g.all());
        // One receiving: no other enters.
        assert!(g.enter());
        let g = Arc::new(g);
        let other = entering(&g);
        g.left();
        g.overlap();
        assert!(other.recv().unwrap());
    }

    #[test]
    fn a_closed_gate_lets_no_one_wait() {
        let g = Arc::new(Gate::default());
        assert!(g.enter());
        let waiting = entering(&g);
        g.close();
        assert!(!waiting.recv().unwrap());
        assert!(!g.enter());
    }
}
