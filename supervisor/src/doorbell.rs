//! Waiting for the next notification in a blocking
//! `SECCOMP_IOCTL_NOTIF_RECV`, as the C floor does, rather than a `poll`
//! before every receive (one syscall, about a tenth of a CONTINUE round
//! trip on the benchmark machine).
//!
//! The request loop has other things to wait for: the program's exit (its
//! pidfd), signals (a signalfd), name lookups (the DNS stub's eventfd).  A
//! bell thread polls those; when one is ready it marks the doorbell
//! *pending* and takes the main thread out of its RECV with
//! [`sys::wake_signal`], whose handler does nothing and has no
//! `SA_RESTART`: the RECV fails with EINTR and the loop looks at what is
//! pending.
//!
//! The signal must never reach the main thread elsewhere: a host call of
//! the policy would fail with EINTR.  The main thread marks itself *in
//! RECV* (under a lock) around the ioctl only, and the bell thread signals
//! it only under that lock while the mark is set.  A signal that lands
//! just before the ioctl is entered runs the handler and is lost (the RECV
//! blocks): the bell rings again every [`RING_AGAIN`] until the main
//! thread has taken what is pending.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use kernel::notify::{sys as notif_sys, Listener, Notif};
use kernel::sys;

/// How often the bell rings again while the main thread has not taken
/// what is pending (only after a signal was lost to the race above).
pub const RING_AGAIN: Duration = Duration::from_millis(1);

/// How long the bell thread waits for the main thread to take what is
/// pending while it is busy elsewhere, before looking again (a notice of
/// the taking can be missed).
const TAKE_WAIT: Duration = Duration::from_millis(100);

/// What woke the main thread.
pub enum Received {
    /// The bell: something it watches is ready; look at every source
    /// (they are level-triggered: what is left rings again).
    Rang,
    /// A notification.
    Notif(Notif),
    /// Nothing: interrupted by the bell (wait again), or the notifying
    /// thread vanished before it was received.
    Nothing,
    /// The listener hung up: no process is left under the filter.
    Hangup,
}

struct Shared {
    /// Something the bell thread watches is ready.
    pending: AtomicBool,
    /// The main thread is in (or about to enter) its RECV.
    in_recv: Mutex<bool>,
    /// Wakes the bell thread once the main thread has taken what was pending.
    taken: Condvar,
    /// The kernel tid of the main thread.
    main: i32,
    /// Descriptors to watch besides the first ones (the DNS stub's).
    extra: Mutex<Vec<OwnedFd>>,
    /// Readable when `extra` changed, or the doorbell is dropped.
    change: EventFd,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The main thread's end.
pub struct Doorbell {
    shared: Arc<Shared>,
}

impl Doorbell {
    /// Starts the bell thread watching duplicates of `fds`; the calling
    /// thread is the one [`Doorbell::recv`] is called on.  The signals the
    /// loop reads from a signalfd must already be blocked (the bell thread
    /// inherits the mask).  `None` when no thread can be had: the loop
    /// then polls before every receive.
    pub fn start(fds: &[BorrowedFd]) -> Option<Doorbell> {
        sys::install_wake_handler().ok()?;
        let mut own = Vec::with_capacity(fds.len());
        for fd in fds {
            own.push(fd.try_clone_to_owned().ok()?);
        }
        let shared = Arc::new(Shared {
            pending: AtomicBool::new(false),
            in_recv: Mutex::new(false),
            taken: Condvar::new(),
            main: sys::gettid(),
            extra: Mutex::new(Vec::new()),
            change: EventFd::from_value_and_flags(
                0,
                EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
            )
            .ok()?,
            closed: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("supervisor-bell".into())
            .spawn(move || ring(&s, &own))
            .ok()?;
        Some(Doorbell { shared })
    }

    /// Waits for the next notification or the bell.
    pub fn wait(&self, listener: &Listener) -> Result<Received, Errno> {
        if self.take() {
            return Ok(Received::Rang);
        }
        self.recv(listener)
    }

    /// Was something pending?  Clears the mark.
    fn take(&self) -> bool {
        let was = self.shared.pending.swap(false, Ordering::SeqCst);
        if was {
            self.shared.taken.notify_one();
        }
        was
    }

    /// Watches one more descriptor (a duplicate of `fd`).
    pub fn watch(&self, fd: BorrowedFd) -> Result<(), Errno> {
        let fd = fd.try_clone_to_owned().map_err(|_| Errno::EMFILE)?;
        lock(&self.shared.extra).push(fd);
        self.shared.change.write(1).map(drop)
    }

    /// Receives the next notification, blocking until one comes or the
    /// bell rings.
    fn recv(&self, listener: &Listener) -> Result<Received, Errno> {
        *lock(&self.shared.in_recv) = true;
        // Pending before the mark was set: the bell thread may have looked
        // at the mark already and not signalled.
        let r = if self.shared.pending.load(Ordering::SeqCst) {
            Err(Errno::EINTR)
        } else {
            notif_sys::recv(listener.fd())
        };
        *lock(&self.shared.in_recv) = false;
        match r {
            Ok(n) => Ok(Received::Notif(n)),
            Err(Errno::EINTR) => Ok(Received::Nothing),
            // The thread vanished, or no process is left under the filter
            // (then every RECV fails at once: say so rather than spin).
            Err(Errno::ENOENT) => {
                let mut fds = [PollFd::new(listener.fd(), PollFlags::POLLIN)];
                let hup = poll(&mut fds, PollTimeout::ZERO).is_ok()
                    && fds[0]
                        .revents()
                        .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR));
                Ok(if hup {
                    Received::Hangup
                } else {
                    Received::Nothing
                })
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        let _ = self.shared.change.write(1);
    }
}

/// The bell thread: waits for `fds` and the extra descriptors; marks what
/// is ready as pending and rings until the main thread takes it.
fn ring(s: &Shared, fds: &[OwnedFd]) {
    let mut extra: Vec<OwnedFd> = Vec::new();
    loop {
        if s.closed.load(Ordering::SeqCst) {
            return;
        }
        let mut set: Vec<PollFd> = std::iter::once(s.change.as_fd())
            .chain(fds.iter().map(|f| f.as_fd()))
            .chain(extra.iter().map(|f| f.as_fd()))
            .map(|f| PollFd::new(f, PollFlags::POLLIN))
            .collect();
        match poll(&mut set, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            // Cannot wait: ring now and then rather than never.
            Err(_) => std::thread::sleep(RING_AGAIN),
        }
        let changed = set[0].revents().is_some_and(|r| !r.is_empty());
        drop(set);
        if changed {
            let _ = s.change.read();
            for fd in lock(&s.extra).drain(..) {
                extra.push(fd);
            }
            continue;
        }
        s.pending.store(true, Ordering::SeqCst);
        // Not in RECV: the main thread sets the mark under this lock and
        // then looks at `pending`, so it will see it without a signal.
        let mut in_recv = lock(&s.in_recv);
        while s.pending.load(Ordering::SeqCst) && !s.closed.load(Ordering::SeqCst) {
            if *in_recv {
                // Under the lock: the main thread cannot have left its RECV.
                let _ = sys::tkill(s.main as u32, sys::wake_signal());
            }
            // Until taken (the sources stay ready until then).
            let wait = if *in_recv { RING_AGAIN } else { TAKE_WAIT };
            in_recv = s
                .taken
                .wait_timeout(in_recv, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
