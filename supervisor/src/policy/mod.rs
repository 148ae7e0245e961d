//! The Lua policy: `require "libc_service"` (the master end, the slave
//! filters in `slave/`) and `require "host"`, and the run of the policy
//! script.
//!
//! The script runs on the main thread until it first calls
//! `master:receive()`; that call starts the program.  A script that
//! returns without receiving leaves every request to
//! `use_slave_credentials`, after the slave filters if any.  Any Lua error
//! ends the run fail-closed: the program is killed and the supervisor
//! exits with [`crate::exit::POLICY`] ([`crate::exit::SLAVE_FILTER`] for
//! an error in a slave filter).

pub mod check;
mod decision;
pub mod host;
mod host_net;
mod init;
mod lookup;
mod master;
mod reply;
pub mod rules;
mod slave;

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use mlua::{Lua, LuaOptions, MultiValue, StdLib, Value};

use crate::launch::Prepared;
pub use decision::{Decision, How};
pub use libc_service::errno;
pub use master::{Master, Shared, State};
// The reply decoders, for crate::fuzzing.
pub(crate) use lookup::answer as lookup_answer;
pub(crate) use reply::{errno_arg, fake_stat, outcome as reply_outcome};

/// A Lua error whose message starts with the caller's `file:line`.
pub fn lua_err(lua: &Lua, msg: String) -> mlua::Error {
    lua_err_at(lua, 1, msg)
}

/// `file:line` of the Lua function running at stack `level` (1: the
/// caller of the running Rust function), if it is a Lua function.
pub fn location_at(lua: &Lua, level: usize) -> Option<String> {
    lua.inspect_stack(level, |d| {
        let src = d
            .source()
            .short_src
            .map(|s| s.to_string())
            .unwrap_or_default();
        match d.current_line() {
            Some(l) if !src.is_empty() && src != "[C]" => Some(format!("{src}:{l}")),
            _ => None,
        }
    })
    .flatten()
}

/// A Lua error whose message starts with the `file:line` of stack `level`.
pub fn lua_err_at(lua: &Lua, level: usize, msg: String) -> mlua::Error {
    match location_at(lua, level) {
        Some(at) => mlua::Error::RuntimeError(format!("{at}: {msg}")),
        None => mlua::Error::RuntimeError(msg),
    }
}

/// Errors that end a run before or while the policy runs.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {0}")]
    Lua(String),
}

/// The message of a Lua error value, without mlua's decorations.
pub(crate) fn message(v: &Value) -> String {
    fn root(e: &mlua::Error) -> String {
        match e {
            mlua::Error::CallbackError { cause, .. } => root(cause),
            mlua::Error::RuntimeError(s) | mlua::Error::SyntaxError { message: s, .. } => s.clone(),
            mlua::Error::ExternalError(e) => e.to_string(),
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

/// A Lua state with the policy modules installed.
pub fn new_state(shared: &Shared) -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default())?;
    let loaded: mlua::Table = lua.globals().get::<mlua::Table>("package")?.get("loaded")?;
    let svc = lua.create_table()?;
    svc.set("master", Master(shared.clone()))?;
    let errnos = lua.create_table()?;
    for (name, v) in errno::ERRNOS {
        errnos.set(*name, *v)?;
    }
    svc.set("errno", errnos.clone())?;
    slave::install(&lua, &svc, shared)?;
    init::install(&lua, &svc, shared)?;
    loaded.set("libc_service", svc)?;
    loaded.set("errno", errnos)?;
    loaded.set("host", host::module(&lua)?)?;
    loaded.set("rules", rules::module(&lua, shared)?)?;
    Ok(lua)
}

/// Runs the policy at `path` for `program`; returns the exit code.
pub fn run(path: &Path, program: Prepared, map: bpf::SyscallMap) -> Result<i32, PolicyError> {
    let shared: Shared = Rc::new(RefCell::new(State {
        program: Some((program, map)),
        session: None,
        current: None,
        lookup: None,
        check: None,
        slave: slave::Slave::default(),
    }));
    let lua = execute(path, &shared)?;
    let mut st = shared.borrow_mut();
    if let Some(p) = &st.current {
        let f = p.req.function.name();
        if let Some(s) = st.session.as_mut() {
            s.kill_and_reap(0);
        }
        return Err(PolicyError::Lua(format!(
            "error: the script returned with a request ({f}) not answered"
        )));
    }
    if let Some(s) = st.session.as_mut() {
        // The script received requests and then stopped: leaving the rest to
        // the kernel would be a silent fallback, so the run fails closed.
        s.kill_and_reap(0);
        return Err(PolicyError::Lua(
            "error: the script returned while the program was running \
             (loop on master:receive(), or return before the first receive() \
             to leave every call to the kernel)"
                .into(),
        ));
    }
    // The script never received: by the spec, every request is left to
    // use_slave_credentials, after the slave filters if there are any.
    if slave::has_filters(&st) {
        drop(st);
        return Ok(slave::serve(&lua, &shared));
    }
    // Every file call would be CONTINUEd unseen: the filter need not trap
    // them at all (with an audit trail they are trapped, for the records).
    if !crate::audit::enabled() {
        if let Some((prog, _)) = st.program.as_mut() {
            prog.trap_sockets_only();
        }
    }
    Ok(st.ensure_started().serve_continue())
}

/// Loads and runs the policy script at `path` in a state made for
/// `shared`, until it returns (or, in a run, the program exits).  A syntax
/// or runtime error kills the program if it started.
fn execute(path: &Path, shared: &Shared) -> Result<Lua, PolicyError> {
    let source = std::fs::read(path).map_err(|source| PolicyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let lua = new_state(shared).map_err(|e| PolicyError::Lua(format!("set-up failed: {e}")))?;
    let chunk = lua
        .load(&source[..])
        .set_name(format!("@{}", path.display()))
        .into_function()
        .map_err(|e| {
            PolicyError::Lua(format!(
                "syntax error: {}",
                message(&Value::Error(Box::new(e)))
            ))
        })?;
    let handler = lua
        .create_function(|lua, e: Value| {
            let msg = message(&e);
            lua.traceback(Some(&msg), 1)
        })
        .map_err(|e| PolicyError::Lua(e.to_string()))?;
    let xpcall: mlua::Function = lua
        .globals()
        .get("xpcall")
        .map_err(|e| PolicyError::Lua(e.to_string()))?;
    let r: MultiValue = xpcall
        .call((chunk, handler))
        .map_err(|e| PolicyError::Lua(e.to_string()))?;
    let ok = matches!(r.front(), Some(Value::Boolean(true)));
    if !ok {
        let msg = r.get(1).map(message).unwrap_or_default();
        // The frame of our own xpcall is noise to the policy's author.
        let msg: Vec<&str> = msg
            .lines()
            .filter(|l| !l.trim_start().starts_with("[C]: in function 'xpcall'"))
            .collect();
        let msg = msg.join("\n");
        if let Some(s) = shared.borrow_mut().session.as_mut() {
            s.kill_and_reap(0);
        }
        return Err(PolicyError::Lua(format!("error: {msg}")));
    }
    Ok(lua)
}
