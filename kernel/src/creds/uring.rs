//! Acting as the program without a hand-off: an io_uring personality.
//!
//! `IORING_REGISTER_PERSONALITY` keeps the credentials the registering
//! thread has at that moment; an SQE carrying that personality is performed
//! with them (`override_creds` for the one request, no cred commit).  So a
//! calling thread registers a program credential set once (switched to it
//! with [`super::switch`] for the length of the registration, then back)
//! and from then on performs the hot calls as the program on its own
//! thread: no acting thread, no two context switches.  The registration
//! is made by the acting thread that holds the set ([`super::pool`]), so
//! that the personality is that thread's very kernel credentials; when
//! that thread drops them (takes another set) the rings unregister the
//! personality at their next use of the set and register the new holding.
//!
//! Which calls: `openat2` of a held directory and a name, with exactly the
//! flags, mode and `RESOLVE_*` the caller decided, for opens that create
//! nothing (the kernel performs those inline; `O_CREAT`, `O_TRUNC` and
//! `O_TMPFILE` are always handed to its io-wq workers, which costs as much
//! as an acting thread), and its `O_PATH` form for a stat (the lookup as
//! the program, the stat of what it found by the supervisor: a stat checks
//! no permission but the lookup's).  Everything else keeps the acting
//! threads ([`super::run_as`]).
//!
//! One ring per thread that uses it (the serving threads, the main
//! thread), made on first use: one request in flight at a time, its CQE
//! awaited before the next SQE (its `user_data` checked); no lock.  Each
//! ring keeps the personalities of at most [`KEPT`] credential sets,
//! unregistering the least recently used; all go with the thread's ring.
//!
//! Never fails open: a ring that cannot be made (io_uring disabled by
//! `kernel.io_uring_disabled`, a seccomp filter, an old kernel), a
//! registration that fails, or an answer of EINVAL, EOPNOTSUPP or ENOSYS
//! (an op this kernel refuses) send the call to the acting threads, which
//! decide it; [`disable`] does so for the whole process.

use std::cell::RefCell;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use io_uring::IoUring;
use nix::errno::Errno;

use super::{own, pool, Creds, SWITCHED};

mod sys;

/// Personalities kept per ring.
const KEPT: usize = 8;

static DISABLED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicU64 = AtomicU64::new(0);
static FELL_BACK: AtomicU64 = AtomicU64::new(0);

/// No io_uring from now on, in any thread (the acting threads do it all).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// (calls performed through a personality, calls sent back to the acting
/// threads) since the start.
pub fn counts() -> (u64, u64) {
    (
        DONE.load(Ordering::Relaxed),
        FELL_BACK.load(Ordering::Relaxed),
    )
}

/// A thread's ring and the credential sets registered on it.
struct Ring {
    ring: IoUring,
    kept: Vec<Kept>,
    clock: u64,
}

/// A personality of this ring.
struct Kept {
    creds: Arc<Creds>,
    id: u16,
    /// Registered by the acting thread in this holding of `creds`
    /// (`pool::holds`).
    held: u64,
    used: u64,
}

enum State {
    Untried,
    Ready(Box<Ring>),
    /// No ring on this thread (cannot be made, or broke).
    Off,
}

thread_local! {
    static RING: RefCell<State> = const { RefCell::new(State::Untried) };
}

fn make() -> Option<IoUring> {
    // Not IORING_SETUP_SINGLE_ISSUER: the acting threads register the
    // personalities on it.
    IoUring::new(4).ok()
}

impl Ring {
    /// The personality of `to` on this ring, registered if need be;
    /// `Err(true)` if this ring cannot register any (then it is dropped),
    /// `Err(false)` if no acting thread could register it now.
    fn personality(&mut self, to: &Arc<Creds>) -> Result<u16, bool> {
        self.clock += 1;
        let now = self.clock;
        if let Some(i) = self.kept.iter().position(|k| k.creds.acts_as(to)) {
            let k = &mut self.kept[i];
            if pool::holds(k.held) {
                k.used = now;
                return Ok(k.id);
            }
            // The acting thread has dropped that holding: so does the ring.
            let k = self.kept.swap_remove(i);
            let _ = self.ring.submitter().unregister_personality(k.id);
        }
        if self.kept.len() >= KEPT {
            if let Some((i, _)) = self.kept.iter().enumerate().min_by_key(|(_, k)| k.used) {
                let k = self.kept.swap_remove(i);
                let _ = self.ring.submitter().unregister_personality(k.id);
            }
        }
        // Registered by the acting thread that holds `to`: a personality
        // is the registering thread's very credentials (one kernel cred),
        // so a file opened through it has the same `f_cred` as one that
        // thread opens, which `linkat(fd, "", AT_EMPTY_PATH)` compares.
        let fd = self.ring.as_raw_fd();
        let (id, held) = pool::run_held(to, move || sys::register_personality(fd)).ok_or(false)?;
        let id = id.map_err(|_| true)?;
        self.kept.push(Kept {
            creds: to.clone(),
            id,
            held,
            used: now,
        });
        Ok(id)
    }
}

/// What a call through the ring gave: `None` when it must go to the
/// acting threads instead.
/// `also`: one more errno that sends the call to them.
fn with_ring<T>(
    to: &Arc<Creds>,
    also: Option<Errno>,
    f: impl FnOnce(&mut IoUring, u16) -> sys::Done<T>,
) -> Option<Result<T, Errno>> {
    if SWITCHED.with(|s| s.get()) {
        return None;
    }
    let own = own().ok()?;
    // The supervisor's own credentials need no personality (run_as acts at
    // once); capabilities it does not hold, no thread can take.
    if to.acts_as(own) || to.cap_eff & !own.cap_prm != 0 {
        return None;
    }
    if DISABLED.load(Ordering::Relaxed) {
        FELL_BACK.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let r = RING.with(|cell| {
        let mut state = cell.borrow_mut();
        if matches!(*state, State::Untried) {
            *state = match make() {
                Some(ring) => State::Ready(Box::new(Ring {
                    ring,
                    kept: Vec::new(),
                    clock: 0,
                })),
                None => State::Off,
            };
        }
        let State::Ready(ring) = &mut *state else {
            return None;
        };
        let id = match ring.personality(to) {
            Ok(id) => id,
            Err(broken) => {
                if broken {
                    *state = State::Off;
                }
                return None;
            }
        };
        match f(&mut ring.ring, id) {
            sys::Done::Result(r) => Some(r),
            sys::Done::Broken => {
                // Dropped (its fd closed): nothing of ours is in flight.
                *state = State::Off;
                None
            }
        }
    });
    match r {
        Some(Err(e))
            if matches!(e, Errno::EINVAL | Errno::EOPNOTSUPP | Errno::ENOSYS)
                || Some(e) == also =>
        {
            FELL_BACK.fetch_add(1, Ordering::Relaxed);
            None
        }
        None => {
            FELL_BACK.fetch_add(1, Ordering::Relaxed);
            None
        }
        Some(r) => {
            DONE.fetch_add(1, Ordering::Relaxed);
            Some(r)
        }
    }
}

/// `openat2(dir, name, {flags, mode, resolve})` as `to`, through this
/// thread's ring: `None` when the caller must use [`super::run_as`]
/// (never for a call that creates or truncates: those are not asked here).
pub fn openat2_as(
    to: &Arc<Creds>,
    dir: BorrowedFd,
    name: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Option<Result<OwnedFd, Errno>> {
    if flags & (libc::O_CREAT | libc::O_TRUNC) != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return None;
    }
    let how = io_uring::types::OpenHow::new()
        .flags(flags as u32 as u64)
        .mode(u64::from(mode))
        .resolve(resolve);
    with_ring(to, None, |ring, id| sys::openat2(ring, dir, name, &how, id))
}

/// `openat2(dir, name, O_PATH | O_NOFOLLOW)` as `to` (with `O_DIRECTORY`
/// if `directory`: the automount a stat of a directory triggers), through
/// this thread's ring, for a stat: what `fstatat(dir, name,
/// AT_SYMLINK_NOFOLLOW)` as `to` finds, the lookup checked as `to`
/// (search permission on `dir`), and no other check (a stat makes none on
/// the object itself).  `None` when the caller must use
/// [`super::run_as`] (also for `ENOTDIR` if `directory`: what was a
/// directory no longer is; and for a full descriptor table, which the
/// stat itself would not need).
pub fn lookup_as(
    to: &Arc<Creds>,
    dir: BorrowedFd,
    name: &CStr,
    directory: bool,
) -> Option<Result<OwnedFd, Errno>> {
    let mut flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    if directory {
        flags |= libc::O_DIRECTORY;
    }
    let how = io_uring::types::OpenHow::new().flags(flags as u32 as u64);
    let also = if directory {
        Some(Errno::ENOTDIR)
    } else {
        None
    };
    match with_ring(to, also, |ring, id| sys::openat2(ring, dir, name, &how, id)) {
        Some(Err(Errno::EMFILE | Errno::ENFILE)) => None,
        r => r,
    }
}
