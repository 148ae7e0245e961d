//! `require "rules"`: declarative policies (docs/rules.md).
//!
//! ```lua
//! local rules = require "rules"
//! return rules.run {
//!   default = { read = "allow" },
//!   { "deny", "read", "$HOME/.ssh/" },
//!   { "allow", { "write", "create", "delete" }, "/tmp/" },
//! }
//! ```
//!
//! A rules table is read and checked once (`load.rs`) and compiled by the
//! Lua-free `rules` crate into matchers that run in Rust: a trie of path
//! components per kind, CIDR sets and name suffixes.  Each
//! request is decided (`decide.rs`) on what the supervisor will act on —
//! the canonical, resolved paths — and answered through the master
//! object (`use_master_credentials()`, …), its description given to the
//! audit log first (`Recorder::describe`: a `Decision::Rule`).

mod decide;
mod direct;
mod load;
#[cfg(test)]
mod tests;
mod untrap;

use std::net::IpAddr;
use std::sync::Arc;

use mlua::{
    AnyUserData, Lua, LuaString, MultiValue, ObjectLike, Table, UserData, UserDataMethods, Value,
};

pub use super::learning::{Denied, Learnt, Subject};
use super::lua::lua_err;
use super::master::Master;
use super::state::{Shared, State};
use crate::audit::Key;
pub use ::rules::Kind;
use ::rules::{Refusal, Ruleset};
use decide::{Answer, Choice};

fn refusal_name(r: Refusal) -> &'static str {
    match r {
        Refusal::Errno(e) => libc_service::errno::name(e).unwrap_or("EIO"),
        Refusal::Gai(g) => g.name(),
    }
}

/// A compiled rules policy (`rules.policy{…}`).
pub struct Policy {
    /// Shared with the serving threads (`direct::decider`).
    set: Arc<Ruleset>,
    shared: Shared,
    master: AnyUserData,
}

impl Policy {
    /// Decides the current request.
    fn choose(&self, lua: &Lua, what: &str) -> mlua::Result<Choice> {
        let mut st = self.shared.borrow_mut();
        if let Some(q) = &st.lookup {
            return Ok(decide::lookup(&self.set, &q.name));
        }
        let State {
            current, session, ..
        } = &mut *st;
        let p = current.as_mut().ok_or_else(|| {
            lua_err(
                lua,
                format!("{what}: no request (call master:receive() first)"),
            )
        })?;
        let names = |ip: IpAddr| session.as_ref().map_or_else(Vec::new, |s| s.names_of(ip));
        Ok(decide::request(&self.set, p, &names))
    }

    /// Decides and answers the current request; returns the decision's text.
    fn answer(&self, lua: &Lua) -> mlua::Result<String> {
        let mut c = self.choose(lua, "answer")?;
        {
            let mut st = self.shared.borrow_mut();
            // Learning: what only a default denies is allowed, and noted.
            if matches!(c.answer, Answer::Refuse(_))
                && !c.denied.is_empty()
                && st.learning.is_some()
            {
                let by_default = c.denied.iter().all(|d| d.rule.is_none());
                let looking_up = st.lookup.is_some();
                let (function, new, creat) = match (looking_up, st.current.as_mut()) {
                    (true, _) => ("getaddrinfo", false, false),
                    (false, Some(p)) => {
                        let new = p.resolve().is_ok_and(|rs| {
                            matches!(
                                rs.first(),
                                Some(Ok(r)) if r.last == crate::resolve::Last::Missing
                            )
                        });
                        let creat = matches!(
                            p.req.args,
                            crate::request::Args::Open { flags, .. } if flags & libc::O_CREAT != 0
                        );
                        (p.req.function.name(), new, creat)
                    }
                    (false, None) => ("?", false, false),
                };
                if let Some(l) = st.learning.as_mut() {
                    l.extend(c.denied.drain(..).map(|what| Learnt {
                        function,
                        what,
                        new,
                        creat,
                    }));
                }
                if by_default {
                    c.answer = if looking_up {
                        Answer::Master
                    } else {
                        Answer::Program
                    };
                    c.text = format!("learn: allowed beyond the base ({})", c.text);
                }
            }
            let State {
                lookup,
                current,
                run,
                ..
            } = &mut *st;
            let audit = &run.audit;
            let key = match (lookup, current.as_mut()) {
                (Some(q), _) => q.key(),
                (None, Some(p)) => {
                    decide::apply(p, c.fix);
                    let id = p.id;
                    if audit.enabled() && !p.req.paths().is_empty() {
                        if let Ok(rs) = p.resolve() {
                            let paths = rs.iter().map(|r| r.as_ref().ok().map(|r| &r.path[..]));
                            audit.resolved(id, paths);
                        }
                    }
                    Some(Key::Notif(id))
                }
                (None, None) => None,
            };
            if let Some(k) = key {
                audit.describe(k, &c.text);
            }
        }
        if direct::settle(lua, &self.shared, c.answer) {
            return Ok(c.text);
        }
        let m = &self.master;
        match c.answer {
            // A path that does not resolve fails as the call would.
            Answer::Master => m.call_method::<()>("use_master_credentials", ())?,
            Answer::Program | Answer::Fail(_) => {
                m.call_method::<()>("use_program_credentials", ())?
            }
            Answer::Slave => m.call_method::<()>("use_slave_credentials", ())?,
            Answer::Refuse(Refusal::Errno(e)) => m.call_method::<()>("send", (-1, e))?,
            Answer::Refuse(Refusal::Gai(g)) => m.call_method::<()>("send", g.name())?,
        }
        Ok(c.text)
    }
}

impl UserData for Policy {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // p:decide() → action ("allow", "deny" or "fail"), errno name (or
        // getaddrinfo error) or nil, description, how ("master"/"slave").
        m.add_method("decide", |lua, this, _master: Option<Value>| {
            let c = this.choose(lua, "decide")?;
            let (action, err, how) = match c.answer {
                Answer::Program => ("allow", None, Some("program")),
                Answer::Master => ("allow", None, Some("master")),
                Answer::Slave => ("allow", None, Some("slave")),
                Answer::Refuse(r) => ("deny", Some(refusal_name(r)), None),
                Answer::Fail(e) => ("fail", libc_service::errno::name(e), None),
            };
            Ok((action, err, c.text, how))
        });
        // p:answer() → the description of the answer it gave.
        m.add_method("answer", |lua, this, _master: Option<Value>| {
            this.answer(lua)
        });
        // p:match(kind, subject[, port]) → action, description: the rule for
        // a canonical path, an address and port, or a name (no request).
        m.add_method(
            "match",
            |lua, this, (kind, subject, port): (String, LuaString, Option<u16>)| {
                let kind = Kind::by_name(&kind)
                    .ok_or_else(|| lua_err(lua, format!("match: unknown kind {kind:?}")))?;
                let s = subject.as_bytes();
                let v = match kind {
                    Kind::Resolve => this.set.name(&String::from_utf8_lossy(&s)),
                    Kind::Connect | Kind::Bind => {
                        if let Some(p) = s.strip_prefix(b"unix:") {
                            this.set.path(kind, p)
                        } else {
                            let ip = std::str::from_utf8(&s)
                                .ok()
                                .and_then(|t| t.parse::<IpAddr>().ok())
                                .ok_or_else(|| {
                                    lua_err(lua, "match: not an address or unix:PATH".into())
                                })?;
                            this.set.addr(kind, ip, port.unwrap_or(0), &[])
                        }
                    }
                    _ => this.set.path(kind, &s),
                };
                Ok((v.action.name(), this.set.describe(&v)))
            },
        );
    }
}

/// Compiles a rules table; mistakes are Lua errors at the caller's line.
/// `run`: for `rules.run`, the only one that may leave calls untrapped.
fn compile(lua: &Lua, shared: &Shared, t: Value, run: bool) -> mlua::Result<Policy> {
    let Value::Table(t) = t else {
        return Err(lua_err(
            lua,
            format!("rules: expected a table of rules, not {}", t.type_name()),
        ));
    };
    let mut set = load::load(&t).map_err(|e| lua_err(lua, format!("rules: {e}")))?;
    set.fallback = shared.borrow().rules_fallback.clone();
    if set.untrapped && !run {
        return Err(lua_err(
            lua,
            "rules: untrapped is for rules.run (a policy's own loop may answer \
             what the rules allow)"
                .into(),
        ));
    }
    Ok(Policy {
        set: Arc::new(set),
        shared: shared.clone(),
        master: lua.create_userdata(Master(shared.clone()))?,
    })
}

/// `rules.extend(base, table)`: runs the policy `base` (a ready policy's
/// name or a file), every rules table it compiles completed by `table`'s
/// rules where it has no rule of its own (they never override one).
fn extend(lua: &Lua, shared: &Shared, base: &str, t: Value) -> mlua::Result<MultiValue> {
    let Value::Table(t) = t else {
        return Err(lua_err(
            lua,
            format!(
                "rules.extend: expected a table of rules, not {}",
                t.type_name()
            ),
        ));
    };
    let set = load::load(&t).map_err(|e| lua_err(lua, format!("rules.extend: {e}")))?;
    if set.untrapped {
        return Err(lua_err(
            lua,
            "rules.extend: untrapped is the base policy's to say".into(),
        ));
    }
    {
        let mut st = shared.borrow_mut();
        if st.rules_fallback.is_some() {
            return Err(lua_err(lua, "rules.extend: called twice".into()));
        }
        st.rules_fallback = Some(Arc::new(set));
    }
    let source = super::Source::resolve(std::path::Path::new(base))
        .map_err(|e| lua_err(lua, format!("rules.extend: {e}")))?;
    lua.load(&source.text[..])
        .set_name(format!("@{}", source.name))
        .call(())
}

/// The `rules` module.
pub fn module(lua: &Lua, shared: &Shared) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    let sh = shared.clone();
    m.set(
        "policy",
        lua.create_function(move |lua, t: Value| compile(lua, &sh, t, false))?,
    )?;
    let sh = shared.clone();
    m.set(
        "run",
        lua.create_function(move |lua, t: Value| -> mlua::Result<MultiValue> {
            let p = compile(lua, &sh, t, true)?;
            // Where the policy's decisions are recorded as made (the line
            // that called rules.run), for the serving threads' records.
            let at = super::state::caller(lua);
            if p.set.untrapped {
                untrap::apply(lua, &sh, &p.set, &at)?;
            }
            loop {
                // receive() does not return once the program has exited.
                if !direct::receive(lua, &sh, &p.set, &at)? {
                    p.master.call_method::<()>("receive", ())?;
                }
                p.answer(lua)?;
            }
        })?,
    )?;
    let sh = shared.clone();
    m.set(
        "extend",
        lua.create_function(move |lua, (base, t): (String, Value)| extend(lua, &sh, &base, t))?,
    )?;
    m.set(
        "literal",
        lua.create_function(|lua, s: LuaString| {
            let mut out = Vec::with_capacity(s.as_bytes().len() + 4);
            for &b in s.as_bytes().iter() {
                match b {
                    b'\\' | b'*' | b'?' => out.extend([b'\\', b]),
                    b'$' => out.extend(b"$$"),
                    b => out.push(b),
                }
            }
            lua.create_string(out)
        })?,
    )?;
    m.set(
        "cwd",
        lua.create_function(|lua, ()| {
            use std::os::unix::ffi::OsStrExt;
            let d = std::env::current_dir()
                .and_then(std::fs::canonicalize)
                .map_err(|e| lua_err(lua, format!("rules.cwd: {e}")))?;
            lua.create_string(d.as_os_str().as_bytes())
        })?,
    )?;
    Ok(m)
}
