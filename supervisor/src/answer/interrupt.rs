//! Blocking work done for the program, interrupted as the kernel would
//! interrupt the program's own call.
//!
//! The notify filter waits killably (`WAIT_KILLABLE_RECV`): once the
//! supervisor has received a notification, a signal the program handles is
//! not delivered until the call is answered.  For quick answers that is
//! invisible; for a connect, a blocking send or a FIFO open done by the
//! supervisor on a blocking thread it is not — natively, a handled signal
//! interrupts the call, the handler runs, and the call is restarted
//! (`SA_RESTART`) or fails with `EINTR`.
//!
//! A [`Watch`] thread looks at every thread with such work in flight, every
//! [`PERIOD`]:
//! - a signal pending for the thread (or for the process when the thread is
//!   its only one) that is neither blocked nor ignored: the work is
//!   interrupted (the worker is signalled out of its blocking call) and
//!   the call is answered `-ERESTARTSYS`.  The kernel then does what it
//!   does for its own interrupted calls: runs the handler, and restarts
//!   the call (a new notification, asked of the policy again) or returns
//!   `EINTR`, as the handler's `SA_RESTART` says.
//! - the notification no longer valid (the thread died): the work is
//!   interrupted and its result dropped, releasing what it held.
//!
//! Only thread-directed signals, or process-directed ones to a
//! single-threaded program, interrupt: those are certain to have set the
//! thread's signal-pending flag, without which the kernel would hand
//! `-ERESTARTSYS` back to the program instead of restarting.  A
//! process-directed signal to a multithreaded program is taken by another
//! thread, as natively when that thread is free to take it.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use nix::errno::Errno;

use super::Outcome;
use kernel::notify::Listener;
use kernel::sys;

/// How often threads with blocking work in flight are looked at.
pub const PERIOD: Duration = Duration::from_millis(5);

const RUNNING: u8 = 0;
const INTERRUPTED: u8 = 1;
const ABANDONED: u8 = 2;

/// One piece of blocking work for notification `id`.
pub struct Ticket {
    id: u64,
    listener: Arc<Listener>,
    /// `/proc/<tid>/status` of the notifying thread, opened while the
    /// notification was valid: it stays bound to that thread.
    status: OwnedFd,
    /// The kernel tid of the supervisor thread doing the work (0: not yet).
    worker: AtomicI32,
    state: AtomicU8,
    done: AtomicBool,
}

impl Ticket {
    /// Runs `job` on the current thread and returns the answer: the job's
    /// own, `Restart` when a signal interrupted it, `Gone` when the
    /// thread died.
    pub fn run(self: &Arc<Self>, job: Box<dyn FnOnce() -> Outcome + Send>) -> Outcome {
        self.worker.store(sys::gettid(), Ordering::SeqCst);
        let o = match self.state.load(Ordering::SeqCst) {
            RUNNING => job(),
            _ => Outcome::Fail(Errno::EINTR),
        };
        // Under the lock of the watch's list: no signal for this ticket is
        // sent once `done` is seen (see `Watch::look`).
        let o = {
            let _g = WATCH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            self.done.store(true, Ordering::SeqCst);
            o
        };
        match (self.state.load(Ordering::SeqCst), o) {
            (ABANDONED, _) => Outcome::Gone,
            (INTERRUPTED, Outcome::Fail(Errno::EINTR)) => Outcome::Restart,
            (_, o) => o,
        }
    }
}

/// Serializes signalling a worker against the worker finishing.
static WATCH_LOCK: Mutex<()> = Mutex::new(());

/// The watch: tickets in flight and the thread looking at them.
#[derive(Clone)]
pub struct Watch {
    inner: Arc<(Mutex<Vec<Arc<Ticket>>>, Condvar)>,
}

impl Watch {
    /// Starts the watch thread; `None` if no thread can be had (then
    /// blocking work runs unwatched, answered when it ends).
    pub fn start() -> Option<Watch> {
        sys::install_wake_handler().ok()?;
        let w = Watch {
            inner: Arc::new((Mutex::new(Vec::new()), Condvar::new())),
        };
        let w2 = w.clone();
        std::thread::Builder::new()
            .name("supervisor-watch".into())
            .spawn(move || w2.run())
            .ok()?;
        Some(w)
    }

    /// A ticket for blocking work on notification `id` of thread `tid`;
    /// `Err(ESRCH)` if the notification is already gone.
    pub fn register(
        &self,
        listener: &Arc<Listener>,
        proc: &OwnedFd,
        id: u64,
        tid: u32,
    ) -> Result<Arc<Ticket>, Errno> {
        let name = std::ffi::CString::new(format!("{tid}/status")).expect("digits");
        let status = sys::openat(proc.as_fd(), &name, libc::O_RDONLY | libc::O_CLOEXEC, 0);
        // Valid after the open: the file is the notifying thread's.
        if !listener.id_valid(id) {
            return Err(Errno::ESRCH);
        }
        let t = Arc::new(Ticket {
            id,
            listener: listener.clone(),
            status: status?,
            worker: AtomicI32::new(0),
            state: AtomicU8::new(RUNNING),
            done: AtomicBool::new(false),
        });
        let (list, cv) = &*self.inner;
        list.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t.clone());
        cv.notify_one();
        Ok(t)
    }

    fn run(&self) {
        let (list, cv) = &*self.inner;
        loop {
            {
                let mut l = list.lock().unwrap_or_else(|e| e.into_inner());
                l.retain(|t| !t.done.load(Ordering::SeqCst));
                while l.is_empty() {
                    l = cv.wait(l).unwrap_or_else(|e| e.into_inner());
                }
            }
            std::thread::sleep(PERIOD);
            let tickets: Vec<Arc<Ticket>> = list.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for t in &tickets {
                look(t);
            }
        }
    }
}

/// Looks at one ticket: decides whether to interrupt, and signals the
/// worker while it has not finished.
fn look(t: &Ticket) {
    if t.done.load(Ordering::SeqCst) {
        return;
    }
    if t.state.load(Ordering::SeqCst) == RUNNING {
        let pending = read_status(&t.status).map(|s| s.interrupts());
        if !t.listener.id_valid(t.id) {
            t.state.store(ABANDONED, Ordering::SeqCst);
        } else if pending == Ok(true) {
            t.state.store(INTERRUPTED, Ordering::SeqCst);
        } else {
            return;
        }
    }
    // Signalled again every period until the worker is out: a signal that
    // arrives before the worker entered its blocking call is lost.
    let _g = WATCH_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let w = t.worker.load(Ordering::SeqCst);
    if !t.done.load(Ordering::SeqCst) && w > 0 {
        let _ = sys::tkill(w as u32, sys::wake_signal());
    }
}

/// The signal fields of `/proc/<tid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    pub threads: u32,
    /// Pending for the thread.
    pub private: u64,
    /// Pending for the process.
    pub shared: u64,
    pub blocked: u64,
    pub ignored: u64,
    pub caught: u64,
}

impl Signals {
    /// Does a pending signal interrupt the thread's call?  A signal with
    /// a handler, neither blocked nor ignored; process-directed only when
    /// the thread is the process's only one.  (Signals whose default
    /// action kills end the call in the kernel already; those that stop
    /// or are ignored by default leave a native call running.)
    pub fn interrupts(&self) -> bool {
        let mut pending = self.private;
        if self.threads == 1 {
            pending |= self.shared;
        }
        pending & !self.blocked & !self.ignored & self.caught != 0
    }
}

fn read_status(f: &OwnedFd) -> Result<Signals, Errno> {
    let mut buf = [0u8; 4096];
    let n = nix::sys::uio::pread(f, &mut buf, 0)?;
    parse_status(&buf[..n]).ok_or(Errno::EIO)
}

/// Parses the signal fields of a `/proc/<tid>/status` text.
pub fn parse_status(text: &[u8]) -> Option<Signals> {
    let text = std::str::from_utf8(text).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let mask = |key: &str| u64::from_str_radix(field(key)?, 16).ok();
    Some(Signals {
        threads: field("Threads:")?.parse().ok()?,
        private: mask("SigPnd:")?,
        shared: mask("ShdPnd:")?,
        blocked: mask("SigBlk:")?,
        ignored: mask("SigIgn:")?,
        caught: mask("SigCgt:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tnetprobe\nThreads:\t1\nSigQ:\t1/31\n\
        SigPnd:\t0000000000000000\nShdPnd:\t0000000000000200\n\
        SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n\
        SigCgt:\t0000000000000200\n";

    #[test]
    fn parses_the_signal_fields() {
        let s = parse_status(STATUS.as_bytes()).unwrap();
        assert_eq!(s.threads, 1);
        assert_eq!(s.shared, 0x200);
        assert_eq!(s.caught, 0x200);
        assert!(s.interrupts());
    }

    #[test]
    fn a_missing_field_is_no_answer() {
        assert_eq!(parse_status(b"Name:\tx\nThreads:\t1\n"), None);
    }

    #[test]
    fn only_handled_unblocked_signals_interrupt() {
        let base = Signals {
            threads: 1,
            private: 1 << 9,
            caught: 1 << 9,
            ..Default::default()
        };
        assert!(base.interrupts());
        let blocked = Signals {
            blocked: 1 << 9,
            ..base
        };
        assert!(!blocked.interrupts());
        let uncaught = Signals { caught: 0, ..base };
        assert!(!uncaught.interrupts());
        let ignored = Signals {
            ignored: 1 << 9,
            ..base
        };
        assert!(!ignored.interrupts());
    }

    #[test]
    fn a_process_signal_interrupts_only_a_lone_thread() {
        let s = Signals {
            threads: 2,
            shared: 1 << 13,
            caught: 1 << 13,
            ..Default::default()
        };
        assert!(!s.interrupts());
        assert!(Signals { threads: 1, ..s }.interrupts());
    }
}
