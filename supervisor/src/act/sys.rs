//! Raw syscalls the metadata and link calls are performed with, on held
//! descriptors (`*at` forms with `AT_SYMLINK_NOFOLLOW` or `AT_EMPTY_PATH`,
//! never a path the program could swap), and the mount calls of a brokered
//! unix bind by its own name (`act::bindname`).  The only `unsafe` of `act`.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

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

/// `fchownat(dirfd, name, uid, gid, flags)`.
pub fn fchownat(
    dirfd: BorrowedFd,
    name: &CStr,
    uid: u32,
    gid: u32,
    flags: i32,
) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call; integers
    // otherwise.
    let r = unsafe { libc::fchownat(dirfd.as_raw_fd(), name.as_ptr(), uid, gid, flags) };
    Errno::result(r).map(drop)
}

/// `utimensat(dirfd, name, times, flags)`; `None`: both now (NULL).
pub fn utimensat(
    dirfd: BorrowedFd,
    name: &CStr,
    times: Option<&[libc::timespec; 2]>,
    flags: i32,
) -> Result<(), Errno> {
    let t = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `name` is NUL-terminated, `t` NULL or two timespecs, both
    // outliving the call.
    let r = unsafe { libc::utimensat(dirfd.as_raw_fd(), name.as_ptr(), t, flags) };
    Errno::result(r).map(drop)
}

/// `ftruncate(fd, length)`.
pub fn ftruncate(fd: BorrowedFd, length: i64) -> Result<(), Errno> {
    // SAFETY: integers only.
    let r = unsafe { libc::ftruncate(fd.as_raw_fd(), length) };
    Errno::result(r).map(drop)
}

/// The kernel's `struct xattr_args` (include/uapi/linux/xattr.h).
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// `setxattrat` and `removexattrat` (Linux 6.13); the numbers are the
/// same on every architecture (the unified syscall table).
const SYS_SETXATTRAT: libc::c_long = 463;
const SYS_REMOVEXATTRAT: libc::c_long = 466;

/// `setxattrat(dirfd, name, flags, attr, {value, flags})`.
pub fn setxattrat(
    dirfd: BorrowedFd,
    name: &CStr,
    flags: i32,
    attr: &CStr,
    value: &[u8],
    xflags: i32,
) -> Result<(), Errno> {
    let args = XattrArgs {
        value: value.as_ptr() as u64,
        size: u32::try_from(value.len()).map_err(|_| Errno::E2BIG)?,
        flags: xflags as u32,
    };
    // SAFETY: `name` and `attr` are NUL-terminated, `args` points at
    // `value`; all outlive the call, which only reads them.
    let r = unsafe {
        libc::syscall(
            SYS_SETXATTRAT,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            flags,
            attr.as_ptr(),
            &args as *const XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    };
    Errno::result(r).map(drop)
}

/// `removexattrat(dirfd, name, flags, attr)`.
pub fn removexattrat(dirfd: BorrowedFd, name: &CStr, flags: i32, attr: &CStr) -> Result<(), Errno> {
    // SAFETY: `name` and `attr` are NUL-terminated and outlive the call.
    let r = unsafe {
        libc::syscall(
            SYS_REMOVEXATTRAT,
            dirfd.as_raw_fd(),
            name.as_ptr(),
            flags,
            attr.as_ptr(),
        )
    };
    Errno::result(r).map(drop)
}

/// `symlinkat(target, dirfd, name)`.
pub fn symlinkat(target: &CStr, dirfd: BorrowedFd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    let r = unsafe { libc::symlinkat(target.as_ptr(), dirfd.as_raw_fd(), name.as_ptr()) };
    Errno::result(r).map(drop)
}

/// `mknodat(dirfd, name, mode, 0)`: a regular file, FIFO or socket.
pub fn mknodat(dirfd: BorrowedFd, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let r = unsafe { libc::mknodat(dirfd.as_raw_fd(), name.as_ptr(), mode, 0) };
    Errno::result(r).map(drop)
}

/// `linkat(olddirfd, oldname, newdirfd, newname, flags)`.
pub fn linkat(
    olddir: BorrowedFd,
    oldname: &CStr,
    newdir: BorrowedFd,
    newname: &CStr,
    flags: i32,
) -> Result<(), Errno> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    let r = unsafe {
        libc::linkat(
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            flags,
        )
    };
    Errno::result(r).map(drop)
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC)`:
/// a detached bind mount of the directory `fd` itself (no path looked up).
pub fn open_tree_clone(fd: BorrowedFd) -> Result<OwnedFd, Errno> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let flags =
        OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as libc::c_uint | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: "" is NUL-terminated and static; integers otherwise.
    let r = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    // SAFETY: on success the kernel returned a new descriptor we own.
    Errno::result(r).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A fresh, detached tmpfs (`fsopen`, `fsconfig(CMD_CREATE)`, `fsmount`).
pub fn tmpfs_detached() -> Result<OwnedFd, Errno> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    // SAFETY: the name is NUL-terminated and static.
    let r = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    // SAFETY: a new descriptor we own.
    let ctx = Errno::result(r).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })?;
    // SAFETY: no key or value (NULL, 0) for CMD_CREATE.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(r)?;
    // SAFETY: integers only.
    let r = unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    // SAFETY: a new descriptor we own.
    Errno::result(r).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// `move_mount(mnt, "", AT_FDCWD, to, F_EMPTY_PATH)`: the detached mount
/// `mnt` attached at `to` (a path of the supervisor's own).
pub fn move_mount_to(mnt: BorrowedFd, to: &CStr) -> Result<(), Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(r).map(drop)
}

/// `move_mount(mnt, "", onto, "", F_EMPTY_PATH | T_EMPTY_PATH)`: the
/// detached mount `mnt` attached on the directory `onto` itself.
pub fn move_mount_onto(mnt: BorrowedFd, onto: BorrowedFd) -> Result<(), Errno> {
    // SAFETY: "" is NUL-terminated and static; integers otherwise.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            onto.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(r).map(drop)
}
