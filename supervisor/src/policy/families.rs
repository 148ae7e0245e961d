//! `libc_service.families = { "vsock", "packet" }`: the socket families the
//! program may create besides unix, inet, inet6 and netlink.  The filter
//! decides on the family in the kernel, so the list is set before the
//! program starts (before the first `master:receive()`); setting it
//! afterwards is a Lua error, like `libc_service.init`.

use mlua::{Lua, Value};

use super::lua::lua_err;
use super::state::Shared;

const WHAT: &str = "libc_service.families";

/// Checks the value assigned to `libc_service.families`.
fn parse(lua: &Lua, v: &Value) -> mlua::Result<bpf::Families> {
    let t = match v {
        Value::Nil => return Ok(bpf::Families::NONE),
        Value::Table(t) => t,
        other => {
            return Err(lua_err(
                lua,
                format!(
                    "{WHAT} must be a list of family names (e.g. {{ \"vsock\" }}) or nil, not a {}",
                    other.type_name()
                ),
            ))
        }
    };
    let mut set = bpf::Families::NONE;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        if !matches!(k, Value::Integer(_)) {
            return Err(lua_err(
                lua,
                format!("{WHAT} must be a list (a sequence of names), not a table with keys"),
            ));
        }
        let name = match &v {
            Value::String(s) => s.to_string_lossy(),
            other => {
                return Err(lua_err(
                    lua,
                    format!("{WHAT}: a family is a name, not a {}", other.type_name()),
                ))
            }
        };
        match bpf::families::by_name(&name) {
            Some(f) => set = set.with(f.number),
            None => {
                let known: Vec<&str> = bpf::families::OTHERS.iter().map(|f| f.name).collect();
                return Err(lua_err(
                    lua,
                    format!(
                        "{WHAT}: unknown socket family {name:?} (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(set)
}

/// `libc_service.families = v`, before the program starts.
pub fn assign(lua: &Lua, shared: &Shared, v: &Value) -> mlua::Result<()> {
    let set = parse(lua, v)?;
    let mut state = shared.borrow_mut();
    if state.check.is_some() {
        return Ok(());
    }
    let started = state.started();
    match state.program.as_mut() {
        Some((prepared, _)) if !started => prepared
            .allow_families(set)
            .map_err(|e| lua_err(lua, format!("{WHAT}: cannot build the seccomp filter: {e}"))),
        _ => Err(lua_err(
            lua,
            format!(
                "{WHAT}: the program has already started; set it before the first master:receive()"
            ),
        )),
    }
}
