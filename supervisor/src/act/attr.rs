//! The metadata calls performed for the program (chmod, …): on the object
//! resolved for the policy, never on a path looked up again.
//!
//! The resolver followed what the call follows; what is acted on is the
//! held parent and the last name with `AT_SYMLINK_NOFOLLOW` (a symlink
//! swapped in since is not followed), or the held object itself with
//! `AT_EMPTY_PATH` (a magic link, or the dirfd of an `AT_EMPTY_PATH` call).

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;

use super::sys;
use crate::request::attr::Change;
use crate::resolve::{Last, Resolved, Target};

/// Where the change is made: a directory and a name, and the `AT_*` flag
/// that makes the name mean what was resolved.
fn place(r: &Resolved) -> (BorrowedFd<'_>, &CStr, i32) {
    match &r.target {
        Target::Entry { parent, name } => (parent.as_fd(), name, libc::AT_SYMLINK_NOFOLLOW),
        Target::Object(obj) => (obj.as_fd(), c"", libc::AT_EMPTY_PATH),
    }
}

/// Makes `change` on the object `r`.
pub(super) fn change(r: &Resolved, change: &Change) -> Result<(), Errno> {
    // "file/": the kernel refuses a trailing slash on a non-directory.
    if r.trailing_slash {
        if let Last::Exists { mode } = r.last {
            if mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
        }
    }
    let (dir, name, flags) = place(r);
    match *change {
        Change::Mode(mode) => sys::fchmodat2(dir, name, mode, flags),
    }
}
