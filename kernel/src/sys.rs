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

/// Is thread `tid` the main thread of its process (its tid the process's
/// pid)?  `tgkill(tid, tid, 0)`: no signal is sent; the kernel only
/// checks that thread `tid` is in thread group `tid` (ESRCH if not, or if
/// the thread is gone) and that the caller may signal it (EPERM).
pub fn is_thread_group_leader(tid: u32) -> Result<bool, Errno> {
    let tid = tid as libc::pid_t;
    // SAFETY: integer arguments only; signal 0 sends nothing.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, tid, tid, 0) };
    if r == 0 {
        return Ok(true);
    }
    match Errno::last() {
        Errno::ESRCH => Ok(false),
        e => Err(e),
    }
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

/// Makes the supervisor not dumpable (`PR_SET_DUMPABLE` 0): its
/// `/proc/<pid>` files belong to root, and ptrace access to it (ptrace,
/// `process_vm_*`, `pidfd_getfd`) needs CAP_SYS_PTRACE.
pub fn set_not_dumpable() {
    // SAFETY: integer-argument prctl.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
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

/// `getsockopt(fd, SOL_SOCKET, name)` for an int option.
pub fn sock_int(fd: BorrowedFd, name: i32) -> Result<i32, Errno> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `v`.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    Errno::result(r).map(|_| v)
}

/// `fcntl(fd, F_GETFL)`.
pub fn file_flags(fd: BorrowedFd) -> Result<i32, Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

/// `fcntl(fd, F_SETFL, flags)`.
pub fn set_file_flags(fd: BorrowedFd, flags: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
}

/// `connect(fd, addr)` with a raw address as copied from the program.
pub fn connect_raw(fd: BorrowedFd, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: the kernel reads `addr.len()` bytes of the slice.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

/// `bind(fd, addr)` with a raw address.
pub fn bind_raw(fd: BorrowedFd, addr: &[u8]) -> Result<(), Errno> {
    // SAFETY: the kernel reads `addr.len()` bytes of the slice.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            addr.as_ptr().cast(),
            addr.len() as libc::socklen_t,
        )
    };
    Errno::result(r).map(drop)
}

/// `sendmsg(fd, {name, data, control}, flags)`; returns the bytes sent.
pub fn sendmsg_raw(
    fd: BorrowedFd,
    name: Option<&[u8]>,
    data: &[u8],
    control: &[u8],
    flags: i32,
) -> Result<usize, Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: an all-zero msghdr is valid; every pointer set below points
    // into slices that outlive the call, and the kernel only reads them.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        if let Some(n) = name {
            msg.msg_name = n.as_ptr() as *mut libc::c_void;
            msg.msg_namelen = n.len() as libc::socklen_t;
        }
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !control.is_empty() {
            msg.msg_control = control.as_ptr() as *mut libc::c_void;
            msg.msg_controllen = control.len();
        }
        libc::sendmsg(fd.as_raw_fd(), &msg, flags)
    };
    Errno::result(r).map(|n| n as usize)
}

/// `fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW)` through `fchmodat2`
/// (Linux 6.6), which never follows a symlink planted meanwhile.
pub fn fchmodat_nofollow(dirfd: BorrowedFd, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated; integer arguments otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            mode,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Errno::result(r).map(drop)
}

/// `tkill(tid, sig)`: a signal for one thread.
pub fn tkill(tid: u32, sig: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::syscall(libc::SYS_tkill, tid as libc::pid_t, sig) }).map(drop)
}

/// The calling thread's kernel id.
pub fn gettid() -> i32 {
    // SAFETY: no arguments; cannot fail.
    unsafe { libc::gettid() }
}

/// The signal that takes a supervisor thread out of a blocking call done
/// for the program (see `interrupt`): the first real-time signal, which
/// nothing else here uses.
pub fn wake_signal() -> i32 {
    libc::SIGRTMIN()
}

extern "C" fn wake_handler(_: libc::c_int) {}

/// Installs a handler for [`wake_signal`] that does nothing, without
/// `SA_RESTART`: the signal only makes a blocking call fail with `EINTR`.
pub fn install_wake_handler() -> Result<(), Errno> {
    // SAFETY: a zeroed sigaction is valid; the handler is an
    // async-signal-safe function that does nothing.
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = wake_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(wake_signal(), &sa, std::ptr::null_mut())
    };
    Errno::result(r).map(drop)
}

/// `socket(domain, ty, 0)`.
pub fn socket(domain: i32, ty: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only; the result is a new descriptor.
    owned(unsafe { libc::socket(domain, ty, 0) } as libc::c_long)
}

/// `listen(fd, backlog)`.
pub fn listen(fd: BorrowedFd, backlog: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// `accept4(fd, NULL, NULL, SOCK_CLOEXEC)`.
pub fn accept(fd: BorrowedFd) -> Result<OwnedFd, Errno> {
    // SAFETY: NULL address pointers are allowed; the result is a new
    // descriptor.
    owned(unsafe {
        libc::accept4(
            fd.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    } as libc::c_long)
}

/// `getsockname(fd)`: the raw address bytes.
pub fn getsockname(fd: BorrowedFd) -> Result<Vec<u8>, Errno> {
    let mut buf = [0u8; 128];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `buf`.
    let r = unsafe { libc::getsockname(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) };
    Errno::result(r)?;
    Ok(buf[..(len as usize).min(buf.len())].to_vec())
}

/// `openat2(dirfd, name, {flags, mode, resolve})`.
pub fn openat2(
    dirfd: BorrowedFd,
    name: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    // SAFETY: an all-zero open_how is a valid value of this plain C struct.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u32 as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve;
    // SAFETY: name is NUL-terminated; `how` is a live open_how whose size
    // is passed; the result is a new descriptor.
    owned(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`: a signal for the process the
/// pidfd names (never another that reused its pid).
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: a NULL siginfo is allowed; integer arguments otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The main thread is its process's leader; another thread is not;
    /// a thread that is gone is not either.
    #[test]
    fn thread_group_leader() {
        let me = std::process::id();
        assert_eq!(is_thread_group_leader(me), Ok(true));
        let tid = std::thread::spawn(|| {
            let tid = nix::unistd::gettid().as_raw() as u32;
            (tid, is_thread_group_leader(tid))
        })
        .join()
        .expect("thread");
        assert_ne!(tid.0, me);
        assert_eq!(tid.1, Ok(false));
        // Joined: that tid is gone (and not reused this soon).
        assert_eq!(is_thread_group_leader(tid.0), Ok(false));
    }
}
