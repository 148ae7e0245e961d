//! Credentials read once per thread: a program thread's credentials,
//! read from `/proc/<tid>/status` (~10 µs of kernel formatting), are kept
//! until the thread could have changed them.
//!
//! Sound only under a filter that sends every call through which a thread
//! changes its own credentials to the supervisor (`bpf::creds`, and the
//! execs of the table), which calls [`Cache::changing`] (or
//! [`Cache::exec`]) before it answers: the thread is blocked in that call
//! until then, and its credentials change only after the answer.  A cache
//! is enabled ([`Cache::enable`]) only for such a filter.
//!
//! * **Filled while pending.**  An entry is made from a read of the status
//!   validated by `ID_VALID` ([`Cache::put`] after the check): the thread
//!   was blocked in the call being served, so it could not change its
//!   credentials between the read and the insertion.  A [`Ticket`] taken
//!   before the read carries the shard's epoch; any [`Cache::changing`] of
//!   the shard since (a call that may change credentials, e.g. from a
//!   signal handler on a filter without killable waits) makes the put a
//!   no-op.
//! * **Bound to the thread, not its number.**  Each entry holds a handle on
//!   the thread's kernel pid, opened before the read: a `PIDFD_THREAD`
//!   pidfd (Linux 6.9), polled (readable once the thread has exited), or,
//!   on an older kernel, its held `/proc/<tid>/comm` (a read fails with
//!   `ESRCH` once the thread is gone).  A hit is used only if that thread
//!   still lives, and the notifying thread is known to have been alive
//!   (blocked in its call) at a moment when that thread lived too: then
//!   they are one thread, a number naming one living thread at a time.
//!   Such a moment is the `ID_VALID` check made when the notification was
//!   taken in, if the entry was put before it ([`Cache::mark`] read before
//!   that check, [`Hit::put_before`]): the entry's handle, opened before
//!   its put, shows its thread alive from before the check until the hit.
//!   Otherwise (an entry put since, by another serving thread) the caller
//!   checks `ID_VALID` after the hit.
//! * **Exec.**  A thread that execs gets new credentials after the
//!   answer; a non-leader that execs also takes the leader's pid (and so
//!   the leader's entry's handle), while the leader may still be serving
//!   a call of its own.  So the exec's own request never fills the cache,
//!   and a non-leader's exec *poisons* the thread group's pid: no entry
//!   for it until the exec is verified over ([`Cache::exec_done`]), or,
//!   for an exec let through unverified, until the process is gone
//!   ([`Cache::exec`]).
//!
//! Safe to use from several serving threads: entries are in shards, each
//! behind its own lock.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::Creds;

/// Shards (threads are spread by tid).
const SHARDS: usize = 16;
/// Entries per shard (each holds a descriptor): the most recently filled.
const PER_SHARD: usize = 16;
/// Poisoned thread groups kept at most; past that the cache disables
/// itself (every read goes to `/proc` again).
const POISONED: usize = 64;

/// A handle on a thread's kernel pid: does that thread still live?
#[derive(Debug)]
pub enum Alive {
    /// `pidfd_open(tid, PIDFD_THREAD)`: readable once the thread exited.
    Pidfd(OwnedFd),
    /// `/proc/<tid>/comm`, held: a read fails once the thread is gone.
    Comm(OwnedFd),
}

impl Alive {
    /// A handle on thread `tid` (of the procfs `proc`, for the fallback).
    pub fn open(proc: BorrowedFd, tid: u32) -> Result<Alive, Errno> {
        match crate::sys::pidfd_open_thread(tid) {
            Ok(fd) => Ok(Alive::Pidfd(fd)),
            // No PIDFD_THREAD (before Linux 6.9).
            Err(Errno::EINVAL) => Self::comm(proc, tid),
            Err(e) => Err(e),
        }
    }

    /// A handle on the process whose leader is `tgid`: a pidfd without
    /// `PIDFD_THREAD` is readable only once the whole thread group has
    /// exited (a leader that exits before its threads, or during another
    /// thread's exec, still counts as alive).
    pub fn process(proc: BorrowedFd, tgid: u32) -> Result<Alive, Errno> {
        match crate::sys::pidfd_open(tgid as i32) {
            Ok(fd) => Ok(Alive::Pidfd(fd)),
            Err(Errno::ENOSYS) => Self::comm(proc, tgid),
            Err(e) => Err(e),
        }
    }

    /// The fallback handle, whatever the kernel.
    pub fn comm(proc: BorrowedFd, tid: u32) -> Result<Alive, Errno> {
        let name = std::ffi::CString::new(format!("{tid}/comm")).expect("digits");
        crate::sys::openat(proc, &name, libc::O_RDONLY | libc::O_CLOEXEC, 0).map(Alive::Comm)
    }

    /// Does the thread still live (any error: no)?
    pub fn lives(&self) -> bool {
        match self {
            Alive::Pidfd(fd) => {
                let mut p = [nix::poll::PollFd::new(
                    fd.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                matches!(nix::poll::poll(&mut p, nix::poll::PollTimeout::ZERO), Ok(0))
            }
            Alive::Comm(fd) => {
                let mut buf = [0u8; 32];
                matches!(nix::sys::uio::pread(fd, &mut buf, 0), Ok(1..))
            }
        }
    }
}

struct Entry {
    tid: u32,
    alive: Alive,
    creds: Arc<Creds>,
    /// Its number in the order of puts (from 1).
    seq: u64,
}

/// Credentials kept for a thread, found alive ([`Cache::get`]).
#[derive(Debug)]
pub struct Hit {
    pub creds: Arc<Creds>,
    seq: u64,
}

impl Hit {
    /// Was the entry put before `mark` ([`Cache::mark`]) was read?  Its
    /// thread then lived from before that read until the hit (its handle
    /// was opened before the put, and it lives at the hit).
    pub fn put_before(&self, mark: u64) -> bool {
        self.seq <= mark
    }
}

#[derive(Default)]
struct Shard {
    entries: Vec<Arc<Entry>>,
    /// Incremented by every [`Cache::changing`] of a thread of the shard.
    epoch: u64,
}

/// Taken before reading a thread's credentials; given back with them.
pub struct Ticket {
    tid: u32,
    epoch: u64,
    alive: Alive,
}

/// The credentials of a listener's threads, each read once (see the
/// module).  Disabled until [`Cache::enable`].
pub struct Cache {
    enabled: AtomicBool,
    shards: [Mutex<Shard>; SHARDS],
    /// Thread groups whose pid a non-leader's exec took: never cached.
    poisoned: Mutex<Vec<(u32, Alive)>>,
    /// Puts so far: the last put's number.
    puts: AtomicU64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("enabled", &self.enabled())
            .finish_non_exhaustive()
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            enabled: AtomicBool::new(false),
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            poisoned: Mutex::new(Vec::new()),
            puts: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// The filter sends every credential change to the supervisor, which
    /// calls [`Cache::changing`] and [`Cache::exec`] before answering.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    fn shard(&self, tid: u32) -> &Mutex<Shard> {
        &self.shards[tid as usize % SHARDS]
    }

    /// Where the puts are now: read before the `ID_VALID` check that takes
    /// a notification in, it tells the entries put before that check
    /// ([`Hit::put_before`]).
    pub fn mark(&self) -> u64 {
        self.puts.load(Ordering::SeqCst)
    }

    /// The credentials kept for thread `tid`, if the thread they were read
    /// from still lives.  Unless the hit was put before the mark read
    /// ahead of the notification's own `ID_VALID` check
    /// ([`Hit::put_before`]), the caller checks `ID_VALID` after this (the
    /// living thread is then the notifying one).
    pub fn get(&self, tid: u32) -> Option<Hit> {
        if !self.enabled() {
            return None;
        }
        let e = {
            let s = lock(self.shard(tid));
            s.entries.iter().find(|e| e.tid == tid)?.clone()
        };
        if e.alive.lives() {
            return Some(Hit {
                creds: e.creds.clone(),
                seq: e.seq,
            });
        }
        // A dead thread's entry: its number may name another thread now.
        lock(self.shard(tid))
            .entries
            .retain(|x| !Arc::ptr_eq(x, &e));
        None
    }

    /// Before reading thread `tid`'s credentials to keep them: `alive`
    /// is a handle opened now, before the read.  `None`: not to be kept.
    pub fn ticket(&self, tid: u32, alive: Alive) -> Option<Ticket> {
        if !self.enabled() {
            return None;
        }
        let epoch = lock(self.shard(tid)).epoch;
        Some(Ticket { tid, epoch, alive })
    }

    /// Keeps `creds`, read with `t` and validated (`ID_VALID` after the
    /// read): unless the thread may have changed them since the ticket,
    /// or its thread group is poisoned.
    pub fn put(&self, t: Ticket, creds: Arc<Creds>) {
        if !self.enabled() || self.is_poisoned(t.tid) {
            return;
        }
        let mut s = lock(self.shard(t.tid));
        if s.epoch != t.epoch {
            return;
        }
        s.entries.retain(|e| e.tid != t.tid);
        if s.entries.len() >= PER_SHARD {
            // A dead thread's first, else the oldest.
            let i = s.entries.iter().position(|e| !e.alive.lives()).unwrap_or(0);
            s.entries.remove(i);
        }
        // Numbered once its handle is open (in the ticket) and before it
        // can be found.
        let seq = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        s.entries.push(Arc::new(Entry {
            tid: t.tid,
            alive: t.alive,
            creds,
            seq,
        }));
    }

    /// Thread `tid` is about to make a call that may change its
    /// credentials (called before the answer lets it run).
    pub fn changing(&self, tid: u32) {
        let mut s = lock(self.shard(tid));
        s.epoch += 1;
        s.entries.retain(|e| e.tid != tid);
    }

    /// Thread `tid` of thread group `tgid` is about to exec (called before
    /// the answer).  `group`: when `tid` is not the group's leader, a
    /// handle on the process ([`Alive::process`]); `None` when it is.
    pub fn exec(&self, tid: u32, tgid: u32, group: Option<Alive>) {
        self.changing(tid);
        let Some(alive) = group else {
            return;
        };
        {
            let mut p = lock(&self.poisoned);
            p.retain(|(_, a)| a.lives());
            if p.len() >= POISONED {
                drop(p);
                self.disable();
                return;
            }
            p.push((tgid, alive));
        }
        self.changing(tgid);
    }

    /// A verified exec of a thread of `tgid` is over (it ran, verified at
    /// its exec event, or failed with the old image back): the poison its
    /// [`Cache::exec`] set, if any, is lifted.  The old leader is gone (or
    /// the group unchanged): what is read from now on is current, and a
    /// read begun before is refused (the epoch moves).
    pub fn exec_done(&self, tgid: u32) {
        let lifted = {
            let mut p = lock(&self.poisoned);
            match p.iter().position(|(t, _)| *t == tgid) {
                Some(i) => {
                    p.swap_remove(i);
                    true
                }
                None => false,
            }
        };
        if lifted {
            self.changing(tgid);
        }
    }

    /// No more entries, for the rest of the run.
    pub fn disable(&self) {
        self.enabled.store(false, Ordering::Release);
        for s in &self.shards {
            let mut s = lock(s);
            s.epoch += 1;
            s.entries.clear();
        }
    }

    fn is_poisoned(&self, tid: u32) -> bool {
        let p = lock(&self.poisoned);
        !p.is_empty() && p.iter().any(|(t, a)| *t == tid && a.lives())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc() -> OwnedFd {
        crate::sys::open_dir_path(c"/proc").unwrap()
    }

    fn creds(uid: u32) -> Arc<Creds> {
        Arc::new(Creds {
            uids: [uid; 4],
            gids: [uid; 4],
            groups: vec![],
            cap_eff: 0,
            cap_prm: 0,
            cap_inh: 0,
        })
    }

    /// A thread that lives until told, and its tid.
    fn thread() -> (
        u32,
        std::sync::mpsc::Sender<()>,
        std::thread::JoinHandle<()>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ttx, trx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            ttx.send(nix::unistd::gettid().as_raw() as u32).unwrap();
            let _ = rx.recv();
        });
        (trx.recv().unwrap(), tx, h)
    }

    #[test]
    fn both_handles_see_a_thread_end() {
        let proc = proc();
        let (tid, stop, h) = thread();
        let handles = [
            Alive::open(proc.as_fd(), tid).unwrap(),
            Alive::comm(proc.as_fd(), tid).unwrap(),
        ];
        assert!(handles.iter().all(Alive::lives));
        stop.send(()).unwrap();
        h.join().unwrap();
        // The kernel releases a thread just after it is joinable.
        for _ in 0..1000 {
            if handles.iter().all(|a| !a.lives()) {
                break;
            }
            std::thread::yield_now();
        }
        assert!(handles.iter().all(|a| !a.lives()));
    }

    #[test]
    fn an_entry_serves_its_thread_until_it_changes_or_ends() {
        let proc = proc();
        let c = Cache::default();
        let (tid, stop, h) = thread();
        let t = c.ticket(tid, Alive::open(proc.as_fd(), tid).unwrap());
        assert!(t.is_none(), "disabled: nothing kept");
        c.enable();
        let t = c
            .ticket(tid, Alive::open(proc.as_fd(), tid).unwrap())
            .unwrap();
        c.put(t, creds(1));
        assert_eq!(c.get(tid).unwrap().creds.uids[0], 1);
        c.changing(tid);
        assert!(c.get(tid).is_none(), "stale once changing");
        // A ticket taken before a change is refused.
        let t = c
            .ticket(tid, Alive::open(proc.as_fd(), tid).unwrap())
            .unwrap();
        c.changing(tid);
        c.put(t, creds(2));
        assert!(c.get(tid).is_none(), "read before the change: not kept");
        let t = c
            .ticket(tid, Alive::open(proc.as_fd(), tid).unwrap())
            .unwrap();
        c.put(t, creds(3));
        assert_eq!(c.get(tid).unwrap().creds.uids[0], 3);
        stop.send(()).unwrap();
        h.join().unwrap();
        for _ in 0..1000 {
            if c.get(tid).is_none() {
                break;
            }
            std::thread::yield_now();
        }
        assert!(
            c.get(tid).is_none(),
            "the thread ended: its number names no entry"
        );
    }

    /// A hit tells whether it was put before a mark: only an entry put
    /// after the mark (by another serving thread, while the notification
    /// was being taken in) needs the caller's own check.
    #[test]
    fn hits_tell_whether_they_were_put_before_a_mark() {
        let proc = proc();
        let c = Cache::default();
        c.enable();
        let (a, stop_a, ha) = thread();
        let (b, stop_b, hb) = thread();
        let t = c.ticket(a, Alive::open(proc.as_fd(), a).unwrap()).unwrap();
        c.put(t, creds(1));
        let mark = c.mark();
        let t = c.ticket(b, Alive::open(proc.as_fd(), b).unwrap()).unwrap();
        c.put(t, creds(2));
        assert!(c.get(a).unwrap().put_before(mark));
        assert!(!c.get(b).unwrap().put_before(mark), "put after the mark");
        assert!(c.get(b).unwrap().put_before(c.mark()));
        // Put again (after a change): a new number.
        c.changing(a);
        let t = c.ticket(a, Alive::open(proc.as_fd(), a).unwrap()).unwrap();
        c.put(t, creds(3));
        assert!(!c.get(a).unwrap().put_before(mark));
        // A refused put takes no number.
        let before = c.mark();
        let t = c.ticket(a, Alive::open(proc.as_fd(), a).unwrap()).unwrap();
        c.changing(a);
        c.put(t, creds(4));
        assert_eq!(c.mark(), before);
        for (s, h) in [(stop_a, ha), (stop_b, hb)] {
            s.send(()).unwrap();
            h.join().unwrap();
        }
    }

    #[test]
    fn a_non_leaders_exec_poisons_its_thread_group_until_it_is_over() {
        let proc = proc();
        let c = Cache::default();
        c.enable();
        let me = std::process::id();
        let (tid, stop, h) = thread();
        let t = c
            .ticket(me, Alive::open(proc.as_fd(), me).unwrap())
            .unwrap();
        c.put(t, creds(1));
        c.exec(tid, me, Some(Alive::process(proc.as_fd(), me).unwrap()));
        assert!(c.get(me).is_none());
        let t = c
            .ticket(me, Alive::open(proc.as_fd(), me).unwrap())
            .unwrap();
        c.put(t, creds(1));
        assert!(c.get(me).is_none(), "poisoned");
        // Until its verified exec is over.
        c.exec_done(me);
        let t = c
            .ticket(me, Alive::open(proc.as_fd(), me).unwrap())
            .unwrap();
        c.put(t, creds(6));
        assert_eq!(c.get(me).unwrap().creds.uids[0], 6, "lifted");
        c.exec(tid, me, Some(Alive::process(proc.as_fd(), me).unwrap()));
        // A leader's exec only marks the leader.
        let t = c
            .ticket(tid, Alive::open(proc.as_fd(), tid).unwrap())
            .unwrap();
        c.put(t, creds(4));
        c.exec(tid, tid, None);
        assert!(c.get(tid).is_none());
        let t = c
            .ticket(tid, Alive::open(proc.as_fd(), tid).unwrap())
            .unwrap();
        c.put(t, creds(5));
        assert_eq!(c.get(tid).unwrap().creds.uids[0], 5);
        stop.send(()).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn too_many_poisoned_groups_disable_the_cache() {
        let proc = proc();
        let c = Cache::default();
        c.enable();
        let me = std::process::id();
        for _ in 0..=POISONED {
            c.exec(me, me, Some(Alive::process(proc.as_fd(), me).unwrap()));
        }
        assert!(!c.enabled());
    }
}
