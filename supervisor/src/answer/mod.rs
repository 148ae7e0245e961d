//! The answer: what a request gets ([`Outcome`]) and every way it leaves —
//! a value, an errno, descriptors installed (`SECCOMP_IOCTL_NOTIF_ADDFD`),
//! CONTINUE, a restart after a signal — and the audit record of it.
//!
//! This is the one module that calls the listener's send and addfd
//! ioctls.  Policy code says what the answer is (a verdict, carried out by
//! the act module); [`Answerer::answer`] sends it, exactly once per
//! notification, and records it.  Work that may block (a FIFO open, a
//! connect, a blocking send) runs on a blocking thread, watched so that a
//! signal to the program's thread interrupts it as it would the program's
//! own call ([`interrupt`]).
//!
//! On any failure to send (other than the thread being gone) the answer
//! falls back to an errno, never to a pass.

pub mod interrupt;
#[cfg(test)]
pub(crate) mod tests;

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use nix::errno::Errno;

use crate::audit::{Answered, Recorder};
use interrupt::Watch;
use kernel::notify::Listener;

/// Work that produces an outcome later (on a blocking thread, or after
/// descriptors were installed).
pub type Job = Box<dyn FnOnce() -> Outcome + Send>;

/// What to answer.
pub enum Outcome {
    /// The call returns this value.
    Value(i64),
    /// The call fails with this errno.
    Fail(Errno),
    /// Install this descriptor in the program; the call returns its number
    /// (one `ADDFD_FLAG_SEND`: no window with the descriptor installed but
    /// the call unanswered).
    Fd { fd: OwnedFd, cloexec: bool },
    /// Install these descriptors first (each at the number given, or the
    /// lowest free one); then answer `then`, or, without it, the number of
    /// the first one installed.
    Install {
        fds: Vec<(OwnedFd, Option<i32>)>,
        cloexec: bool,
        then: Option<Job>,
    },
    /// The kernel performs the call itself, with the program's credentials
    /// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).  Only ever the policy's
    /// explicit choice (`use_slave_credentials`, a slave filter returning
    /// `kernel`, a script that never receives), never a fallback.
    Continue,
    /// An exec the policy allowed: CONTINUE with the thread seized, and
    /// the file the new image runs checked at the exec event against
    /// `expect` (the file decided on); another file is killed before its
    /// first instruction (`kernel::exec`).  `tgid`: the thread's process.
    Exec {
        tgid: u32,
        expect: kernel::exec::FileId,
    },
    /// Work that may block: run it off the request loop, then answer with
    /// its outcome.
    Blocking(Job),
    /// A signal interrupted blocking work done for the call: the kernel
    /// restarts the call or fails it with EINTR, as for its own calls
    /// (`-ERESTARTSYS`; see [`interrupt`]).
    Restart,
    /// The notification is gone (thread died or was killed): no answer.
    Gone,
}

impl From<Result<(), Errno>> for Outcome {
    fn from(r: Result<(), Errno>) -> Self {
        match r {
            Ok(()) => Outcome::Value(0),
            Err(Errno::ESRCH) => Outcome::Gone,
            Err(e) => Outcome::Fail(e),
        }
    }
}

impl Outcome {
    /// A failure because the notification is gone is no answer at all.
    pub fn normalize(self) -> Outcome {
        match self {
            Outcome::Fail(Errno::ESRCH) => Outcome::Gone,
            o => o,
        }
    }

    /// The outcome of a result that is the call's value.
    pub fn of(r: Result<i64, Errno>) -> Outcome {
        match r {
            Ok(v) => Outcome::Value(v),
            Err(e) => Outcome::Fail(e).normalize(),
        }
    }
}

/// The blocking threads and their watch, made at first use.
#[derive(Default)]
struct Blocking {
    runtime: OnceLock<Option<tokio::runtime::Runtime>>,
    watch: OnceLock<Option<Watch>>,
}

/// Sends answers: the listener, the audit trail, the blocking threads.  A
/// cheap handle, cloned into every thread that answers.
#[derive(Clone)]
pub struct Answerer {
    listener: Arc<Listener>,
    proc: Arc<OwnedFd>,
    audit: Recorder,
    blocking: Arc<Blocking>,
    /// The filter waits interruptibly for answers (loaded without
    /// `WAIT_KILLABLE_RECV`: a container's): an exec is interrupted only
    /// after its CONTINUE (`kernel::exec::seize_quiet`).
    interruptible: bool,
}

/// `-ERESTARTSYS`: the kernel turns it into a restart or EINTR when it
/// delivers the signal.
const ERESTARTSYS: i32 = 512;

impl Answerer {
    /// Answers for `listener`; `proc` is the supervisor's `/proc`.
    pub fn new(listener: Arc<Listener>, proc: Arc<OwnedFd>, audit: Recorder) -> Answerer {
        Answerer {
            listener,
            proc,
            audit,
            blocking: Arc::default(),
            interruptible: false,
        }
    }

    /// The same, for a filter whose wait for an answer a signal interrupts
    /// (loaded by someone else without `WAIT_KILLABLE_RECV`).
    pub fn interruptible(mut self) -> Answerer {
        self.interruptible = true;
        self
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    pub fn audit(&self) -> &Recorder {
        &self.audit
    }

    /// Answers notification `id` of thread `tid` with `o` (exactly once).
    /// Blocking work runs on a blocking thread, watched so that a signal
    /// to `tid` interrupts it as it would the program's own call.
    pub fn answer(&self, id: u64, tid: u32, o: Outcome) {
        match o {
            Outcome::Blocking(job) => self.defer(id, tid, job),
            o => self.send(id, tid, o),
        }
    }

    /// Sends `o` now (a blocking job is run here).
    fn send(&self, id: u64, tid: u32, o: Outcome) {
        if self.audit.stopped() {
            // The log failed: the run is ending, nothing is answered.
            return;
        }
        match o {
            Outcome::Value(v) => self.reply(id, v, 0, 0, Answered::Value(v)),
            Outcome::Fail(e) => {
                let e = if e as i32 == 0 { Errno::EPERM } else { e };
                self.reply(id, 0, -(e as i32), 0, Answered::Errno(e as i32))
            }
            Outcome::Continue => self.reply(
                id,
                0,
                0,
                kernel::notify::sys::FLAG_CONTINUE,
                Answered::Continue,
            ),
            Outcome::Restart => self.reply(id, 0, -ERESTARTSYS, 0, Answered::Interrupted),
            Outcome::Exec { tgid, expect } => self.exec(id, tid, tgid, expect),
            // ESRCH taken for a thread that is gone, while the call still
            // waits: it came from the act itself (a /proc/<pid> directory
            // of a dead process, e.g. the root Chromium's zygote chroots
            // into), and is the call's answer, as the kernel's would be.
            // Never leave a waiting thread unanswered.
            Outcome::Gone if self.listener.id_valid(id) => {
                self.reply(id, 0, -libc::ESRCH, 0, Answered::Errno(libc::ESRCH))
            }
            Outcome::Gone => self.audit.gone(id),
            Outcome::Fd { fd, cloexec } => {
                match self.listener.addfd(id, fd.as_fd(), None, cloexec, true) {
                    Ok(n) => self.audit.answered(id, Answered::Value(n.into()), true),
                    Err(Errno::ENOENT) => self.audit.gone(id),
                    Err(e) => self.send(id, tid, Outcome::Fail(e)),
                }
            }
            Outcome::Install { fds, cloexec, then } => {
                let mut first = None;
                for (fd, at) in &fds {
                    let at = match at.map(u32::try_from) {
                        None => None,
                        Some(Ok(n)) => Some(n),
                        Some(Err(_)) => return self.send(id, tid, Outcome::Fail(Errno::EBADF)),
                    };
                    match self.listener.addfd(id, fd.as_fd(), at, cloexec, false) {
                        Ok(n) => first = first.or(Some(n)),
                        Err(Errno::ENOENT) => return self.audit.gone(id),
                        Err(e) => return self.send(id, tid, Outcome::Fail(e)),
                    }
                }
                drop(fds);
                let o = match then {
                    Some(job) => job(),
                    None => Outcome::Value(first.map_or(-1, i64::from)),
                };
                self.answer(id, tid, o)
            }
            Outcome::Blocking(job) => self.send(id, tid, job()),
        }
    }

    /// Answers an allowed exec: seize, CONTINUE, verify at the exec event
    /// (all on this thread, the tracer).  A thread that cannot be seized
    /// (traced already: a debugger inside the sandbox) is refused `EPERM`:
    /// never a pass unverified.
    fn exec(&self, id: u64, tid: u32, tgid: u32, expect: kernel::exec::FileId) {
        use kernel::exec::{self, Verified};
        let quiet = self.interruptible;
        let seized = if quiet {
            exec::seize_quiet(tid)
        } else {
            exec::seize(tid)
        };
        // A quietly seized thread runs on: stopped first to be let go.
        let release = |tid: u32| {
            if quiet {
                exec::interrupt(tid);
            }
            exec::release(tid);
        };
        match seized {
            Ok(()) => {}
            Err(Errno::ESRCH) => return self.audit.gone(id),
            Err(_) => {
                self.audit
                    .supervisor(id, "exec refused: the thread cannot be traced");
                return self.reply(id, 0, -libc::EPERM, 0, Answered::Errno(libc::EPERM));
            }
        }
        match self
            .listener
            .send(id, 0, 0, kernel::notify::sys::FLAG_CONTINUE)
        {
            Ok(()) => {}
            // The thread died meanwhile.
            Err(Errno::ENOENT) => {
                release(tid);
                return self.audit.gone(id);
            }
            // Still waiting for its answer: an errno, then let it go.
            Err(e) => {
                eprintln!("supervisor: answering a notification failed: {e}");
                self.reply(id, 0, -libc::EPERM, 0, Answered::Errno(libc::EPERM));
                release(tid);
                return;
            }
        }
        if quiet {
            // The answer is final now: the interrupt stops a failed exec
            // on its way back; a successful one stops at its exec event
            // first (PTRACE_O_TRACEEXEC).
            exec::interrupt(tid);
        }
        let v = exec::verify(self.proc.as_fd(), tid, tgid, expect);
        if matches!(v, Verified::Ran | Verified::Failed) {
            // Its thread group's credentials are current again.
            self.listener.credentials().exec_done(tgid);
        }
        let a = match v {
            Verified::Ran => Answered::Verified,
            Verified::Failed => Answered::Continue,
            Verified::Killed => Answered::Killed,
            Verified::Gone => Answered::Abandoned,
        };
        self.audit.answered(id, a, true);
    }

    /// Sends one `SECCOMP_IOCTL_NOTIF_SEND` and records it.
    fn reply(&self, id: u64, val: i64, error: i32, flags: u32, a: Answered) {
        let sent = match self.listener.send(id, val, error, flags) {
            Ok(()) => true,
            // The thread died or was killed meanwhile: no one to answer.
            Err(Errno::ENOENT) => false,
            // A supervisor bug, but no reason to crash the sandbox.
            Err(e) => {
                eprintln!("supervisor: answering a notification failed: {e}");
                false
            }
        };
        self.audit.answered(id, a, sent);
    }

    /// Installs a duplicate of `fd` in the program at number `at`
    /// (replacing what was there) while notification `id` is pending,
    /// without answering it; returns the number.  `Err(ESRCH)`: the call
    /// is gone.  (A slave filter's `C.dup2`.)
    pub fn install_at(&self, id: u64, fd: std::os::fd::BorrowedFd, at: i32) -> Result<i32, Errno> {
        let at = u32::try_from(at).map_err(|_| Errno::EBADF)?;
        match self.listener.addfd(id, fd, Some(at), false, false) {
            Err(Errno::ENOENT) => Err(Errno::ESRCH),
            r => r,
        }
    }

    /// Runs `job` on a blocking thread and answers with its outcome.
    fn defer(&self, id: u64, tid: u32, job: Job) {
        let watch = self.blocking.watch.get_or_init(Watch::start).as_ref();
        let ticket = match watch {
            Some(w) => match w.register(&self.listener, &self.proc, id, tid) {
                Ok(t) => Some(t),
                Err(Errno::ESRCH) => return self.audit.gone(id),
                Err(e) => return self.send(id, tid, Outcome::Fail(e)),
            },
            None => None,
        };
        let me = self.clone();
        let work = move || {
            let o = match ticket {
                Some(t) => t.run(job),
                None => job(),
            };
            me.send(id, tid, o)
        };
        match self.runtime() {
            Some(rt) => drop(rt.spawn_blocking(work)),
            // No thread to be had: do it here rather than not at all.
            None => work(),
        }
    }

    /// The runtime of the blocking threads, made at first use.
    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.blocking
            .runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .max_blocking_threads(256)
                    .thread_name("supervisor-blocking")
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

/// A name lookup waiting for its answer, with its audit record.  Its
/// answer leaves through the DNS stub; dropped unanswered, the stub
/// answers SERVFAIL (fail closed) and the record is written as abandoned
/// at the end of the run.
pub struct Lookup {
    pub query: crate::dns::Query,
    key: Option<u64>,
    audit: Recorder,
}

impl Lookup {
    /// Opens the audit record of `query`.
    pub fn new(query: crate::dns::Query, audit: &Recorder) -> Lookup {
        Lookup {
            key: audit.lookup(query.tid, &query.name),
            query,
            audit: audit.clone(),
        }
    }

    /// Its audit key, if the run is audited.
    pub fn key(&self) -> Option<crate::audit::Key> {
        self.key.map(crate::audit::Key::Lookup)
    }

    /// Records who decides the lookup (`key` is its [`Lookup::key`]).
    pub fn audit_decide(&self, key: crate::audit::Key, d: crate::audit::Decision) {
        self.audit.decide(key, d);
    }

    /// Answers the lookup (exactly once: it is consumed).
    pub fn answer(self, a: crate::dns::Answer) {
        use crate::dns::Answer;
        let rec = match &a {
            Answer::Error(g) => Answered::Gai(g.name()),
            Answer::Addresses(v) => Answered::Addresses(v.clone()),
            Answer::Upstream => Answered::Upstream,
        };
        self.audit.lookup_answered(self.key, rec);
        self.query.answer(a)
    }
}

impl std::ops::Deref for Lookup {
    type Target = crate::dns::Query;
    fn deref(&self) -> &crate::dns::Query {
        &self.query
    }
}

impl std::ops::DerefMut for Lookup {
    fn deref_mut(&mut self) -> &mut crate::dns::Query {
        &mut self.query
    }
}
