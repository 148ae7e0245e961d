//! Emilua's `init.script` API (`../shared/spec/init.script.txt`) for
//! supervisor: a Lua script that sets the child up — namespaces, mounts,
//! credentials, capabilities, Landlock, its own seccomp filters — after
//! `fork` and before the supervisor's notify filter and `execve`.
//!
//! The script runs in a fresh Lua 5.4 state in a single-threaded helper
//! process (the supervisor re-executes itself for it; no Lua ever runs
//! after `fork` in the multithreaded supervisor).  It sees:
//!
//! * `arg`: the descriptor passed with the script, or nil;
//! * `errexit`: true at start (see [`c`]);
//! * helpers `mode`, `write_all`, `receive_with_fd`, `send_with_fd`,
//!   `set_no_new_privs`, and `seccomp_compile` (a filter builder, see
//!   [`bpf::builder`]);
//! * the table `C` with the spec's functions and constants.
//!
//! docs/init-script.md is the reference.

mod c;
pub mod capability;
pub mod consts;
pub mod landlock;
mod sys;

use std::os::fd::RawFd;

use mlua::{Lua, LuaOptions, MultiValue, StdLib, Value};
use nix::errno::Errno;

/// Called when errexit ends the script, before the process exits with 1
/// (the supervisor's helper reports the failure to the supervisor here).
pub struct Hook(pub Box<dyn Fn() + Send + Sync>);

/// How the script is run.
pub struct Options {
    /// The value of the global `arg`.
    pub arg: Option<RawFd>,
    /// Run when errexit ends the process.
    pub on_errexit: Option<Hook>,
}

/// Why a script did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot set up the Lua state: {0}")]
    Setup(String),
    #[error("syntax error: {0}")]
    Syntax(String),
    #[error("error: {0}")]
    Runtime(String),
}

/// The errno's name (`"EPERM"`), or `"E<number>"` for an unknown one.
pub fn errno_name(e: i32) -> String {
    match Errno::from_raw(e) {
        Errno::UnknownErrno => format!("E{e}"),
        known => format!("{known:?}"),
    }
}

/// The number of an errno name (`"EPERM"`, aliases such as
/// `"EWOULDBLOCK"` included).
pub fn errno_from_name(name: &str) -> Option<i32> {
    if let Some((_, v)) = consts::CONSTANTS
        .iter()
        .find(|(k, _)| *k == name && k.starts_with('E'))
    {
        return Some(*v as i32);
    }
    (1..4096).find(|&e| Errno::from_raw(e) != Errno::UnknownErrno && errno_name(e) == name)
}

/// A Lua state with the API installed.
pub fn new_state(opts: Options) -> Result<Lua, Error> {
    let setup = |e: mlua::Error| Error::Setup(e.to_string());
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default()).map_err(setup)?;
    let c = c::c_table(&lua).map_err(setup)?;
    lua.globals().set("C", c).map_err(setup)?;
    c::globals(&lua, opts.arg).map_err(setup)?;
    if let Some(h) = opts.on_errexit {
        lua.set_app_data(h);
    }
    Ok(lua)
}

/// The message of a Lua error value, without mlua's decorations.
fn message(v: &Value) -> String {
    fn root(e: &mlua::Error) -> String {
        match e {
            mlua::Error::CallbackError { cause, .. } => root(cause),
            mlua::Error::RuntimeError(s) | mlua::Error::SyntaxError { message: s, .. } => s.clone(),
            mlua::Error::WithContext { cause, .. } => root(cause),
            other => other.to_string(),
        }
    }
    match v {
        Value::Error(e) => root(e),
        Value::String(s) => s.to_string_lossy(),
        Value::Nil => "nil".into(),
        other => format!("(error object: {})", other.type_name()),
    }
}

/// Runs `source` (named `name` in messages, e.g. `"@init.lua"`) in `lua`.
/// Lua errors come back with a traceback; errexit does not come back.
pub fn run_in(lua: &Lua, source: &[u8], name: &str) -> Result<(), Error> {
    let chunk = lua
        .load(source)
        .set_name(name)
        .into_function()
        .map_err(|e| Error::Syntax(message(&Value::Error(Box::new(e)))))?;
    let handler = lua
        .create_function(|lua, e: Value| lua.traceback(Some(&message(&e)), 1))
        .map_err(|e| Error::Setup(e.to_string()))?;
    let xpcall: mlua::Function = lua
        .globals()
        .get("xpcall")
        .map_err(|e| Error::Setup(e.to_string()))?;
    let r: MultiValue = xpcall
        .call((chunk, handler))
        .map_err(|e| Error::Runtime(e.to_string()))?;
    if matches!(r.front(), Some(Value::Boolean(true))) {
        return Ok(());
    }
    let msg = r.get(1).map(message).unwrap_or_default();
    let msg: Vec<&str> = msg
        .lines()
        .filter(|l| !l.trim_start().starts_with("[C]: in function 'xpcall'"))
        .collect();
    Err(Error::Runtime(msg.join("\n")))
}

/// Runs a script in a fresh state.
pub fn run(source: &[u8], name: &str, opts: Options) -> Result<(), Error> {
    let lua = new_state(opts)?;
    run_in(&lua, source, name)
}

#[cfg(test)]
mod tests;
