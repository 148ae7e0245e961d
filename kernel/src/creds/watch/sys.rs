//! The unsafe steps of the watch ring: pushing SQEs and entering the ring.

use std::os::fd::RawFd;

use io_uring::{opcode, types, IoUring};

/// `IORING_ENTER_GETEVENTS`.
const GETEVENTS: u32 = 1;

/// Queues a `POLL_ADD` (readable) on `fd`, tagged `tag`.
pub(super) fn push_poll(ring: &mut IoUring, fd: RawFd, tag: u64) -> Result<(), ()> {
    let sqe = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
        .build()
        .user_data(tag);
    // SAFETY: the SQE holds no pointer into our memory (a descriptor, which
    // the kernel takes a reference of when it issues the poll, and flags).
    unsafe { ring.submission().push(&sqe) }.map_err(|_| ())
}

/// Queues a `POLL_REMOVE` of the poll tagged `target`, tagged `tag`.
pub(super) fn push_remove(ring: &mut IoUring, target: u64, tag: u64) -> Result<(), ()> {
    let sqe = opcode::PollRemove::new(target).build().user_data(tag);
    // SAFETY: the SQE holds no pointer (the target is a tag, by value).
    unsafe { ring.submission().push(&sqe) }.map_err(|_| ())
}

/// Runs the ring's deferred work (its completions are posted), waiting
/// for nothing.
pub(super) fn run_work(ring: &IoUring) -> Result<(), ()> {
    // SAFETY: no submission, no wait, no argument structure: the kernel
    // only runs this ring's pending work for the calling thread, its issuer.
    unsafe {
        ring.submitter()
            .enter::<libc::sigset_t>(0, 0, GETEVENTS, None)
    }
    .map(drop)
    .map_err(|_| ())
}
