//! Checking and converting a policy's reply.

use mlua::{Lua, Table, Value};
use nix::errno::Errno;

use super::lua::lua_err;
use crate::act::stat::FakeStat;
use crate::act::Verdict;
use crate::request::Function;
use libc_service::errno;
use libc_service::Returns;

/// The errno argument: nil, an integer, or a name such as "EACCES".
pub fn errno_arg(lua: &Lua, what: &str, v: Option<&Value>) -> mlua::Result<i32> {
    match v {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(i)) if (0..4096).contains(i) => Ok(*i as i32),
        Some(Value::Number(n)) if n.fract() == 0.0 && (0.0..4096.0).contains(n) => Ok(*n as i32),
        Some(Value::String(s)) => {
            let name = s.to_string_lossy();
            errno::by_name(&name)
                .ok_or_else(|| lua_err(lua, format!("{what}: unknown errno name {name:?}")))
        }
        Some(other) => Err(lua_err(
            lua,
            format!(
                "{what}: errno must be an integer or a name such as \"EACCES\", not {}",
                describe(other)
            ),
        )),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("{i}"),
        Value::Number(n) => format!("{n}"),
        other => other.type_name().to_string(),
    }
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
        _ => None,
    }
}

/// Checks `result` for `function` and makes the verdict.  A reply of the
/// wrong type is a Lua error (the run ends, fail-closed).
pub fn outcome(lua: &Lua, function: Function, result: &Value, errno: i32) -> mlua::Result<Verdict> {
    let stat = function.returns() == Returns::Stat;
    if errno != 0 {
        // The result is ignored when an errno is given; it must still be
        // one of the documented types.
        let ok = integer(result).is_some() || (stat && matches!(result, Value::Table(_)));
        if !ok {
            return Err(wrong(lua, function, result));
        }
        return Ok(Verdict::Fail(Errno::from_raw(errno)));
    }
    if stat {
        return match result {
            Value::Table(t) => Ok(Verdict::Stat(fake_stat(lua, t)?)),
            v if integer(v).is_some() => Err(lua_err(
                lua,
                format!(
                    "send: {} failed without an errno (give one, e.g. send(-1, \"ENOENT\"))",
                    function.name()
                ),
            )),
            v => Err(wrong(lua, function, v)),
        };
    }
    match integer(result) {
        Some(v) if v < 0 => Err(lua_err(
            lua,
            format!(
                "send: {} result {v} without an errno (give one, e.g. send(-1, \"EACCES\"))",
                function.name()
            ),
        )),
        Some(v) => Ok(Verdict::Value(v)),
        None => Err(wrong(lua, function, result)),
    }
}

fn wrong(lua: &Lua, function: Function, v: &Value) -> mlua::Error {
    let want = match function.returns() {
        Returns::Stat => "a table (or -1 with an errno)",
        Returns::Integer | Returns::Descriptor => "an integer",
        Returns::Addresses => "addresses or an error name",
    };
    lua_err(
        lua,
        format!(
            "send: the result of {} must be {want}, not {}",
            function.name(),
            v.type_name()
        ),
    )
}

/// An error in a stat table: located at the Lua caller when `lua` is given.
fn table_err(lua: Option<&Lua>, msg: String) -> mlua::Error {
    match lua {
        Some(lua) => lua_err(lua, msg),
        None => mlua::Error::RuntimeError(msg),
    }
}

fn type_bits(lua: Option<&Lua>, what: &str, name: &str) -> mlua::Result<u32> {
    Ok(match name {
        "regular" => libc::S_IFREG,
        "directory" => libc::S_IFDIR,
        "symlink" => libc::S_IFLNK,
        "block" => libc::S_IFBLK,
        "character" => libc::S_IFCHR,
        "fifo" => libc::S_IFIFO,
        "socket" => libc::S_IFSOCK,
        other => {
            return Err(table_err(
                lua,
                format!("{what}: unknown file type {other:?}"),
            ))
        }
    })
}

/// A time: seconds as a number (fractions allowed) or `{sec, nsec}`, under
/// `key` (`"atime"`) or its `struct stat` name (`"atim"`).
fn time(lua: Option<&Lua>, what: &str, t: &Table, key: &str) -> mlua::Result<(i64, u32)> {
    let v = match t.get::<Value>(key)? {
        Value::Nil => t.get::<Value>(key.trim_end_matches('e'))?,
        v => v,
    };
    match v {
        Value::Nil => Ok((0, 0)),
        Value::Integer(i) => Ok((i, 0)),
        Value::Number(n) if n.is_finite() => {
            let sec = n.floor();
            Ok((sec as i64, ((n - sec) * 1e9) as u32 % 1_000_000_000))
        }
        Value::Table(tt) => {
            let sec: i64 = tt.get(1)?;
            let nsec: i64 = tt.get::<Option<i64>>(2)?.unwrap_or(0);
            Ok((sec, nsec.clamp(0, 999_999_999) as u32))
        }
        other => Err(table_err(
            lua,
            format!(
                "{what}: stat field {key} must be a number, not {}",
                other.type_name()
            ),
        )),
    }
}

fn field(lua: Option<&Lua>, what: &str, t: &Table, key: &str) -> mlua::Result<i64> {
    match t.get::<Value>(key)? {
        Value::Nil => Ok(0),
        v => integer(&v).ok_or_else(|| {
            table_err(
                lua,
                format!(
                    "{what}: stat field {key} must be an integer, not {}",
                    v.type_name()
                ),
            )
        }),
    }
}

/// The spec's stat table → a stat result (missing fields are 0).
pub fn fake_stat(lua: &Lua, t: &Table) -> mlua::Result<FakeStat> {
    fake_stat_as(Some(lua), "send", t)
}

/// [`fake_stat`], with `what` naming the caller in messages (located at
/// the Lua caller when `lua` is given).  The times may also be named as in
/// `struct stat` (`atim`, `mtim`, `ctim`).
pub fn fake_stat_as(lua: Option<&Lua>, what: &str, t: &Table) -> mlua::Result<FakeStat> {
    let f = |key| field(lua, what, t, key);
    let mut mode = f("mode")? as u32;
    if let Some(ty) = t.get::<Option<String>>("type")? {
        mode = (mode & !libc::S_IFMT) | type_bits(lua, what, &ty)?;
    }
    Ok(FakeStat {
        dev: f("dev")? as u64,
        ino: f("ino")? as u64,
        mode,
        nlink: f("nlink")? as u64,
        uid: f("uid")? as u32,
        gid: f("gid")? as u32,
        rdev: f("rdev")? as u64,
        size: f("size")?,
        blksize: f("blksize")?,
        blocks: f("blocks")?,
        atime: time(lua, what, t, "atime")?,
        mtime: time(lua, what, t, "mtime")?,
        ctime: time(lua, what, t, "ctime")?,
    })
}
