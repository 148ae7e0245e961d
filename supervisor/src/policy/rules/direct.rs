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

use mlua::Lua;
use nix::errno::Errno;

use super::super::master::Item;
use super::super::slave;
use super::super::state::Shared;
use super::decide::Answer;
use crate::act::Verdict;
use crate::audit::How;
use crate::run::Stop;
use crate::session::{self, Event, Flow, Strategy};
use ::rules::Refusal;

/// Every request and lookup to the rules (no slave filters: those go
/// through `master:receive()`).
struct ToRules;

impl Strategy for ToRules {
    type Out = Item;
    fn event(&mut self, ev: Event) -> Result<Flow<Item>, Stop> {
        Ok(match ev {
            Event::Request(p) => Flow::Yield(Item::Call(p)),
            Event::Lookup(l) => Flow::Yield(Item::Lookup(l)),
            // Only slave filters start jobs.
            Event::Done(..) => Flow::Next,
        })
    }
}

/// `master:receive()` without the Lua call: `Ok(false)` when this state
/// needs the master's own method (slave filters, a check, an unanswered
/// request, the state in use).
pub(super) fn receive(lua: &Lua, shared: &Shared) -> mlua::Result<bool> {
    let Ok(mut st) = shared.try_borrow_mut() else {
        return Ok(false);
    };
    if st.current.is_some() || st.lookup.is_some() || st.check.is_some() || slave::has_filters(&st)
    {
        return Ok(false);
    }
    let next = match st.ensure_started() {
        Ok(s) => session::serve(|| s.next_event(), &mut ToRules),
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
