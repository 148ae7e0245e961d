//! Raw syscalls the metadata and link calls are performed with, on held
//! descriptors (`*at` forms with `AT_SYMLINK_NOFOLLOW` or `AT_EMPTY_PATH`,
//! never a path the program could swap).  The only `unsafe` of `act`.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `fchmodat2(dirfd, name, mode, flags)` (Linux 6.6).
pub fn fchmodat2(dirfd: BorrowedFd, name: &CStr, mode: u32, flags: i32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call; integers
    // otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            mode,
            flags,
        )
    };
    Errno::result(r).map(drop)
}
