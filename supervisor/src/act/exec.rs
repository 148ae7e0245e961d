//! An allowed exec (`use_master_credentials`, `use_program_credentials`,
//! the rules' default): the kernel runs the file with the program's
//! credentials, after CONTINUE; the new image is verified at the exec
//! event to be the file the policy decided on — the resolved binary, or,
//! for a `#!` script, its (last) resolved interpreter — or killed before
//! its first instruction (`answer::Outcome::Exec`, `kernel::exec`).

use std::os::fd::AsFd;

use nix::errno::Errno;

use crate::answer::Outcome;
use crate::pending::Pending;
use crate::resolve::{Resolved, Target};

pub(super) fn perform(p: &mut Pending) -> Result<Outcome, Errno> {
    let resolved = p.take_resolved()?;
    // A path that did not resolve (or a missing interpreter) fails as the
    // kernel's exec would.
    let mut last = None;
    for r in resolved {
        last = Some(r?);
    }
    let last = last.ok_or(Errno::EINVAL)?;
    let expect = identity(&last)?;
    let tgid = p.task.status()?.tgid;
    p.task.settle()?;
    Ok(Outcome::Exec { tgid, expect })
}

/// The identity of the resolved object: the held parent's entry (not
/// followed: a symlink swapped in is not the file) or the held object.
fn identity(r: &Resolved) -> Result<kernel::exec::FileId, Errno> {
    match &r.target {
        Target::Entry { parent, name } => {
            let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            let fd = kernel::sys::openat(parent.as_fd(), name, flags, 0)?;
            kernel::exec::file_id(fd.as_fd())
        }
        Target::Object(fd) => kernel::exec::file_id(fd.as_fd()),
    }
}
