//! Raw syscalls the supervisor needs and nix does not wrap (or wraps
//! with allocations we do not want on the hot path).  All `unsafe` of the
//! supervisor's hot path lives here.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for one thread.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

fn owned(r: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = Errno::result(r)? as RawFd;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_open(tid, PIDFD_THREAD)`.
pub fn pidfd_open_thread(tid: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, tid as libc::pid_t, PIDFD_THREAD) })
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

/// `pidfd_getfd`: a duplicate of descriptor `fd` of the task behind `pidfd`.
pub fn pidfd_getfd(pidfd: BorrowedFd, fd: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only; the result is a new descriptor
    // (O_CLOEXEC is always set by the kernel).
    owned(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })
}

/// `statx(dirfd, name, flags, mask)`.
pub fn statx(dirfd: BorrowedFd, name: &CStr, flags: i32, mask: u32) -> Result<libc::statx, Errno> {
    // SAFETY: an all-zero statx is a valid value of this plain C struct.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a writable statx buffer.
    let r = unsafe { libc::statx(dirfd.as_raw_fd(), name.as_ptr(), flags, mask, &mut st) };
    Errno::result(r).map(|_| st)
}

/// `newfstatat(dirfd, name, flags)`.
pub fn fstatat(dirfd: BorrowedFd, name: &CStr, flags: i32) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a writable stat buffer.
    let r = unsafe { libc::fstatat(dirfd.as_raw_fd(), name.as_ptr(), &mut st, flags) };
    Errno::result(r).map(|_| st)
}

/// `faccessat2(dirfd, name, mode, flags)`.
pub fn faccessat2(dirfd: BorrowedFd, name: &CStr, mode: i32, flags: i32) -> Result<(), Errno> {
    // SAFETY: name is NUL-terminated; integer arguments otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            mode,
            flags,
        )
    };
    Errno::result(r).map(drop)
}

/// `openat(dirfd, name, flags, mode)`.
pub fn openat(dirfd: BorrowedFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: name is NUL-terminated; the result is a new descriptor.
    owned(unsafe { libc::openat(dirfd.as_raw_fd(), name.as_ptr(), flags, mode) } as libc::c_long)
}

/// Raw bytes of a plain C struct, for `process_vm_writev`.
pub fn struct_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is a plain-old-data C struct (stat, statx) with no padding
    // holding secrets: the supervisor zero-initialises every such value.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// `umask(mask)`; returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: integer argument only.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// An `O_PATH|O_DIRECTORY|O_CLOEXEC` descriptor on `path` (the
/// supervisor's own `/` and `/proc`).
pub fn open_dir_path(path: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: path is NUL-terminated; the result is a new descriptor.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    owned(fd as libc::c_long)
}
