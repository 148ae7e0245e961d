//! `supervisor check p.lua [--init FILE]`: loads a policy without starting
//! any program (see docs/audit.md, "Checking a policy").
//!
//! The script is compiled, then run as a real run would run it, up to its
//! first `master:receive()`: that call ends the check instead of starting
//! the program (it raises, and so does every later call into the run, so
//! not even a `pcall` around it can go on into the master loop).  What runs before it runs for real: `require`s,
//! tables, `host.open`…  The init script, from `--init` or assigned to
//! `libc_service.init`, is compiled, not run.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use mlua::{Lua, Value};

use super::{execute, message, Shared, State};
use crate::exit;
use crate::launch::Init;
use crate::run::{Run, Stop};

/// What a check carries until the first `master:receive()`.
pub struct Check {
    /// The init script the program would get (`--init`, replaced by an
    /// assignment to `libc_service.init`).
    pub init: Option<Init>,
    path: String,
}

/// Checks the policy at `path`; prints the verdict and returns the exit
/// code: 0 good, [`exit::POLICY`] for a policy that fails before it
/// receives, [`exit::INIT_SCRIPT`] for an init script that does not
/// compile.
pub fn check(path: &Path, init: Option<Init>) -> i32 {
    let mut st = State::new(Run::default(), None);
    st.check = Some(Check {
        init,
        path: path.display().to_string(),
    });
    let shared: Shared = Rc::new(RefCell::new(st));
    let r = execute(path, &shared);
    // The script reached master:receive(): the verdict is made.
    if let Some(Stop::Checked(code)) = shared.borrow_mut().stop.take() {
        return code;
    }
    if let Err(e) = r {
        eprintln!("supervisor: {e}");
        return exit::POLICY;
    }
    // The script returned without receiving (a receive() never returns).
    let c = shared.borrow_mut().check.take();
    match c {
        Some(c) => verdict(c, None),
        None => exit::SUPERVISOR,
    }
}

/// The script reached `master:receive()` at `at`: the check is over;
/// its exit code (the receive() then ends the script, see
/// `State::end`).
pub fn reached(c: Check, at: &str) -> i32 {
    verdict(c, Some(at))
}

fn verdict(c: Check, at: Option<&str>) -> i32 {
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
