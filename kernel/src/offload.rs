//! The program's memory is read (and written) by a worker thread, never by
//! the caller, and the caller waits at most [`DEADLINE`].
//!
//! A page of the program may never arrive: registered with a userfaultfd
//! that is never served, backed by a FUSE file system whose server stalls,
//! or by a dead NFS server.  `process_vm_readv` then sleeps in the kernel
//! (`handle_userfault`, `request_wait_answer`) in a *killable* wait: no
//! signal but SIGKILL ends it, so a request loop that read the page itself
//! would stop answering every thread of every process, and the supervisor
//! would not even exit on SIGTERM.
//!
//! Here the caller hands the copy to a worker and waits for it with a
//! time-out.  Past the deadline the caller gets EFAULT (the page could not
//! be read: the kernel's own answer for memory it cannot reach), and the
//! stalled worker is abandoned: later copies go to a new one, so the loop
//! goes on.  An abandoned worker ends when its copy does (the page served,
//! or the program gone, which releases its userfaultfd and wakes every
//! waiter).  At most [`MAX_ABANDONED`] are alive at once; beyond that,
//! copies fail with EFAULT at once until one of them ends, so the program
//! cannot make the supervisor pile up threads.
//!
//! The worker copies into buffers of its own, never into the caller's, so
//! an abandoned worker writes nothing the caller still uses.
//!
//! The hand-off costs a thread wake-up per copy (microseconds; far more on
//! a loaded machine), so it is on only when the program can make such a
//! page ([`set_guarded`]): under the default posture it cannot (the
//! `userfaultfd` syscall and `USERFAULTFD_IOC_NEW` are refused, and with
//! the mount calls refused it cannot serve a FUSE file system of its own),
//! and copies are made on the caller's thread.  `--allow-unmapped` turns
//! the guard on.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;

/// How long a copy from or to the program may take.
pub const DEADLINE: Duration = Duration::from_secs(1);
/// Stalled workers alive at once, at most.
pub const MAX_ABANDONED: usize = 16;

/// One copy.
enum Op {
    Read { len: usize },
    Write { data: Vec<u8> },
}

struct Job {
    tid: u32,
    addr: u64,
    op: Op,
    done: SyncSender<Result<Vec<u8>, Errno>>,
}

/// Copies go through the worker (see the module's documentation).
static GUARDED: AtomicBool = AtomicBool::new(false);

/// Sends every later copy through the worker (`true`), or lets the caller
/// make them (`false`, the start).
pub fn set_guarded(on: bool) {
    GUARDED.store(on, Ordering::Release);
}

/// Do copies go through the worker?
pub fn guarded() -> bool {
    GUARDED.load(Ordering::Acquire)
}

/// The current worker's queue.
static WORKER: Mutex<Option<Sender<Job>>> = Mutex::new(None);
static ABANDONED: AtomicUsize = AtomicUsize::new(0);

fn spawn() -> Result<Sender<Job>, Errno> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("memory".into())
        .spawn(move || work(rx))
        .map_err(|_| Errno::EAGAIN)?;
    Ok(tx)
}

fn work(rx: Receiver<Job>) {
    // Ends when its queue is dropped: replaced after a stall, or the
    // process exiting.
    while let Ok(job) = rx.recv() {
        let r = match job.op {
            Op::Read { len } => {
                let mut buf = vec![0u8; len];
                crate::memory::direct_read(job.tid, job.addr, &mut buf).map(|()| buf)
            }
            Op::Write { data } => {
                crate::memory::direct_write(job.tid, job.addr, &data).map(|()| Vec::new())
            }
        };
        // The caller may have given up (dropped its end): nothing to do.
        let _ = job.done.send(r);
    }
}

/// Runs `op` on the worker, waiting at most [`DEADLINE`].
fn run(tid: u32, addr: u64, op: Op) -> Result<Vec<u8>, Errno> {
    let (done, result) = mpsc::sync_channel(1);
    let job = Job {
        tid,
        addr,
        op,
        done,
    };
    let mut worker = WORKER.lock().unwrap_or_else(|e| e.into_inner());
    if worker.is_none() {
        if ABANDONED.load(Ordering::Acquire) >= MAX_ABANDONED {
            return Err(Errno::EFAULT);
        }
        *worker = Some(spawn()?);
    }
    let sent = worker
        .as_ref()
        .map(|w| w.send(job).is_ok())
        .unwrap_or(false);
    if !sent {
        *worker = None;
        return Err(Errno::EFAULT);
    }
    // The lock is held while waiting: copies are one at a time, as they
    // were on the caller's thread, and a stalled worker is replaced before
    // anyone else queues behind it.
    match result.recv_timeout(DEADLINE) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => {
            // Abandon it: its queue is dropped, so it ends after its copy.
            *worker = None;
            ABANDONED.fetch_add(1, Ordering::AcqRel);
            std::thread::spawn(move || {
                // Counts the abandoned worker out once its copy returns.
                let _ = result.recv();
                ABANDONED.fetch_sub(1, Ordering::AcqRel);
            });
            Err(Errno::EFAULT)
        }
        Err(RecvTimeoutError::Disconnected) => {
            *worker = None;
            Err(Errno::EFAULT)
        }
    }
}

/// Copies `buf.len()` bytes at `addr` of thread `tid` into `buf`.
pub fn read(tid: u32, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let data = run(tid, addr, Op::Read { len: buf.len() })?;
    if data.len() != buf.len() {
        return Err(Errno::EFAULT);
    }
    buf.copy_from_slice(&data);
    Ok(())
}

/// Copies `data` to `addr` of thread `tid`.
pub fn write(tid: u32, addr: u64, data: &[u8]) -> Result<(), Errno> {
    run(
        tid,
        addr,
        Op::Write {
            data: data.to_vec(),
        },
    )
    .map(drop)
}

/// Stalled workers alive now.
pub fn abandoned() -> usize {
    ABANDONED.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_through_the_worker() {
        let me = std::process::id();
        let src = *b"through the worker";
        let mut buf = [0u8; 18];
        read(me, src.as_ptr() as u64, &mut buf).unwrap();
        assert_eq!(&buf, b"through the worker");
        let mut dst = [0u8; 4];
        write(me, dst.as_mut_ptr() as u64, b"abcd").unwrap();
        assert_eq!(&dst, b"abcd");
        assert_eq!(read(me, 8, &mut buf), Err(Errno::EFAULT));
        assert_eq!(abandoned(), 0);
    }
}
