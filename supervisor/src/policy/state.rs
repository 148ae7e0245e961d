//! The state of a policy's run, shared by the master object, the slave
//! filters, the rules and the runner: the run's context, the program (to
//! start, then its session), the request being decided, how the run
//! ended.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::Lua;

use super::lua::lua_err;
use super::slave::filter::Slave;
use crate::act::{self, Verdict};
use crate::answer::Lookup;
use crate::audit::{How, Key, Recorder};
use crate::launch::Prepared;
use crate::pending::Pending;
use crate::run::{Run, Stop};
use crate::session::Session;

/// What `supervisor check` carries until the first `master:receive()`.
pub struct Check {
    /// The init script the program would get (`--init`, replaced by an
    /// assignment to `libc_service.init`).
    pub init: Option<crate::launch::Init>,
    pub path: String,
}

/// The state behind the master object, shared with the runner.
pub struct State {
    /// What the whole run shares (audit, upstream, root).
    pub run: Run,
    pub program: Option<(Prepared, bpf::SyscallMap)>,
    pub session: Option<Session>,
    pub current: Option<Box<Pending>>,
    /// The name lookup being decided (`getaddrinfo`), instead of `current`.
    pub lookup: Option<Lookup>,
    /// `supervisor check`: no program; the first receive() ends the check.
    pub check: Option<Check>,
    /// The slave filters and the calls they hold (policy/slave/).
    pub slave: Slave,
    /// How the run ended, once it has (the program exited, a filter or the
    /// launch failed): every later call of the policy into the run raises
    /// again, and the runner returns it.
    pub stop: Option<Stop>,
    /// `rules.extend`: the rules completing every rules table compiled
    /// after it (where they have no rule).
    pub rules_fallback: Option<std::sync::Arc<::rules::Ruleset>>,
    /// `supervisor learn --base`: what the rules denied only by a kind's
    /// default, allowed instead and noted here (`None`: not learning).
    pub learning: Option<Vec<super::learning::Learnt>>,
}

impl State {
    /// A state for `run`, with `program` to start at the first receive().
    pub fn new(run: Run, program: Option<(Prepared, bpf::SyscallMap)>) -> State {
        State {
            run,
            program,
            session: None,
            current: None,
            lookup: None,
            check: None,
            slave: Slave::default(),
            stop: None,
            rules_fallback: None,
            learning: None,
        }
    }

    /// Starts the program if not started yet.
    pub fn ensure_started(&mut self) -> Result<&mut Session, Stop> {
        if let Some(stop) = &self.stop {
            return Err(stop.again());
        }
        if self.session.is_none() {
            let (prog, map) = self
                .program
                .take()
                .expect("program prepared before the policy runs");
            match Session::start(&prog, map, &self.run) {
                Ok(s) => self.session = Some(s),
                Err(e) => return Err(Stop::Launch(e)),
            }
        }
        Ok(self.session.as_mut().expect("started"))
    }

    /// The request being answered, for messages: `open "/etc/shadow"`,
    /// `connect_inet 10.0.0.1 443`, `getaddrinfo "example.org"`.
    pub fn answering(&self) -> Option<String> {
        if let Some(l) = &self.lookup {
            return Some(format!("getaddrinfo {:?}", l.name));
        }
        let p = self.current.as_ref()?;
        let mut text = p.req.function.name().to_string();
        for a in p.req.paths() {
            text.push_str(&format!(" {:?}", String::from_utf8_lossy(&a.path)));
        }
        if let crate::request::Args::Socket { addr, .. } = &p.req.args {
            use crate::request::net::NetAddr;
            match addr {
                NetAddr::Inet(a) => text.push_str(&format!(" {a}")),
                NetAddr::Inet6(a) => text.push_str(&format!(" {a}")),
                NetAddr::Unix(n) if addr.is_abstract() => {
                    text.push_str(&format!(" @{:?}", String::from_utf8_lossy(&n[1..])))
                }
                // A path: given above.
                NetAddr::Unix(_) => {}
            }
        }
        Some(text)
    }

    pub fn started(&self) -> bool {
        self.session.is_some()
    }

    /// The run ends with `stop`: the program (if started) is killed unless
    /// it already ended; the Lua error that unwinds the policy.
    pub fn end(&mut self, lua: &Lua, stop: Stop) -> mlua::Error {
        if !matches!(stop, Stop::Exited(_) | Stop::Checked(_)) {
            if let Some(s) = self.session.as_mut() {
                s.kill_and_reap();
            }
        }
        let e = ended(lua, &stop);
        self.stop.get_or_insert(stop);
        e
    }

    /// Answers the current request `p` with verdict `v`, decided by the
    /// policy's `how` (for the audit log).
    pub fn settle(&mut self, lua: &Lua, mut p: Box<Pending>, how: How, v: Verdict) {
        decided(lua, p.audit(), Some(Key::Notif(p.id)), how);
        let o = act::carry_out(&mut p, v);
        p.answer(o);
    }
}

/// The Lua error that unwinds a policy once its run has ended (`stop`).
fn ended(lua: &Lua, stop: &Stop) -> mlua::Error {
    let text = match stop {
        Stop::Exited(_) => "the program has exited".to_string(),
        Stop::Checked(_) => "the check is over".to_string(),
        other => other.to_string(),
    };
    lua_err(lua, format!("the run is over: {text}"))
}

pub type Shared = Rc<RefCell<State>>;

/// Records who answers the current request, and how, for the audit log.
pub fn decided(lua: &Lua, audit: &Recorder, key: Option<Key>, how: How) {
    if let Some(key) = key {
        audit.decided(key, how, || caller(lua));
    }
}

/// The Lua `source:line` that called the running method (`p.lua:12`): the
/// nearest Lua frame (past a `pcall`).
pub fn caller(lua: &Lua) -> String {
    for level in 1..16 {
        let at = lua.inspect_stack(level, |d| {
            let line = d.current_line()?;
            let src = d.source().source?;
            // The guard around pcall (script.rs) is not the policy's.
            if src.starts_with(super::lua::GUARD_NAME) {
                return None;
            }
            Some(format!("{}:{line}", src.strip_prefix('@').unwrap_or(&src)))
        });
        match at {
            None => break,
            Some(Some(at)) => return at,
            Some(None) => continue,
        }
    }
    "?".into()
}
