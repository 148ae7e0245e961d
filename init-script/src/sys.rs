//! The raw system calls behind the `C` table.  Every `unsafe` block of
//! this crate lives here; each function returns the call's result or its
//! errno, never panics, and takes only checked Rust values (NUL-terminated
//! strings, slices with their lengths).

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use nix::errno::Errno;

/// A C result: the return value, or the errno.
pub type Ret = Result<i64, Errno>;

// c_long is i64 on the 64-bit targets supervisor supports.
#[allow(clippy::useless_conversion)]
fn ret(r: libc::c_long) -> Ret {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(i64::from(r))
    }
}

fn ret_int(r: libc::c_int) -> Ret {
    ret(r as libc::c_long)
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> Ret {
    // SAFETY: buf is a writable buffer of buf.len() bytes.
    ret(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)
}

pub fn write(fd: RawFd, buf: &[u8]) -> Ret {
    // SAFETY: buf is a readable buffer of buf.len() bytes.
    ret(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as libc::c_long)
}

pub fn close(fd: RawFd) -> Ret {
    // SAFETY: closing a descriptor number the script named; Rust owns no
    // descriptor in the init-script process that the script could reach
    // except through this API.
    ret_int(unsafe { libc::close(fd) })
}

pub fn open(path: &CStr, flags: i32, mode: u32) -> Ret {
    // SAFETY: path is NUL-terminated; integer arguments otherwise.
    ret_int(unsafe { libc::open(path.as_ptr(), flags, mode as libc::c_uint) })
}

pub fn mkdir(path: &CStr, mode: u32) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::mkdir(path.as_ptr(), mode as libc::mode_t) })
}

pub fn chdir(path: &CStr) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::chdir(path.as_ptr()) })
}

pub fn mkfifo(path: &CStr, mode: u32) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::mkfifo(path.as_ptr(), mode as libc::mode_t) })
}

pub fn mknod(path: &CStr, mode: u32, dev: u64) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::mknod(path.as_ptr(), mode as libc::mode_t, dev as libc::dev_t) })
}

pub fn link(old: &CStr, new: &CStr) -> Ret {
    // SAFETY: both paths are NUL-terminated.
    ret_int(unsafe { libc::link(old.as_ptr(), new.as_ptr()) })
}

pub fn symlink(target: &CStr, linkpath: &CStr) -> Ret {
    // SAFETY: both paths are NUL-terminated.
    ret_int(unsafe { libc::symlink(target.as_ptr(), linkpath.as_ptr()) })
}

pub fn chown(path: &CStr, uid: u32, gid: u32) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::chown(path.as_ptr(), uid, gid) })
}

pub fn chmod(path: &CStr, mode: u32) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })
}

pub fn umask(mask: u32) -> i64 {
    // SAFETY: integer argument; umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as i64 }
}

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> Ret {
    // SAFETY: every pointer is NULL or a NUL-terminated string alive for
    // the call.
    ret_int(unsafe {
        libc::mount(
            opt_ptr(source),
            target.as_ptr(),
            opt_ptr(fstype),
            flags as libc::c_ulong,
            opt_ptr(data).cast(),
        )
    })
}

pub fn umount2(target: &CStr, flags: i32) -> Ret {
    // SAFETY: target is NUL-terminated.
    ret_int(unsafe { libc::umount2(target.as_ptr(), flags) })
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Ret {
    // SAFETY: both paths are NUL-terminated.
    ret(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
}

pub fn chroot(path: &CStr) -> Ret {
    // SAFETY: path is NUL-terminated.
    ret_int(unsafe { libc::chroot(path.as_ptr()) })
}

pub fn setsid() -> Ret {
    // SAFETY: no arguments.
    ret_int(unsafe { libc::setsid() })
}

pub fn setpgid(pid: i32, pgid: i32) -> Ret {
    // SAFETY: integer arguments.
    ret_int(unsafe { libc::setpgid(pid, pgid) })
}

// The raw syscalls, not libc's wrappers: glibc would broadcast a
// credential change to other threads with signals; this process has one
// thread, and the kernel call is what the script asks for.
pub fn setresuid(r: u32, e: u32, s: u32) -> Ret {
    // SAFETY: integer arguments.
    ret(unsafe { libc::syscall(libc::SYS_setresuid, r, e, s) })
}

pub fn setresgid(r: u32, e: u32, s: u32) -> Ret {
    // SAFETY: integer arguments.
    ret(unsafe { libc::syscall(libc::SYS_setresgid, r, e, s) })
}

pub fn setgroups(groups: &[libc::gid_t]) -> Ret {
    // SAFETY: groups points to groups.len() gids.
    ret(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
}

pub fn sethostname(name: &[u8]) -> Ret {
    // SAFETY: name is a readable buffer of name.len() bytes.
    ret_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
}

pub fn setdomainname(name: &[u8]) -> Ret {
    // SAFETY: name is a readable buffer of name.len() bytes.
    ret_int(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) })
}

pub fn unshare(flags: i32) -> Ret {
    // SAFETY: integer argument.
    ret_int(unsafe { libc::unshare(flags) })
}

pub fn setns(fd: RawFd, nstype: i32) -> Ret {
    // SAFETY: integer arguments.
    ret_int(unsafe { libc::setns(fd, nstype) })
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// `execve`; returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> Errno {
    let (a, e) = (ptrs(argv), ptrs(envp));
    // SAFETY: path is NUL-terminated; a and e are NULL-terminated arrays of
    // NUL-terminated strings that outlive the call.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    Errno::last()
}

/// `fexecve` (as `execveat(fd, "", …, AT_EMPTY_PATH)`); returns only on
/// failure.
pub fn fexecve(fd: RawFd, argv: &[CString], envp: &[CString]) -> Errno {
    let (a, e) = (ptrs(argv), ptrs(envp));
    // SAFETY: as for execve; "" is a NUL-terminated literal.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `capset` of the three sets at once (as libcap's `cap_set_proc`).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Ret {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: hdr and data are the kernel's v3 structures (two data
    // elements), alive for the call.
    ret(unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) })
}

fn prctl(op: libc::c_int, a: libc::c_ulong, b: libc::c_ulong) -> Ret {
    // SAFETY: the prctl operations used here take integer arguments only.
    ret_int(unsafe { libc::prctl(op, a, b, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

pub fn cap_drop_bound(cap: u8) -> Ret {
    prctl(libc::PR_CAPBSET_DROP, cap.into(), 0)
}

pub fn cap_ambient(raise: bool, cap: u8) -> Ret {
    let op = if raise {
        libc::PR_CAP_AMBIENT_RAISE
    } else {
        libc::PR_CAP_AMBIENT_LOWER
    };
    prctl(libc::PR_CAP_AMBIENT, op as libc::c_ulong, cap.into())
}

pub fn cap_reset_ambient() -> Ret {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    )
}

pub fn set_secbits(bits: u32) -> Ret {
    prctl(libc::PR_SET_SECUREBITS, bits.into(), 0)
}

pub fn set_no_new_privs() -> Ret {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)
}

/// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)`.
pub fn seccomp_set_mode_filter(insns: &[libc::sock_filter]) -> Ret {
    let Ok(len) = u16::try_from(insns.len()) else {
        return Err(Errno::EINVAL);
    };
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points to `len` instructions alive for the call; the
    // kernel copies them before returning and never writes through it.
    ret_int(unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    })
}

const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const SYS_LANDLOCK_ADD_RULE: libc::c_long = 445;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;

/// `landlock_create_ruleset(attr, size, flags)`; `attr` is the kernel's
/// `struct landlock_ruleset_attr` (handled_access_fs, handled_access_net,
/// scoped), of which the first `fields` are passed.
pub fn landlock_create_ruleset(attr: Option<(&[u64; 3], usize)>, flags: u32) -> Ret {
    let (ptr, size) = match attr {
        Some((a, fields)) => (a.as_ptr(), fields.min(3) * 8),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: ptr is NULL with size 0, or points to at least `size`
    // readable bytes of `attr`.
    ret(unsafe { libc::syscall(SYS_LANDLOCK_CREATE_RULESET, ptr, size, flags) })
}

#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

#[repr(C)]
struct NetPort {
    allowed_access: u64,
    port: u64,
}

/// `landlock_add_rule(fd, LANDLOCK_RULE_PATH_BENEATH, …)`.
pub fn landlock_add_path_beneath(ruleset: RawFd, access: u64, parent_fd: RawFd) -> Ret {
    let attr = PathBeneath {
        allowed_access: access,
        parent_fd,
    };
    // SAFETY: attr is the kernel's packed landlock_path_beneath_attr,
    // alive for the call.
    ret(unsafe {
        libc::syscall(
            SYS_LANDLOCK_ADD_RULE,
            ruleset,
            1 as libc::c_int,
            &attr as *const PathBeneath,
            0 as libc::c_uint,
        )
    })
}

/// `landlock_add_rule(fd, LANDLOCK_RULE_NET_PORT, …)`.
pub fn landlock_add_net_port(ruleset: RawFd, access: u64, port: u64) -> Ret {
    let attr = NetPort {
        allowed_access: access,
        port,
    };
    // SAFETY: attr is the kernel's landlock_net_port_attr, alive for the
    // call.
    ret(unsafe {
        libc::syscall(
            SYS_LANDLOCK_ADD_RULE,
            ruleset,
            2 as libc::c_int,
            &attr as *const NetPort,
            0 as libc::c_uint,
        )
    })
}

pub fn landlock_restrict_self(ruleset: RawFd, flags: u32) -> Ret {
    // SAFETY: integer arguments.
    ret(unsafe { libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, flags) })
}
