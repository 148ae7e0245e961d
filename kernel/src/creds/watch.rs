//! Is a kept entry's thread still alive, without a syscall per question?
//!
//! [`super::cache`] answers a hit only if the thread the credentials were
//! read from still lives: a `poll` of its `PIDFD_THREAD` pidfd (~0.5 µs).
//! Here each thread that asks keeps an io_uring of its own
//! (`IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG`) with a
//! `POLL_ADD` armed on the pidfd of each entry it found alive.  When such
//! a thread exits, the kernel's wake-up of its pidfd queues the poll's
//! completion as work for this ring and sets `IORING_SQ_TASKRUN` in the
//! ring's shared flags at once (in the exiting thread, before its number
//! is freed, so before any thread can be made with that number and make a
//! call); the work itself only runs when this thread enters the ring
//! (`DEFER_TASKRUN`: nobody else can, `SINGLE_ISSUER`).  So while the flag
//! is clear, the completion queue empty and not overflown, no armed
//! thread has exited since it was armed: an armed entry's thread lives
//! now, which is all [`super::cache::Alive::lives`] tells.  Otherwise the
//! ring is drained here (the completions of the threads that ended
//! disarm their entries) and the question falls back to the `poll`.
//!
//! Never answers alive by default: no ring (io_uring disabled, an old
//! kernel, a failed step) means the `poll`, every time.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::IoUring;

mod sys;

/// Entries armed per thread at most (the oldest is disarmed past that).
const ARMED: usize = 256;
/// A `POLL_REMOVE`'s tag: the armed entry's with this bit.
const REMOVE: u64 = 1 << 63;

struct Ring {
    ring: IoUring,
    /// (tid, the entry's number): armed on this ring, oldest first.
    armed: Vec<(u32, u64)>,
}

enum State {
    Untried,
    Ready(Box<Ring>),
    Off,
}

thread_local! {
    static RING: RefCell<State> = const { RefCell::new(State::Untried) };
    static FAST: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Answers given from the ring by this thread.
#[cfg(test)]
pub(super) fn fast_answers() -> u64 {
    FAST.with(std::cell::Cell::get)
}

impl Ring {
    fn make() -> Option<Ring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .build(32)
            .ok()?;
        Some(Ring {
            ring,
            armed: Vec::new(),
        })
    }

    /// Nothing happened on the ring since it was last drained.
    fn quiet(&mut self) -> bool {
        let sq = self.ring.submission();
        let busy = sq.taskrun() || sq.cq_overflow();
        drop(sq);
        !busy && self.ring.completion().is_empty()
    }

    /// Runs the ring's pending work and disarms what completed; `false` if
    /// the ring is broken (to be dropped).
    fn drain(&mut self) -> bool {
        for _ in 0..8 {
            if self.quiet() {
                return true;
            }
            if sys::run_work(&self.ring).is_err() {
                return false;
            }
            let done: Vec<u64> = self.ring.completion().map(|c| c.user_data()).collect();
            for tag in done {
                if tag & REMOVE == 0 {
                    self.armed.retain(|&(_, seq)| seq != tag);
                }
            }
        }
        self.quiet()
    }

    /// Arms entry `seq` of thread `tid` (its pidfd `fd`), disarming the
    /// thread's older entry and, past [`ARMED`], the oldest; `false` if the
    /// ring is broken.
    fn arm(&mut self, tid: u32, seq: u64, fd: BorrowedFd) -> bool {
        let mut gone = Vec::new();
        self.armed.retain(|&(t, s)| {
            if t == tid {
                gone.push(s);
            }
            t != tid
        });
        if self.armed.len() >= ARMED {
            gone.push(self.armed.remove(0).1);
        }
        for s in gone {
            if sys::push_remove(&mut self.ring, s, s | REMOVE).is_err() {
                return false;
            }
        }
        if sys::push_poll(&mut self.ring, fd.as_raw_fd(), seq).is_err() {
            return false;
        }
        if self.ring.submit().is_err() || !self.ring.submission().is_empty() {
            return false;
        }
        // Armed (or already completed, if the thread ended meanwhile: the
        // next drain disarms it).
        self.armed.push((tid, seq));
        true
    }
}

/// Does the thread whose `PIDFD_THREAD` pidfd is `fd` live (the kept entry
/// `seq` of thread number `tid`)?  `poll`: the syscall that tells, made
/// unless the ring can.
pub fn lives(tid: u32, seq: u64, fd: BorrowedFd, poll: impl FnOnce() -> bool) -> bool {
    if super::uring::disabled() {
        return poll();
    }
    RING.with(|cell| {
        let mut state = cell.borrow_mut();
        if matches!(*state, State::Untried) {
            *state = match Ring::make() {
                Some(r) => State::Ready(Box::new(r)),
                None => State::Off,
            };
        }
        let State::Ready(ring) = &mut *state else {
            return poll();
        };
        if !ring.drain() {
            *state = State::Off;
            return poll();
        }
        if ring.armed.contains(&(tid, seq)) && ring.quiet() {
            FAST.with(|f| f.set(f.get() + 1));
            return true;
        }
        if !poll() {
            return false;
        }
        if !ring.arm(tid, seq, fd) {
            *state = State::Off;
        }
        true
    })
}
