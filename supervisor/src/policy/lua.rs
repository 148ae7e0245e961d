//! Lua errors and messages as the policy's author sees them: located at
//! the policy's `file:line`, without mlua's decorations.

use mlua::{Lua, Value};

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

/// The message of a Lua error value, without mlua's decorations.
pub fn message(v: &Value) -> String {
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

/// The chunk name of the guard around `pcall` (script.rs), left out of the
/// policy's locations.
pub const GUARD_NAME: &str = "=[guard]";
