//! Arguments both ways: the values a filter is called with, and the
//! request its `real_X(…)` forwards.
//!
//! What `real_X` is given is checked in two steps.  [`given`] checks the
//! types (a wrong type is a Lua error in the filter) without touching the
//! run's state; [`rewrite_call`] / [`rewrite_lookup`] then check the values
//! as the kernel checks the program's own (an empty or over-long path, an
//! unknown resolve name, a bad descriptor…: `real_X` returns -1 and the
//! errno at once, and the master never sees it) and build the request the
//! master acts on.  What a filter cannot see (the `struct stat` address,
//! rename flags, a send's payload, the directory a relative path starts
//! from) is kept from the program's request.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use mlua::{Lua, LuaString, MultiValue, Value};
use nix::errno::Errno;

use super::filter::Rewritten;
use crate::act::net::Socket;
use crate::dns::Query;
use crate::pending::Pending;
use crate::request::net::{NetAddr, SockCall};
use crate::request::{Args, Dir, Function as Call, PathArg, Request};

/// The longest path the kernel takes, its NUL included (PATH_MAX).
const PATH_MAX: usize = 4096;

/// `resolve` names of openat and their `RESOLVE_*` bits.
const RESOLVE: [(&str, u64); 6] = [
    ("beneath", libc::RESOLVE_BENEATH),
    ("in_root", libc::RESOLVE_IN_ROOT),
    ("no_magiclinks", libc::RESOLVE_NO_MAGICLINKS),
    ("no_symlinks", libc::RESOLVE_NO_SYMLINKS),
    ("no_xdev", libc::RESOLVE_NO_XDEV),
    ("cached", libc::RESOLVE_CACHED),
];

// ------------------------------------------------------------ to the filter

fn string(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    lua.create_string(b).map(Value::String)
}

fn bytes(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    lua.create_sequence_from(b.iter().map(|&x| x as i64))
        .map(Value::Table)
}

fn fd_of(dir: Dir) -> i64 {
    match dir {
        Dir::Cwd => libc::AT_FDCWD as i64,
        Dir::Fd(fd) => fd as i64,
    }
}

/// The values a filter is called with, after its real function: a path
/// alone (the most common, passed without a list), or a list.
pub enum FilterArgs {
    Path(LuaString),
    List(MultiValue),
}

/// The values a filter is called with (after its real function) for the
/// program's call `p`.
pub fn of_call(lua: &Lua, p: &Pending) -> mlua::Result<FilterArgs> {
    if let Args::Unlink { at } | Args::Stat { at, .. } = &p.req.args {
        return Ok(FilterArgs::Path(lua.create_string(&at.path)?));
    }
    let mut v = Vec::with_capacity(6);
    let int = |i: i64| Value::Integer(i);
    match &p.req.args {
        Args::Open {
            at,
            flags,
            mode,
            resolve,
        } => {
            let creates = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
            if p.req.function == Call::Openat {
                let names: Vec<&str> = RESOLVE
                    .iter()
                    .filter(|(_, bit)| resolve & bit != 0)
                    .map(|(n, _)| *n)
                    .collect();
                v.extend([
                    int(fd_of(at.dir)),
                    string(lua, &at.path)?,
                    int(*flags as i64),
                    int(*mode as i64),
                    Value::Table(lua.create_sequence_from(names)?),
                ]);
            } else {
                v.extend([string(lua, &at.path)?, int(*flags as i64)]);
                if creates {
                    v.push(int(*mode as i64));
                }
            }
        }
        Args::Unlink { at } | Args::Stat { at, .. } => v.push(string(lua, &at.path)?),
        Args::Rename { from, to, .. } => {
            v.extend([string(lua, &from.path)?, string(lua, &to.path)?]);
        }
        Args::Access { at, mode, .. } => v.extend([string(lua, &at.path)?, int(*mode as i64)]),
        Args::Mkdir { at, mode } => v.extend([string(lua, &at.path)?, int(*mode as i64)]),
        Args::Symlink { target, at } => v.extend([string(lua, target)?, string(lua, &at.path)?]),
        Args::Link { from, to, .. } => {
            v.extend([string(lua, &from.path)?, string(lua, &to.path)?]);
        }
        Args::Mknod { at, mode } => v.extend([string(lua, &at.path)?, int(*mode as i64)]),
        Args::Exec { at, .. } => v.push(string(lua, &at.path)?),
        Args::Attr { at, change, .. } => {
            v.push(string(lua, &at.path)?);
            v.extend(change.ints().into_iter().map(int));
        }
        Args::Socket { call, addr, .. } => {
            v.push(int(call.fd as i64));
            match addr {
                NetAddr::Unix(path) => v.push(string(lua, path)?),
                NetAddr::Inet(a) => v.extend([bytes(lua, &a.ip().octets())?, int(a.port().into())]),
                NetAddr::Inet6(a) => v.extend([
                    bytes(lua, &a.ip().octets())?,
                    int(a.port().into()),
                    int(a.scope_id().into()),
                ]),
            }
        }
    }
    Ok(FilterArgs::List(MultiValue::from_vec(v)))
}

/// The values a getaddrinfo filter is called with (after its real
/// function): the name; the service and protocol stay in the program's
/// libc (DNS carries neither).
pub fn of_lookup(lua: &Lua, q: &Query) -> mlua::Result<FilterArgs> {
    Ok(FilterArgs::List(MultiValue::from_vec(vec![
        string(lua, q.name.as_bytes())?,
        Value::Nil,
        Value::Nil,
    ])))
}

// ------------------------------------------------------------ from real_X

/// What `real_X` was given, its types checked (paths are Lua strings
/// without NUL bytes).
pub enum Given {
    Open {
        path: LuaString,
        flags: i64,
        mode: i64,
    },
    Openat {
        dirfd: i64,
        path: LuaString,
        flags: i64,
        mode: i64,
        resolve: Result<u64, Errno>,
    },
    /// unlink, rmdir, stat, lstat.
    Path(LuaString),
    Rename(LuaString, LuaString),
    /// access/eaccess (amode) and mkdir (mode).
    PathInt(LuaString, i64),
    /// A metadata call: the path and the integers of its change.
    Attr(LuaString, Vec<i64>),
    Socket {
        fd: i64,
        addr: NetAddr,
    },
    Lookup {
        node: Vec<u8>,
    },
}

/// The arguments of one `real_X` call, for type checks with messages
/// (`err` adds the location and the function's name).
struct Given1<'a> {
    v: MultiValue,
    err: &'a dyn Fn(String) -> mlua::Error,
}

impl Given1<'_> {
    fn get(&self, i: usize) -> &Value {
        self.v.get(i).unwrap_or(&Value::Nil)
    }

    fn wrong(&self, i: usize, name: &str, want: &str) -> mlua::Error {
        (self.err)(format!(
            "argument #{} ({name}) must be {want}, not {}",
            i + 1,
            match self.get(i) {
                Value::Nil => "nil".to_string(),
                v => super::filter::a_type(v),
            }
        ))
    }

    fn int(&self, i: usize, name: &str) -> mlua::Result<i64> {
        match self.get(i) {
            Value::Integer(n) => Ok(*n),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => Ok(*n as i64),
            _ => Err(self.wrong(i, name, "an integer")),
        }
    }

    fn opt_int(&self, i: usize, name: &str) -> mlua::Result<i64> {
        match self.get(i) {
            Value::Nil => Ok(0),
            _ => self.int(i, name),
        }
    }

    fn bytes(&self, i: usize, name: &str) -> mlua::Result<Vec<u8>> {
        match self.get(i) {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(self.wrong(i, name, "a string")),
        }
    }

    /// A path: a string without NUL bytes (C cannot pass one).  Taken
    /// out of the arguments.
    fn path(&mut self, i: usize, name: &str) -> mlua::Result<LuaString> {
        let Value::String(s) = self.get(i) else {
            return Err(self.wrong(i, name, "a string"));
        };
        if s.as_bytes().contains(&0) {
            return Err((self.err)(format!(
                "argument #{} ({name}) contains a NUL byte",
                i + 1
            )));
        }
        match self.v.get_mut(i).map(std::mem::take) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(self.wrong(i, name, "a string")),
        }
    }

    /// An address: a list of `n` integers 0-255 (plus, for `n` = 16, an
    /// optional 17th, 0, where some callers put the scope).
    fn octets<const N: usize>(&self, i: usize) -> mlua::Result<[u8; N]> {
        let want = format!("a list of {N} integers 0-255");
        let Value::Table(t) = self.get(i) else {
            return Err(self.wrong(i, "address", &want));
        };
        let mut out = [0u8; N];
        let len = t.raw_len();
        if len != N {
            return Err((self.err)(format!(
                "argument #{} (address) must be {want}, not {len} values",
                i + 1
            )));
        }
        for (k, o) in out.iter_mut().enumerate() {
            let b = match t.raw_get::<Value>(k + 1)? {
                Value::Integer(b) => u8::try_from(b).ok(),
                Value::Number(b) if b.fract() == 0.0 && (0.0..=255.0).contains(&b) => Some(b as u8),
                _ => None,
            };
            *o = b.ok_or_else(|| {
                (self.err)(format!("argument #{} (address) must be {want}", i + 1))
            })?;
        }
        Ok(out)
    }

    fn port(&self, i: usize) -> mlua::Result<u16> {
        let p = self.int(i, "port")?;
        u16::try_from(p)
            .map_err(|_| (self.err)(format!("argument #{} (port) {p} is not in 0-65535", i + 1)))
    }
}

/// Checks the types of `real_X`'s arguments (`err` makes a Lua error
/// located in the filter and naming the function).
pub fn given(
    slot: usize,
    a: MultiValue,
    err: &dyn Fn(String) -> mlua::Error,
) -> mlua::Result<Given> {
    let mut a = Given1 { v: a, err };
    let Some(function) = Call::of_slot(slot) else {
        return Err(err(format!("no request kind in slot {slot}")));
    };
    Ok(match function {
        Call::Open => Given::Open {
            path: a.path(0, "path")?,
            flags: a.int(1, "flags")?,
            mode: a.opt_int(2, "mode")?,
        },
        Call::Openat => Given::Openat {
            dirfd: a.int(0, "dirfd")?,
            path: a.path(1, "path")?,
            flags: a.int(2, "flags")?,
            mode: a.opt_int(3, "mode")?,
            resolve: resolve_list(&a, 4)?,
        },
        Call::Unlink | Call::Rmdir | Call::Stat | Call::Lstat => Given::Path(a.path(0, "path")?),
        Call::Rename => Given::Rename(a.path(0, "path1")?, a.path(1, "path2")?),
        Call::Access | Call::Eaccess => Given::PathInt(a.path(0, "path")?, a.int(1, "amode")?),
        Call::Mkdir => Given::PathInt(a.path(0, "path")?, a.int(1, "mode")?),
        Call::Chmod => Given::Attr(a.path(0, "path")?, vec![a.int(1, "mode")?]),
        Call::Chown => Given::Attr(a.path(0, "path")?, vec![a.int(1, "uid")?, a.int(2, "gid")?]),
        Call::Truncate => Given::Attr(a.path(0, "path")?, vec![a.int(1, "length")?]),
        Call::Utime | Call::Xattr => Given::Attr(a.path(0, "path")?, vec![]),
        Call::Symlink => Given::Rename(a.path(0, "target")?, a.path(1, "path")?),
        Call::Link => Given::Rename(a.path(0, "path1")?, a.path(1, "path2")?),
        Call::Mknod => Given::PathInt(a.path(0, "path")?, a.int(1, "mode")?),
        Call::Exec => Given::Path(a.path(0, "path")?),
        Call::ConnectUnix | Call::BindUnix => {
            let path = a.bytes(1, "path")?;
            // An abstract name starts with a NUL byte and may hold more.
            if path.first() != Some(&0) && path.contains(&0) {
                return Err(err("argument #2 (path) contains a NUL byte".into()));
            }
            Given::Socket {
                fd: a.int(0, "fd")?,
                addr: NetAddr::Unix(path),
            }
        }
        Call::ConnectInet | Call::BindInet => Given::Socket {
            fd: a.int(0, "fd")?,
            addr: NetAddr::Inet(SocketAddrV4::new(
                Ipv4Addr::from(a.octets::<4>(1)?),
                a.port(2)?,
            )),
        },
        Call::ConnectInet6 | Call::BindInet6 => {
            let scope = a.opt_int(3, "scope_id")?;
            let scope = u32::try_from(scope)
                .map_err(|_| err(format!("argument #4 (scope_id) {scope} is out of range")))?;
            Given::Socket {
                fd: a.int(0, "fd")?,
                addr: NetAddr::Inet6(SocketAddrV6::new(
                    Ipv6Addr::from(a.octets::<16>(1)?),
                    a.port(2)?,
                    0,
                    scope,
                )),
            }
        }
        Call::Getaddrinfo => {
            match a.get(1) {
                Value::Nil | Value::String(_) | Value::Integer(_) => {}
                _ => return Err(a.wrong(1, "service", "a string or nil")),
            }
            match a.get(2) {
                Value::Nil => {}
                Value::String(s) if s == "tcp" || s == "udp" => {}
                _ => return Err(a.wrong(2, "protocol", "\"tcp\", \"udp\" or nil")),
            }
            Given::Lookup {
                node: a.bytes(0, "node")?,
            }
        }
    })
}

/// openat's `resolve`: a list of names, or nil.  An unknown name is the
/// call's EINVAL ("unsupported values won't be silently ignored").
fn resolve_list(a: &Given1, i: usize) -> mlua::Result<Result<u64, Errno>> {
    let t = match a.get(i) {
        Value::Nil => return Ok(Ok(0)),
        Value::Table(t) => t,
        _ => return Err(a.wrong(i, "resolve", "a list of strings")),
    };
    let mut bits = 0;
    let mut unknown = false;
    for k in 1..=t.raw_len() {
        let Value::String(s) = t.raw_get::<Value>(k)? else {
            return Err(a.wrong(i, "resolve", "a list of strings"));
        };
        match RESOLVE.iter().find(|(n, _)| s == *n) {
            Some((_, bit)) => bits |= bit,
            None => unknown = true,
        }
    }
    Ok(if unknown {
        Err(Errno::EINVAL)
    } else {
        Ok(bits)
    })
}

/// A path the kernel would take: not empty (unless `empty_ok`), shorter
/// than PATH_MAX.
fn path_arg(dir: Dir, path: LuaString, empty_ok: bool) -> Result<PathArg, Errno> {
    let path = path.as_bytes();
    if path.is_empty() && !empty_ok {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(PathArg {
        dir,
        path: path.to_vec(),
    })
}

/// Is `mode` given for a call with `flags` the `orig` mode (as decoded:
/// 0 unless the call creates)?
fn same_mode(flags: i32, orig: u32, mode: i64) -> bool {
    !creates(flags) || u32::try_from(mode).is_ok_and(|m| m & 0o7777 == orig)
}

/// Are the arguments given to `real_X` exactly the program's (the call can
/// go on as it is)?  Checked without building a request: the fast path.
pub fn same_call(req: &Request, g: &Given) -> bool {
    let same = |a: &PathArg, p: &LuaString| *a.path == *p.as_bytes();
    match (&req.args, g) {
        (
            Args::Open {
                at, flags, mode, ..
            },
            Given::Open {
                path,
                flags: f,
                mode: m,
            },
        ) => same(at, path) && *flags as i64 == *f && same_mode(*flags, *mode, *m),
        (
            Args::Open {
                at,
                flags,
                mode,
                resolve,
            },
            Given::Openat {
                dirfd,
                path,
                flags: f,
                mode: m,
                resolve: r,
            },
        ) => {
            fd_of(at.dir) == *dirfd
                && same(at, path)
                && *flags as i64 == *f
                && same_mode(*flags, *mode, *m)
                && r.as_ref().is_ok_and(|r| r == resolve)
        }
        (Args::Unlink { at } | Args::Stat { at, .. } | Args::Exec { at, .. }, Given::Path(p)) => {
            same(at, p)
        }
        (Args::Rename { from, to, .. }, Given::Rename(a, b)) => same(from, a) && same(to, b),
        (Args::Access { at, mode, .. }, Given::PathInt(p, m)) => same(at, p) && *mode as i64 == *m,
        (Args::Mkdir { at, mode }, Given::PathInt(p, m)) => {
            same(at, p) && u32::try_from(*m).is_ok_and(|m| m & 0o7777 == *mode)
        }
        (Args::Symlink { target, at }, Given::Rename(t, p)) => {
            **target == *t.as_bytes() && same(at, p)
        }
        (Args::Link { from, to, .. }, Given::Rename(a, b)) => same(from, a) && same(to, b),
        (Args::Mknod { at, mode }, Given::PathInt(p, m)) => {
            same(at, p) && node_mode(*m).is_ok_and(|m| m == *mode)
        }
        (Args::Attr { at, change, .. }, Given::Attr(p, ints)) => {
            same(at, p) && change.with_ints(ints).as_ref() == Some(change)
        }
        (Args::Socket { call, addr, .. }, Given::Socket { fd, addr: given }) => {
            call.fd as i64 == *fd
                && match (addr, given) {
                    // The flow label is not the filter's to see.
                    (NetAddr::Inet6(a), NetAddr::Inet6(b)) => {
                        a.ip() == b.ip() && a.port() == b.port() && a.scope_id() == b.scope_id()
                    }
                    (a, b) => a == b,
                }
        }
        _ => false,
    }
}

fn creates(flags: i32) -> bool {
    flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE
}

/// A mknod mode from a filter: a regular file (type 0 too), a FIFO or a
/// socket (EPERM for a device, EINVAL for another type), and its
/// permission bits.
fn node_mode(mode: i64) -> Result<u32, Errno> {
    let m = u16::try_from(mode).map_err(|_| Errno::EINVAL)? as u32;
    let kind = match m & libc::S_IFMT {
        0 => libc::S_IFREG,
        k @ (libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK) => k,
        // A device (never a request) and a directory are EPERM, as for
        // the kernel.
        libc::S_IFCHR | libc::S_IFBLK | libc::S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    Ok(kind | (m & 0o7777))
}

/// A mode argument: the permission bits, as the kernel masks them.
fn mode_bits(mode: i64) -> Result<u32, Errno> {
    u32::try_from(mode)
        .map(|m| m & 0o7777)
        .map_err(|_| Errno::EINVAL)
}

/// The request `real_X(g…)` forwards for the program's call `p`, or the
/// errno the kernel would give for these arguments.
pub fn rewrite_call(p: &mut Pending, g: Given) -> Result<Rewritten, Errno> {
    if let Given::Socket { fd, addr: given } = g {
        let Args::Socket { call, addr, .. } = &p.req.args else {
            return Err(Errno::EINVAL);
        };
        let (call, addr) = (call.clone(), addr.clone());
        let (args, sock) = socket(p, call, addr, fd, given)?;
        return Ok(rewritten(p, args, sock));
    }
    let args = match (&p.req.args, g) {
        (
            Args::Open {
                at, resolve: res0, ..
            },
            Given::Open { path, flags, mode },
        ) => {
            let at = path_arg(at.dir, path, false)?;
            let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
            let mode = if creates(flags) { mode_bits(mode)? } else { 0 };
            Args::Open {
                at,
                flags,
                mode,
                resolve: *res0,
            }
        }
        (
            Args::Open { .. },
            Given::Openat {
                dirfd,
                path,
                flags,
                mode,
                resolve,
            },
        ) => {
            let dir = match i32::try_from(dirfd) {
                Ok(libc::AT_FDCWD) => Dir::Cwd,
                Ok(fd) if fd >= 0 => Dir::Fd(fd),
                _ => return Err(Errno::EBADF),
            };
            let at = path_arg(dir, path, false)?;
            let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
            let mode = if creates(flags) { mode_bits(mode)? } else { 0 };
            Args::Open {
                at,
                flags,
                mode,
                resolve: resolve?,
            }
        }
        (Args::Unlink { at }, Given::Path(path)) => Args::Unlink {
            at: path_arg(at.dir, path, false)?,
        },
        (Args::Stat { at, out }, Given::Path(path)) => Args::Stat {
            at: path_arg(at.dir, path, false)?,
            out: *out,
        },
        (Args::Rename { from, to, flags }, Given::Rename(p1, p2)) => Args::Rename {
            from: path_arg(from.dir, p1, false)?,
            to: path_arg(to.dir, p2, false)?,
            flags: *flags,
        },
        (Args::Access { at, flags, .. }, Given::PathInt(path, amode)) => {
            let at = path_arg(at.dir, path, flags & libc::AT_EMPTY_PATH != 0)?;
            let all = (libc::R_OK | libc::W_OK | libc::X_OK) as i64;
            if amode & !all != 0 {
                return Err(Errno::EINVAL);
            }
            Args::Access {
                at,
                mode: amode as i32,
                flags: *flags,
            }
        }
        (Args::Mkdir { at, .. }, Given::PathInt(path, mode)) => Args::Mkdir {
            at: path_arg(at.dir, path, false)?,
            mode: mode_bits(mode)?,
        },
        (Args::Symlink { at, .. }, Given::Rename(target, path)) => {
            let target = path_arg(Dir::Cwd, target, false)?.path;
            Args::Symlink {
                target,
                at: path_arg(at.dir, path, false)?,
            }
        }
        // The kernel runs the path in the program's memory: a filter may
        // let the program's own exec go on or refuse it, never run
        // another file (docs/slave.md).
        (Args::Exec { at, flags, argv }, Given::Path(path)) => {
            let given = path_arg(at.dir, path, flags & libc::AT_EMPTY_PATH != 0)?;
            if given != *at {
                return Err(Errno::EINVAL);
            }
            Args::Exec {
                at: given,
                flags: *flags,
                argv: argv.clone(),
            }
        }
        (Args::Link { from, to, flags }, Given::Rename(p1, p2)) => Args::Link {
            from: path_arg(from.dir, p1, flags & libc::AT_EMPTY_PATH != 0)?,
            to: path_arg(to.dir, p2, false)?,
            flags: *flags,
        },
        (Args::Mknod { at, .. }, Given::PathInt(path, mode)) => Args::Mknod {
            at: path_arg(at.dir, path, false)?,
            mode: node_mode(mode)?,
        },
        (Args::Attr { at, flags, change }, Given::Attr(path, ints)) => {
            let at = path_arg(at.dir, path, flags & libc::AT_EMPTY_PATH != 0)?;
            // A path given to a call on a descriptor: relative to it.
            let flags = if at.path.is_empty() {
                *flags
            } else {
                flags & !crate::request::attr::FD_FORM
            };
            Args::Attr {
                at,
                flags,
                change: change.with_ints(&ints).ok_or(Errno::EINVAL)?,
            }
        }
        // A filter only ever gets the real function of its own call.
        _ => return Err(Errno::EINVAL),
    };
    Ok(rewritten(p, args, None))
}

fn rewritten(p: &Pending, args: Args, sock: Option<Socket>) -> Rewritten {
    let changed = args != p.req.args;
    Rewritten::Call {
        req: Request {
            function: p.req.function,
            sys: p.req.sys,
            args,
        },
        sock,
        changed,
    }
}

/// A socket request's rewritten arguments, and the program's socket if
/// its fd changed (or the held one was used up).
fn socket(
    p: &mut Pending,
    call: SockCall,
    orig: NetAddr,
    fd: i64,
    given: NetAddr,
) -> Result<(Args, Option<Socket>), Errno> {
    let fd = i32::try_from(fd)
        .ok()
        .filter(|&f| f >= 0)
        .ok_or(Errno::EBADF)?;
    // Same address: the program's (an IPv6 flow label kept).
    let given = match (&orig, given) {
        (NetAddr::Inet6(o), NetAddr::Inet6(g))
            if o.ip() == g.ip() && o.port() == g.port() && o.scope_id() == g.scope_id() =>
        {
            orig.clone()
        }
        (_, g) => g,
    };
    let fresh = if fd != call.fd || p.sock.is_none() {
        Some(Socket::of(&mut p.task, fd)?)
    } else {
        None
    };
    let domain = fresh
        .as_ref()
        .or(p.sock.as_ref())
        .map_or(libc::AF_UNSPEC, |s| s.domain);
    // What the kernel answers for an address of the wrong family.
    match (&given, domain) {
        (NetAddr::Unix(_), libc::AF_UNIX)
        | (NetAddr::Inet(_), libc::AF_INET | libc::AF_INET6)
        | (NetAddr::Inet6(_), libc::AF_INET6) => {}
        (_, libc::AF_UNIX) => return Err(Errno::EINVAL),
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    let raw = if given == orig && fd == call.fd {
        call.addr.clone()
    } else {
        Some(match (&given, domain) {
            (NetAddr::Unix(path), _) if path.is_empty() => return Err(Errno::EINVAL),
            // An IPv4 address on an IPv6 socket, as a program writes it.
            (NetAddr::Inet(a), libc::AF_INET6) => {
                NetAddr::Inet6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
                    .to_raw()?
            }
            (g, _) => g.to_raw()?,
        })
    };
    let path = match &given {
        NetAddr::Unix(path) if !given.is_abstract() => Some(PathArg {
            dir: Dir::Cwd,
            path: path.clone(),
        }),
        _ => None,
    };
    Ok((
        Args::Socket {
            call: SockCall {
                fd,
                addr: raw,
                ..call
            },
            addr: given,
            path,
        },
        fresh,
    ))
}

/// The name `real_getaddrinfo(node…)` looks up for the program's lookup
/// `q` (lower-case, without a trailing dot, as the master sees names);
/// `None`: not a name a resolver would ask about ("noname").
pub fn rewrite_lookup(q: &Query, g: Given) -> Option<Rewritten> {
    let Given::Lookup { node } = g else {
        return None;
    };
    let text = String::from_utf8(node).ok()?;
    if text == q.name {
        return Some(Rewritten::Lookup {
            name: text,
            changed: false,
        });
    }
    let mut name = text.to_ascii_lowercase();
    if name.ends_with('.') {
        name.pop();
    }
    if name.is_empty() || name.len() > 253 || name.contains('\0') {
        return None;
    }
    let changed = name != q.name;
    Some(Rewritten::Lookup { name, changed })
}
