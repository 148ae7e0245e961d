//! The seccomp user-notification ABI: structures and ioctls of
//! `<linux/seccomp.h>`, wrapped one function per ioctl.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `struct seccomp_data`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

/// `struct seccomp_notif_resp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// `struct seccomp_notif_addfd`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct NotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | ((b'!' as u64) << 8) | nr
}
const IOC_W: u64 = 1;
const IOC_RW: u64 = 3;
const NOTIF_RECV: u64 = ioc(IOC_RW, 0, std::mem::size_of::<Notif>());
const NOTIF_SEND: u64 = ioc(IOC_RW, 1, std::mem::size_of::<NotifResp>());
const NOTIF_ID_VALID: u64 = ioc(IOC_W, 2, 8);
const NOTIF_ADDFD: u64 = ioc(IOC_W, 3, std::mem::size_of::<NotifAddfd>());
const NOTIF_SET_FLAGS: u64 = ioc(IOC_W, 4, 8);

/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`.
pub const FLAG_CONTINUE: u32 = 1;
/// `SECCOMP_ADDFD_FLAG_SETFD`.
pub const ADDFD_FLAG_SETFD: u32 = 1;
/// `SECCOMP_ADDFD_FLAG_SEND` (Linux 5.14).
pub const ADDFD_FLAG_SEND: u32 = 2;
/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`.
pub const FD_SYNC_WAKE_UP: u64 = 1;

const _: () = assert!(std::mem::size_of::<Notif>() == 80);
const _: () = assert!(std::mem::size_of::<NotifResp>() == 24);
const _: () = assert!(std::mem::size_of::<NotifAddfd>() == 24);

/// `SECCOMP_IOCTL_NOTIF_RECV`: blocks until a notification is pending.
pub fn recv(listener: BorrowedFd) -> Result<Notif, Errno> {
    let mut n = Notif::default(); // the kernel requires a zeroed buffer
                                  // SAFETY: `n` is a valid, writable `struct seccomp_notif` of the size
                                  // encoded in the request number.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_RECV as _, &mut n as *mut Notif) };
    Errno::result(r).map(|_| n)
}

/// `SECCOMP_IOCTL_NOTIF_SEND`.
pub fn send(listener: BorrowedFd, id: u64, val: i64, error: i32, flags: u32) -> Result<(), Errno> {
    let resp = NotifResp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: `resp` is a valid `struct seccomp_notif_resp`, read by the
    // kernel (and written back, hence the mutable pointer).
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            NOTIF_SEND as _,
            &resp as *const NotifResp as *mut NotifResp,
        )
    };
    Errno::result(r).map(drop)
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: is the notification still pending (its
/// thread alive and still blocked in that syscall)?
pub fn id_valid(listener: BorrowedFd, id: u64) -> bool {
    // SAFETY: the kernel reads one u64 from the pointer.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_ID_VALID as _, &id as *const u64) };
    r == 0
}

/// `SECCOMP_IOCTL_NOTIF_ADDFD`: installs a duplicate of `src` in the
/// notifying process; returns its number there.  With `send`, that number
/// is also the answer to the notification, in the same step.
pub fn addfd(
    listener: BorrowedFd,
    id: u64,
    src: BorrowedFd,
    newfd: Option<u32>,
    cloexec: bool,
    send: bool,
) -> Result<i32, Errno> {
    let a = NotifAddfd {
        id,
        flags: if newfd.is_some() { ADDFD_FLAG_SETFD } else { 0 }
            | if send { ADDFD_FLAG_SEND } else { 0 },
        srcfd: src.as_raw_fd() as u32,
        newfd: newfd.unwrap_or(0),
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    // SAFETY: `a` is a valid `struct seccomp_notif_addfd`; the kernel only
    // reads it; `src` is a live descriptor for the duration of the call.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            NOTIF_ADDFD as _,
            &a as *const NotifAddfd,
        )
    };
    Errno::result(r)
}

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS`.
pub fn set_flags(listener: BorrowedFd, flags: u64) -> Result<(), Errno> {
    // SAFETY: the kernel reads the flags by value.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), NOTIF_SET_FLAGS as _, flags) };
    Errno::result(r).map(drop)
}
