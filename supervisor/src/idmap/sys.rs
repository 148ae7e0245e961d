//! The raw call of the id-map opener: `NS_GET_PARENT`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `NS_GET_PARENT` (`_IO(0xb7, 0x2)`): the parent of user namespace `ns`.
const NS_GET_PARENT: libc::c_ulong = 0xb702;

/// The parent user namespace of `ns` (a `/proc/<pid>/ns/user` descriptor):
/// EPERM when it lies outside the caller's.
pub fn parent_ns(ns: BorrowedFd) -> Result<OwnedFd, Errno> {
    // SAFETY: NS_GET_PARENT takes no argument and returns a new descriptor.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_PARENT) };
    let fd = Errno::result(fd)?;
    // SAFETY: a new descriptor, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
