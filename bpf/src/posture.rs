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

/// An ioctl's request: an `unsigned int`, its low 32 bits.
const IOCTL_CMD: u64 = 0xffff_ffff;
/// Terminal ioctls refused: `TIOCSTI`, `TIOCLINUX`, `TIOCCONS`, `TIOCSETD`.
const TERMINAL_IOCTLS: &[u64] = &[0x5412, 0x541c, 0x541d, 0x5423];
/// `USERFAULTFD_IOC_NEW` (`_IO(0xAA, 0x00)`).
const USERFAULTFD_IOC_NEW: u64 = 0xaa00;

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
    always("io_uring_enter", libc::ENOSYS, "io_uring (as io_uring_setup)"),
    always("io_uring_register", libc::ENOSYS, "io_uring (as io_uring_setup)"),
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
    always("fanotify_mark", libc::EPERM, "fanotify (as fanotify_init)"),
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
        "moves the root of every process of the mount namespace (the supervisor's included); \
         needs a mount namespace of its own, refused below",
    ),
    always(
        "open_tree",
        libc::EPERM,
        "a mount (or an O_PATH descriptor) of any path, outside the policy",
    ),
    always("move_mount", libc::EPERM, "the mount API: attaches a mount, giving a file a second name"),
    always("fsopen", libc::EPERM, "the mount API: a new file system to mount"),
    always("fsconfig", libc::EPERM, "the mount API (as fsopen)"),
    always("fsmount", libc::EPERM, "the mount API (as fsopen)"),
    always("fspick", libc::EPERM, "the mount API: reconfigures a mounted file system"),
    always("mount_setattr", libc::EPERM, "the mount API: changes a mount's attributes"),
    always(
        "open_tree_attr",
        libc::EPERM,
        "open_tree with mount attributes (Linux 6.15): a handle on any path, a detached clone naming a denied file otherwise",
    ),
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
    always("swapoff", libc::EPERM, "swap (as swapon)"),
    always("uselib", libc::ENOSYS, "maps a library by path"),
    // A new mount namespace is a copy of every mount the program may then
    // change: with CAP_SYS_ADMIN in a user namespace of its own (which any
    // program may make) it could bind-mount a denied file onto an allowed
    // name there.  New user, PID, network, IPC, UTS and cgroup namespaces
    // run (restrictions a program may take: Chromium's, bwrap's sandboxes),
    // and so does chroot into a directory: resolution follows each
    // process's root (docs/security.md, "Programs that sandbox themselves").
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
    // The terminal: the program keeps the user's controlling terminal (so
    // that job control, `tty`, `stty`, `less` work), but must not type into
    // it or take it over (docs/security.md, "The terminal").
    Refusal {
        name: "ioctl",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 1,
            mask: IOCTL_CMD,
            values: TERMINAL_IOCTLS,
        },
        why: "TIOCSTI pushes input the user's shell runs after the run; TIOCLINUX pastes the \
              console selection; TIOCCONS takes the console's output; TIOCSETD changes the \
              terminal's line discipline",
    },
    // A userfaultfd lets the program hold any page of its memory unserved:
    // the supervisor reading a path there would wait (docs/security.md).
    always(
        "userfaultfd",
        libc::EPERM,
        "a page the program never serves stalls whoever reads it, the supervisor included",
    ),
    Refusal {
        name: "ioctl",
        errno: libc::EPERM,
        when: When::Masked {
            arg: 1,
            mask: IOCTL_CMD,
            values: &[USERFAULTFD_IOC_NEW],
        },
        why: "USERFAULTFD_IOC_NEW on /dev/userfaultfd: a userfaultfd, as the syscall",
    },
    always(
        "clone3",
        libc::ENOSYS,
        "its flags are in memory, out of the filter's reach; libc falls back to clone",
    ),
];

/// Calls that run, but that the supervisor must see before they do: under
/// the default posture the filter sends them to it, and it notes them and
/// lets them run (CONTINUE), reading nothing of them — the posture's
/// allow, delivered once noted.  `chroot` changes the root paths are
/// resolved from: once one is seen, the supervisor observes each request's
/// root (`supervisor::pending::Root`); until then every root is the one
/// the program was started with, since the posture refuses every other way
/// to change it (a mount namespace, `setns`, `pivot_root`).  With
/// `--allow-unmapped` they run untrapped (and the root is observed on
/// every request).
pub const NOTED: &[&str] = &["chroot"];

/// The name of syscall `nr` of `arch` if it is one of [`NOTED`].
pub fn noted(arch: libseccomp::ScmpArch, nr: i32) -> Option<&'static str> {
    NOTED
        .iter()
        .copied()
        .find(|n| crate::known::number(n, arch) == Some(nr))
}

/// A call the filter sent to the supervisor only to be refused: a socket
/// of a family not allowed (always), or, when the refusals are recorded
/// (`Posture::notify_refusals`), a refused or unknown syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The syscall's name (`"syscall"` for one outside the allow-list).
    pub syscall: &'static str,
    /// The errno to answer.
    pub errno: i32,
    /// Why, in a few words.
    pub why: &'static str,
    /// What is refused, for the records: the family, the ioctl, the number.
    pub target: String,
}

/// What the posture refused in syscall `nr` of `arch` with `args` (a
/// notification the table does not trap).  A number it does not know is
/// refused as unknown (ENOSYS): nothing is ever let through from here.
pub fn refused(arch: libseccomp::ScmpArch, nr: i32, args: &[u64; 6]) -> Refused {
    use crate::known::number;
    for name in ["socket", "socketpair"] {
        if number(name, arch) == Some(nr) {
            // Read as the kernel reads an int.
            let family = args[0] as u32 as i32;
            return Refused {
                syscall: name,
                errno: libc::EAFNOSUPPORT,
                why: "socket family not allowed",
                target: crate::families::describe(family),
            };
        }
    }
    if let Some(r) = refusal(arch, nr, args) {
        return r;
    }
    Refused {
        syscall: "syscall",
        errno: libc::ENOSYS,
        why: "not in the allow-list",
        target: format!("syscall {nr}"),
    }
}

/// The refusal of [`REFUSED`] that syscall `nr` of `arch` with `args`
/// matches, if any: also for a call of the table the filter sends to the
/// supervisor only with some arguments (a device mknod).
pub fn refusal(arch: libseccomp::ScmpArch, nr: i32, args: &[u64; 6]) -> Option<Refused> {
    use crate::known::number;
    for r in REFUSED {
        if number(r.name, arch) != Some(nr) {
            continue;
        }
        match r.when {
            When::Always => {
                return Some(Refused {
                    syscall: r.name,
                    errno: r.errno,
                    why: "refused by the posture",
                    target: r.name.to_owned(),
                })
            }
            When::Masked { arg, mask, values } => {
                let v = args[arg as usize] & mask;
                if values.contains(&v) {
                    return Some(Refused {
                        syscall: r.name,
                        errno: r.errno,
                        why: "refused by the posture",
                        target: format!("{} {v:#x}", r.name),
                    });
                }
            }
        }
    }
    None
}
