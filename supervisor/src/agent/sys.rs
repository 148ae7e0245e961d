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

/// `CAP_SYS_PTRACE`, the one capability a helper keeps when it takes a
/// container's credentials.
pub const CAP_SYS_PTRACE: u32 = 19;
/// `CAP_DAC_READ_SEARCH`, the one capability of the helper's thread that
/// opens a process's own `/proc/<tgid>/fd` (`act::own_fd`).
pub const CAP_DAC_READ_SEARCH: u32 = 2;

/// Makes the calling thread — only it: raw syscalls, which glibc does
/// not broadcast to the process's other threads — `uid`/`gid` (real,
/// effective, saved: as given) with `groups`, keeping only capability
/// `keep` (effective and permitted).  The main thread keeps
/// `CAP_SYS_PTRACE`: the access to the container's memory, descriptors and
/// `/proc/<tid>` that serving it needs (the kernel's ptrace check would
/// otherwise refuse a process whose capabilities exceed ours, as a user
/// namespace's root's do), and no other privilege: brokered calls then act
/// with the container's credentials.
pub fn become_ids(uid: [u32; 3], gid: [u32; 3], groups: &[u32], keep: u32) -> Result<(), Errno> {
    // SAFETY: integer-argument prctl (per thread: a securebit).
    Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) })?;
    // SAFETY: `groups` is a live slice of `groups.len()` gid_t; the raw
    // syscall changes the calling thread's credentials only.
    Errno::result(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
    // SAFETY: integer arguments only; the calling thread only.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, gid[0], gid[1], gid[2]) })?;
    // SAFETY: integer arguments only; the calling thread only.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, uid[0], uid[1], uid[2]) })?;
    let keep = 1u64 << keep;
    kernel::creds::capset_this_thread(keep, keep, 0)?;
    // SAFETY: integer-argument prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) }).map(drop)
}
