//! Held `/proc/<tid>/status` files: a thread's status is read again with
//! `pread` on the file opened for an earlier notification of the same
//! thread, saving the lookup, open and close.
//!
//! Race-free as a fresh open: a `/proc/<tid>` file is bound to the kernel's
//! pid of the thread it was opened for, never to the number.  While any
//! thread has that pid its number cannot be reused; once none has it, the
//! read fails (`ESRCH`) and the file is opened afresh.  So a read that
//! succeeds, followed by a valid `ID_VALID` for a notification of thread
//! `tid`, read the notifying thread.  Files are kept per procfs instance
//! (its device: the pid namespace the numbers belong to) and number.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Mutex;

use nix::errno::Errno;

/// At most this many files are held (the most recently read).
const HELD: usize = 16;

struct Entry {
    proc_dev: u64,
    tid: u32,
    fd: OwnedFd,
}

static FILES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Reads the status of `tid` (in the procfs `proc`) into `buf`, with a
/// held file if there is one that still reads, else with one `open` gives.
pub(super) fn read_status(
    proc: BorrowedFd,
    tid: u32,
    buf: &mut [u8],
    open: impl FnOnce() -> Result<OwnedFd, Errno>,
) -> Result<usize, Errno> {
    let proc_dev = nix::sys::stat::fstat(proc)?.st_dev;
    let held = {
        let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        files
            .iter()
            .position(|e| e.proc_dev == proc_dev && e.tid == tid)
            .map(|i| files.remove(i).fd)
    };
    if let Some(fd) = held {
        if let Ok(n @ 1..) = nix::sys::uio::pread(&fd, buf, 0) {
            keep(proc_dev, tid, fd);
            return Ok(n);
        }
    }
    let fd = open()?;
    let n = nix::sys::uio::pread(&fd, buf, 0)?;
    keep(proc_dev, tid, fd);
    Ok(n)
}

fn keep(proc_dev: u64, tid: u32, fd: OwnedFd) {
    let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
    if files.len() >= HELD {
        files.remove(0);
    }
    files.push(Entry { proc_dev, tid, fd });
}
