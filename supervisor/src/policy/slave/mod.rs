//! `libc_service.slave`: per-function Lua filters in front of the master
//! (`../shared/spec/libc_service.slave.txt`; docs/slave.md).
//!
//! `slave.open = function(real_open, path, flags, mode) … end` (or a
//! string holding a Lua chunk) is set before the program starts.  Every
//! `open` request then runs the filter in the policy's Lua state before
//! the master sees anything.  With a master loop the filter runs in a
//! coroutine: `real_open(…)` checks its arguments like the program's own
//! and yields, the (possibly rewritten) request goes to the master, whose
//! `master:receive()` returns it, and the master's answer resumes the
//! filter with the result instead of reaching the program.  Without a
//! master loop the filter is simply called, and `real_open` given the
//! program's own arguments returns `kernel`: returned by the filter, the
//! program's call goes on (use_slave_credentials).  The filter's return
//! value is the program's result.  Any error in a filter ends the run
//! ([`crate::exit::SLAVE_FILTER`]), the call getting an errno.
//!
//! Files: `drive.rs` runs the filters (coroutines, forwarding, waiting),
//! `args.rs` the arguments both ways, `values.rs` results both ways,
//! `env.rs` what filters see (the `C` table, a chunk's globals).

mod args;
mod drive;
mod env;
pub mod filter;
mod values;

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::lua::{lua_err, message};
use super::state::{Shared, State};
use crate::request::Function as Call;

pub use drive::{receive, reply, serve};
pub use filter::{a_type, name_of, Filter};
pub use values::MasterReply;

/// Are any filters installed?
pub fn has_filters(st: &State) -> bool {
    st.slave.filters.iter().any(Option::is_some)
}

/// Is the master's current request one a filter forwarded (its answer goes
/// to the filter, not to the program)?
pub fn forwarded(st: &State) -> bool {
    st.slave.with_master.is_some() && st.slave.ready.is_none()
}

/// The `real_X` functions, the placeholder `kernel`, and `direct`, which
/// runs a filter with no master loop.
///
/// `real_X(…)` stands for the call going on: `kernel`, a placeholder for
/// the kernel's result, when the call goes on to the kernel as the program
/// made it (use_slave_credentials); returning `kernel` from the filter lets
/// the program's call go on, and nothing can look inside it.  Without a
/// master loop, `direct` keeps the program's arguments in upvalues and a
/// real function given exactly those returns `kernel` with no call into
/// Rust: the fast path.  Otherwise it calls `prepare`, which checks the
/// arguments (a Lua error for a wrong type) and says what to do: 0, return
/// the values that follow (the errno for arguments the kernel would
/// refuse); 1, yield to the driver until the master's answer comes; 2,
/// return `kernel`.
const REAL: &str = r##"
local prepare, yield = ...
local rawequal, setmetatable, error = rawequal, setmetatable, error
local kernel
local fast, o1, o2, o3, o4, o5, o6 = false
local function finish(how, ...)
  if how == 0 then return ... end
  if how == 2 then return kernel end
  return yield()
end
local function unseen()
  error("the result of a call left to the kernel (use_slave_credentials, or no master " ..
        "loop) is not the filter's to see: return it as it is", 2)
end
kernel = setmetatable({}, {
  __index = unseen, __newindex = unseen, __call = unseen, __len = unseen,
  __unm = unseen, __add = unseen, __sub = unseen, __mul = unseen, __div = unseen,
  __mod = unseen, __pow = unseen, __idiv = unseen, __band = unseen, __bor = unseen,
  __bxor = unseen, __shl = unseen, __shr = unseen, __bnot = unseen,
  __concat = unseen, __lt = unseen, __le = unseen, __close = unseen,
  __tostring = function() return "kernel" end,
  __name = "kernel",
  __metatable = false,
})
-- true when the filter returned kernel (and no errno), else false and
-- what it returned.
local function done(r, e, ...)
  fast = false
  if rawequal(r, kernel) and (e == nil or e == 0) then return true end
  return false, r, e, ...
end
local function direct(filter, real, ...)
  o1, o2, o3, o4, o5, o6 = ...
  fast = true
  return done(filter(real, ...))
end
local function factory(slot)
  return function(...)
    if fast then
      -- Arguments past the program's are nil on both sides.
      local a1, a2, a3, a4, a5, a6 = ...
      -- The first argument is never a table (a path, an fd, a name): ==
      -- calls no metamethod there.
      if a1 == o1 and rawequal(a2, o2) and rawequal(a3, o3) then
        if o4 == nil and a4 == nil and a5 == nil and a6 == nil then
          return kernel
        end
        if rawequal(a4, o4) and rawequal(a5, o5) and rawequal(a6, o6) then
          return kernel
        end
      end
    end
    return finish(prepare(slot, ...))
  end
end
return kernel, direct, factory
"##;

/// Installs `libc_service.slave` and the policy's global `C`.
pub fn install(lua: &Lua, svc: &Table, shared: &Shared) -> mlua::Result<()> {
    let sh = shared.clone();
    let prepare = lua.create_function(move |lua, (slot, a): (usize, MultiValue)| {
        drive::prepare(lua, &sh, slot, a)
    })?;
    let g = lua.globals();
    let coroutine: Table = g.get("coroutine")?;
    let yield_fn: Function = coroutine.get("yield")?;
    let (kernel, direct, factory): (Table, Function, Function) = lua
        .load(REAL)
        .set_name("=[real function]")
        .call((prepare, yield_fn))?;
    {
        let mut st = shared.borrow_mut();
        st.slave.kernel = Some(kernel);
        st.slave.direct = Some(Rc::new(direct));
        st.slave.filters = vec![None; Call::ALL.len()];
        st.slave.reals = (0..Call::ALL.len())
            .map(|i| factory.call::<Function>(i))
            .collect::<mlua::Result<_>>()?;
    }
    g.set("C", env::c_table(lua, shared, None)?)?;
    g.set("errexit", false)?;

    let handle = lua.create_table()?;
    let store = lua.create_table()?;
    let meta = lua.create_table()?;
    let (sh, st) = (shared.clone(), store.clone());
    meta.set(
        "__newindex",
        lua.create_function(move |lua, (_t, k, v): (Table, Value, Value)| {
            assign(lua, &sh, &st, k, v)
        })?,
    )?;
    meta.set(
        "__index",
        lua.create_function(move |_, (_t, k): (Table, Value)| store.raw_get::<Value>(k))?,
    )?;
    meta.set("__metatable", false)?;
    handle.set_metatable(Some(meta))?;
    svc.raw_set("slave", handle)
}

const WHAT: &str = "libc_service.slave";

/// `libc_service.slave[k] = v`.
fn assign(lua: &Lua, shared: &Shared, store: &Table, k: Value, v: Value) -> mlua::Result<()> {
    let key = k.as_string().map(|s| s.to_string_lossy());
    let Some(slot) = key.as_deref().and_then(Call::by_name).map(Call::slot) else {
        let shown = match &k {
            Value::String(s) => format!("{:?}", s.to_string_lossy()),
            other => format!("(a {})", other.type_name()),
        };
        return Err(lua_err(
            lua,
            format!(
                "{WHAT}: unknown function {shown} (known: {})",
                Call::ALL.map(Call::name).join(", ")
            ),
        ));
    };
    let name = name_of(slot);
    let func = match &v {
        Value::Nil => None,
        Value::Function(f) => Some(f.clone()),
        Value::String(src) => {
            let env = env::chunk_env(lua, shared)?;
            let f = lua
                .load(src.as_bytes().to_vec())
                .set_name(format!("=[slave.{name}]"))
                .set_environment(env)
                .into_function()
                .map_err(|e| {
                    lua_err(
                        lua,
                        format!(
                            "{WHAT}.{name}: the chunk does not compile: {}",
                            message(&Value::Error(Box::new(e)))
                        ),
                    )
                })?;
            Some(f)
        }
        other => {
            return Err(lua_err(
                lua,
                format!(
                    "{WHAT}.{name} must be a function or a string holding a Lua chunk, not {}",
                    a_type(other)
                ),
            ))
        }
    };
    let mut st = shared.borrow_mut();
    if st.started() {
        return Err(lua_err(
            lua,
            format!(
                "{WHAT}.{name}: the program has already started; set filters before the \
                 first master:receive()"
            ),
        ));
    }
    let real = st.slave.reals[slot].clone();
    st.slave.filters[slot] = func.map(|func| Rc::new(Filter { slot, func, real }));
    drop(st);
    store.raw_set(name, v)
}

#[cfg(test)]
mod tests;
