//! `libc_service.init = { script = "…", arg = descriptor }`: the init
//! script, set by the policy before the program starts (before the first
//! `master:receive()`).  Setting it afterwards is a Lua error, as the spec
//! says for the slave handle.  It replaces a `--init` given on the command
//! line; `nil` removes it.

use mlua::{AnyUserData, Lua, Table, Value};

use super::host::Descriptor;
use super::lua::lua_err;
use super::state::Shared;
use crate::launch::Init;

const WHAT: &str = "libc_service.init";

/// Checks the value assigned to `libc_service.init`.
fn parse(lua: &Lua, v: &Value) -> mlua::Result<Option<Init>> {
    let t = match v {
        Value::Nil => return Ok(None),
        Value::Table(t) => t,
        other => {
            return Err(lua_err(
                lua,
                format!(
                "{WHAT} must be a table {{ script = \"…\", arg = descriptor }} or nil, not a {}",
                other.type_name()
            ),
            ))
        }
    };
    let mut source = None;
    let mut arg = None;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        match (k.as_string().map(|s| s.to_string_lossy()).as_deref(), v) {
            (Some("script"), Value::String(s)) => source = Some(s.as_bytes().to_vec()),
            (Some("arg"), Value::UserData(ud)) if ud.is::<Descriptor>() => {
                arg = Some(dup(lua, &ud)?)
            }
            (Some("script"), _) => {
                return Err(lua_err(
                    lua,
                    format!("{WHAT}.script must be a string (the Lua source)"),
                ))
            }
            (Some("arg"), _) => {
                return Err(lua_err(
                    lua,
                    format!("{WHAT}.arg must be a descriptor (e.g. from host.open) or nil"),
                ))
            }
            _ => {
                return Err(lua_err(
                    lua,
                    format!("{WHAT}: unknown field (known: script, arg)"),
                ))
            }
        }
    }
    let Some(source) = source else {
        return Err(lua_err(lua, format!("{WHAT}.script is missing")));
    };
    Ok(Some(Init {
        source,
        name: "=libc_service.init.script".into(),
        arg,
    }))
}

fn dup(lua: &Lua, ud: &AnyUserData) -> mlua::Result<std::os::fd::OwnedFd> {
    let d = ud.borrow::<Descriptor>()?;
    d.fd()?.try_clone_to_owned().map_err(|e| {
        lua_err(
            lua,
            format!("{WHAT}.arg: cannot duplicate the descriptor: {e}"),
        )
    })
}

/// Makes `init` (and `families`, policy/families.rs) guarded fields of the
/// `libc_service` table.
pub fn install(lua: &Lua, svc: &Table, shared: &Shared) -> mlua::Result<()> {
    let store = lua.create_table()?;
    let meta = lua.create_table()?;
    let (sh, st) = (shared.clone(), store.clone());
    meta.set(
        "__newindex",
        lua.create_function(move |lua, (t, k, v): (Table, Value, Value)| {
            if k.as_string().is_some_and(|s| s == "families") {
                super::families::assign(lua, &sh, &v)?;
                return st.raw_set("families", v);
            }
            if k.as_string().is_none_or(|s| s != "init") {
                return t.raw_set(k, v);
            }
            let init = parse(lua, &v)?;
            let mut state = sh.borrow_mut();
            let started = state.started();
            if let Some(c) = state.check.as_mut() {
                c.init = init;
                return st.raw_set("init", v);
            }
            match state.program.as_mut() {
                Some((prepared, _)) if !started => prepared.set_init(init),
                _ => {
                    return Err(lua_err(
                        lua,
                        format!("{WHAT}: the program has already started; set it before the first master:receive()"),
                    ))
                }
            }
            st.raw_set("init", v)
        })?,
    )?;
    meta.set(
        "__index",
        lua.create_function(move |_, (_t, k): (Table, Value)| match k.as_string() {
            Some(s) if s == "init" => store.raw_get::<Value>("init"),
            Some(s) if s == "families" => store.raw_get::<Value>("families"),
            _ => Ok(Value::Nil),
        })?,
    )?;
    svc.set_metatable(Some(meta))?;
    Ok(())
}
