//! A process's own descriptor directory, `/proc/<tgid>/fd`, opened for it
//! by a thread that may (docs/containers.md, "Non-root containers").
//!
//! The kernel lets a process open its own `/proc/<tgid>/fd` whatever the
//! directory's owner and mode (`proc_fd_permission`: the caller's thread
//! group is the directory's process).  A process that is not dumpable
//! (runc's init, already switched to the container's user, before it
//! execs the entrypoint; a program run from a file it may execute but not
//! read) has that directory owned by root, mode 0500: a helper acting
//! with the program's uid cannot open it, and a brokered open would fail
//! where the program's own call succeeds.
//!
//! The agent's helper, before it takes a container's credentials, starts
//! one thread ([`start`]) that takes the same ids but keeps
//! `CAP_DAC_READ_SEARCH` (credentials are per thread in Linux; the helper
//! drops them with raw syscalls, which glibc does not broadcast to every
//! thread).  That thread performs only this open: `fd` under the calling
//! process's own `/proc/<tgid>` as the supervisor's `/proc` shows it
//! (what `/proc/self` resolves to), with the call's flags — the same
//! directory the process's own open gives, listing its descriptors.
//! `/proc/<tgid>/task/<tid>/fd` is not covered: the kernel's exemption is
//! for the thread group's directory only (a non-leader's `thread-self/fd`
//! is refused natively too).

use std::os::fd::OwnedFd;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;

use crate::resolve::{Resolved, Target};
use kernel::task::Task;

type Job = Box<dyn FnOnce() -> Result<OwnedFd, Errno> + Send>;
type Reply = Sender<Result<OwnedFd, Errno>>;

/// The thread, once started (a process resource: at most one per helper).
static OPENER: OnceLock<Mutex<Sender<(Job, Reply)>>> = OnceLock::new();

/// Starts the opening thread.  `setup` runs first on it (its own
/// credentials, by raw syscalls); its error is returned and no thread is
/// kept.  Call while single-threaded, before the calling thread drops its
/// own privileges.
pub fn start(setup: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    let (jobs, inbox) = channel::<(Job, Reply)>();
    let (ready, ready_rx) = channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("own-fd".into())
        .spawn(move || {
            let r = setup();
            let ok = r.is_ok();
            let _ = ready.send(r);
            if !ok {
                return;
            }
            for (job, reply) in inbox {
                let _ = reply.send(job());
            }
        })
        .map_err(|e| format!("cannot start the thread opening /proc/<pid>/fd: {e}"))?;
    ready_rx
        .recv()
        .map_err(|_| "the thread opening /proc/<pid>/fd died".to_string())??;
    OPENER
        .set(Mutex::new(jobs))
        .map_err(|_| "the thread opening /proc/<pid>/fd was started twice".to_string())
}

/// Is `r` the calling process's own `/proc/<tgid>/fd`, with a thread to
/// open it?  Reads the task's status (checked valid by the caller).
pub(super) fn applies(task: &mut Task, r: &Resolved) -> Result<bool, Errno> {
    if OPENER.get().is_none() {
        return Ok(false);
    }
    let Target::Entry { parent, name } = &r.target else {
        return Ok(false);
    };
    if name.to_bytes() != b"fd" {
        return Ok(false);
    }
    let tgid = task.status()?.tgid;
    let id = |st: nix::sys::stat::FileStat| (st.st_dev, st.st_ino);
    let own = nix::sys::stat::fstat(parent).map(id);
    let its = nix::sys::stat::stat(format!("/proc/{tgid}").as_str()).map(id);
    Ok(matches!((own, its), (Ok(a), Ok(b)) if a == b))
}

/// Runs `open` on the opening thread and waits for its descriptor.
pub(super) fn open(
    open: impl FnOnce() -> Result<OwnedFd, Errno> + Send + 'static,
) -> Result<OwnedFd, Errno> {
    let opener = OPENER.get().ok_or(Errno::EACCES)?;
    let (reply, answer) = channel();
    opener
        .lock()
        .map_err(|_| Errno::EACCES)?
        .send((Box::new(open), reply))
        .map_err(|_| Errno::EACCES)?;
    answer.recv().map_err(|_| Errno::EACCES)?
}
