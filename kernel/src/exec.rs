//! An exec let through and verified at its exec event (docs/security.md,
//! "Exec"): the kernel reads the program's path again after CONTINUE, so
//! the file it runs is checked before the new image's first instruction.
//!
//! [`seize`] attaches to the calling thread (`PTRACE_SEIZE` with
//! `PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL`) and interrupts it; the notify
//! filter waits killably once received (`WAIT_KILLABLE_RECV`), so the
//! interrupt does not withdraw the notification.  The caller answers
//! CONTINUE; [`verify`] then waits for the first stop: `PTRACE_EVENT_EXEC`
//! (the exec succeeded, nothing of the new image has run: `/proc/<pid>/exe`
//! must be the file decided on, else SIGKILL), or any other stop (the exec
//! failed: the old image is back with its errno).  Every step is done by
//! the one thread that seized (the tracer is a thread).

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Options};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::sys;

/// A file's identity: what `/proc/<pid>/exe` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev_major: u32,
    pub dev_minor: u32,
    pub ino: u64,
}

impl FileId {
    fn of(st: &libc::statx) -> FileId {
        FileId {
            dev_major: st.stx_dev_major,
            dev_minor: st.stx_dev_minor,
            ino: st.stx_ino,
        }
    }
}

/// The identity of the file `fd` (any descriptor, O_PATH included).
pub fn file_id(fd: BorrowedFd) -> Result<FileId, Errno> {
    let st = sys::statx(fd, c"", libc::AT_EMPTY_PATH, libc::STATX_INO)?;
    Ok(FileId::of(&st))
}

/// What became of a verified exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The new image is the file decided on; it runs (detached).
    Ran,
    /// The exec failed: the program got the kernel's errno.
    Failed,
    /// Another file was being run (a path or symlink swapped after the
    /// decision), or the exec never reached its event in time: the
    /// process was killed before its first instruction.
    Killed,
    /// The thread died meanwhile.
    Gone,
}

/// How long an exec may take between CONTINUE and its event (an argument
/// in a page that never arrives stalls it): then it is killed.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Seizes thread `tid` and interrupts it, before its exec is answered
/// CONTINUE.  `EPERM`: it cannot be traced by us (already traced by a
/// debugger inside the sandbox, or not dumpable): the exec must be
/// refused.  `ESRCH`: gone.
pub fn seize(tid: u32) -> Result<(), Errno> {
    let pid = Pid::from_raw(tid as i32);
    ptrace::seize(
        pid,
        Options::PTRACE_O_TRACEEXEC | Options::PTRACE_O_EXITKILL,
    )?;
    if let Err(e) = ptrace::interrupt(pid) {
        let _ = ptrace::detach(pid, None);
        return Err(e);
    }
    Ok(())
}

/// [`seize`] without the interrupt, for a filter loaded without
/// `WAIT_KILLABLE_RECV` (a container's: runc 1.1 sets no flags).  There
/// the interrupt would withdraw the notification (the wait is
/// interruptible: the call restarts, a new notification, and so on), so
/// it comes after the CONTINUE ([`interrupt`]): `PTRACE_O_TRACEEXEC`
/// alone stops a successful exec before the new image's first
/// instruction; the interrupt only makes a failed exec stop too (on its
/// way back to the old image), for [`verify`] to see it.
pub fn seize_quiet(tid: u32) -> Result<(), Errno> {
    ptrace::seize(
        Pid::from_raw(tid as i32),
        Options::PTRACE_O_TRACEEXEC | Options::PTRACE_O_EXITKILL,
    )
}

/// Interrupts a thread seized by [`seize_quiet`], once its exec was
/// answered CONTINUE (the answer is then final: a signal no longer
/// withdraws it).  Any error is left to [`verify`] (a thread gone).
pub fn interrupt(tid: u32) {
    let _ = ptrace::interrupt(Pid::from_raw(tid as i32));
}

/// Lets go of a seized thread whose exec was never answered CONTINUE.
pub fn release(tid: u32) {
    let pid = Pid::from_raw(tid as i32);
    // Stopped by the interrupt, or not yet: detach works on a stopped
    // tracee only, so wait for the stop (it comes at once: the thread
    // returns to user space with its answer).
    let start = Instant::now();
    loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if start.elapsed() < DEADLINE => pause(start),
            Ok(WaitStatus::Stopped(_, sig)) => {
                let _ = ptrace::detach(pid, Some(sig).filter(|s| *s != Signal::SIGTRAP));
                return;
            }
            Ok(WaitStatus::PtraceEvent(..)) => {
                let _ = ptrace::detach(pid, None);
                return;
            }
            _ => return,
        }
    }
}

/// Waits a little, longer as the wait goes on: an exec takes from a
/// fraction of a millisecond to many, and the thread that runs it needs a
/// CPU (this one, on a small machine): yield first, then sleep.
fn pause(start: Instant) {
    let waited = start.elapsed();
    if waited < Duration::from_millis(2) {
        std::thread::yield_now();
    } else {
        std::thread::sleep((waited / 8).min(Duration::from_millis(1)));
    }
}

/// Waits for the first stop of the seized thread `tid` (of process `tgid`)
/// after its exec was answered CONTINUE, and checks the new image against
/// `expect` (read from `proc`, the supervisor's `/proc`).
pub fn verify(proc: BorrowedFd, tid: u32, tgid: u32, expect: FileId) -> Verified {
    let start = Instant::now();
    let tid_pid = Pid::from_raw(tid as i32);
    let tgid_pid = Pid::from_raw(tgid as i32);
    let flags = Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG);
    loop {
        // A thread other than the leader that execs takes the leader's
        // pid: its event comes under that pid.
        let mut st = waitpid(tid_pid, flags);
        if tid != tgid && matches!(st, Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD)) {
            st = match waitpid(tgid_pid, flags) {
                Err(Errno::ECHILD) => st,
                other => other,
            };
        }
        match st {
            Ok(WaitStatus::StillAlive) => {
                if start.elapsed() > DEADLINE {
                    return kill_reaped(tgid_pid);
                }
                pause(start);
            }
            Ok(WaitStatus::PtraceEvent(pid, _, libc::PTRACE_EVENT_EXEC)) => {
                let exe = format!("{}/exe\0", pid.as_raw());
                let name = std::ffi::CStr::from_bytes_with_nul(exe.as_bytes()).expect("one NUL");
                let same = sys::statx(proc, name, 0, libc::STATX_INO)
                    .is_ok_and(|st| FileId::of(&st) == expect);
                if same && ptrace::detach(pid, None).is_ok() {
                    return Verified::Ran;
                }
                return kill_reaped(pid);
            }
            // Any other stop comes on the way back to the old image: the
            // exec failed.  A signal stop passes its signal on.
            Ok(WaitStatus::PtraceEvent(pid, _, _)) => {
                let _ = ptrace::detach(pid, None);
                return Verified::Failed;
            }
            Ok(WaitStatus::Stopped(pid, sig)) => {
                let _ = ptrace::detach(pid, Some(sig));
                return Verified::Failed;
            }
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => return Verified::Gone,
            // ECHILD under both pids: no longer ours (it died and was
            // reaped); anything else is not a stop of a seized thread.
            Ok(_) | Err(_) => {
                if start.elapsed() > DEADLINE {
                    return kill_reaped(tgid_pid);
                }
                if st == Err(Errno::ECHILD) {
                    return Verified::Gone;
                }
                pause(start);
            }
        }
    }
}

/// SIGKILLs the process `pid` and takes its exit (which comes to us, its
/// tracer, first), so that its parent sees it.
fn kill_reaped(pid: Pid) -> Verified {
    let _ = kill(pid, Signal::SIGKILL);
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => pause(start),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => break,
            // A stop on the way to the kill: let it go on to die.
            Ok(_) => {
                let _ = ptrace::cont(pid, None);
            }
        }
    }
    Verified::Killed
}
