//! The metadata calls performed for the program (chmod, …): on the object
//! resolved for the policy, never on a path looked up again.
//!
//! The resolver followed what the call follows; what is acted on is the
//! held parent and the last name with `AT_SYMLINK_NOFOLLOW` (a symlink
//! swapped in since is not followed), or the held object itself with
//! `AT_EMPTY_PATH` (a magic link, or the dirfd of an `AT_EMPTY_PATH` call).

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::errno::Errno;

use super::sys;
use crate::request::attr::{Change, Time};
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
    match change {
        Change::Mode(mode) => sys::fchmodat2(dir, name, *mode, flags),
        Change::Owner { uid, gid } => sys::fchownat(dir, name, *uid, *gid, flags),
        Change::Times(t) => {
            let ts = t.map(|t| match t {
                Time::Now => timespec(0, libc::UTIME_NOW),
                Time::Omit => timespec(0, libc::UTIME_OMIT),
                Time::At(s, ns) => timespec(s, ns),
            });
            let all_now = t.iter().all(|t| *t == Time::Now);
            sys::utimensat(dir, name, (!all_now).then_some(&ts), flags)
        }
        Change::Length(n) => truncate(r, *n),
        Change::SetXattr {
            name: a,
            value,
            flags: x,
        } => {
            let (dir, name, flags) = xattr_place(r, dir, name, flags);
            sys::setxattrat(dir, &name, flags, &c_name(a)?, value, *x)
        }
        Change::RemoveXattr { name: a } => {
            let (dir, name, flags) = xattr_place(r, dir, name, flags);
            sys::removexattrat(dir, &name, flags, &c_name(a)?)
        }
    }
}

/// Where an attribute is changed: an object is reached through its
/// `/proc/self/fd` link (setxattrat takes an empty path with
/// `AT_EMPTY_PATH` as the descriptor itself, which an `O_PATH` one is
/// not).
fn xattr_place<'a>(
    r: &Resolved,
    dir: BorrowedFd<'a>,
    name: &CStr,
    flags: i32,
) -> (BorrowedFd<'a>, CString, i32) {
    match &r.target {
        Target::Object(obj) => {
            let me = CString::new(format!("/proc/self/fd/{}", obj.as_raw_fd())).expect("digits");
            (dir, me, 0)
        }
        Target::Entry { .. } => (dir, name.to_owned(), flags),
    }
}

fn timespec(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

fn c_name(b: &[u8]) -> Result<CString, Errno> {
    CString::new(b).map_err(|_| Errno::EINVAL)
}

/// truncate: the object opened for writing through the held parent
/// (`O_NOFOLLOW`, or reopened from the held object), then `ftruncate`.
/// Only regular files: a directory is EISDIR and anything else EINVAL, as
/// for the kernel's truncate (checked on what was opened, so a FIFO or a
/// device swapped in is never written).
fn truncate(r: &Resolved, length: i64) -> Result<(), Errno> {
    let refuse = |mode: u32| match mode & libc::S_IFMT {
        libc::S_IFREG => Ok(()),
        libc::S_IFDIR => Err(Errno::EISDIR),
        _ => Err(Errno::EINVAL),
    };
    match r.last {
        Last::Exists { mode } => refuse(mode)?,
        Last::Dot => return Err(Errno::EISDIR),
        Last::Missing => {}
    }
    let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let fd = match &r.target {
        Target::Entry { parent, name } => {
            kernel::sys::openat(parent.as_fd(), name, flags | libc::O_NOFOLLOW, 0)?
        }
        Target::Object(obj) => {
            let me = CString::new(format!("/proc/self/fd/{}", obj.as_raw_fd())).expect("digits");
            kernel::sys::openat(obj.as_fd(), &me, flags, 0)?
        }
    };
    let st = kernel::sys::fstatat(fd.as_fd(), c"", libc::AT_EMPTY_PATH)?;
    refuse(st.st_mode)?;
    sys::ftruncate(fd.as_fd(), length)
}
