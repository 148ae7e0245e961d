//! The default posture: syscalls that reach files or sockets without
//! going through a mapped call are refused by the notify filter.
//!
//! The policy decides on the calls of [`crate::syscalls::TABLE`].  A
//! program must not be able to get at a file's content or a socket, or
//! change what a path names, by another road: these calls are answered
//! with an errno by the filter itself (the supervisor never sees them).
//! `supervisor run --allow-unmapped` lets them run (for trusted programs).
//! docs/security.md gives the reason for each, and lists the path-taking
//! calls deliberately left alone.

/// When a refusal applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// When `(arg & mask)` is one of `values` (the other calls run).  The
    /// mask never covers the upper 32 bits of an `int` argument, which the
    /// kernel ignores.
    Masked {
        arg: u32,
        mask: u64,
        values: &'static [u64],
    },
}

/// One refused syscall.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// The kernel's name (absent on an architecture: skipped there).
    pub name: &'static str,
    /// The errno the call fails with.
    pub errno: i32,
    pub when: When,
    /// Why, in a few words (docs/security.md says more).
    pub why: &'static str,
}

const S_IFMT: u64 = libc::S_IFMT as u64;
/// mknod types refused: character and block devices (regular files, FIFOs
/// and sockets are requests, bpf::syscalls).
const MKNOD_REFUSED: &[u64] = &[libc::S_IFCHR as u64, libc::S_IFBLK as u64];

/// `CLONE_NEWNS` (the flags of clone and unshare).
const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;

const fn always(name: &'static str, errno: i32, why: &'static str) -> Refusal {
    Refusal {
        name,
        errno,
        when: When::Always,
        why,
    }
}

/// The refused syscalls.
pub const REFUSED: &[Refusal] = &[
    // Submission queues run open, connect, … in the kernel, never trapped.
    always(
        "io_uring_setup",
        libc::ENOSYS,
        "io_uring runs file and socket operations in the kernel, out of the filter's sight",
    ),
    always("io_uring_enter", libc::ENOSYS, "io_uring"),
    always("io_uring_register", libc::ENOSYS, "io_uring"),
    // File handles: a path-free way to open any file of a file system.
    always(
        "open_by_handle_at",
        libc::EPERM,
        "opens a file by handle, without a path",
    ),
    always(
        "name_to_handle_at",
        libc::EOPNOTSUPP,
        "looks a path up outside the policy and makes a handle to reopen it",
    ),
    // fanotify events carry descriptors of the files accessed.
    always(
        "fanotify_init",
        libc::EPERM,
        "fanotify events carry open descriptors of other files",
    ),
    always("fanotify_mark", libc::EPERM, "fanotify"),
    // Changing what a path names: the policy decides on names.
    always(
        "mount",
        libc::EPERM,
        "a bind mount gives a denied file a second name",
    ),
    always(
        "umount2",
        libc::EPERM,
        "unmounting changes what a path names",
    ),
    always(
        "pivot_root",
        libc::EPERM,
        "changes the root paths are resolved from",
    ),
    always(
        "chroot",
        libc::EPERM,
        "changes the root paths are resolved from",
    ),
    always(
        "open_tree",
        libc::EPERM,
        "a mount (or an O_PATH descriptor) of any path, outside the policy",
    ),
    always("move_mount", libc::EPERM, "mount API"),
    always("fsopen", libc::EPERM, "mount API"),
    always("fsconfig", libc::EPERM, "mount API"),
    always("fsmount", libc::EPERM, "mount API"),
    always("fspick", libc::EPERM, "mount API"),
    always("mount_setattr", libc::EPERM, "mount API"),
    always(
        "setns",
        libc::EPERM,
        "joining another mount or network namespace changes what names and addresses reach",
    ),
    // Devices by path (mknod of files, FIFOs and sockets are requests).
    Refusal {
        name: "mknod",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 1,
            mask: S_IFMT,
            values: MKNOD_REFUSED,
        },
        why: "creates device nodes by path (files, FIFOs and sockets are requests)",
    },
    Refusal {
        name: "mknodat",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 2,
            mask: S_IFMT,
            values: MKNOD_REFUSED,
        },
        why: "as mknod",
    },
    always(
        "acct",
        libc::EPERM,
        "the kernel writes accounting records to a file by path",
    ),
    always(
        "swapon",
        libc::EPERM,
        "the kernel writes to a swap file by path",
    ),
    always("swapoff", libc::EPERM, "swap"),
    always("uselib", libc::ENOSYS, "maps a library by path"),
    // A new mount namespace gives the process a root (a copy of the mount)
    // other than the one the supervisor resolves paths from; with chroot,
    // pivot_root and setns refused, these are the last ways to change it,
    // so the program's root is fixed for the run (the fast path of
    // resolution observes it once).
    Refusal {
        name: "unshare",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 0,
            mask: CLONE_NEWNS,
            values: &[CLONE_NEWNS],
        },
        why: "a new mount namespace changes the root paths are resolved from",
    },
    Refusal {
        name: "clone",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 0,
            mask: CLONE_NEWNS,
            values: &[CLONE_NEWNS],
        },
        why: "as unshare (a child in a new mount namespace)",
    },
    always(
        "clone3",
        libc::ENOSYS,
        "its flags are in memory, out of the filter's reach; libc falls back to clone",
    ),
];
