//! The socket functions of the `host` module: sockets made and used with
//! the supervisor's authority, in the supervisor's own view (paths relative
//! to its working directory, its network namespace).
//!
//! `host.socket(family, type)` → descriptor; `host.connect(d, addr, port)`,
//! `host.bind(d, addr, port)` (no port: `addr` is a unix path) and
//! `host.listen(d, backlog)` → `true`; `host.accept(d)` → descriptor;
//! `host.getsockname(d)` → address, port.  Failures return `nil, "ENAME"`.

use std::os::fd::{AsFd, OwnedFd};

use mlua::{AnyUserData, Lua, MultiValue, Table, Value};
use nix::errno::Errno;

use super::host::{failure, Descriptor};
use super::lua::lua_err;
use crate::request::net::NetAddr;
use kernel::sys;

fn ok(lua: &Lua, r: Result<(), Errno>) -> mlua::Result<MultiValue> {
    match r {
        Ok(()) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
        Err(e) => failure(lua, e),
    }
}

fn descriptor(lua: &Lua, fd: OwnedFd) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![Value::UserData(
        lua.create_userdata(Descriptor(Some(fd)))?,
    )]))
}

fn address(
    lua: &Lua,
    what: &str,
    addr: &mlua::LuaString,
    port: Option<i64>,
) -> mlua::Result<Vec<u8>> {
    let port = match port {
        None => None,
        Some(p) => Some(
            u16::try_from(p).map_err(|_| lua_err(lua, format!("{what}: port {p} out of range")))?,
        ),
    };
    let bytes = addr.as_bytes();
    let parsed = NetAddr::parse(&bytes, port).ok_or_else(|| {
        let text = String::from_utf8_lossy(&bytes);
        let msg = match port {
            None => format!("{what}: not a unix path: {text:?} (empty, or a NUL inside)"),
            Some(_) => {
                format!("{what}: not an IP address: {text:?} (give a port only with an IP address)")
            }
        };
        lua_err(lua, msg)
    })?;
    parsed
        .to_raw()
        .map_err(|_| lua_err(lua, format!("{what}: unix path too long")))
}

fn sock_fd(ud: &AnyUserData) -> mlua::Result<OwnedFd> {
    let d = ud.borrow::<Descriptor>()?;
    d.fd()?
        .try_clone_to_owned()
        .map_err(|e| mlua::Error::RuntimeError(format!("cannot duplicate descriptor: {e}")))
}

/// Adds the socket functions to the `host` table.
pub fn install(lua: &Lua, host: &Table) -> mlua::Result<()> {
    host.set(
        "socket",
        lua.create_function(|lua, (family, ty): (String, Option<String>)| {
            let domain = match family.as_str() {
                "inet" => libc::AF_INET,
                "inet6" => libc::AF_INET6,
                "unix" => libc::AF_UNIX,
                other => {
                    return Err(lua_err(
                        lua,
                        format!("host.socket: unknown family {other:?} (inet, inet6, unix)"),
                    ))
                }
            };
            let ty = match ty.as_deref().unwrap_or("stream") {
                "stream" => libc::SOCK_STREAM,
                "dgram" | "datagram" => libc::SOCK_DGRAM,
                "seqpacket" => libc::SOCK_SEQPACKET,
                other => {
                    return Err(lua_err(
                        lua,
                        format!("host.socket: unknown type {other:?} (stream, dgram, seqpacket)"),
                    ))
                }
            };
            match sys::socket(domain, ty | libc::SOCK_CLOEXEC) {
                Ok(fd) => descriptor(lua, fd),
                Err(e) => failure(lua, e),
            }
        })?,
    )?;
    host.set(
        "connect",
        lua.create_function(
            |lua, (d, addr, port): (AnyUserData, mlua::LuaString, Option<i64>)| {
                let raw = address(lua, "host.connect", &addr, port)?;
                let fd = sock_fd(&d)?;
                ok(lua, sys::connect_raw(fd.as_fd(), &raw))
            },
        )?,
    )?;
    host.set(
        "bind",
        lua.create_function(
            |lua, (d, addr, port): (AnyUserData, mlua::LuaString, Option<i64>)| {
                let raw = address(lua, "host.bind", &addr, port)?;
                let fd = sock_fd(&d)?;
                ok(lua, sys::bind_raw(fd.as_fd(), &raw))
            },
        )?,
    )?;
    host.set(
        "listen",
        lua.create_function(|lua, (d, backlog): (AnyUserData, Option<i32>)| {
            let fd = sock_fd(&d)?;
            ok(lua, sys::listen(fd.as_fd(), backlog.unwrap_or(128)))
        })?,
    )?;
    host.set(
        "accept",
        lua.create_function(|lua, d: AnyUserData| {
            let fd = sock_fd(&d)?;
            match sys::accept(fd.as_fd()) {
                Ok(c) => descriptor(lua, c),
                Err(e) => failure(lua, e),
            }
        })?,
    )?;
    host.set(
        "getsockname",
        lua.create_function(|lua, d: AnyUserData| {
            let fd = sock_fd(&d)?;
            match sys::getsockname(fd.as_fd()) {
                Ok(raw) => {
                    let mut v = Vec::new();
                    match NetAddr::from_raw(&raw) {
                        Some(NetAddr::Unix(p)) => v.push(Value::String(lua.create_string(&p)?)),
                        Some(NetAddr::Inet(a)) => {
                            v.push(Value::String(lua.create_string(a.ip().to_string())?));
                            v.push(Value::Integer(a.port().into()));
                        }
                        Some(NetAddr::Inet6(a)) => {
                            v.push(Value::String(lua.create_string(a.ip().to_string())?));
                            v.push(Value::Integer(a.port().into()));
                        }
                        None => v.push(Value::String(lua.create_string("")?)),
                    }
                    Ok(MultiValue::from_vec(v))
                }
                Err(e) => failure(lua, e),
            }
        })?,
    )?;
    Ok(())
}
