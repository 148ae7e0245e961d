//! The policy script: its Lua state (the modules a policy sees) and its
//! run up to its return.

use mlua::{Lua, LuaOptions, MultiValue, StdLib, Value};

use super::lua::{message, GUARD_NAME};
use super::source::Source;
use super::state::Shared;
use super::{host, init, rules, slave};
use crate::run::Stop;

/// A Lua state with the policy modules installed.
pub fn new_state(shared: &Shared) -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())?;
    let loaded: mlua::Table = lua.globals().get::<mlua::Table>("package")?.get("loaded")?;
    let svc = lua.create_table()?;
    svc.set("master", super::master::Master(shared.clone()))?;
    let errnos = lua.create_table()?;
    for (name, v) in libc_service::errno::ERRNOS {
        errnos.set(*name, *v)?;
    }
    svc.set("errno", errnos.clone())?;
    // Extension: `-v` was given (a policy may say more at its start).
    let verbose = shared.try_borrow().is_ok_and(|st| st.run.audit.verbose());
    svc.set("verbose", verbose)?;
    // Extension: the container served (`supervisor agent`), else nil.
    let container = shared
        .try_borrow()
        .ok()
        .and_then(|st| st.run.container.clone());
    if let Some(c) = container {
        let t = lua.create_table()?;
        t.set("id", c.id)?;
        t.set("pid", c.pid)?;
        svc.set("container", t)?;
    }
    slave::install(&lua, &svc, shared)?;
    init::install(&lua, &svc, shared)?;
    loaded.set("libc_service", svc)?;
    loaded.set("errno", errnos)?;
    loaded.set("host", host::module(&lua)?)?;
    loaded.set("rules", rules::module(&lua, shared)?)?;
    guard_catches(&lua, shared)?;
    Ok(lua)
}

/// Once the run is over (`State::stop`), an error caught by `pcall`,
/// `xpcall` or `coroutine.resume` is raised again: a policy cannot go on
/// into a run that has ended.  (Written in Lua, so that filters can still
/// yield across them.)
const GUARD: &str = r#"
local stopped, pcall, xpcall, resume, error = ...
local function pass(ok, ...)
  if not ok and stopped() then error((...), 0) end
  return ok, ...
end
return function(f, ...) return pass(pcall(f, ...)) end,
       function(f, h, ...) return pass(xpcall(f, h, ...)) end,
       function(co, ...) return pass(resume(co, ...)) end
"#;

fn guard_catches(lua: &Lua, shared: &Shared) -> mlua::Result<()> {
    let sh = shared.clone();
    let stopped =
        lua.create_function(move |_, ()| Ok(sh.try_borrow().map_or(true, |st| st.stop.is_some())))?;
    let g = lua.globals();
    let co: mlua::Table = g.get("coroutine")?;
    let (pcall, xpcall, resume): (mlua::Function, mlua::Function, mlua::Function) =
        lua.load(GUARD).set_name(GUARD_NAME).call((
            stopped,
            g.get::<mlua::Function>("pcall")?,
            g.get::<mlua::Function>("xpcall")?,
            co.get::<mlua::Function>("resume")?,
            g.get::<mlua::Function>("error")?,
        ))?;
    g.set("pcall", pcall)?;
    g.set("xpcall", xpcall)?;
    co.set("resume", resume)
}

/// Loads and runs the policy script at `path` in a state made for
/// `shared`, until it returns (or, in a run, the program exits).  A syntax
/// or runtime error kills the program if it started.
pub(super) fn execute(source: &Source, shared: &Shared) -> Result<Lua, Stop> {
    let lua = new_state(shared).map_err(|e| Stop::Policy(format!("set-up failed: {e}")))?;
    let chunk = lua
        .load(&source.text[..])
        .set_name(format!("@{}", source.name))
        .into_function()
        .map_err(|e| {
            Stop::Policy(format!(
                "syntax error: {}",
                message(&Value::Error(Box::new(e)))
            ))
        })?;
    let handler = lua
        .create_function(|lua, e: Value| {
            let msg = message(&e);
            lua.traceback(Some(&msg), 1)
        })
        .map_err(|e| Stop::Policy(e.to_string()))?;
    let xpcall: mlua::Function = lua
        .globals()
        .get("xpcall")
        .map_err(|e| Stop::Policy(e.to_string()))?;
    let r: MultiValue = xpcall
        .call((chunk, handler))
        .map_err(|e| Stop::Policy(e.to_string()))?;
    let ok = matches!(r.front(), Some(Value::Boolean(true)));
    if !ok {
        let msg = r.get(1).map(message).unwrap_or_default();
        // The frame of our own xpcall is noise to the policy's author.
        let msg: Vec<&str> = msg
            .lines()
            .filter(|l| {
                let l = l.trim_start();
                !(l.starts_with("[C]: in function 'xpcall'")
                    || l.starts_with("[C]: in upvalue 'xpcall'")
                    || l.starts_with("[guard]:"))
            })
            .collect();
        let mut msg = msg.join("\n");
        let mut st = shared.borrow_mut();
        // Which request the policy was answering, if any.
        if let Some(what) = st.answering() {
            msg.push_str(&format!("\nwhile answering: {what}"));
        }
        if let Some(s) = st.session.as_mut() {
            s.kill_and_reap();
        }
        return Err(Stop::Policy(format!("error: {msg}")));
    }
    Ok(lua)
}
