//! What slave filters see besides their arguments: the `C` table of
//! init.script (its constants, from the init-script crate, and `C.dup2`,
//! the one function acting on the program) and, for a filter given as a
//! string, the globals of its chunk.

use std::os::fd::AsFd;

use mlua::{Lua, MultiValue, Table, Value};
use nix::errno::Errno;

use super::filter::Item;
use crate::policy::host::Descriptor;
use crate::policy::lua::lua_err;
use crate::policy::state::Shared;

/// The standard globals a chunk gets (no `io`, `os`, `require`, `load`,
/// `debug`: a chunk works on its arguments).
const CHUNK_GLOBALS: &[&str] = &[
    "_VERSION",
    "assert",
    "error",
    "getmetatable",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "print",
    "rawequal",
    "rawget",
    "rawlen",
    "rawset",
    "select",
    "setmetatable",
    "tonumber",
    "tostring",
    "type",
    "xpcall",
    "coroutine",
    "math",
    "string",
    "table",
    "utf8",
];

/// The globals of one string chunk: the safe standard library, `C`, and
/// `errexit = false`.  The chunk's own globals persist between its calls.
pub fn chunk_env(lua: &Lua, shared: &Shared) -> mlua::Result<Table> {
    let env = lua.create_table()?;
    let g = lua.globals();
    for name in CHUNK_GLOBALS {
        env.raw_set(*name, g.raw_get::<Value>(*name)?)?;
    }
    env.raw_set("_G", env.clone())?;
    env.raw_set("errexit", false)?;
    env.raw_set("C", c_table(lua, shared, Some(env.clone()))?)?;
    Ok(env)
}

/// Whether errexit is on in `env` (the policy's globals when `None`).
fn errexit(lua: &Lua, env: Option<&Table>) -> bool {
    let v = match env {
        Some(e) => e.raw_get::<Value>("errexit"),
        None => lua.globals().raw_get::<Value>("errexit"),
    };
    !matches!(v, Ok(Value::Nil) | Ok(Value::Boolean(false)) | Err(_))
}

/// A `C` table: init.script's constants and `C.dup2`.  `env` is where
/// `errexit` is read (the chunk's globals; the policy's when `None`).
pub fn c_table(lua: &Lua, shared: &Shared, env: Option<Table>) -> mlua::Result<Table> {
    let c = lua.create_table()?;
    for (name, v) in init_script::consts::CONSTANTS {
        c.raw_set(*name, *v)?;
    }
    let sh = shared.clone();
    // The closure keeps the chunk's environment alive for the run (one
    // table per string filter).
    c.raw_set(
        "dup2",
        lua.create_function(move |lua, (d, fd): (Value, Value)| {
            let r = dup2(lua, &sh, &d, &fd)?;
            match r {
                Ok(n) => Ok(MultiValue::from_vec(vec![
                    Value::Integer(n.into()),
                    Value::Integer(0),
                ])),
                Err(e) if errexit(lua, env.as_ref()) => Err(lua_err(
                    lua,
                    format!(
                        "errexit: C.dup2 failed: {} ({})",
                        init_script::errno_name(e as i32),
                        e.desc()
                    ),
                )),
                Err(e) => Ok(MultiValue::from_vec(vec![
                    Value::Integer(-1),
                    Value::Integer(e as i64),
                ])),
            }
        })?,
    )?;
    Ok(c)
}

/// `C.dup2(descriptor, fd)`: installs the descriptor at the program's `fd`
/// (`SECCOMP_ADDFD_FLAG_SETFD`: like dup2(2) in the program, the new fd
/// is not close-on-exec), while a filter runs for one of the program's
/// calls.
fn dup2(lua: &Lua, shared: &Shared, d: &Value, fd: &Value) -> mlua::Result<Result<i32, Errno>> {
    let ud = match d {
        Value::UserData(ud) if ud.is::<Descriptor>() => ud,
        other => {
            return Err(lua_err(
                lua,
                format!(
                    "C.dup2: argument #1 must be a descriptor (from a real function or the host \
                     module), not {}",
                    if matches!(other, Value::Integer(_)) {
                        "a number: the supervisor's descriptors are objects".to_string()
                    } else {
                        super::filter::a_type(other)
                    }
                ),
            ))
        }
    };
    let target = match fd {
        Value::Integer(i) => *i,
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => *n as i64,
        other => {
            return Err(lua_err(
                lua,
                format!(
                    "C.dup2: argument #2 must be an integer (the program's fd), not {}",
                    super::filter::a_type(other)
                ),
            ))
        }
    };
    let Ok(target) = i32::try_from(target) else {
        return Ok(Err(Errno::EBADF));
    };
    if target < 0 {
        return Ok(Err(Errno::EBADF));
    }
    let desc = ud.borrow::<Descriptor>()?;
    let src = desc.fd()?;
    let st = shared.borrow();
    let item = st.slave.running.as_ref().and_then(|i| i.item.as_ref());
    match item {
        // Err(ESRCH): the call is gone (its thread was killed).
        Some(Item::Call(p)) => Ok(p.install_at(src.as_fd(), target)),
        Some(Item::Lookup(_)) => Err(lua_err(
            lua,
            "C.dup2: a getaddrinfo filter has no program call to install a descriptor in".into(),
        )),
        None => Err(lua_err(
            lua,
            "C.dup2: only a running slave filter can install a descriptor in the program".into(),
        )),
    }
}
