//! The calls that make a name (symlink, link, mknod), performed for the
//! program in the held parent of the new name, never on a path looked up
//! again.  The new name is never followed: the resolver stopped at it, and
//! the kernel refuses an existing one (EEXIST), a symlink swapped in
//! included.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;

use super::sys;
use crate::resolve::{Last, Resolved, Target};

/// Where a new name goes: its parent and name, as the kernel's
/// `filename_create` checks them (an existing name is EEXIST, "x/" of a
/// missing one ENOENT, "." or ".." EEXIST).
fn new_entry(r: Resolved) -> Result<(OwnedFd, CString), Errno> {
    match r.last {
        Last::Dot => return Err(Errno::EEXIST),
        Last::Missing if r.trailing_slash => return Err(Errno::ENOENT),
        _ => {}
    }
    match r.target {
        Target::Entry { parent, name } => Ok((parent, name)),
        // A magic link names an existing object.
        Target::Object(_) => Err(Errno::EEXIST),
    }
}

/// symlink: `target` as the text of the new name `r`.
pub(super) fn symlink(target: &[u8], r: Resolved) -> Result<(), Errno> {
    let (parent, name) = new_entry(r)?;
    let target = CString::new(target).map_err(|_| Errno::EINVAL)?;
    sys::symlinkat(&target, parent.as_fd(), &name)
}

/// mknod of a regular file, a FIFO or a socket (`mode`: type and
/// permissions, the umask applied by the caller).
pub(super) fn mknod(r: Resolved, mode: u32) -> Result<(), Errno> {
    let (parent, name) = new_entry(r)?;
    sys::mknodat(parent.as_fd(), &name, mode)
}

/// link: a new name `to` for the object `from` resolved to (the held
/// parent and name, not followed again, or the held object itself).
pub(super) fn link(from: Resolved, to: Resolved) -> Result<(), Errno> {
    if from.trailing_slash {
        if let Last::Exists { mode } = from.last {
            if mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
        }
    }
    let (parent, name) = new_entry(to)?;
    match &from.target {
        Target::Entry {
            parent: p1,
            name: n1,
        } => sys::linkat(p1.as_fd(), n1, parent.as_fd(), &name, 0),
        Target::Object(obj) => {
            sys::linkat(obj.as_fd(), c"", parent.as_fd(), &name, libc::AT_EMPTY_PATH)
        }
    }
}
