//! Decoding a notification into a request of the libc_service model.
//!
//! Each pointer argument is copied exactly once from the program's memory
//! here; the caller checks `SECCOMP_IOCTL_NOTIF_ID_VALID` afterwards and
//! from then on decides and acts on this copy only.

pub mod attr;
pub mod exec;
pub mod flags;
pub mod net;
pub mod refused;
#[cfg(test)]
mod tests;

use bpf::Sys;
use nix::errno::Errno;

use kernel::memory;
use kernel::notify::sys::SeccompData;

pub use libc_service::Function;

/// The request a socket call with a mapped address becomes.  A send that
/// names a destination is a connect to it.
pub fn function_of_socket(op: net::SockOp, addr: &net::NetAddr) -> Function {
    use net::{NetAddr, SockOp};
    match (op, addr) {
        (SockOp::Bind, NetAddr::Unix(_)) => Function::BindUnix,
        (SockOp::Bind, NetAddr::Inet(_)) => Function::BindInet,
        (SockOp::Bind, NetAddr::Inet6(_)) => Function::BindInet6,
        (_, NetAddr::Unix(_)) => Function::ConnectUnix,
        (_, NetAddr::Inet(_)) => Function::ConnectInet,
        (_, NetAddr::Inet6(_)) => Function::ConnectInet6,
    }
}

/// Where a relative path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Cwd,
    /// A directory descriptor of the program (its number there).
    Fd(i32),
}

/// A path argument: the copy taken from the program, and its base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    pub dir: Dir,
    pub path: Vec<u8>,
}

/// Where a stat result goes in the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatOut {
    /// A `struct stat` at this address.
    Stat { addr: u64 },
    /// A `struct statx` at this address; `flags` are the AT_STATX_* bits.
    Statx { addr: u64, mask: u32, flags: i32 },
}

/// The decoded arguments, by shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Open {
        at: PathArg,
        flags: i32,
        mode: u32,
        /// openat2 `RESOLVE_*` flags; 0 for the other calls.
        resolve: u64,
    },
    /// unlink or rmdir, as `Request::function` says.
    Unlink {
        at: PathArg,
    },
    Rename {
        from: PathArg,
        to: PathArg,
        flags: u32,
    },
    Stat {
        at: PathArg,
        out: StatOut,
    },
    Access {
        at: PathArg,
        mode: i32,
        flags: i32,
    },
    Mkdir {
        at: PathArg,
        mode: u32,
    },
    /// A metadata call (chmod, …) on the object `at` names; `flags` are
    /// its `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH` bits.
    Attr {
        at: PathArg,
        flags: i32,
        change: attr::Change,
    },
    /// symlink: a new name `at` holding the text `target`.
    Symlink {
        target: Vec<u8>,
        at: PathArg,
    },
    /// link: a new name `to` for the object `from` names; `flags` are its
    /// `AT_SYMLINK_FOLLOW` and `AT_EMPTY_PATH` bits.
    Link {
        from: PathArg,
        to: PathArg,
        flags: i32,
    },
    /// mknod of a regular file, a FIFO or a socket: `mode` holds the type
    /// bits and the permission bits (`& 07777`).
    Mknod {
        at: PathArg,
        mode: u32,
    },
    /// execve/execveat: run the file `at` names; `flags` are execveat's
    /// `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH` bits.
    Exec {
        at: PathArg,
        flags: i32,
        argv: exec::Argv,
    },
    /// connect, bind, or a send naming a destination.
    Socket {
        call: net::SockCall,
        addr: net::NetAddr,
        /// A unix path name, resolved like a file path (not abstract names).
        path: Option<PathArg>,
    },
}

/// A request for the policy.
#[derive(Debug, Clone)]
pub struct Request {
    pub function: Function,
    pub sys: Sys,
    pub args: Args,
}

impl Request {
    /// How the paths are looked up beyond the plain walk: an empty path
    /// names the descriptor itself (`AT_EMPTY_PATH`), and openat2's
    /// `RESOLVE_*` flags.  Every shape says (no catch-all): a new one
    /// must decide.
    pub fn lookup_flags(&self) -> (bool, u64) {
        match &self.args {
            Args::Access { flags, .. }
            | Args::Attr { flags, .. }
            | Args::Link { flags, .. }
            | Args::Exec { flags, .. } => (flags & libc::AT_EMPTY_PATH != 0, 0),
            Args::Open { resolve, .. } => (false, *resolve),
            Args::Unlink { .. }
            | Args::Rename { .. }
            | Args::Stat { .. }
            | Args::Mkdir { .. }
            | Args::Symlink { .. }
            | Args::Mknod { .. }
            | Args::Socket { .. } => (false, 0),
        }
    }

    /// The path arguments, in order.
    pub fn paths(&self) -> Vec<&PathArg> {
        match &self.args {
            Args::Open { at, .. }
            | Args::Unlink { at }
            | Args::Stat { at, .. }
            | Args::Access { at, .. }
            | Args::Mkdir { at, .. }
            | Args::Attr { at, .. }
            | Args::Symlink { at, .. }
            | Args::Mknod { at, .. }
            | Args::Exec { at, .. } => vec![at],
            Args::Link { from, to, .. } => vec![from, to],
            Args::Rename { from, to, .. } => vec![from, to],
            Args::Socket { path, .. } => path.iter().collect(),
        }
    }

    /// Does the call name the last component of its path `i` itself, to
    /// make, remove or rename it (the kernel's `filename_create`,
    /// `do_unlinkat`, `do_rmdir`, `do_renameat2`, and an open with
    /// `O_CREAT`)?  Then a trailing slash does not make the walk follow a
    /// symlink there, as it does for a lookup: `mkdir("dangling/")` is
    /// EEXIST, `rmdir("link/")` ENOTDIR, never the link's target.
    pub fn names_last(&self, i: usize) -> bool {
        match &self.args {
            Args::Link { .. } => i == 1,
            Args::Open { flags, .. } => flags & libc::O_CREAT != 0,
            Args::Socket { call, .. } => call.op == net::SockOp::Bind,
            Args::Mkdir { .. }
            | Args::Mknod { .. }
            | Args::Symlink { .. }
            | Args::Unlink { .. }
            | Args::Rename { .. } => true,
            Args::Stat { .. } | Args::Access { .. } | Args::Attr { .. } | Args::Exec { .. } => {
                false
            }
        }
    }

    /// Does the call follow a symlink in the last component of its path
    /// `i` (link follows its source's with `AT_SYMLINK_FOLLOW`, never its
    /// new name's)?
    pub fn follows(&self, i: usize) -> bool {
        match &self.args {
            Args::Link { flags, .. } => i == 0 && flags & libc::AT_SYMLINK_FOLLOW != 0,
            _ => self.follows_last(),
        }
    }

    /// Does the call follow a symlink in its last component (its first
    /// path's: see [`Request::follows`])?
    pub fn follows_last(&self) -> bool {
        match &self.args {
            Args::Link { .. } => self.follows(0),
            Args::Symlink { .. } | Args::Mknod { .. } => false,
            Args::Open { flags, .. } => {
                flags & libc::O_NOFOLLOW == 0
                    && !(flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0)
            }
            Args::Stat { .. } => self.function == Function::Stat,
            Args::Access { flags, .. } => flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            Args::Attr { flags, .. } => attr::follows(*flags),
            Args::Exec { flags, .. } => exec::follows(*flags),
            // connect follows a symlink to the socket; bind creates the name.
            Args::Socket { call, .. } => call.op != net::SockOp::Bind,
            Args::Unlink { .. } | Args::Rename { .. } | Args::Mkdir { .. } => false,
        }
    }
}

/// The outcome of decoding.
#[derive(Debug)]
pub enum Decoded {
    /// A request for the policy.
    Policy(Request),
    /// An fd-only stat (`AT_EMPTY_PATH` with an empty or NULL path): no path
    /// is resolved, the supervisor answers it itself.
    FdStat { fd: i32, out: StatOut },
    /// Answered at once with this errno, as the kernel would (bad pointer,
    /// over-long path, invalid flags): the policy never sees it.
    Fail(Errno),
    /// A socket call: which request it is depends on the socket's family.
    Socket(net::SockCall),
    /// Answered at once with this value (sendmmsg of no message).
    Value(i64),
    /// `listen(fd, backlog)`: done by the supervisor (see act::listen).
    Listen { fd: i32, backlog: i32 },
    /// `readlinkat(fd, "", buf, size)`: the symlink behind the descriptor
    /// (the one a stand-in stands for), read by the supervisor (see
    /// act::readlink).
    FdReadlink { fd: i32, buf: u64, size: usize },
    /// `readlinkat(dirfd, path)` with a path: not a request (no policy
    /// decides on reading a symlink), trapped only for the empty path's
    /// sake.  The kernel performs it (CONTINUE): its second look at the
    /// path and the descriptor can only find what the program could name
    /// untrapped (act::readlink).
    Unmediated,
}

const STAT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT | libc::AT_EMPTY_PATH;
const STATX_SYNC: i32 = 0x6000; // AT_STATX_SYNC_TYPE
const STATX_RESERVED: u32 = 0x8000_0000;
/// The kernel's VALID_OPEN_FLAGS: what open accepts (openat2 refuses the
/// rest in `open_how.flags`).
pub const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE;
/// [`VALID_OPEN_FLAGS`] as openat2's `open_how.flags`.
const VALID_OPENAT2: u64 = VALID_OPEN_FLAGS as u32 as u64;
/// What O_PATH may come with in openat2 (O_PATH_FLAGS).
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;

fn fd_arg(a: u64) -> i32 {
    // The kernel declares every fd argument `int`: the upper 32 bits are
    // ignored, exactly as here.
    a as u32 as i32
}

fn dir_of(a: u64) -> Dir {
    match fd_arg(a) {
        libc::AT_FDCWD => Dir::Cwd,
        fd => Dir::Fd(fd),
    }
}

/// Copies a path argument.  An empty path is ENOENT, as for the kernel,
/// except where the caller handles `AT_EMPTY_PATH` itself.
fn path_at(tid: u32, dir: Dir, addr: u64) -> Result<PathArg, Errno> {
    let p = path_or_empty(tid, dir, addr)?;
    if p.path.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(p)
}

fn path_or_empty(tid: u32, dir: Dir, addr: u64) -> Result<PathArg, Errno> {
    Ok(PathArg {
        dir,
        path: memory::read_path(tid, addr)?,
    })
}

/// The path of a metadata call with `flags`: unknown flags are EINVAL,
/// an empty path ENOENT unless `AT_EMPTY_PATH` (checked in the kernel's
/// order).
fn attr_path(tid: u32, dir: Dir, addr: u64, flags: i32) -> Result<PathArg, Errno> {
    if flags & !attr::AT_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let at = path_or_empty(tid, dir, addr)?;
    if at.path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    Ok(at)
}

/// Decodes the notification of `sys` sent by thread `tid`.
pub fn decode(sys: Sys, d: &SeccompData, tid: u32) -> Decoded {
    match decode_inner(sys, d, tid) {
        Ok(x) => x,
        Err(e) => Decoded::Fail(e),
    }
}

fn open_function(dir: Dir) -> Function {
    match dir {
        Dir::Cwd => Function::Open,
        Dir::Fd(_) => Function::Openat,
    }
}

fn decode_inner(sys: Sys, d: &SeccompData, tid: u32) -> Result<Decoded, Errno> {
    let a = &d.args;
    let req = |function, args| {
        Ok(Decoded::Policy(Request {
            function,
            sys,
            args,
        }))
    };
    match sys {
        Sys::Listen => Ok(Decoded::Listen {
            fd: fd_arg(a[0]),
            backlog: a[1] as i32,
        }),
        Sys::Connect | Sys::Bind | Sys::Sendto | Sys::Sendmsg | Sys::Sendmmsg => {
            Ok(match net::decode(sys, d, tid)? {
                Some(call) => Decoded::Socket(call),
                None => Decoded::Value(0),
            })
        }
        Sys::Open | Sys::Creat | Sys::Openat => {
            let (dir, path, flags, mode) = match sys {
                Sys::Open => (Dir::Cwd, a[0], a[1] as i32, a[2]),
                Sys::Creat => (
                    Dir::Cwd,
                    a[0],
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                    a[1],
                ),
                _ => (dir_of(a[0]), a[1], a[2] as i32, a[3]),
            };
            let at = path_at(tid, dir, path)?;
            let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            let mode = if creates { mode as u32 & 0o7777 } else { 0 };
            req(
                open_function(dir),
                Args::Open {
                    at,
                    flags,
                    mode,
                    resolve: 0,
                },
            )
        }
        Sys::Openat2 => {
            let dir = dir_of(a[0]);
            let size = a[3] as usize;
            if size < 24 {
                return Err(Errno::EINVAL);
            }
            if size > 4096 {
                return Err(Errno::E2BIG);
            }
            let mut how = vec![0u8; size];
            memory::read_exact(tid, a[2], &mut how)?;
            if how[24..].iter().any(|&b| b != 0) {
                return Err(Errno::E2BIG);
            }
            let word = |i: usize| u64::from_ne_bytes(how[i * 8..i * 8 + 8].try_into().unwrap());
            let (flags, mode, resolve) = (word(0), word(1), word(2));
            // In the order of the kernel's build_open_flags.
            if flags & !VALID_OPENAT2 != 0 || resolve & !flags::RESOLVE_ALL != 0 {
                return Err(Errno::EINVAL);
            }
            let both = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
            if resolve & both == both {
                return Err(Errno::EINVAL);
            }
            let flags = flags as i32;
            let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            if mode & !0o7777 != 0 || (!creates && mode != 0) {
                return Err(Errno::EINVAL);
            }
            if flags & libc::O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
                return Err(Errno::EINVAL);
            }
            let tmpfile_bit = libc::O_TMPFILE & !libc::O_DIRECTORY;
            if flags & tmpfile_bit != 0
                && (flags & libc::O_TMPFILE != libc::O_TMPFILE
                    || flags & libc::O_ACCMODE == libc::O_RDONLY)
            {
                return Err(Errno::EINVAL);
            }
            if resolve & libc::RESOLVE_CACHED != 0
                && flags & (libc::O_TRUNC | libc::O_CREAT | tmpfile_bit) != 0
            {
                return Err(Errno::EAGAIN);
            }
            let at = path_at(tid, dir, a[1])?;
            req(
                open_function(dir),
                Args::Open {
                    at,
                    flags,
                    mode: mode as u32,
                    resolve,
                },
            )
        }
        Sys::Unlink | Sys::Rmdir => {
            let at = path_at(tid, Dir::Cwd, a[0])?;
            let f = if sys == Sys::Unlink {
                Function::Unlink
            } else {
                Function::Rmdir
            };
            req(f, Args::Unlink { at })
        }
        Sys::Unlinkat => {
            let flags = a[2] as i32;
            if flags & !libc::AT_REMOVEDIR != 0 {
                return Err(Errno::EINVAL);
            }
            let at = path_at(tid, dir_of(a[0]), a[1])?;
            let f = if flags & libc::AT_REMOVEDIR != 0 {
                Function::Rmdir
            } else {
                Function::Unlink
            };
            req(f, Args::Unlink { at })
        }
        Sys::Rename | Sys::Renameat | Sys::Renameat2 => {
            // The flags first, as the kernel checks them (EINVAL before a
            // bad path's EFAULT).
            let flags = if sys == Sys::Renameat2 {
                a[4] as u32
            } else {
                0
            };
            let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
            if flags & !known != 0
                || (flags & (libc::RENAME_NOREPLACE | libc::RENAME_WHITEOUT) != 0
                    && flags & libc::RENAME_EXCHANGE != 0)
            {
                return Err(Errno::EINVAL);
            }
            let (from, to) = match sys {
                Sys::Rename => (path_at(tid, Dir::Cwd, a[0])?, path_at(tid, Dir::Cwd, a[1])?),
                _ => (
                    path_at(tid, dir_of(a[0]), a[1])?,
                    path_at(tid, dir_of(a[2]), a[3])?,
                ),
            };
            req(Function::Rename, Args::Rename { from, to, flags })
        }
        Sys::Stat | Sys::Lstat => {
            let at = path_at(tid, Dir::Cwd, a[0])?;
            let f = if sys == Sys::Stat {
                Function::Stat
            } else {
                Function::Lstat
            };
            req(
                f,
                Args::Stat {
                    at,
                    out: StatOut::Stat { addr: a[1] },
                },
            )
        }
        Sys::Newfstatat | Sys::Statx => {
            let (flags, out) = if sys == Sys::Newfstatat {
                (a[3] as i32, StatOut::Stat { addr: a[2] })
            } else {
                let flags = a[2] as i32;
                let mask = a[3] as u32;
                if mask & STATX_RESERVED != 0 || flags & STATX_SYNC == STATX_SYNC {
                    return Err(Errno::EINVAL);
                }
                (
                    flags,
                    StatOut::Statx {
                        addr: a[4],
                        mask,
                        flags: flags & STATX_SYNC,
                    },
                )
            };
            // newfstatat accepts (and ignores) the AT_STATX_* sync bits too.
            if flags & !(STAT_FLAGS | STATX_SYNC) != 0 {
                return Err(Errno::EINVAL);
            }
            let empty_path = flags & libc::AT_EMPTY_PATH != 0;
            // Since Linux 6.11 a NULL path with AT_EMPTY_PATH is the fd form.
            if empty_path && a[1] == 0 {
                return Ok(Decoded::FdStat {
                    fd: fd_arg(a[0]),
                    out,
                });
            }
            let at = path_or_empty(tid, dir_of(a[0]), a[1])?;
            if at.path.is_empty() {
                if empty_path {
                    return Ok(Decoded::FdStat {
                        fd: fd_arg(a[0]),
                        out,
                    });
                }
                return Err(Errno::ENOENT);
            }
            let f = if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
                Function::Lstat
            } else {
                Function::Stat
            };
            req(f, Args::Stat { at, out })
        }
        Sys::Access | Sys::Faccessat | Sys::Faccessat2 => {
            let (dir, path, mode, flags) = match sys {
                Sys::Access => (Dir::Cwd, a[0], a[1] as i32, 0),
                Sys::Faccessat => (dir_of(a[0]), a[1], a[2] as i32, 0),
                _ => (dir_of(a[0]), a[1], a[2] as i32, a[3] as i32),
            };
            if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
                return Err(Errno::EINVAL);
            }
            let valid = libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
            if flags & !valid != 0 {
                return Err(Errno::EINVAL);
            }
            let at = path_or_empty(tid, dir, path)?;
            if at.path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
                return Err(Errno::ENOENT);
            }
            let f = if flags & libc::AT_EACCESS != 0 {
                Function::Eaccess
            } else {
                Function::Access
            };
            req(f, Args::Access { at, mode, flags })
        }
        Sys::Mkdir | Sys::Mkdirat => {
            let (dir, path, mode) = match sys {
                Sys::Mkdir => (Dir::Cwd, a[0], a[1]),
                _ => (dir_of(a[0]), a[1], a[2]),
            };
            let at = path_at(tid, dir, path)?;
            req(
                Function::Mkdir,
                Args::Mkdir {
                    at,
                    // What mkdir(2) keeps: the setuid and setgid bits of
                    // a directory come from its parent, never the mode.
                    mode: mode as u32 & 0o1777,
                },
            )
        }
        Sys::Chmod | Sys::Fchmodat | Sys::Fchmodat2 => {
            let (dir, path, mode, flags) = match sys {
                Sys::Chmod => (Dir::Cwd, a[0], a[1], 0),
                Sys::Fchmodat => (dir_of(a[0]), a[1], a[2], 0),
                _ => (dir_of(a[0]), a[1], a[2], a[3] as i32),
            };
            let at = attr_path(tid, dir, path, flags)?;
            let change = attr::Change::Mode(mode as u32 & 0o7777);
            req(Function::Chmod, Args::Attr { at, flags, change })
        }
        Sys::Chown | Sys::Lchown | Sys::Fchownat => {
            let (dir, path, uid, gid, flags) = match sys {
                Sys::Chown => (Dir::Cwd, a[0], a[1], a[2], 0),
                Sys::Lchown => (Dir::Cwd, a[0], a[1], a[2], libc::AT_SYMLINK_NOFOLLOW),
                _ => (dir_of(a[0]), a[1], a[2], a[3], a[4] as i32),
            };
            let at = attr_path(tid, dir, path, flags)?;
            let change = attr::Change::Owner {
                uid: uid as u32,
                gid: gid as u32,
            };
            req(Function::Chown, Args::Attr { at, flags, change })
        }
        Sys::Utime | Sys::Utimes | Sys::Futimesat | Sys::Utimensat => {
            let (dir, path, times, flags) = match sys {
                Sys::Utime | Sys::Utimes => (Dir::Cwd, a[0], a[1], 0),
                Sys::Futimesat => (dir_of(a[0]), a[1], a[2], 0),
                _ => (dir_of(a[0]), a[1], a[2], a[3] as i32),
            };
            let Some(times) = attr::times(tid, sys, times)? else {
                // Both UTIME_OMIT: nothing to do, the path is not even
                // looked at (the kernel's order).
                return Ok(Decoded::Value(0));
            };
            let change = attr::Change::Times(times);
            let fd_form = matches!(sys, Sys::Futimesat | Sys::Utimensat);
            if fd_form && path == 0 && fd_arg(a[0]) != libc::AT_FDCWD {
                // futimens/futimes: the descriptor's file; no flags.
                if flags != 0 {
                    return Err(Errno::EINVAL);
                }
                return req(Function::Utime, attr::on_fd(fd_arg(a[0]), change));
            }
            let at = attr_path(tid, dir, path, flags)?;
            req(Function::Utime, Args::Attr { at, flags, change })
        }
        Sys::Fchmod => {
            let change = attr::Change::Mode(a[1] as u32 & 0o7777);
            req(Function::Chmod, attr::on_fd(fd_arg(a[0]), change))
        }
        Sys::Fchown => {
            let change = attr::Change::Owner {
                uid: a[1] as u32,
                gid: a[2] as u32,
            };
            req(Function::Chown, attr::on_fd(fd_arg(a[0]), change))
        }
        Sys::Fsetxattr | Sys::Fremovexattr => {
            let change = match sys {
                Sys::Fsetxattr => attr::set_xattr(tid, a[1], a[2], a[3], a[4])?,
                _ => attr::Change::RemoveXattr {
                    name: attr::xattr_name(tid, a[1])?,
                },
            };
            req(Function::Xattr, attr::on_fd(fd_arg(a[0]), change))
        }
        Sys::Setxattrat | Sys::Removexattrat => {
            let flags = a[2] as i32;
            if flags & !attr::AT_FLAGS != 0 {
                return Err(Errno::EINVAL);
            }
            let change = match sys {
                Sys::Setxattrat => attr::set_xattr_args(tid, a[3], a[4], a[5])?,
                _ => attr::Change::RemoveXattr {
                    name: attr::xattr_name(tid, a[3])?,
                },
            };
            // A NULL or empty path with AT_EMPTY_PATH: the descriptor's
            // file, as fsetxattr (Linux 6.13's getname_maybe_null).
            let empty = flags & libc::AT_EMPTY_PATH != 0;
            if empty && a[1] == 0 {
                return req(Function::Xattr, attr::on_fd(fd_arg(a[0]), change));
            }
            let at = path_or_empty(tid, dir_of(a[0]), a[1])?;
            if at.path.is_empty() {
                if !empty {
                    return Err(Errno::ENOENT);
                }
                return req(Function::Xattr, attr::on_fd(fd_arg(a[0]), change));
            }
            req(Function::Xattr, Args::Attr { at, flags, change })
        }
        Sys::Truncate => {
            let length = a[1] as i64;
            if length < 0 {
                return Err(Errno::EINVAL);
            }
            let at = path_at(tid, Dir::Cwd, a[0])?;
            let change = attr::Change::Length(length);
            req(
                Function::Truncate,
                Args::Attr {
                    at,
                    flags: 0,
                    change,
                },
            )
        }
        Sys::Symlink | Sys::Symlinkat => {
            let (target, dir, path) = match sys {
                Sys::Symlink => (a[0], Dir::Cwd, a[1]),
                _ => (a[0], dir_of(a[1]), a[2]),
            };
            let target = memory::read_path(tid, target)?;
            if target.is_empty() {
                return Err(Errno::ENOENT);
            }
            let at = path_at(tid, dir, path)?;
            req(Function::Symlink, Args::Symlink { target, at })
        }
        Sys::Link | Sys::Linkat => {
            let (odir, old, ndir, new, flags) = match sys {
                Sys::Link => (Dir::Cwd, a[0], Dir::Cwd, a[1], 0),
                _ => (dir_of(a[0]), a[1], dir_of(a[2]), a[3], a[4] as i32),
            };
            if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(Errno::EINVAL);
            }
            let from = if flags & libc::AT_EMPTY_PATH != 0 {
                path_or_empty(tid, odir, old)?
            } else {
                path_at(tid, odir, old)?
            };
            let to = path_at(tid, ndir, new)?;
            req(Function::Link, Args::Link { from, to, flags })
        }
        Sys::Mknod | Sys::Mknodat => {
            let (dir, path, mode) = match sys {
                Sys::Mknod => (Dir::Cwd, a[0], a[1]),
                _ => (dir_of(a[0]), a[1], a[2]),
            };
            // umode_t: the kernel reads 16 bits.
            let mode = mode as u16 as u32;
            let kind = match mode & libc::S_IFMT {
                0 => libc::S_IFREG,
                k @ (libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK) => k,
                // Devices are the posture's (refused before this); a
                // directory is EPERM, as for the kernel.
                libc::S_IFCHR | libc::S_IFBLK | libc::S_IFDIR => return Err(Errno::EPERM),
                _ => return Err(Errno::EINVAL),
            };
            let at = path_at(tid, dir, path)?;
            let mode = kind | (mode & 0o7777);
            req(Function::Mknod, Args::Mknod { at, mode })
        }
        Sys::Execve | Sys::Execveat => {
            let (dir, path, argv, flags) = match sys {
                Sys::Execve => (Dir::Cwd, a[0], a[1], 0),
                _ => (dir_of(a[0]), a[1], a[2], a[4] as i32),
            };
            // The kernel's order: the path, the flags, then argv.
            let at = path_or_empty(tid, dir, path)?;
            if flags & !exec::AT_FLAGS != 0 {
                return Err(Errno::EINVAL);
            }
            if at.path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
                return Err(Errno::ENOENT);
            }
            let argv = exec::read_argv(tid, argv)?;
            req(Function::Exec, Args::Exec { at, flags, argv })
        }
        Sys::Readlinkat => {
            // The kernel's order: the size, then the path.
            let size = a[3] as u32 as i32;
            if size <= 0 {
                return Err(Errno::EINVAL);
            }
            let at = path_or_empty(tid, dir_of(a[0]), a[1])?;
            if !at.path.is_empty() {
                return Ok(Decoded::Unmediated);
            }
            Ok(Decoded::FdReadlink {
                fd: fd_arg(a[0]),
                buf: a[2],
                size: size as usize,
            })
        }
        Sys::Setxattr | Sys::Lsetxattr | Sys::Removexattr | Sys::Lremovexattr => {
            let flags = match sys {
                Sys::Lsetxattr | Sys::Lremovexattr => libc::AT_SYMLINK_NOFOLLOW,
                _ => 0,
            };
            let change = match sys {
                Sys::Setxattr | Sys::Lsetxattr => attr::set_xattr(tid, a[1], a[2], a[3], a[4])?,
                _ => attr::Change::RemoveXattr {
                    name: attr::xattr_name(tid, a[1])?,
                },
            };
            let at = path_at(tid, Dir::Cwd, a[0])?;
            req(Function::Xattr, Args::Attr { at, flags, change })
        }
    }
}
