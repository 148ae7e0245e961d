//! The raw probes of `supervisor doctor`: seccomp and Landlock asked
//! directly, in a throw-away child where a probe would change the caller
//! (a seccomp filter cannot be removed).

use nix::errno::Errno;

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_GET_ACTION_AVAIL: libc::c_ulong = 2;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
const FILTER_FLAG_WAIT_KILLABLE_RECV: libc::c_ulong = 1 << 5;
const ADDFD_FLAG_SETFD: u32 = 1;
const ADDFD_FLAG_SEND: u32 = 2;
const FD_SYNC_WAKE_UP: u64 = 1;

/// `struct seccomp_notif_addfd`.
#[repr(C)]
struct NotifAddfd {
    id: u64,
    flags: u32,
    srcfd: u32,
    newfd: u32,
    newfd_flags: u32,
}

const fn ioc_w(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | ((b'!' as u64) << 8) | nr
}
const NOTIF_ADDFD: u64 = ioc_w(3, std::mem::size_of::<NotifAddfd>());
const NOTIF_SET_FLAGS: u64 = ioc_w(4, 8);

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, SECCOMP_RET_USER_NOTIF)`: whether
/// the kernel knows the user-notification action.
pub fn user_notif_action() -> Result<(), Errno> {
    let action = SECCOMP_RET_USER_NOTIF;
    // SAFETY: the kernel reads one u32 from a live local.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    Errno::result(r).map(drop)
}

/// What the listener probe found, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listener {
    /// A filter with `SECCOMP_FILTER_FLAG_NEW_LISTENER` was loaded.
    pub new_listener: bool,
    /// ... with `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` too (Linux 5.19).
    pub wait_killable_recv: bool,
    /// `SECCOMP_IOCTL_NOTIF_SET_FLAGS` took `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (6.6).
    pub sync_wake_up: bool,
    /// `SECCOMP_IOCTL_NOTIF_ADDFD` took `SECCOMP_ADDFD_FLAG_SETFD` (5.9).
    pub addfd_setfd: bool,
    /// ... and `SECCOMP_ADDFD_FLAG_SEND` (5.14).
    pub addfd_send: bool,
}

/// Loads an allow-everything filter with a listener in a child process
/// (which then exits) and asks its listener which flags it takes.  The
/// child reports in its exit status; `Err` if it could not be run.
pub fn probe_listener() -> Result<Listener, Errno> {
    // SAFETY: the child makes only raw syscalls (no allocation, no lock)
    // and leaves with _exit, so forking a multi-threaded process is sound.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno::last());
    }
    if pid == 0 {
        // SAFETY: see above; child_probe never returns.
        unsafe { libc::_exit(child_probe()) }
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; status is a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) & 0x80 != 0 {
        return Err(Errno::ECHILD);
    }
    let bits = libc::WEXITSTATUS(status);
    Ok(Listener {
        new_listener: bits & 1 != 0,
        wait_killable_recv: bits & 2 != 0,
        sync_wake_up: bits & 4 != 0,
        addfd_setfd: bits & 8 != 0,
        addfd_send: bits & 16 != 0,
    })
}

/// In the forked child: the probe's bits (see [`probe_listener`]), or
/// 0x80 when no_new_privs could not be set.
fn child_probe() -> i32 {
    let insn = libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: SECCOMP_RET_ALLOW,
    };
    let prog = libc::sock_fprog {
        len: 1,
        filter: &insn as *const libc::sock_filter as *mut libc::sock_filter,
    };
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return 0x80;
    }
    let mut bits = 0;
    let load = |flags: libc::c_ulong| {
        // SAFETY: prog points at one valid instruction, alive for the call.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        }
    };
    let mut fd = load(FILTER_FLAG_NEW_LISTENER | FILTER_FLAG_WAIT_KILLABLE_RECV);
    if fd >= 0 {
        bits |= 1 | 2;
    } else {
        fd = load(FILTER_FLAG_NEW_LISTENER);
        if fd < 0 {
            return bits;
        }
        bits |= 1;
    }
    let fd = fd as libc::c_int;
    // SAFETY: the kernel reads the flags by value.
    if unsafe { libc::ioctl(fd, NOTIF_SET_FLAGS as _, FD_SYNC_WAKE_UP) } == 0 {
        bits |= 4;
    }
    // ADDFD on a notification id that does not exist: the kernel checks
    // the flags (EINVAL) before it looks the id up (ENOENT).
    let addfd = |flags: u32, newfd: u32| {
        let a = NotifAddfd {
            id: u64::MAX,
            flags,
            srcfd: fd as u32,
            newfd,
            newfd_flags: 0,
        };
        // SAFETY: `a` is a valid struct the kernel only reads; srcfd is open.
        let r = unsafe { libc::ioctl(fd, NOTIF_ADDFD as _, &a as *const NotifAddfd) };
        // SAFETY: reads this thread's errno.
        r < 0 && unsafe { *libc::__errno_location() } == libc::ENOENT
    };
    if addfd(ADDFD_FLAG_SETFD, 100) {
        bits |= 8;
    }
    if addfd(ADDFD_FLAG_SEND, 0) {
        bits |= 16;
    }
    bits
}

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`:
/// the kernel's Landlock ABI.
pub fn landlock_abi() -> Result<i64, Errno> {
    // SAFETY: with the VERSION flag the kernel reads no attribute.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    Errno::result(r)
}

/// Whether a child can `unshare(CLONE_NEWUSER)`: `Ok` or its errno.
pub fn probe_user_namespace() -> Result<(), Errno> {
    // SAFETY: as in probe_listener, the child makes one raw syscall and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno::last());
    }
    if pid == 0 {
        // SAFETY: unshare with a flag; _exit never returns.
        unsafe {
            let r = libc::unshare(libc::CLONE_NEWUSER);
            libc::_exit(if r == 0 {
                0
            } else {
                *libc::__errno_location() & 0x7f
            })
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; status is a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(()),
        Some(e) => Err(Errno::from_raw(e)),
        None => Err(Errno::ECHILD),
    }
}
