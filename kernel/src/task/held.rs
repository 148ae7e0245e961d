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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn open_status(proc: BorrowedFd, tid: u32) -> Result<OwnedFd, Errno> {
        crate::sys::openat(
            proc,
            &std::ffi::CString::new(format!("{tid}/status")).unwrap(),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
    }

    /// A held file is read again while its thread lives, and never once
    /// the thread is gone: then the file is opened afresh (here: the tid
    /// names nothing any more, so the read fails).
    #[test]
    fn a_held_file_serves_its_thread_only_while_it_lives() {
        let proc = crate::sys::openat(
            nix::fcntl::AT_FDCWD,
            c"/proc",
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
        .unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let tid = child.id();
        let mut buf = [0u8; 4096];
        let mut opened = 0;
        for _ in 0..3 {
            let n = read_status(proc.as_fd(), tid, &mut buf, || {
                opened += 1;
                open_status(proc.as_fd(), tid)
            })
            .unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            assert!(text.contains(&format!("\nPid:\t{tid}\n")), "{text}");
        }
        assert_eq!(opened, 1, "opened once, then re-read");
        child.kill().unwrap();
        child.wait().unwrap();
        let r = read_status(proc.as_fd(), tid, &mut buf, || {
            opened += 1;
            open_status(proc.as_fd(), tid)
        });
        assert_eq!(opened, 2, "the dead thread's file is not read");
        assert_eq!(r, Err(Errno::ENOENT));
    }
}
