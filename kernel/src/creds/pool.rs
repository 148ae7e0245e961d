//! Acting threads that keep a credential set: the common case (the same
//! program credentials as the call before) costs no switch at all.
//!
//! Each worker is a thread of its own that holds one credential set between
//! jobs.  A job goes to a free worker that already holds exactly the
//! credentials asked for (the fields the switch changes: real, effective
//! and fs ids, groups, effective capabilities); failing that, to a new
//! worker or the least recently used free one, which first takes its own
//! credentials back and then the new ones.  The caller waits for the job
//! ([`sys::lend`]): the job may borrow from it.
//!
//! A worker that cannot take its own credentials back retires: its thread
//! ends without running anything more, and the pool forgets it.  A worker
//! that cannot take the asked credentials runs nothing (the caller gets
//! the error, the act fails closed).

use std::sync::{Arc, Mutex, OnceLock};

use super::sys::{self, Lent};
use super::{own, restore, take, Creds, SwitchError, SWITCHED};

/// At most this many acting threads (credential sets kept at once); when
/// all are busy the caller switches itself.
const WORKERS: usize = 4;

/// One acting thread: where its next job is put, and the thread to wake.
struct Worker {
    next: Mutex<Option<Lent>>,
    thread: OnceLock<std::thread::Thread>,
}

impl Worker {
    fn give(&self, job: Lent) {
        *self.next.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// On the worker's thread: its next job.
    fn wait(&self) -> Lent {
        loop {
            if let Some(j) = self.next.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return j;
            }
            std::thread::park();
        }
    }
}

/// What the pool knows of a worker.
struct Entry {
    worker: Arc<Worker>,
    /// The credentials it holds (`None`: the supervisor's own).
    holds: Option<Arc<Creds>>,
    busy: bool,
    /// When it was last given a job (for least-recently-used reuse).
    used: u64,
    /// The number of its holding of `holds` (io_uring personalities
    /// registered by it are good while it keeps that holding).
    held: u64,
}

#[derive(Default)]
struct Pool {
    entries: Vec<Entry>,
    clock: u64,
}

fn pool() -> &'static Mutex<Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// How a job on a worker ended, for the pool's record.
enum After {
    /// The worker holds these credentials now (`None`: its own), its
    /// holding numbered (a new number for each switch).
    Holds(Option<Arc<Creds>>, u64),
    /// The worker could not take its own credentials back: it retired.
    Retired,
}

/// Runs `f` with the credentials `to` on a worker thread; `Err(f)` when
/// no worker is free (the caller then switches itself).
pub(super) fn run<T: Send, F: FnOnce() -> T + Send>(
    to: &Arc<Creds>,
    f: F,
) -> Result<Result<T, SwitchError>, F> {
    let Some(worker) = acquire(to) else {
        return Err(f);
    };
    Ok(on(worker, to, f).0)
}

/// Runs `f` on the worker that holds `to` (switching one if none does),
/// and tells which holding of `to` that was (see [`holds`]): `None` if no
/// worker is free or none could take `to` (`f` not run).
pub(super) fn run_held<T: Send, F: FnOnce() -> T + Send>(
    to: &Arc<Creds>,
    f: F,
) -> Option<(T, u64)> {
    let worker = acquire(to)?;
    match on(worker, to, f) {
        (Ok(r), Some(held)) => Some((r, held)),
        _ => None,
    }
}

/// Does a worker still hold the credentials it held as `held` (a number
/// [`run_held`] gave): has it not switched to others since?
pub(super) fn holds(held: u64) -> bool {
    let p = pool().lock().unwrap_or_else(|e| e.into_inner());
    p.entries
        .iter()
        .any(|e| e.held == held && e.holds.is_some())
}

/// Runs `f` on `worker` (acquired for `to`) and releases it: `f`'s
/// result, and the number of the holding it ran in.
fn on<T: Send, F: FnOnce() -> T + Send>(
    worker: Arc<Worker>,
    to: &Arc<Creds>,
    f: F,
) -> (Result<T, SwitchError>, Option<u64>) {
    let mut f = Some(f);
    let mut out: Option<(Result<T, SwitchError>, After)> = None;
    let want = to.clone();
    let mut job = || {
        let r = held::ensure(&want);
        let after = held::after();
        out = Some(match r {
            Ok(()) => match f.take() {
                Some(f) => (Ok(f()), after),
                None => (Err(SwitchError::Nested), after),
            },
            Err(e) => (Err(e), after),
        });
    };
    sys::lend(&mut job, |lent| worker.give(lent));
    let (r, after) = out.unwrap_or((Err(SwitchError::Retired), After::Retired));
    let held = match after {
        After::Holds(Some(_), n) => Some(n),
        _ => None,
    };
    release(&worker, after);
    (r, held)
}

/// A free worker for `to`, marked busy: one that holds `to`, else a new
/// one, else the least recently used free one.
fn acquire(to: &Creds) -> Option<Arc<Worker>> {
    let mut p = pool().lock().unwrap_or_else(|e| e.into_inner());
    p.clock += 1;
    let now = p.clock;
    let pick = p
        .entries
        .iter()
        .position(|e| !e.busy && e.holds.as_deref().is_some_and(|h| h.acts_as(to)));
    let i = match pick {
        Some(i) => i,
        None if p.entries.len() < WORKERS => {
            let w = spawn()?;
            p.entries.push(Entry {
                worker: w,
                holds: None,
                busy: false,
                used: 0,
                held: 0,
            });
            p.entries.len() - 1
        }
        None => {
            p.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.busy)
                .min_by_key(|(_, e)| e.used)?
                .0
        }
    };
    let e = &mut p.entries[i];
    e.busy = true;
    e.used = now;
    Some(e.worker.clone())
}

fn release(worker: &Arc<Worker>, after: After) {
    let mut p = pool().lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = p
        .entries
        .iter()
        .position(|e| Arc::ptr_eq(&e.worker, worker))
    else {
        return;
    };
    match after {
        After::Holds(c, held) => {
            let e = &mut p.entries[i];
            e.holds = c;
            e.held = held;
            e.busy = false;
        }
        After::Retired => {
            p.entries.swap_remove(i);
        }
    }
}

/// A new acting thread, with the supervisor's own credentials (checked).
fn spawn() -> Option<Arc<Worker>> {
    let w = Arc::new(Worker {
        next: Mutex::new(None),
        thread: OnceLock::new(),
    });
    let mine = w.clone();
    let t = std::thread::Builder::new()
        .name("acting".into())
        .spawn(move || {
            // Spawned by a thread with its own credentials (the caller is
            // never switched), so these are the supervisor's: checked all
            // the same before the first job.
            let ok = matches!((Creds::of_this_thread(), own()), (Ok(me), Ok(own)) if me == *own);
            if !ok {
                held::retire();
            }
            loop {
                mine.wait().run();
                if held::retired() {
                    // Never serves another request.  Jobs given later
                    // (none: the pool forgot it) would be dropped, which
                    // ends their loan.
                    return;
                }
            }
        })
        .ok()?;
    let _ = w.thread.set(t.thread().clone());
    Some(w)
}

/// The acting thread's own state: the credentials it holds.
mod held {
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::{own, restore, take, After, Creds, SwitchError, SWITCHED};

    thread_local! {
        /// What this worker holds, and what `take` changed to get there.
        static HELD: RefCell<Option<(Arc<Creds>, u8)>> = const { RefCell::new(None) };
        static RETIRED: Cell<bool> = const { Cell::new(false) };
        /// The number of this worker's current holding.
        static HELD_NO: Cell<u64> = const { Cell::new(0) };
    }

    /// Numbers every holding of every worker, from 1.
    static NEXT: AtomicU64 = AtomicU64::new(1);

    pub(super) fn retire() {
        RETIRED.with(|r| r.set(true));
    }

    pub(super) fn retired() -> bool {
        RETIRED.with(Cell::get)
    }

    pub(super) fn after() -> After {
        if retired() {
            After::Retired
        } else {
            After::Holds(
                HELD.with(|h| h.borrow().as_ref().map(|(c, _)| c.clone())),
                HELD_NO.with(Cell::get),
            )
        }
    }

    /// This thread holds exactly `to` (switching if it held other
    /// credentials), or the error why not: then it holds its own, or
    /// has retired.
    pub(super) fn ensure(to: &Arc<Creds>) -> Result<(), SwitchError> {
        if retired() {
            return Err(SwitchError::Retired);
        }
        let own = own()?;
        let held = HELD.with(|h| h.borrow_mut().take());
        if let Some((c, changed)) = held {
            if c.acts_as(to) {
                HELD.with(|h| *h.borrow_mut() = Some((c, changed)));
                return Ok(());
            }
            back(own, changed)?;
        }
        let mut changed = 0;
        SWITCHED.with(|s| s.set(true));
        match take(to, own, &mut changed) {
            Ok(()) => {
                HELD.with(|h| *h.borrow_mut() = Some((to.clone(), changed)));
                HELD_NO.with(|n| n.set(NEXT.fetch_add(1, Ordering::Relaxed)));
                Ok(())
            }
            Err(e) => {
                back(own, changed)?;
                Err(e)
            }
        }
    }

    /// Takes the worker's own credentials back; retires it if that fails.
    fn back(own: &Creds, changed: u8) -> Result<(), SwitchError> {
        match restore(own, changed) {
            Ok(()) => {
                SWITCHED.with(|s| s.set(false));
                Ok(())
            }
            Err(e) => {
                eprintln!("supervisor: an acting thread cannot take its credentials back ({e}): it retires");
                retire();
                Err(e)
            }
        }
    }
}
