//! `supervisor check p.lua [--init FILE]`: loads a policy without starting
//! any program (see docs/audit.md, "Checking a policy").
//!
//! The script is compiled, then run as a real run would run it, up to its
//! first `master:receive()`: that call ends the check instead of starting
//! the program (it raises, and so does every later call into the run, so
//! not even a `pcall` around it can go on into the master loop).  What runs before it runs for real: `require`s,
//! tables, `host.open`…  The init script, from `--init` or assigned to
//! `libc_service.init`, is compiled, not run.

use mlua::{Lua, Value};

use super::lua::message;
use super::state::Check;
use crate::exit;
use crate::launch::Init;

/// The script reached `master:receive()` at `at`: the check is over;
/// its exit code (the receive() then ends the script, see
/// `State::end`).
pub fn reached(c: Check, at: &str) -> i32 {
    verdict(c, Some(at))
}

pub(super) fn verdict(c: Check, at: Option<&str>) -> i32 {
    if let Some(init) = &c.init {
        if let Err(msg) = compile(init) {
            eprintln!("supervisor: init script syntax error: {msg}");
            return exit::INIT_SCRIPT;
        }
    }
    match at {
        Some(at) => println!(
            "{}: ok (the program would start at the first master:receive(), {at})",
            c.path
        ),
        None => println!(
            "{}: ok (returns without master:receive(): every request would be left to the \
             kernel, as use_slave_credentials)",
            c.path
        ),
    }
    0
}

/// Compiles an init script (its API is not needed to compile).
fn compile(init: &Init) -> Result<(), String> {
    let lua = Lua::new();
    lua.load(&init.source[..])
        .set_name(init.name.as_str())
        .into_function()
        .map(|_| ())
        .map_err(|e| message(&Value::Error(Box::new(e))))
}
