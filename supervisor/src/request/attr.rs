//! The metadata calls (chmod, chown, utime, truncate, xattr): a change to
//! an existing object named by a path, and how its arguments read, in one
//! place for every consumer (`master:arguments()`, the audit record, slave
//! filters, learn).

use bpf::Sys;
use nix::errno::Errno;

use kernel::memory;

/// A time argument of utime/utimes/futimesat/utimensat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// The current time (`UTIME_NOW`, or a NULL times pointer).
    Now,
    /// Left as it is (`UTIME_OMIT`).
    Omit,
    /// Seconds and nanoseconds.
    At(i64, i64),
}

/// What a metadata call changes on the object its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// chmod: the permission bits (`mode & 07777`, as the kernel masks it).
    Mode(u32),
    /// chown: the new owner and group (`u32::MAX`: unchanged, -1 to C).
    Owner { uid: u32, gid: u32 },
    /// utime: access and modification times.
    Times([Time; 2]),
    /// truncate: the new length (never negative: EINVAL at decode).
    Length(i64),
    /// setxattr: an extended attribute's name, value, and
    /// `XATTR_CREATE`/`XATTR_REPLACE`.
    SetXattr {
        name: Vec<u8>,
        value: Vec<u8>,
        flags: i32,
    },
    /// removexattr.
    RemoveXattr { name: Vec<u8> },
}

/// One argument after the path, as the policy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Int(i64),
    /// A mode (an integer to Lua, octal text in the log).
    Mode(u32),
    Time(Time),
    /// A word (`"set"`, `"remove"`).
    Word(&'static str),
    /// Bytes (an attribute's name or value).
    Bytes(Vec<u8>),
}

/// The `AT_*` flags a metadata call may carry.
pub const AT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;

/// Not a kernel flag: the call names a descriptor, not a path (fchmod,
/// fchown, futimens, fsetxattr, fremovexattr, and the `*at` forms with a
/// NULL path), so an `O_PATH` descriptor is EBADF as for the kernel.  It
/// goes with `AT_EMPTY_PATH` (the path is empty) and is never passed on.
pub const FD_FORM: i32 = 1 << 30;

/// The request of a metadata call on the program's descriptor `fd`.
pub fn on_fd(fd: i32, change: Change) -> super::Args {
    super::Args::Attr {
        at: super::PathArg {
            dir: super::Dir::Fd(fd),
            path: Vec::new(),
        },
        flags: libc::AT_EMPTY_PATH | FD_FORM,
        change,
    }
}

/// `XATTR_CREATE`, `XATTR_REPLACE`.
pub const XATTR_CREATE: i32 = 1;
pub const XATTR_REPLACE: i32 = 2;

/// The flag names of a metadata call (docs/policy.md): its `AT_*` flags,
/// then those of its change.
pub fn flag_names(flags: i32, change: &Change) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        v.push("no_follow");
    }
    if flags & libc::AT_EMPTY_PATH != 0 {
        v.push("empty_path");
    }
    if flags & FD_FORM != 0 {
        v.push("descriptor");
    }
    if let Change::SetXattr { flags, .. } = change {
        if flags & XATTR_CREATE != 0 {
            v.push("create");
        }
        if flags & XATTR_REPLACE != 0 {
            v.push("replace");
        }
    }
    v
}

/// The type of a mknod request, by name: `"regular"`, `"fifo"`,
/// `"socket"`.
pub fn node_type(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFIFO => "fifo",
        libc::S_IFSOCK => "socket",
        _ => "regular",
    }
}

/// The flag names of a link: `"follow"` (`AT_SYMLINK_FOLLOW`),
/// `"empty_path"`.
pub fn link_flag_names(flags: i32) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & libc::AT_SYMLINK_FOLLOW != 0 {
        v.push("follow");
    }
    if flags & libc::AT_EMPTY_PATH != 0 {
        v.push("empty_path");
    }
    v
}

/// An owner as C writes it: -1 for "unchanged".
fn id(v: u32) -> i64 {
    v as i32 as i64
}

impl Change {
    /// The arguments after the path, named (for the log) and valued.
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        match self {
            Change::Mode(m) => vec![("mode", Field::Mode(*m))],
            Change::Owner { uid, gid } => {
                vec![("uid", Field::Int(id(*uid))), ("gid", Field::Int(id(*gid)))]
            }
            Change::Times([a, m]) => vec![("atime", Field::Time(*a)), ("mtime", Field::Time(*m))],
            Change::Length(n) => vec![("length", Field::Int(*n))],
            Change::SetXattr { name, value, .. } => vec![
                ("op", Field::Word("set")),
                ("name", Field::Bytes(name.clone())),
                ("value", Field::Bytes(value.clone())),
            ],
            Change::RemoveXattr { name } => vec![
                ("op", Field::Word("remove")),
                ("name", Field::Bytes(name.clone())),
            ],
        }
    }

    /// The integers a slave filter is given after the path, and takes
    /// back in `real_X(path, …)` (docs/slave.md).  Times and attributes
    /// are the program's (a filter changes the path only).
    pub fn ints(&self) -> Vec<i64> {
        match self {
            Change::Mode(m) => vec![*m as i64],
            Change::Owner { uid, gid } => vec![id(*uid), id(*gid)],
            Change::Length(n) => vec![*n],
            Change::Times(_) | Change::SetXattr { .. } | Change::RemoveXattr { .. } => vec![],
        }
    }

    /// The change with the integers a slave filter gave (as many as
    /// [`Change::ints`]); `None`: a value the kernel would refuse.
    pub fn with_ints(&self, v: &[i64]) -> Option<Change> {
        let owner = |n: i64| -> Option<u32> {
            match n {
                -1 => Some(u32::MAX),
                n => u32::try_from(n).ok(),
            }
        };
        match self {
            Change::Mode(_) => {
                let m = u32::try_from(*v.first()?).ok()?;
                Some(Change::Mode(m & 0o7777))
            }
            Change::Owner { .. } => Some(Change::Owner {
                uid: owner(*v.first()?)?,
                gid: owner(*v.get(1)?)?,
            }),
            Change::Length(_) => {
                let n = *v.first()?;
                (n >= 0).then_some(Change::Length(n))
            }
            Change::Times(_) | Change::SetXattr { .. } | Change::RemoveXattr { .. } => {
                Some(self.clone())
            }
        }
    }
}

/// Does a metadata call with `flags` follow a symlink in its last
/// component?
pub fn follows(flags: i32) -> bool {
    flags & libc::AT_SYMLINK_NOFOLLOW == 0
}

// ------------------------------------------------------------- decoding

/// `UTIME_NOW`, `UTIME_OMIT`.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;
/// The longest attribute name (`XATTR_NAME_MAX`) and value (`XATTR_SIZE_MAX`).
const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: u64 = 65536;

fn words(b: &[u8]) -> impl Iterator<Item = i64> + '_ {
    b.chunks_exact(8)
        .map(|c| i64::from_ne_bytes(c.try_into().expect("8 bytes")))
}

/// The times of a utime call `sys` at `addr` (NULL: now, both), checked
/// as the kernel checks them; `None`: both `UTIME_OMIT` (nothing to do).
pub fn times(tid: u32, sys: Sys, addr: u64) -> Result<Option<[Time; 2]>, Errno> {
    if addr == 0 {
        return Ok(Some([Time::Now; 2]));
    }
    let out = match sys {
        // struct utimbuf { time_t actime, modtime; }
        Sys::Utime => {
            let mut b = [0u8; 16];
            memory::read_exact(tid, addr, &mut b)?;
            let w: Vec<i64> = words(&b).collect();
            [Time::At(w[0], 0), Time::At(w[1], 0)]
        }
        // struct timeval[2]
        Sys::Utimes | Sys::Futimesat => {
            let mut b = [0u8; 32];
            memory::read_exact(tid, addr, &mut b)?;
            let w: Vec<i64> = words(&b).collect();
            let tv = |s: i64, us: i64| {
                if !(0..1_000_000).contains(&us) {
                    return Err(Errno::EINVAL);
                }
                Ok(Time::At(s, us * 1000))
            };
            [tv(w[0], w[1])?, tv(w[2], w[3])?]
        }
        // struct timespec[2], with UTIME_NOW and UTIME_OMIT.
        _ => {
            let mut b = [0u8; 32];
            memory::read_exact(tid, addr, &mut b)?;
            let w: Vec<i64> = words(&b).collect();
            if w[1] == UTIME_OMIT && w[3] == UTIME_OMIT {
                return Ok(None);
            }
            let ts = |s: i64, ns: i64| match ns {
                UTIME_NOW => Ok(Time::Now),
                UTIME_OMIT => Ok(Time::Omit),
                0..=999_999_999 => Ok(Time::At(s, ns)),
                _ => Err(Errno::EINVAL),
            };
            [ts(w[0], w[1])?, ts(w[2], w[3])?]
        }
    };
    Ok(Some(out))
}

/// An attribute name at `addr`: 1 to 255 bytes (ERANGE otherwise).
pub fn xattr_name(tid: u32, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = match memory::read_path(tid, addr) {
        Err(Errno::ENAMETOOLONG) => return Err(Errno::ERANGE),
        r => r?,
    };
    if name.is_empty() || name.len() > XATTR_NAME_MAX {
        return Err(Errno::ERANGE);
    }
    Ok(name)
}

/// setxattrat's `struct xattr_args` (`size` bytes at `uargs`, checked
/// as `copy_struct_from_user` does), then its name, value and flags.
pub fn set_xattr_args(tid: u32, name: u64, uargs: u64, size: u64) -> Result<Change, Errno> {
    const VER0: u64 = 16;
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let mut b = vec![0u8; size as usize];
    memory::read_exact(tid, uargs, &mut b)?;
    if b[VER0 as usize..].iter().any(|&x| x != 0) {
        return Err(Errno::E2BIG);
    }
    let value = u64::from_ne_bytes(b[0..8].try_into().expect("8 bytes"));
    let vsize = u32::from_ne_bytes(b[8..12].try_into().expect("4 bytes"));
    let flags = u32::from_ne_bytes(b[12..16].try_into().expect("4 bytes"));
    set_xattr(tid, name, value, vsize.into(), flags.into())
}

/// setxattr's name, value (`size` bytes at `value`) and flags, in the
/// kernel's order of checks.
pub fn set_xattr(tid: u32, name: u64, value: u64, size: u64, flags: u64) -> Result<Change, Errno> {
    let flags = flags as i32;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = xattr_name(tid, name)?;
    let mut v = Vec::new();
    if size != 0 {
        if size > XATTR_SIZE_MAX {
            return Err(Errno::E2BIG);
        }
        v = vec![0u8; size as usize];
        memory::read_exact(tid, value, &mut v)?;
    }
    Ok(Change::SetXattr {
        name,
        value: v,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slave_values() {
        let c = Change::Mode(0o644);
        assert_eq!(
            flag_names(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH, &c),
            ["no_follow", "empty_path"]
        );
        assert!(flag_names(0, &c).is_empty());
        assert_eq!(c.ints(), [0o644]);
        assert_eq!(c.with_ints(&[0o104755]), Some(Change::Mode(0o4755)));
        assert_eq!(c.with_ints(&[-1]), None);
        assert_eq!(c.with_ints(&[]), None);
        let o = Change::Owner {
            uid: u32::MAX,
            gid: 5,
        };
        assert_eq!(o.ints(), [-1, 5]);
        assert_eq!(o.with_ints(&[-1, 5]), Some(o.clone()));
        assert_eq!(o.with_ints(&[-2, 5]), None);
        assert_eq!(Change::Length(3).with_ints(&[-1]), None);
        let x = Change::SetXattr {
            name: b"user.a".to_vec(),
            value: vec![],
            flags: XATTR_CREATE,
        };
        assert_eq!(flag_names(0, &x), ["create"]);
        assert_eq!(x.with_ints(&[]), Some(x.clone()));
    }
}
