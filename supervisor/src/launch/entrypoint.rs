//! The runtime's exec of a container's entrypoint: the first exec of an
//! attached run (docs/containers.md, "Exec in containers").
//!
//! An OCI runtime loads the container's filter in its own init process
//! (runc: `runc init`, Go) and then execs the configured `process.args`
//! under that filter: that exec is a trapped call like any other, but it
//! is the runtime's (the administrator's configuration), not the
//! program's, as the launcher's first exec is in `supervisor run`
//! ([`super::first_exec`]).  It is answered CONTINUE, without the policy,
//! only when all of these hold, checked on the notification, which is
//! valid after the reads:
//!
//! * no exec was let through this way before (one, ever, per container);
//! * the calling thread belongs to the process the runtime named in the
//!   container's state (its init: the thread group id, as the host sees
//!   it), any of its threads (Go may exec from any);
//! * that process still runs the file it ran when the supervisor attached
//!   (`/proc/<tid>/exe`: device and inode): the runtime's own binary, not
//!   yet replaced by anything of the container.
//!
//! Every other exec — the entrypoint's own, its children's, a second one
//! of the init — is an `exec` request for the policy, verified at its exec
//! event when allowed.

use std::ffi::CString;
use std::os::fd::AsFd;

use nix::errno::Errno;

use kernel::exec::FileId;
use kernel::task::Task;

/// The one exec still to be let through, once recognised.
pub struct Entrypoint {
    /// The container's init process (host pid).
    tgid: u32,
    /// What `/proc/<tgid>/exe` was when the supervisor attached.
    exe: FileId,
}

/// The identity of `/proc/<pid>/exe`, read from `proc` (the supervisor's
/// `/proc`).
fn exe_of(proc: std::os::fd::BorrowedFd, pid: u32) -> Result<FileId, Errno> {
    let name = CString::new(format!("{pid}/exe")).map_err(|_| Errno::EINVAL)?;
    let st = kernel::sys::statx(proc, &name, 0, libc::STATX_INO)?;
    Ok(FileId {
        dev_major: st.stx_dev_major,
        dev_minor: st.stx_dev_minor,
        ino: st.stx_ino,
    })
}

impl Entrypoint {
    /// Notes what the container's init runs now (at attach, before any
    /// exec can have been answered).  `None`: it cannot be read (gone):
    /// then no exec is let through without the policy.
    pub fn at_attach(proc: std::os::fd::BorrowedFd, pid: i32) -> Option<Entrypoint> {
        let tgid = u32::try_from(pid).ok()?;
        let exe = exe_of(proc, tgid).ok()?;
        Some(Entrypoint { tgid, exe })
    }

    /// Is the exec of `task` the runtime's exec of the entrypoint?  Its
    /// reads are validated (`ID_VALID`) before it says yes.
    pub fn is_it(&self, task: &mut Task, proc: std::os::fd::BorrowedFd) -> bool {
        let Ok(status) = task.status() else {
            return false;
        };
        if status.tgid != self.tgid {
            return false;
        }
        // The calling thread's own exe: its process's (a thread of the
        // init), read through the thread so that a reused tgid is caught
        // by the validity check below.
        let same = exe_of(proc.as_fd(), task.tid).is_ok_and(|e| e == self.exe);
        same && task.settle().is_ok()
    }
}
