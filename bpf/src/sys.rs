//! Loading a filter with `seccomp(2)`.
//!
//! These functions run in the child between `fork` and `execve`: they make
//! raw syscalls only and never allocate.

use std::os::fd::RawFd;

use crate::Program;

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` (Linux 5.0).
pub const FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19).
pub const FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Sets `no_new_privs`.  Returns the errno on failure.
pub fn set_no_new_privs() -> Result<(), i32> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Loads `prog` with `flags`; returns what the kernel returned (the
/// listener descriptor with `FLAG_NEW_LISTENER`, else 0) or the errno.
pub fn load(prog: &Program, flags: libc::c_ulong) -> Result<RawFd, i32> {
    let fprog = prog.as_fprog();
    // SAFETY: fprog points into `prog`, which outlives the call; the kernel
    // copies the program before returning.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as RawFd)
    }
}

/// Loads the supervisor's filter and returns the listener.
pub fn load_listener(prog: &Program) -> Result<RawFd, i32> {
    load(prog, FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV)
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}
