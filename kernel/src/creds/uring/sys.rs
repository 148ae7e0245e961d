//! The one unsafe step of the io_uring path: an SQE whose pointers (the
//! name, the `open_how`) must stay valid until the kernel is done with it.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use io_uring::{opcode, types, IoUring};
use nix::errno::Errno;

/// How a request on the ring ended.
pub(super) enum Done<T> {
    Result(Result<T, Errno>),
    /// The ring can no longer be used (the caller drops it).
    Broken,
}

/// `IORING_REGISTER_PERSONALITY` on the ring `fd`: the calling thread's
/// credentials, kept by the ring under the number returned.
pub(super) fn register_personality(fd: std::os::fd::RawFd) -> Result<u16, Errno> {
    const IORING_REGISTER_PERSONALITY: libc::c_long = 9;
    // SAFETY: integer arguments only (no argument structure: NULL, 0).
    let r = unsafe {
        libc::syscall(
            libc::SYS_io_uring_register,
            fd,
            IORING_REGISTER_PERSONALITY,
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(r).map(|id| id as u16)
}

/// Tags this thread's requests; each is awaited before the next.
fn next_tag() -> u64 {
    thread_local! {
        static TAG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    TAG.with(|t| {
        let v = t.get().wrapping_add(1);
        t.set(v);
        v
    })
}

/// `openat2(dir, name, how)` with personality `id`, waited for.
pub(super) fn openat2(
    ring: &mut IoUring,
    dir: BorrowedFd,
    name: &CStr,
    how: &types::OpenHow,
    id: u16,
) -> Done<OwnedFd> {
    let tag = next_tag();
    let sqe = opcode::OpenAt2::new(types::Fd(dir.as_raw_fd()), name.as_ptr(), how)
        .build()
        .user_data(tag)
        .personality(id);
    // Nothing else is ever left in this ring's queues: one request at a
    // time, each awaited (below) or the ring dropped.
    if !ring.submission().is_empty() || ring.completion().next().is_some() {
        return Done::Broken;
    }
    // SAFETY: the SQE points at `name` and `how`, borrowed for the whole of
    // this function, which returns only once the kernel has answered this
    // very request (its CQE, by tag) or once the SQE is known not to have
    // been taken (then the ring is dropped by the caller: closing its fd,
    // nothing of it is ever submitted).  The kernel copies both at
    // submission (openat2's prep) and writes nothing to our memory.
    if unsafe { ring.submission().push(&sqe) }.is_err() {
        return Done::Broken;
    }
    let mut errors = 0;
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {}
            // A signal (the serving threads' wake): the request, if taken,
            // is still ours to wait for.
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(_) if !ring.submission().is_empty() => return Done::Broken,
            // Taken, then waiting failed: a few tries, never a hang (once
            // taken, the request no longer reads our memory).
            Err(_) => {
                errors += 1;
                if errors > 3 {
                    return Done::Broken;
                }
            }
        }
        if let Some(cqe) = ring.completion().next() {
            if cqe.user_data() != tag {
                // Another request's answer: none can be (above).
                return Done::Broken;
            }
            let r = cqe.result();
            return Done::Result(if r < 0 {
                Err(Errno::from_raw(-r))
            } else {
                // SAFETY: a successful openat2 answers a new descriptor of
                // this process that nothing else owns.
                Ok(unsafe { OwnedFd::from_raw_fd(r) })
            });
        }
    }
}
