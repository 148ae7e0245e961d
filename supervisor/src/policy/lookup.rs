//! The policy's reply to a `getaddrinfo` request.
//!
//! As the spec says: an error string (`"noname"`, `"again"`, …), `nil`
//! (success with no address), or `{address, port}`.  A list of such pairs
//! (`{{"10.0.0.1", 80}, {"::1"}}`) gives several addresses.  The port is
//! accepted and ignored: the program's own libc fills the port in from the
//! service it asked for (DNS carries no ports).

use std::net::IpAddr;

use mlua::{Lua, Table, Value};

use super::lua::lua_err;
use crate::dns::{Answer, GaiError};

fn address(lua: &Lua, v: &Value) -> mlua::Result<IpAddr> {
    let text = match v {
        Value::String(s) => s.to_string_lossy(),
        other => {
            return Err(lua_err(
                lua,
                format!(
                    "send: a getaddrinfo address must be a string such as \"10.0.0.1\", not {}",
                    other.type_name()
                ),
            ))
        }
    };
    // A scope ("fe80::1%2") cannot travel in a DNS answer: refused.
    text.parse::<IpAddr>().map_err(|_| {
        lua_err(
            lua,
            format!("send: getaddrinfo: not an IP address: {text:?}"),
        )
    })
}

fn pair(lua: &Lua, t: &Table) -> mlua::Result<IpAddr> {
    let ip = address(lua, &t.get::<Value>(1)?)?;
    match t.get::<Value>(2)? {
        Value::Nil | Value::Integer(0..=65535) => Ok(ip),
        other => Err(lua_err(
            lua,
            format!("send: getaddrinfo: the port must be an integer 0-65535 or nil, not {other:?}"),
        )),
    }
}

/// Checks `result` and makes the answer.  A wrong type is a Lua error.
pub fn answer(lua: &Lua, result: &Value) -> mlua::Result<Answer> {
    match result {
        Value::Nil => Ok(Answer::Addresses(Vec::new())),
        Value::String(s) => {
            let name = s.to_string_lossy();
            name.parse::<GaiError>().map(Answer::Error).map_err(|_| {
                lua_err(
                    lua,
                    format!(
                        "send: unknown getaddrinfo error {name:?} (again, badflags, fail, family, \
                         memory, noname, service, socktype, system)"
                    ),
                )
            })
        }
        Value::Table(t) => {
            // {address, port} or a list of them.
            if matches!(t.get::<Value>(1)?, Value::String(_)) {
                return Ok(Answer::Addresses(vec![pair(lua, t)?]));
            }
            let mut v = Vec::new();
            for item in t.sequence_values::<Value>() {
                match item? {
                    Value::Table(p) => v.push(pair(lua, &p)?),
                    other => {
                        return Err(lua_err(
                            lua,
                            format!(
                                "send: getaddrinfo: expected {{address, port}}, not {}",
                                other.type_name()
                            ),
                        ))
                    }
                }
            }
            Ok(Answer::Addresses(v))
        }
        other => Err(lua_err(
            lua,
            format!(
                "send: the result of getaddrinfo must be an error string, nil or \
                 {{address, port}}, not {}",
                other.type_name()
            ),
        )),
    }
}
