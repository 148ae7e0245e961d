//! The `C` table and the global helpers.
//!
//! Every function returns the C result and the errno (0 on success), as
//! the spec says; `read` and `receive_with_fd` return `nil` instead of the
//! string on failure.  When the global `errexit` is true (the default) a
//! failure does not return: the function name, the errno name and a Lua
//! traceback are printed to stderr and the process exits with 1.  Argument
//! type errors (and unknown names: a Landlock right, a filter action) are
//! Lua errors.

use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use mlua::{Lua, LuaString, MultiValue, Table, Value, Variadic};
use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::{capability, consts, errno_from_name, errno_name, landlock, sys, Hook};

/// A failed call: its errno and, for errexit's message, what was wrong.
pub(crate) struct Fail {
    errno: Errno,
    detail: Option<String>,
}

impl From<Errno> for Fail {
    fn from(errno: Errno) -> Self {
        Fail {
            errno,
            detail: None,
        }
    }
}

impl Fail {
    fn with(errno: Errno, detail: impl Into<String>) -> Self {
        Fail {
            errno,
            detail: Some(detail.into()),
        }
    }
}

/// A call's outcome: the first result on success.
type Out = Result<Value, Fail>;

fn int(v: i64) -> Out {
    Ok(Value::Integer(v))
}

fn ok(r: sys::Ret) -> Out {
    r.map(Value::Integer).map_err(Fail::from)
}

/// Whether `errexit` is on (any true value).
fn errexit(lua: &Lua) -> bool {
    !matches!(
        lua.globals().get::<Value>("errexit"),
        Ok(Value::Nil) | Ok(Value::Boolean(false))
    )
}

/// errexit: print what failed with a traceback, then exit 1.
fn fatal(lua: &Lua, what: &str, f: &Fail) -> ! {
    let mut msg = format!(
        "errexit: {what} failed: {} ({})",
        errno_name(f.errno as i32),
        f.errno.desc()
    );
    if let Some(d) = &f.detail {
        msg.push_str(": ");
        msg.push_str(d);
    }
    let text = lua
        .traceback(Some(&msg), 1)
        .map(|s| s.to_string_lossy())
        .unwrap_or(msg);
    // The runner's own xpcall frame is noise to the script's author.
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("[C]: in function 'xpcall'"))
        .collect();
    let text = text.join("\n");
    eprintln!("init script: {text}");
    if let Some(h) = lua.app_data_ref::<Hook>() {
        (h.0)();
    }
    std::process::exit(1)
}

/// Converts an outcome to the spec's `result, errno`; `failed` is the
/// first result on failure (-1 or nil).
fn finish(lua: &Lua, what: &str, out: Out, failed: Value) -> mlua::Result<MultiValue> {
    match out {
        Ok(v) => Ok(MultiValue::from_vec(vec![v, Value::Integer(0)])),
        Err(f) => {
            if errexit(lua) {
                fatal(lua, what, &f);
            }
            Ok(MultiValue::from_vec(vec![
                failed,
                Value::Integer(f.errno as i64),
            ]))
        }
    }
}

fn arg_err(what: &str, msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{what}: {msg}"))
}

fn cstr(what: &str, n: usize, s: &LuaString) -> mlua::Result<CString> {
    CString::new(s.as_bytes().to_vec())
        .map_err(|_| arg_err(what, format!("argument #{n} contains a NUL byte")))
}

fn opt_cstr(what: &str, n: usize, s: &Option<LuaString>) -> mlua::Result<Option<CString>> {
    s.as_ref().map(|s| cstr(what, n, s)).transpose()
}

fn narrow<T: TryFrom<i64>>(what: &str, n: usize, v: i64) -> mlua::Result<T> {
    T::try_from(v).map_err(|_| arg_err(what, format!("argument #{n} ({v}) is out of range")))
}

/// A uid or gid; -1 means "unchanged" as in C.
fn id(what: &str, n: usize, v: i64) -> mlua::Result<u32> {
    if v == -1 {
        Ok(u32::MAX)
    } else {
        narrow(what, n, v)
    }
}

fn strings(what: &str, n: usize, t: &Option<Table>) -> mlua::Result<Vec<CString>> {
    let mut out = Vec::new();
    if let Some(t) = t {
        for v in t.sequence_values::<LuaString>() {
            let v =
                v.map_err(|_| arg_err(what, format!("argument #{n} must be a list of strings")))?;
            out.push(cstr(what, n, &v)?);
        }
    }
    Ok(out)
}

fn names(what: &str, field: &str, t: &Option<Table>) -> mlua::Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(t) = t {
        for v in t.sequence_values::<String>() {
            out.push(v.map_err(|_| arg_err(what, format!("{field} must be a list of strings")))?);
        }
    }
    Ok(out)
}

/// Registers `C.name` (or a global helper when `table` is the globals).
fn reg<A, F>(
    lua: &Lua,
    table: &Table,
    name: &'static str,
    shown: &'static str,
    nil_on_fail: bool,
    f: F,
) -> mlua::Result<()>
where
    A: mlua::FromLuaMulti,
    F: Fn(&Lua, &'static str, A) -> mlua::Result<Out> + 'static,
{
    let func = lua.create_function(move |lua, a: A| {
        let out = f(lua, shown, a)?;
        let failed = if nil_on_fail {
            Value::Nil
        } else {
            Value::Integer(-1)
        };
        finish(lua, shown, out, failed)
    })?;
    table.set(name, func)
}

macro_rules! c_fn {
    ($lua:expr, $c:expr, $name:literal, $f:expr) => {
        reg($lua, $c, $name, concat!("C.", $name), false, $f)?
    };
}

/// Builds the `C` table.
pub(crate) fn c_table(lua: &Lua) -> mlua::Result<Table> {
    let c = lua.create_table()?;
    for (name, v) in consts::CONSTANTS {
        c.set(*name, *v)?;
    }
    let c = &c;

    reg(
        lua,
        c,
        "read",
        "C.read",
        true,
        |lua, what, (fd, size): (i64, i64)| {
            let fd = narrow::<RawFd>(what, 1, fd)?;
            let size = narrow::<usize>(what, 2, size)?.min(1 << 24);
            let mut buf = vec![0u8; size];
            Ok(match sys::read(fd, &mut buf) {
                Ok(n) => Ok(Value::String(lua.create_string(&buf[..n as usize])?)),
                Err(e) => Err(e.into()),
            })
        },
    )?;
    c_fn!(lua, c, "write", |_l, what, (fd, s): (i64, LuaString)| {
        Ok(ok(sys::write(narrow(what, 1, fd)?, &s.as_bytes())))
    });
    c_fn!(lua, c, "close", |_l, what, fd: i64| Ok(ok(sys::close(
        narrow(what, 1, fd)?
    ))));
    c_fn!(lua, c, "open", |_l,
                           what,
                           (p, flags, mode): (
        LuaString,
        i64,
        Option<i64>
    )| {
        Ok(ok(sys::open(
            &cstr(what, 1, &p)?,
            narrow(what, 2, flags)?,
            narrow(what, 3, mode.unwrap_or(0))?,
        )))
    });
    c_fn!(lua, c, "mkdir", |_l, what, (p, mode): (LuaString, i64)| {
        Ok(ok(sys::mkdir(&cstr(what, 1, &p)?, narrow(what, 2, mode)?)))
    });
    c_fn!(lua, c, "chdir", |_l, what, p: LuaString| Ok(ok(
        sys::chdir(&cstr(what, 1, &p)?)
    )));
    c_fn!(lua, c, "mkfifo", |_l, what, (p, mode): (LuaString, i64)| {
        Ok(ok(sys::mkfifo(&cstr(what, 1, &p)?, narrow(what, 2, mode)?)))
    });
    c_fn!(
        lua,
        c,
        "mknod",
        |_l, what, (p, mode, dev): (LuaString, i64, i64)| {
            Ok(ok(sys::mknod(
                &cstr(what, 1, &p)?,
                narrow(what, 2, mode)?,
                dev as u64,
            )))
        }
    );
    c_fn!(lua, c, "makedev", |_l, what, (major, minor): (i64, i64)| {
        Ok(int(
            libc::makedev(narrow(what, 1, major)?, narrow(what, 2, minor)?) as i64,
        ))
    });
    c_fn!(
        lua,
        c,
        "link",
        |_l, what, (a, b): (LuaString, LuaString)| {
            Ok(ok(sys::link(&cstr(what, 1, &a)?, &cstr(what, 2, &b)?)))
        }
    );
    c_fn!(
        lua,
        c,
        "symlink",
        |_l, what, (a, b): (LuaString, LuaString)| {
            Ok(ok(sys::symlink(&cstr(what, 1, &a)?, &cstr(what, 2, &b)?)))
        }
    );
    c_fn!(
        lua,
        c,
        "chown",
        |_l, what, (p, u, g): (LuaString, i64, i64)| {
            Ok(ok(sys::chown(
                &cstr(what, 1, &p)?,
                id(what, 2, u)?,
                id(what, 3, g)?,
            )))
        }
    );
    c_fn!(lua, c, "chmod", |_l, what, (p, mode): (LuaString, i64)| {
        Ok(ok(sys::chmod(&cstr(what, 1, &p)?, narrow(what, 2, mode)?)))
    });
    c_fn!(lua, c, "umask", |_l, what, mask: i64| Ok(int(sys::umask(
        narrow(what, 1, mask)?
    ))));
    c_fn!(lua, c, "mount", |_l,
                            what,
                            (src, target, fstype, flags, data): (
        Option<LuaString>,
        LuaString,
        Option<LuaString>,
        Option<i64>,
        Option<LuaString>
    )| {
        Ok(ok(sys::mount(
            opt_cstr(what, 1, &src)?.as_deref(),
            &cstr(what, 2, &target)?,
            opt_cstr(what, 3, &fstype)?.as_deref(),
            narrow(what, 4, flags.unwrap_or(0))?,
            opt_cstr(what, 5, &data)?.as_deref(),
        )))
    });
    c_fn!(lua, c, "umount", |_l, what, target: LuaString| {
        Ok(ok(sys::umount2(&cstr(what, 1, &target)?, 0)))
    });
    c_fn!(
        lua,
        c,
        "umount2",
        |_l, what, (target, flags): (LuaString, i64)| {
            Ok(ok(sys::umount2(
                &cstr(what, 1, &target)?,
                narrow(what, 2, flags)?,
            )))
        }
    );
    c_fn!(
        lua,
        c,
        "pivot_root",
        |_l, what, (a, b): (LuaString, LuaString)| {
            Ok(ok(sys::pivot_root(
                &cstr(what, 1, &a)?,
                &cstr(what, 2, &b)?,
            )))
        }
    );
    c_fn!(lua, c, "chroot", |_l, what, p: LuaString| Ok(ok(
        sys::chroot(&cstr(what, 1, &p)?)
    )));
    c_fn!(lua, c, "setsid", |_l, _what, (): ()| Ok(ok(sys::setsid())));
    c_fn!(lua, c, "setpgid", |_l, what, (pid, pgid): (i64, i64)| {
        Ok(ok(sys::setpgid(
            narrow(what, 1, pid)?,
            narrow(what, 2, pgid)?,
        )))
    });
    c_fn!(
        lua,
        c,
        "setresuid",
        |_l, what, (r, e, s): (i64, i64, i64)| {
            Ok(ok(sys::setresuid(
                id(what, 1, r)?,
                id(what, 2, e)?,
                id(what, 3, s)?,
            )))
        }
    );
    c_fn!(
        lua,
        c,
        "setresgid",
        |_l, what, (r, e, s): (i64, i64, i64)| {
            Ok(ok(sys::setresgid(
                id(what, 1, r)?,
                id(what, 2, e)?,
                id(what, 3, s)?,
            )))
        }
    );
    c_fn!(lua, c, "setgroups", |_l, what, list: Table| {
        let mut gids = Vec::new();
        for g in list.sequence_values::<i64>() {
            let g = g.map_err(|_| arg_err(what, "argument #1 must be a list of integers"))?;
            gids.push(narrow::<libc::gid_t>(what, 1, g)?);
        }
        Ok(ok(sys::setgroups(&gids)))
    });
    c_fn!(lua, c, "sethostname", |_l, _what, name: LuaString| Ok(ok(
        sys::sethostname(&name.as_bytes())
    )));
    c_fn!(lua, c, "setdomainname", |_l, _what, name: LuaString| {
        Ok(ok(sys::setdomainname(&name.as_bytes())))
    });
    c_fn!(lua, c, "cap_set_proc", |_l, _what, text: String| {
        Ok(match capability::from_text(&text) {
            Some(s) => ok(sys::capset(s.effective, s.permitted, s.inheritable)),
            None => Err(Fail::with(
                Errno::EINVAL,
                format!("cannot parse capability text {text:?}"),
            )),
        })
    });
    c_fn!(lua, c, "cap_drop_bound", |_l, _what, name: String| {
        Ok(match capability::from_name(&name) {
            Some(cap) => ok(sys::cap_drop_bound(cap)),
            None => Err(Fail::with(
                Errno::EINVAL,
                format!("unknown capability {name:?}"),
            )),
        })
    });
    c_fn!(lua, c, "cap_set_ambient", |_l,
                                      _what,
                                      (name, raise): (
        String,
        bool
    )| {
        Ok(match capability::from_name(&name) {
            Some(cap) => ok(sys::cap_ambient(raise, cap)),
            None => Err(Fail::with(
                Errno::EINVAL,
                format!("unknown capability {name:?}"),
            )),
        })
    });
    c_fn!(lua, c, "cap_reset_ambient", |_l, _what, (): ()| Ok(ok(
        sys::cap_reset_ambient()
    )));
    c_fn!(lua, c, "cap_set_secbits", |_l, what, bits: i64| {
        Ok(ok(sys::set_secbits(narrow(what, 1, bits)?)))
    });
    c_fn!(lua, c, "unshare", |_l, what, flags: i64| Ok(ok(
        sys::unshare(narrow(what, 1, flags)?)
    )));
    c_fn!(
        lua,
        c,
        "setns",
        |_l, what, (fd, nstype): (i64, Option<i64>)| {
            Ok(ok(sys::setns(
                narrow(what, 1, fd)?,
                narrow(what, 2, nstype.unwrap_or(0))?,
            )))
        }
    );
    c_fn!(lua, c, "execve", |_l,
                             what,
                             (p, argv, envp): (
        LuaString,
        Option<Table>,
        Option<Table>
    )| {
        let (p, argv, envp) = (
            cstr(what, 1, &p)?,
            strings(what, 2, &argv)?,
            strings(what, 3, &envp)?,
        );
        Ok(Err(sys::execve(&p, &argv, &envp).into()))
    });
    c_fn!(lua, c, "fexecve", |_l,
                              what,
                              (fd, argv, envp): (
        i64,
        Option<Table>,
        Option<Table>
    )| {
        let (argv, envp) = (strings(what, 2, &argv)?, strings(what, 3, &envp)?);
        Ok(Err(sys::fexecve(narrow(what, 1, fd)?, &argv, &envp).into()))
    });
    c_fn!(
        lua,
        c,
        "seccomp_set_mode_filter",
        |_l, _what, bytes: LuaString| {
            Ok(match bpf::Program::from_bytes(&bytes.as_bytes()) {
                Ok(p) => ok(sys::seccomp_set_mode_filter(p.instructions())),
                Err(e) => Err(Fail::with(Errno::EINVAL, e.to_string())),
            })
        }
    );
    c_fn!(lua, c, "landlock_create_ruleset", |_l,
                                              what,
                                              (attr, flags): (
        Option<Table>,
        Option<Table>
    )| {
        landlock_create_ruleset(what, attr, flags)
    });
    c_fn!(lua, c, "landlock_add_rule", |_l,
                                        what,
                                        (fd, kind, attr): (
        i64,
        String,
        Table
    )| {
        landlock_add_rule(what, narrow(what, 1, fd)?, &kind, attr)
    });
    c_fn!(lua, c, "landlock_restrict_self", |_l,
                                             what,
                                             (fd, flags): (
        i64,
        Option<Table>
    )| {
        // No flag is supported yet: refuse rather than ignore one.
        if let Some(f) = names(what, "flags", &flags)?.first() {
            return Err(arg_err(
                what,
                format!("unknown flag {f:?} (no flag is supported)"),
            ));
        }
        let fd = narrow(what, 1, fd)?;
        let r = sys::landlock_restrict_self(fd, 0);
        if r.is_ok() {
            landlock::note_restricted(fd);
        }
        Ok(ok(r))
    });
    // FreeBSD only: present, failing with ENOSYS.
    c_fn!(lua, c, "cap_enter", |_l, _w, _a: Variadic<Value>| Ok(Err(
        Errno::ENOSYS.into()
    )));
    c_fn!(lua, c, "jail_attach", |_l, _w, _a: Variadic<Value>| Ok(
        Err(Errno::ENOSYS.into())
    ));
    c_fn!(lua, c, "jail_set", |_l, _w, _a: Variadic<Value>| Ok(Err(
        Errno::ENOSYS.into()
    )));
    c_fn!(lua, c, "unmount", |_l, _w, _a: Variadic<Value>| Ok(Err(
        Errno::ENOSYS.into()
    )));
    Ok(c.clone())
}

/// The running kernel's Landlock ABI, or why there is none.
fn landlock_abi() -> Result<i64, Fail> {
    sys::landlock_create_ruleset(None, 1).map_err(|e| {
        Fail::with(
            e,
            "Landlock is not supported or not enabled by the running kernel",
        )
    })
}

fn landlock_create_ruleset(
    what: &str,
    attr: Option<Table>,
    flags: Option<Table>,
) -> mlua::Result<Out> {
    let mut fl = 0u32;
    for f in names(what, "flags", &flags)? {
        match f.as_str() {
            "version" => fl |= 1,
            other => {
                return Err(arg_err(
                    what,
                    format!("unknown flag {other:?} (known: version)"),
                ))
            }
        }
    }
    let Some(attr) = attr else {
        return Ok(ok(sys::landlock_create_ruleset(None, fl)));
    };
    let mut lists: [Option<Table>; 3] = [None, None, None];
    for pair in attr.pairs::<String, Value>() {
        let (k, v) = pair.map_err(|_| arg_err(what, "attr keys must be strings"))?;
        let slot = match k.as_str() {
            "handled_access_fs" => 0,
            "handled_access_net" => 1,
            "scoped" => 2,
            other => {
                return Err(arg_err(
                    what,
                    format!("unknown attr field {other:?} (known: handled_access_fs, handled_access_net, scoped)"),
                ))
            }
        };
        match v {
            Value::Table(t) => lists[slot] = Some(t),
            _ => return Err(arg_err(what, format!("attr.{k} must be a list of strings"))),
        }
    }
    let fs = names(what, "attr.handled_access_fs", &lists[0])?;
    let net = names(what, "attr.handled_access_net", &lists[1])?;
    let scoped = names(what, "attr.scoped", &lists[2])?;
    let abi = match landlock_abi() {
        Ok(a) => a,
        Err(f) => return Ok(Err(f)),
    };
    let mut bits = [0u64; 3];
    for (i, (table, field, list)) in [
        (landlock::FS, "handled_access_fs", &fs),
        (landlock::NET, "handled_access_net", &net),
        (landlock::SCOPES, "scoped", &scoped),
    ]
    .into_iter()
    .enumerate()
    {
        match landlock::bits(table, field, list, abi) {
            Ok(b) => bits[i] = b,
            Err(e @ landlock::RightError::Unknown { .. }) => return Err(arg_err(what, e)),
            Err(e) => return Ok(Err(Fail::with(Errno::EINVAL, e.to_string()))),
        }
    }
    // Pass the fields up to the last one used: older kernels accept a
    // shorter struct.
    let fields = if lists[2].is_some() {
        3
    } else if lists[1].is_some() {
        2
    } else {
        1
    };
    let r = sys::landlock_create_ruleset(Some((&bits, fields)), fl);
    if let (Ok(fd), 0) = (r, fl) {
        landlock::note_ruleset(fd as i32, bits[0], bits[1]);
    }
    Ok(ok(r))
}

fn landlock_add_rule(what: &str, fd: RawFd, kind: &str, attr: Table) -> mlua::Result<Out> {
    let access: Option<Table> = attr
        .get("allowed_access")
        .map_err(|_| arg_err(what, "attr.allowed_access must be a list of strings"))?;
    let access = names(what, "attr.allowed_access", &access)?;
    let abi = match landlock_abi() {
        Ok(a) => a,
        Err(f) => return Ok(Err(f)),
    };
    let (table, field) = match kind {
        "path_beneath" => (landlock::FS, "allowed_access (path_beneath)"),
        "net_port" => (landlock::NET, "allowed_access (net_port)"),
        other => {
            return Err(arg_err(
                what,
                format!("unknown rule type {other:?} (known: path_beneath, net_port)"),
            ))
        }
    };
    let bits = match landlock::bits(table, field, &access, abi) {
        Ok(b) => b,
        Err(e @ landlock::RightError::Unknown { .. }) => return Err(arg_err(what, e)),
        Err(e) => return Ok(Err(Fail::with(Errno::EINVAL, e.to_string()))),
    };
    if kind == "path_beneath" {
        let parent: i64 = attr
            .get("parent_fd")
            .map_err(|_| arg_err(what, "attr.parent_fd must be an integer"))?;
        let r = sys::landlock_add_path_beneath(fd, bits, narrow(what, 3, parent)?);
        if r.is_ok() {
            landlock::note_rule(fd, bits, false);
        }
        Ok(ok(r))
    } else {
        let port: i64 = attr
            .get("port")
            .map_err(|_| arg_err(what, "attr.port must be an integer"))?;
        let r = sys::landlock_add_net_port(fd, bits, narrow(what, 3, port)?);
        if r.is_ok() {
            landlock::note_rule(fd, bits, true);
        }
        Ok(ok(r))
    }
}

fn parse_action(what: &str, s: &str) -> mlua::Result<bpf::builder::Action> {
    use bpf::builder::Action;
    Ok(match s {
        "allow" => Action::Allow,
        "kill" | "kill_process" => Action::KillProcess,
        "kill_thread" => Action::KillThread,
        "trap" => Action::Trap,
        "log" => Action::Log,
        e => match errno_from_name(e) {
            Some(n) => Action::Errno(n),
            None => {
                return Err(arg_err(
                    what,
                    format!("unknown action {e:?} (allow, kill, kill_thread, trap, log or an errno name such as \"EPERM\")"),
                ))
            }
        },
    })
}

/// Installs `arg`, `errexit` and the helpers as globals.
pub(crate) fn globals(lua: &Lua, arg: Option<RawFd>) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("arg", arg)?;
    g.set("errexit", true)?;
    g.set(
        "mode",
        lua.create_function(|_, (u, gr, o): (i64, i64, i64)| Ok((u << 6) | (gr << 3) | o))?,
    )?;
    let g = &g;
    reg(
        lua,
        g,
        "write_all",
        "write_all",
        false,
        |_l, what, (fd, s): (i64, LuaString)| {
            let fd = narrow::<RawFd>(what, 1, fd)?;
            let bytes = s.as_bytes();
            let mut done = 0usize;
            while done < bytes.len() {
                match sys::write(fd, &bytes[done..]) {
                    Ok(n) => done += n as usize,
                    Err(Errno::EINTR) => continue,
                    Err(e) => {
                        return Ok(Err(Fail::with(
                            e,
                            format!("after writing {done} of {} bytes", bytes.len()),
                        )))
                    }
                }
            }
            Ok(int(done as i64))
        },
    )?;
    lua_fn_receive(lua, g)?;
    reg(
        lua,
        g,
        "send_with_fd",
        "send_with_fd",
        false,
        |_l, what, (fd, s, fd2): (i64, LuaString, Option<i64>)| {
            let fd = narrow::<RawFd>(what, 1, fd)?;
            let bytes = s.as_bytes();
            let iov = [IoSlice::new(&bytes)];
            let fds;
            let mut cmsgs = Vec::new();
            if let Some(f) = fd2.filter(|&f| f >= 0) {
                fds = [narrow::<RawFd>(what, 3, f)?];
                cmsgs.push(ControlMessage::ScmRights(&fds));
            }
            Ok(
                match sendmsg::<()>(fd, &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
                    Ok(n) => int(n as i64),
                    Err(e) => Err(e.into()),
                },
            )
        },
    )?;
    reg(
        lua,
        g,
        "set_no_new_privs",
        "set_no_new_privs",
        false,
        |_l, _w, (): ()| Ok(ok(sys::set_no_new_privs())),
    )?;
    g.set(
        "seccomp_compile",
        lua.create_function(|lua, (default, rules): (String, Option<Table>)| {
            let what = "seccomp_compile";
            let default = parse_action(what, &default)?;
            let mut list = Vec::new();
            if let Some(rules) = rules {
                for pair in rules.pairs::<String, String>() {
                    let (name, action) = pair.map_err(|_| {
                        arg_err(what, "rules must map syscall names to action strings")
                    })?;
                    let a = parse_action(what, &action)?;
                    list.push((name, a));
                }
            }
            // Deterministic output whatever the table's order.
            list.sort_by(|a, b| a.0.cmp(&b.0));
            let prog = bpf::builder::build(default, &list).map_err(|e| arg_err(what, e))?;
            lua.create_string(prog.to_bytes())
        })?,
    )?;
    Ok(())
}

/// `receive_with_fd(fd, buf_size) → string|nil, fd|-1, errno`.
fn lua_fn_receive(lua: &Lua, g: &Table) -> mlua::Result<()> {
    let f = lua.create_function(|lua, (fd, size): (i64, i64)| {
        let what = "receive_with_fd";
        let fd = narrow::<RawFd>(what, 1, fd)?;
        let mut buf = vec![0u8; narrow::<usize>(what, 2, size)?.min(1 << 24)];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty());
        let (n, got) = match r {
            Err(e) => {
                let f = Fail::from(e);
                if errexit(lua) {
                    fatal(lua, what, &f);
                }
                return Ok((Value::Nil, -1, e as i64));
            }
            Ok(m) => {
                let mut got: Vec<RawFd> = Vec::new();
                if let Ok(cm) = m.cmsgs() {
                    for c in cm {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            got.extend(fds);
                        }
                    }
                }
                (m.bytes, got)
            }
        };
        // One descriptor is returned; extra ones are closed.
        for &extra in got.iter().skip(1) {
            let _ = sys::close(extra);
        }
        let s = lua.create_string(&buf[..n])?;
        Ok((
            Value::String(s),
            got.first().copied().unwrap_or(-1) as i64,
            0,
        ))
    })?;
    g.set("receive_with_fd", f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse() {
        assert_eq!(
            parse_action("t", "EPERM").unwrap(),
            bpf::builder::Action::Errno(libc::EPERM)
        );
        assert_eq!(
            parse_action("t", "kill").unwrap(),
            bpf::builder::Action::KillProcess
        );
        assert!(parse_action("t", "nope").is_err());
    }

    #[test]
    fn every_freebsd_only_name_is_absent() {
        for n in consts::FREEBSD_ONLY {
            assert!(!consts::CONSTANTS.iter().any(|(k, _)| k == n), "{n}");
        }
    }
}
