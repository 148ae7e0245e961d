//! `rules.run`'s loop served in Rust: a rules decision needs no Lua round.
//!
//! `rules.run` is the policy's whole loop, so the loop need not go through
//! the Lua method calls `master:receive()` and `master:use_…()` (a method
//! lookup, argument conversion and a userdata borrow each).  It takes the
//! same steps on the shared state directly: the next event from the
//! session ([`receive`]), the rules' choice, and the answer through
//! `State::settle`, as the master's methods do ([`settle`]).  Whatever the
//! direct path does not cover — slave filters, `supervisor check`, a
//! lookup, a forwarded call — goes through the master's Lua methods as
//! before, so the behaviour is the same.
//!
//! With no slave filter and no learning, every request is decided on the
//! rule set alone, so more threads may serve them: [`decider`] is the
//! decision the session's serving threads run (`session::serving`), the
//! same steps as [`settle`] with no Lua at all.

use std::sync::Arc;

use mlua::Lua;
use nix::errno::Errno;

use super::super::master::{Item, ToPolicy};
use super::super::slave;
use super::super::state::Shared;
use super::decide::{self, Answer};
use crate::act::{self, Verdict};
use crate::audit::{How, Key};
use crate::pending::Pending;
use crate::request::Args;
use crate::session::{self, Decide};
use ::rules::{Refusal, Ruleset};

/// `master:receive()` without the Lua call: `Ok(false)` when this state
/// needs the master's own method (slave filters, a check, an unanswered
/// request, the state in use).  Once the program runs, and unless
/// learning, the requests of `set` are served on more threads too
/// ([`decider`]; `at`: the policy's line, for the audit log).
pub(super) fn receive(
    lua: &Lua,
    shared: &Shared,
    set: &Arc<Ruleset>,
    at: &str,
) -> mlua::Result<bool> {
    let Ok(mut st) = shared.try_borrow_mut() else {
        return Ok(false);
    };
    if st.current.is_some() || st.lookup.is_some() || st.check.is_some() || slave::has_filters(&st)
    {
        return Ok(false);
    }
    let learning = st.learning.is_some();
    let next = match st.ensure_started() {
        Ok(s) => {
            if !learning {
                s.serve_on_threads(|| decider(set.clone(), at.to_string()));
            }
            session::serve(|| s.next_event(), &mut ToPolicy)
        }
        Err(stop) => Err(stop),
    };
    match next {
        Ok(Item::Call(p)) => st.current = Some(p),
        Ok(Item::Lookup(l)) => st.lookup = Some(l),
        // The program is gone (or the run failed): the run is over.
        Err(stop) => return Err(st.end(lua, stop)),
    }
    Ok(true)
}

/// The master's answer for `answer`, as its Lua method would give it
/// (`use_master_credentials()`, `use_program_credentials()`,
/// `use_slave_credentials()`, `send(-1, errno)`).
fn verdict(answer: Answer) -> Option<(How, Verdict)> {
    Some(match answer {
        Answer::Master => (How::Master, Verdict::Perform),
        // A path that does not resolve fails as the call would.
        Answer::Program | Answer::Fail(_) => (How::Program, Verdict::AsProgram),
        Answer::Slave => (How::Slave, Verdict::Kernel),
        Answer::Refuse(Refusal::Errno(e)) if e > 0 && e < 4096 => {
            (How::Send, Verdict::Fail(Errno::from_raw(e)))
        }
        Answer::Refuse(_) => return None,
    })
}

/// Answers the current request (a call of the program, not forwarded by
/// a filter) with `answer` without the Lua call; `false` when the master's
/// method must do it.
pub(super) fn settle(lua: &Lua, shared: &Shared, answer: Answer) -> bool {
    let Some((how, v)) = verdict(answer) else {
        return false;
    };
    let Ok(mut st) = shared.try_borrow_mut() else {
        return false;
    };
    if st.lookup.is_some() || slave::forwarded(&st) {
        return false;
    }
    let Some(p) = st.current.take() else {
        return false;
    };
    st.settle(lua, p, how, v);
    true
}

/// The rules' decision on a serving thread: decides `p` on `set` and
/// answers it as [`settle`] would (its description, paths and decision
/// recorded first, `at` as the policy's line), or gives it back to the
/// main thread when the answer needs it (a socket call: the names of
/// addresses; a refusal that is no errno).
pub(super) fn decider(set: Arc<Ruleset>, at: String) -> Arc<Decide> {
    Arc::new(move |mut p: Box<Pending>| {
        if matches!(p.req.args, Args::Socket { .. } | Args::Exec { .. }) {
            return Some(p);
        }
        let c = decide::request(&set, &mut p, &|_| Vec::new());
        let Some((how, v)) = verdict(c.answer) else {
            return Some(p);
        };
        let audit = p.audit().clone();
        decide::apply(&mut p, c.fix);
        let (id, key) = (p.id, Key::Notif(p.id));
        if audit.enabled() {
            if !p.req.paths().is_empty() {
                if let Ok(rs) = p.resolve() {
                    let paths = rs.iter().map(|r| r.as_ref().ok().map(|r| &r.path[..]));
                    audit.resolved(id, paths);
                }
            }
            audit.describe(key, &c.text);
            audit.decided(key, how, || at.clone());
        }
        let o = act::carry_out(&mut p, v);
        p.answer(o);
        None
    })
}
