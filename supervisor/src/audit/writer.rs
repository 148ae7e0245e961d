//! The `--log` file, written by a thread of its own: the request path
//! queues each finished record and goes on; the thread formats the queued
//! records (`record::line`) and writes them with one `write`.  The thread
//! is woken by the first record queued while it is idle, then takes what
//! is queued after [`PERIOD`] or once [`BATCH`] records wait: the request
//! path pays one wake-up per batch, not per record.
//!
//! What does not change: every record is written, in the order the
//! records were closed (one queue, fed under the recorder's lock); the
//! queue is bounded, and a full queue makes the request path wait for the
//! thread (never a record dropped); [`Writer::finish`] writes everything
//! before the run ends.  What does: a record reaches the file up to
//! [`PERIOD`] after its answer; a write that fails is seen by the thread,
//! up to [`DEPTH`] records after the answers they record were sent
//! (before: the record of the one answer already sent; the first record
//! still is); the run then ends
//! as before (the recorder fails closed), and those records are missing
//! from the file.
//!
//! The first record is written on the request path, as before: a log that
//! cannot be written at all ends the run before a second answer.  The
//! thread starts then, never before the program is started: the launch
//! forks while the supervisor has no other thread.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::record::{self, Answered, Entry};

/// Queued records that wake the thread.
pub const BATCH: usize = 64;
/// Queued records at most: the request path waits beyond.
pub const DEPTH: usize = 1024;
/// How often the thread looks at the queue without being woken.
pub const PERIOD: Duration = Duration::from_millis(10);

/// One finished record.
struct Line {
    entry: Entry,
    answered: Answered,
    denied: bool,
}

#[derive(Default)]
struct Queue {
    lines: Vec<Line>,
    /// No more records: write what is queued and end.
    closed: bool,
    /// Records handed over and written (for `flush`).
    queued: u64,
    written: u64,
    /// The thread ended on a write error.
    failed: bool,
    /// The thread waits for a record (none queued).
    idle: bool,
}

#[derive(Default)]
struct Shared {
    q: Mutex<Queue>,
    /// Records queued (`BATCH` of them, or the end).
    work: Condvar,
    /// Records written (room in the queue, or a flush done).
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Told the thread's write error (it then ends).
pub type OnFail = Box<dyn FnOnce(&std::io::Error) + Send>;

pub struct Writer {
    /// The file, until the thread takes it.
    file: Option<File>,
    on_fail: Option<OnFail>,
    shared: Option<Arc<Shared>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    /// A thread was tried (after the first record).
    tried: bool,
}

impl Writer {
    pub fn new(file: File, on_fail: OnFail) -> Writer {
        Writer {
            file: Some(file),
            on_fail: Some(on_fail),
            shared: None,
            thread: None,
            tried: false,
        }
    }

    /// Writes `line` first in the log, before any record; `false` once a
    /// record was written (the line is not written).
    pub fn preface(&mut self, line: &str) -> std::io::Result<bool> {
        match self.file.as_mut() {
            Some(f) if !self.tried => f.write_all(line.as_bytes()).map(|()| true),
            _ => Ok(false),
        }
    }

    /// Queues one record for the thread (started now if need be).  `Err`:
    /// the log cannot be written (the thread failed, or cannot start and
    /// the direct write failed).
    pub fn write(&mut self, entry: Entry, answered: Answered, denied: bool) -> std::io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            // The first record, or no thread could be made: written here,
            // as before.  A log that cannot be written at all (a full or
            // read-only file system) ends the run at its first record.
            let line = record::line(&entry, entry.decision.as_ref(), &answered, denied);
            f.write_all(line.as_bytes())?;
            if !self.tried {
                self.tried = true;
                if let Some(f) = self.file.take() {
                    self.start(f);
                }
            }
            return Ok(());
        }
        let Some(sh) = &self.shared else {
            return Err(gone());
        };
        let mut q = sh.lock();
        while q.lines.len() >= DEPTH && !q.failed {
            q = sh.done.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if q.failed {
            return Err(gone());
        }
        q.lines.push(Line {
            entry,
            answered,
            denied,
        });
        q.queued += 1;
        if q.lines.len() == BATCH || (q.idle && q.lines.len() == 1) {
            sh.work.notify_one();
        }
        Ok(())
    }

    fn start(&mut self, f: File) {
        let dup = f.try_clone();
        let sh = Arc::new(Shared::default());
        let on_fail = self.on_fail.take();
        let theirs = sh.clone();
        match std::thread::Builder::new()
            .name("supervisor-log".into())
            .spawn(move || {
                let r = drain(f, &theirs);
                if r.is_err() {
                    theirs.lock().failed = true;
                    theirs.done.notify_all();
                }
                if let (Err(e), Some(tell)) = (&r, on_fail) {
                    tell(e);
                }
                r
            }) {
            Ok(h) => {
                self.shared = Some(sh);
                self.thread = Some(h);
            }
            // The file went with the closure: the duplicate stays here.
            Err(_) => self.file = dup.ok(),
        }
    }

    /// Waits until every record queued so far is in the file.
    #[cfg(test)]
    pub fn flush(&self) {
        let Some(sh) = &self.shared else { return };
        let mut q = sh.lock();
        let want = q.queued;
        sh.work.notify_one();
        while q.written < want && !q.failed {
            q = sh.done.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Writes every record queued; the first error.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.file = None;
        if let Some(sh) = self.shared.take() {
            sh.lock().closed = true;
            sh.work.notify_one();
        }
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(gone()),
        }
    }
}

fn gone() -> std::io::Error {
    std::io::Error::other("the log writer stopped")
}

/// The thread: takes the queued records, writes them with one `write`.
fn drain(mut f: File, sh: &Shared) -> std::io::Result<()> {
    let mut text = Vec::with_capacity(64 * 1024);
    loop {
        let (lines, closed) = {
            let mut q = sh.lock();
            // Idle: woken by the next record.
            while q.lines.is_empty() && !q.closed {
                q.idle = true;
                q = sh.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            q.idle = false;
            if q.lines.len() < BATCH && !q.closed {
                // More are likely to come: taken together.
                q = sh
                    .work
                    .wait_timeout(q, PERIOD)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            (std::mem::take(&mut q.lines), q.closed)
        };
        if !lines.is_empty() {
            // Room again for the request path.
            sh.done.notify_all();
            text.clear();
            for l in &lines {
                let s = record::line(&l.entry, l.entry.decision.as_ref(), &l.answered, l.denied);
                text.extend_from_slice(s.as_bytes());
            }
            f.write_all(&text)?;
            sh.lock().written += lines.len() as u64;
            sh.done.notify_all();
        }
        if closed && sh.lock().lines.is_empty() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(path: &std::path::Path) -> Writer {
        let f = File::create(path).expect("log file");
        Writer::new(f, Box::new(|e| panic!("log write failed: {e}")))
    }

    fn tids(path: &std::path::Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .expect("read the log")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                v["tid"].as_u64().expect("tid")
            })
            .collect()
    }

    /// More records than the queue holds, as fast as they come: the
    /// request path waits for room, and every record is in the file, in
    /// the order handed over.
    #[test]
    fn every_record_is_written_in_order_when_the_queue_is_full() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("log");
        let mut w = writer(&path);
        let n = 3 * DEPTH as u32 + 17;
        for tid in 0..n {
            w.write(
                Entry::new(Some(tid), Some("open")),
                Answered::Value(3),
                false,
            )
            .expect("queued");
        }
        w.finish().expect("written");
        assert_eq!(tids(&path), (0..n as u64).collect::<Vec<_>>());
    }

    /// `flush` waits until what was queued is in the file (the log is
    /// readable mid-run, as tests read it).
    #[test]
    fn flush_waits_for_the_queued_records() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("log");
        let mut w = writer(&path);
        for tid in 0..10 {
            w.write(
                Entry::new(Some(tid), Some("open")),
                Answered::Errno(13),
                true,
            )
            .expect("queued");
        }
        w.flush();
        assert_eq!(tids(&path), (0..10).collect::<Vec<_>>());
        w.finish().expect("written");
    }

    /// A log that cannot be written fails at its first record, on the
    /// request path (the run then ends before another answer).
    #[test]
    fn a_log_that_cannot_be_written_fails_at_the_first_record() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut w = Writer::new(f, Box::new(|_| {}));
        let e = w
            .write(Entry::new(Some(1), Some("open")), Answered::Value(3), false)
            .expect_err("a full device");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    }
}
