//! The Landlock backstop of an init script (policies/ci.lua's): a call the
//! policy leaves to the kernel (`use_slave_credentials`, CONTINUE) that the
//! backstop refuses is answered `EACCES` here, as Landlock would answer
//! it, and recorded as the backstop's denial (`"decision":"landlock (…)"`)
//! instead of failing unseen in the kernel.
//!
//! What the supervisor knows of the backstop (`Child::landlock`): the
//! filesystem rights that a layer the init script enforced handles and
//! grants under no path, so refuses on every file, and the network rights
//! it handles and grants on no port (TCP connects and binds, refused
//! whatever the address).  A call is refused
//! here only when it needs such a right on a file of a file system (not a
//! pipe or a socket reached through /proc/self/fd, which Landlock does not
//! check) and the kernel would get as far as Landlock's check (an `open`
//! with `O_CREAT` of a file that exists needs no `make_reg`; `mkdir` of an
//! existing name fails with `EEXIST` first).  Whatever is not known for
//! sure (a layer with rules, rename and link, a bind creating a socket
//! file, a send) is continued as the policy said: Landlock still refuses it in
//! the kernel, unrecorded.  Only while the run is audited (`--log`,
//! `--summary`, `-v`): the program gets the same errno either way.

use crate::pending::Pending;
use crate::request::net::{NetAddr, SockOp};
use crate::request::{attr::Change, Args, Function};
use crate::resolve::Last;

/// `LANDLOCK_ACCESS_FS_*`.
const EXECUTE: u64 = 1;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_SYM: u64 = 1 << 12;
const TRUNCATE: u64 = 1 << 14;

/// The rights by name, for the record.
const NAMES: [(u64, &str); 12] = [
    (EXECUTE, "execute"),
    (WRITE_FILE, "write_file"),
    (READ_FILE, "read_file"),
    (READ_DIR, "read_dir"),
    (REMOVE_DIR, "remove_dir"),
    (REMOVE_FILE, "remove_file"),
    (MAKE_DIR, "make_dir"),
    (MAKE_REG, "make_reg"),
    (MAKE_SOCK, "make_sock"),
    (MAKE_FIFO, "make_fifo"),
    (MAKE_SYM, "make_sym"),
    (TRUNCATE, "truncate"),
];

/// `LANDLOCK_ACCESS_NET_*`, as `Child::landlock` carries them (<< 16).
const BIND_TCP: u64 = 1 << 16;
const CONNECT_TCP: u64 = 1 << 17;

/// Why the backstop refuses `p` (the right it needs, refused everywhere),
/// if it does; `refused` is `Child::landlock`.
pub fn refusal(p: &mut Pending, refused: u64) -> Option<&'static str> {
    if refused == 0 {
        return None;
    }
    if let Args::Socket { call, addr, .. } = &p.req.args {
        return net_refusal(p.sock.as_ref(), call.op, addr, refused);
    }
    let (function, args) = (p.req.function, p.req.args.clone());
    let resolved = p.resolve().ok()?;
    let paths: Vec<Option<Vec<u8>>> = resolved
        .iter()
        .map(|r| r.as_ref().ok().map(|r| r.path.clone()))
        .collect();
    let last = resolved.first()?.as_ref().ok()?.last;
    // A file of a file system: its canonical path.  Magic-link objects
    // (pipe:[…], socket:[…], anon_inode:…) are not checked by Landlock.
    if !paths.first()?.as_ref()?.starts_with(b"/") {
        return None;
    }
    let need = needs(function, &args, last)?;
    let why = NAMES
        .iter()
        .find(|(bit, _)| need & refused & bit != 0)
        .map(|(_, name)| *name)?;
    p.audit().resolved(p.id, paths.iter().map(|p| p.as_deref()));
    Some(why)
}

/// A TCP connect or bind (of an IPv4 or IPv6 address) when the backstop
/// refuses it on every port.  Sends are left alone (an address on a
/// connected stream socket is ignored by the kernel).
fn net_refusal(
    sock: Option<&super::net::Socket>,
    op: SockOp,
    addr: &NetAddr,
    refused: u64,
) -> Option<&'static str> {
    let sock = sock?;
    let tcp = matches!(sock.domain, libc::AF_INET | libc::AF_INET6)
        && sock.ty == libc::SOCK_STREAM
        && matches!(sock.protocol, 0 | libc::IPPROTO_TCP)
        && matches!(addr, NetAddr::Inet(_) | NetAddr::Inet6(_));
    if !tcp {
        return None;
    }
    match op {
        SockOp::Connect if refused & CONNECT_TCP != 0 => Some("connect_tcp"),
        SockOp::Bind if refused & BIND_TCP != 0 => Some("bind_tcp"),
        _ => None,
    }
}

/// The rights `function` with `args` needs from Landlock on a target that
/// is `last`; `None` when the kernel fails the call before Landlock looks,
/// or when it is not known for sure.
fn needs(function: Function, args: &Args, last: Last) -> Option<u64> {
    let exists = |want_dir: Option<bool>| match last {
        Last::Exists { mode } => {
            let dir = mode & libc::S_IFMT == libc::S_IFDIR;
            want_dir.is_none_or(|w| w == dir).then_some(dir)
        }
        _ => None,
    };
    let missing = last == Last::Missing;
    match args {
        Args::Open { flags, .. } => {
            let flags = *flags;
            if flags & libc::O_PATH != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
                return None;
            }
            let acc = flags & libc::O_ACCMODE;
            if missing {
                return (flags & libc::O_CREAT != 0).then_some(MAKE_REG);
            }
            if flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
                return None; // EEXIST first
            }
            let dir = exists(None)?;
            let mut need = 0;
            if acc == libc::O_RDONLY || acc == libc::O_RDWR {
                need |= if dir { READ_DIR } else { READ_FILE };
            }
            if acc == libc::O_WRONLY || acc == libc::O_RDWR {
                if dir {
                    return None; // EISDIR first
                }
                need |= WRITE_FILE;
            }
            if flags & libc::O_TRUNC != 0 && !dir {
                need |= TRUNCATE;
            }
            Some(need)
        }
        Args::Mkdir { .. } => missing.then_some(MAKE_DIR),
        Args::Symlink { .. } => missing.then_some(MAKE_SYM),
        Args::Mknod { mode, .. } => {
            if !missing {
                return None;
            }
            match mode & libc::S_IFMT {
                0 | libc::S_IFREG => Some(MAKE_REG),
                libc::S_IFIFO => Some(MAKE_FIFO),
                libc::S_IFSOCK => Some(MAKE_SOCK),
                _ => None,
            }
        }
        Args::Unlink { .. } => match function {
            Function::Rmdir => exists(Some(true)).map(|_| REMOVE_DIR),
            _ => exists(Some(false)).map(|_| REMOVE_FILE),
        },
        Args::Attr {
            change: Change::Length(_),
            ..
        } => exists(Some(false)).map(|_| TRUNCATE),
        // The file itself (a `#!` script's interpreter is checked by the
        // kernel too, and not known here).
        Args::Exec { .. } => exists(Some(false)).map(|_| EXECUTE),
        // No right of Landlock (chmod, chown, utime, xattr, stat,
        // access), or not known for sure (rename, link: `refer` and the
        // type of each side; a bind making a socket file).
        Args::Attr { .. }
        | Args::Stat { .. }
        | Args::Access { .. }
        | Args::Rename { .. }
        | Args::Link { .. }
        | Args::Socket { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Dir, PathArg};

    fn at() -> PathArg {
        PathArg {
            dir: Dir::Cwd,
            path: b"x".to_vec(),
        }
    }

    fn open(flags: i32, last: Last) -> Option<u64> {
        let args = Args::Open {
            at: at(),
            flags,
            mode: 0o644,
            resolve: 0,
        };
        needs(Function::Open, &args, last)
    }

    const FILE: Last = Last::Exists {
        mode: libc::S_IFREG | 0o644,
    };
    const DIR: Last = Last::Exists {
        mode: libc::S_IFDIR | 0o755,
    };

    #[test]
    fn the_rights_each_call_needs_where_landlock_looks() {
        use libc::{O_CREAT, O_EXCL, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
        assert_eq!(open(O_RDONLY, FILE), Some(READ_FILE));
        assert_eq!(open(O_RDONLY, DIR), Some(READ_DIR));
        assert_eq!(open(O_WRONLY, FILE), Some(WRITE_FILE));
        assert_eq!(
            open(O_RDWR | O_TRUNC, FILE),
            Some(READ_FILE | WRITE_FILE | TRUNCATE)
        );
        assert_eq!(open(O_WRONLY | O_CREAT, Last::Missing), Some(MAKE_REG));
        // The kernel fails these before Landlock looks.
        assert_eq!(open(O_WRONLY | O_CREAT | O_EXCL, FILE), None);
        assert_eq!(open(O_WRONLY, Last::Missing), None);
        assert_eq!(open(O_WRONLY, DIR), None);
        assert_eq!(open(O_PATH, FILE), None);
        let mkdir = Args::Mkdir {
            at: at(),
            mode: 0o755,
        };
        assert_eq!(
            needs(Function::Mkdir, &mkdir, Last::Missing),
            Some(MAKE_DIR)
        );
        assert_eq!(needs(Function::Mkdir, &mkdir, DIR), None);
        let unlink = Args::Unlink { at: at() };
        assert_eq!(needs(Function::Unlink, &unlink, FILE), Some(REMOVE_FILE));
        assert_eq!(needs(Function::Unlink, &unlink, DIR), None);
        assert_eq!(needs(Function::Rmdir, &unlink, DIR), Some(REMOVE_DIR));
        assert_eq!(needs(Function::Unlink, &unlink, Last::Missing), None);
        let fifo = Args::Mknod {
            at: at(),
            mode: libc::S_IFIFO | 0o600,
        };
        assert_eq!(
            needs(Function::Mknod, &fifo, Last::Missing),
            Some(MAKE_FIFO)
        );
        let sym = Args::Symlink {
            target: b"t".to_vec(),
            at: at(),
        };
        assert_eq!(
            needs(Function::Symlink, &sym, Last::Missing),
            Some(MAKE_SYM)
        );
    }
}
