//! The agent's raw system calls: taking a descriptor number as its owner,
//! the helper's death signal.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Takes ownership of descriptor `fd`, which must be open and owned by no
/// one else in this process: a descriptor received with `SCM_RIGHTS`, or
/// one inherited by number on the command line.  Checked open first.
pub fn own_fd(fd: RawFd) -> Result<OwnedFd, Errno> {
    nix::fcntl::fcntl(
        // SAFETY: the borrow lives only for this call; F_GETFD on any number
        // is harmless (EBADF if it is not open).
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )?;
    // SAFETY: `fd` is open (checked above) and, by this function's
    // contract, owned by nothing else: the OwnedFd is its one owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The calling process gets SIGKILL when its parent dies.
pub fn die_with_parent() -> Result<(), Errno> {
    // SAFETY: integer-argument prctl.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Errno::result(r).map(drop)
}
