//! The Lua policy: `require "libc_service"` (the master end, the slave
//! filters in `slave/`) and `require "host"`, and the run of the policy
//! script.
//!
//! The script runs on the main thread until it first calls
//! `master:receive()`; that call starts the program.  A script that
//! returns without receiving leaves every request to
//! `use_slave_credentials`, after the slave filters if any.  Any Lua error
//! ends the run fail-closed: the program is killed and the run ends with
//! [`Stop::Policy`] ([`Stop::SlaveFilter`] for an error in a slave
//! filter).  When the program exits, the `master:receive()` waiting for it
//! raises (and every later call into the run too, even under a `pcall`):
//! the script unwinds and the run ends with the program's exit code.

pub mod check;
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

use crate::answer::Outcome;
use crate::audit::{Decision, Key};
use crate::launch::Prepared;
use crate::run::{Run, Stop};
use crate::session::{self, Event, Flow, Strategy};
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

/// The chunk name of [`GUARD`] (left out of the policy's locations).
const GUARD_NAME: &str = "=[guard]";

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

/// The spec's default, for a script that returned before its first
/// `master:receive()`: every call goes on in the kernel, as
/// `use_slave_credentials` (the policy's choice, by the spec), every
/// lookup to the supervisor's resolver.
struct Default;

impl Strategy for Default {
    type Out = std::convert::Infallible;
    fn event(&mut self, ev: Event) -> Result<Flow<Self::Out>, Stop> {
        match ev {
            Event::Request(p) => {
                p.audit().decide(Key::Notif(p.id), Decision::Default);
                p.answer(Outcome::Continue)
            }
            Event::Lookup(l) => {
                if let Some(k) = l.key() {
                    l.audit_decide(k, Decision::Default);
                }
                l.answer(crate::dns::Answer::Upstream)
            }
            // Only slave filters start jobs, and they do not get here.
            Event::Done(..) => {}
        }
        Ok(Flow::Next)
    }
}

/// Runs the policy at `path` for `program`; returns the exit code of the
/// program, or how the run failed.
pub fn run(path: &Path, program: Prepared, map: bpf::SyscallMap, run: Run) -> Result<i32, Stop> {
    let shared: Shared = Rc::new(RefCell::new(State::new(run, Some((program, map)))));
    let r = execute(path, &shared);
    let mut st = shared.borrow_mut();
    // How the run ended, first: the program exited, a filter failed, ...
    if let Some(stop) = st.stop.take() {
        return match stop {
            Stop::Exited(code) => Ok(code),
            s => Err(s),
        };
    }
    let lua = match r {
        Ok(lua) => lua,
        Err(e) => {
            if let Some(s) = st.session.as_mut() {
                s.kill_and_reap();
            }
            return Err(e);
        }
    };
    if let Some(p) = &st.current {
        let f = p.req.function.name();
        if let Some(s) = st.session.as_mut() {
            s.kill_and_reap();
        }
        return Err(Stop::Policy(format!(
            "error: the script returned with a request ({f}) not answered"
        )));
    }
    if let Some(s) = st.session.as_mut() {
        // The script received requests and then stopped: leaving the rest to
        // the kernel would be a silent fallback, so the run fails closed.
        s.kill_and_reap();
        return Err(Stop::Policy(
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
        return slave::serve(&lua, &shared);
    }
    // Every file call would be CONTINUEd unseen: the filter need not trap
    // them at all (with an audit trail they are trapped, for the records).
    if !st.run.audit.enabled() {
        if let Some((prog, _)) = st.program.as_mut() {
            prog.trap_sockets_only();
        }
    }
    let session = st.ensure_started()?;
    session.continue_files();
    match session::serve(|| session.next_event(), &mut Default) {
        Ok(never) => match never {},
        Err(Stop::Exited(code)) => Ok(code),
        Err(e) => Err(e),
    }
}

/// Loads and runs the policy script at `path` in a state made for
/// `shared`, until it returns (or, in a run, the program exits).  A syntax
/// or runtime error kills the program if it started.
fn execute(path: &Path, shared: &Shared) -> Result<Lua, Stop> {
    let source = std::fs::read(path).map_err(|source| Stop::PolicyRead {
        path: path.display().to_string(),
        source,
    })?;
    let lua = new_state(shared).map_err(|e| Stop::Policy(format!("set-up failed: {e}")))?;
    let chunk = lua
        .load(&source[..])
        .set_name(format!("@{}", path.display()))
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
            .filter(|l| !l.trim_start().starts_with("[C]: in function 'xpcall'"))
            .collect();
        let msg = msg.join("\n");
        if let Some(s) = shared.borrow_mut().session.as_mut() {
            s.kill_and_reap();
        }
        return Err(Stop::Policy(format!("error: {msg}")));
    }
    Ok(lua)
}
