//! The trapped syscalls, by name, and their numbers on the native architecture.

use libseccomp::{ScmpArch, ScmpSyscall};

/// A trapped syscall.  The names are the kernel's; a syscall that does not
/// exist on an architecture (e.g. `open` on aarch64) is simply absent there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sys {
    Open,
    Creat,
    Openat,
    Openat2,
    Unlink,
    Unlinkat,
    Rmdir,
    Rename,
    Renameat,
    Renameat2,
    Stat,
    Lstat,
    Newfstatat,
    Statx,
    Access,
    Faccessat,
    Faccessat2,
    Mkdir,
    Mkdirat,
    Chmod,
    Fchmodat,
    Fchmodat2,
    Chown,
    Lchown,
    Fchownat,
    Utime,
    Utimes,
    Futimesat,
    Utimensat,
    Truncate,
    Setxattr,
    Lsetxattr,
    Removexattr,
    Lremovexattr,
    Setxattrat,
    Removexattrat,
    Fchmod,
    Fchown,
    Fsetxattr,
    Fremovexattr,
    Symlink,
    Symlinkat,
    Link,
    Linkat,
    Mknod,
    Mknodat,
    Connect,
    Bind,
    Sendto,
    Sendmsg,
    Sendmmsg,
    Listen,
    Execve,
    Execveat,
    Readlinkat,
}

/// What the filter does with a syscall of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Sent to the supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Sent to the supervisor when argument `n` (a register, so the check
    /// cannot be raced) is non-zero; allowed otherwise.  `sendto` with a
    /// NULL destination names no address and is an ordinary write.
    NotifyIfSet(u32),
    /// Sent to the supervisor when `(arg & mask)` is one of `values` (a
    /// register: the check cannot be raced); allowed otherwise.
    NotifyIfMasked {
        arg: u32,
        mask: u64,
        values: &'static [u64],
    },
    /// Sent to the supervisor unless argument `arg` (a register) is
    /// `value`; allowed when it is.  A register the program gives with
    /// other upper bits is sent (the supervisor reads the low 32 bits, as
    /// the kernel does).
    NotifyUnlessEqual { arg: u32, value: u64 },
    /// Sent to the supervisor under the default posture only (see
    /// [`crate::posture`]); with `--allow-unmapped` the kernel runs it.
    Posture,
}

const S_IFMT: u64 = libc::S_IFMT as u64;
/// The mknod types that are requests: regular files (type 0 is one too),
/// FIFOs and sockets.  The mask never covers more than the low 16 bits
/// the kernel reads (`umode_t`).
const MKNOD_REQUESTS: &[u64] = &[
    0,
    libc::S_IFREG as u64,
    libc::S_IFIFO as u64,
    libc::S_IFSOCK as u64,
];

/// The table: every syscall that reaches the supervisor.
pub const TABLE: &[(Sys, &str, Disposition)] = &[
    (Sys::Open, "open", Disposition::Notify),
    (Sys::Creat, "creat", Disposition::Notify),
    (Sys::Openat, "openat", Disposition::Notify),
    (Sys::Openat2, "openat2", Disposition::Notify),
    (Sys::Unlink, "unlink", Disposition::Notify),
    (Sys::Unlinkat, "unlinkat", Disposition::Notify),
    (Sys::Rmdir, "rmdir", Disposition::Notify),
    (Sys::Rename, "rename", Disposition::Notify),
    (Sys::Renameat, "renameat", Disposition::Notify),
    (Sys::Renameat2, "renameat2", Disposition::Notify),
    (Sys::Stat, "stat", Disposition::Notify),
    (Sys::Lstat, "lstat", Disposition::Notify),
    (Sys::Newfstatat, "newfstatat", Disposition::Notify),
    (Sys::Statx, "statx", Disposition::Notify),
    (Sys::Access, "access", Disposition::Notify),
    (Sys::Faccessat, "faccessat", Disposition::Notify),
    (Sys::Faccessat2, "faccessat2", Disposition::Notify),
    (Sys::Mkdir, "mkdir", Disposition::Notify),
    (Sys::Mkdirat, "mkdirat", Disposition::Notify),
    (Sys::Chmod, "chmod", Disposition::Notify),
    (Sys::Fchmodat, "fchmodat", Disposition::Notify),
    (Sys::Fchmodat2, "fchmodat2", Disposition::Notify),
    (Sys::Chown, "chown", Disposition::Notify),
    (Sys::Lchown, "lchown", Disposition::Notify),
    (Sys::Fchownat, "fchownat", Disposition::Notify),
    (Sys::Utime, "utime", Disposition::Notify),
    (Sys::Utimes, "utimes", Disposition::Notify),
    // With a NULL path, futimes/futimens on a descriptor: requests on its
    // file, like fchmod and fchown below.
    (Sys::Futimesat, "futimesat", Disposition::Notify),
    (Sys::Utimensat, "utimensat", Disposition::Notify),
    (Sys::Truncate, "truncate", Disposition::Notify),
    (Sys::Setxattr, "setxattr", Disposition::Notify),
    (Sys::Lsetxattr, "lsetxattr", Disposition::Notify),
    (Sys::Removexattr, "removexattr", Disposition::Notify),
    (Sys::Lremovexattr, "lremovexattr", Disposition::Notify),
    (Sys::Setxattrat, "setxattrat", Disposition::Notify),
    (Sys::Removexattrat, "removexattrat", Disposition::Notify),
    // The metadata of a file the program holds open: it may hold it only
    // to read (a decided open), and change its mode as its owner.
    (Sys::Fchmod, "fchmod", Disposition::Notify),
    (Sys::Fchown, "fchown", Disposition::Notify),
    (Sys::Fsetxattr, "fsetxattr", Disposition::Notify),
    (Sys::Fremovexattr, "fremovexattr", Disposition::Notify),
    (Sys::Symlink, "symlink", Disposition::Notify),
    (Sys::Symlinkat, "symlinkat", Disposition::Notify),
    (Sys::Link, "link", Disposition::Notify),
    (Sys::Linkat, "linkat", Disposition::Notify),
    // Regular files, FIFOs and sockets; character and block devices are
    // refused by the posture (crate::posture), other types are the
    // kernel's EINVAL.
    (
        Sys::Mknod,
        "mknod",
        Disposition::NotifyIfMasked {
            arg: 1,
            mask: S_IFMT,
            values: MKNOD_REQUESTS,
        },
    ),
    (
        Sys::Mknodat,
        "mknodat",
        Disposition::NotifyIfMasked {
            arg: 2,
            mask: S_IFMT,
            values: MKNOD_REQUESTS,
        },
    ),
    (Sys::Connect, "connect", Disposition::Notify),
    (Sys::Bind, "bind", Disposition::Notify),
    (Sys::Sendto, "sendto", Disposition::NotifyIfSet(4)),
    // The address of sendmsg/sendmmsg is in memory, out of the filter's
    // reach: every call is trapped.
    (Sys::Sendmsg, "sendmsg", Disposition::Notify),
    (Sys::Sendmmsg, "sendmmsg", Disposition::Notify),
    // listen() on an unbound inet socket binds it (the kernel's autobind)
    // to a port on the wildcard address without a bind request.
    (Sys::Listen, "listen", Disposition::Posture),
    // Running a file: decided on the resolved binary, verified at the exec
    // event (docs/security.md, "Exec").
    (Sys::Execve, "execve", Disposition::Notify),
    (Sys::Execveat, "execveat", Disposition::Notify),
    // readlinkat(fd, "") on the stand-in of a symlink's O_PATH descriptor
    // (kernel::standin) reads the symlink it stands for; the kernel alone
    // would read the stand-in.  A path relative to the working directory
    // (AT_FDCWD, every readlink of libc) is never one: it runs.
    (
        Sys::Readlinkat,
        "readlinkat",
        Disposition::NotifyUnlessEqual {
            arg: 0,
            value: libc::AT_FDCWD as i64 as u64,
        },
    ),
];

impl Sys {
    /// A socket call (connect, bind, the sends)?
    pub fn is_socket(self) -> bool {
        matches!(
            self,
            Sys::Connect | Sys::Bind | Sys::Listen | Sys::Sendto | Sys::Sendmsg | Sys::Sendmmsg
        )
    }

    /// The kernel's name of the syscall.
    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(s, _, _)| *s == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }
}

/// Syscalls newer than the libseccomp the supervisor may be built with
/// (Debian 12 has 2.5.4), by number: the same on x86_64 and aarch64 (the
/// unified numbering of every syscall from 424 on).  Left out, they would
/// be untrapped roads around their requests.
const UNNAMED: &[(&str, i32)] = &[("setxattrat", 463), ("removexattrat", 466)];

fn unnamed(name: &str, arch: ScmpArch) -> Option<i32> {
    if !matches!(arch, ScmpArch::X8664 | ScmpArch::Aarch64) {
        return None;
    }
    UNNAMED.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

/// The table resolved for one architecture: number → [`Sys`].
#[derive(Debug, Clone)]
pub struct SyscallMap {
    arch: ScmpArch,
    by_nr: Vec<Option<Sys>>,
    present: Vec<(Sys, i32)>,
}

impl SyscallMap {
    /// The map of the architecture this binary runs on.
    pub fn native() -> Self {
        Self::for_arch(ScmpArch::native())
    }

    /// The map of `arch` (x86_64 and aarch64 are the supported ones).
    pub fn for_arch(arch: ScmpArch) -> Self {
        let mut present = Vec::new();
        for &(sys, name, _) in TABLE {
            // libseccomp answers a negative pseudo number for a syscall the
            // architecture lacks; those are left out.
            if let Ok(nr) = ScmpSyscall::from_name_by_arch(name, arch) {
                let nr = i32::from(nr);
                if nr >= 0 {
                    present.push((sys, nr));
                }
            } else if let Some(nr) = unnamed(name, arch) {
                present.push((sys, nr));
            }
        }
        let max = present.iter().map(|&(_, nr)| nr).max().unwrap_or(0) as usize;
        let mut by_nr = vec![None; max + 1];
        for &(sys, nr) in &present {
            by_nr[nr as usize] = Some(sys);
        }
        SyscallMap {
            arch,
            by_nr,
            present,
        }
    }

    /// The trapped syscall with number `nr`, if any.
    #[inline]
    pub fn lookup(&self, nr: i32) -> Option<Sys> {
        usize::try_from(nr)
            .ok()
            .and_then(|i| self.by_nr.get(i).copied().flatten())
    }

    /// The syscalls of the table this architecture has, with their numbers.
    pub fn present(&self) -> &[(Sys, i32)] {
        &self.present
    }

    /// The architecture of this map.
    pub fn arch(&self) -> ScmpArch {
        self.arch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_has_the_legacy_calls() {
        let m = SyscallMap::for_arch(ScmpArch::X8664);
        assert_eq!(m.lookup(2), Some(Sys::Open));
        assert_eq!(m.lookup(257), Some(Sys::Openat));
        assert_eq!(m.lookup(437), Some(Sys::Openat2));
        assert_eq!(m.lookup(332), Some(Sys::Statx));
        assert_eq!(m.lookup(0), None);
        assert_eq!(m.lookup(-1), None);
        assert_eq!(m.lookup(100_000), None);
    }

    #[test]
    fn syscalls_newer_than_libseccomp_are_trapped_by_number() {
        for arch in [ScmpArch::X8664, ScmpArch::Aarch64] {
            let m = SyscallMap::for_arch(arch);
            assert_eq!(m.lookup(463), Some(Sys::Setxattrat), "{arch:?}");
            assert_eq!(m.lookup(466), Some(Sys::Removexattrat), "{arch:?}");
        }
    }

    #[test]
    fn aarch64_lacks_the_legacy_calls() {
        let m = SyscallMap::for_arch(ScmpArch::Aarch64);
        assert!(m.present().iter().all(|(s, _)| *s != Sys::Open));
        assert!(m.present().iter().all(|(s, _)| *s != Sys::Stat));
        assert_eq!(m.lookup(56), Some(Sys::Openat));
        assert_eq!(m.lookup(276), Some(Sys::Renameat2));
    }
}
