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
pub mod device;
mod families;
pub mod host;
mod host_net;
mod init;
pub mod learning;
mod lookup;
mod lua;
mod master;
pub mod ready;
mod reply;
pub mod rules;
mod script;
mod slave;
mod source;
mod state;

use std::cell::RefCell;
use std::rc::Rc;

use crate::audit::{Decision, Key};
use crate::launch::{Init, Prepared};
use crate::run::{Run, Stop};
use crate::session::{self, Event, Flow, Strategy};
pub use libc_service::errno;
pub use lua::{location_at, lua_err, lua_err_at, message};
pub use master::Master;
use script::execute;
pub use script::new_state;
pub use source::Source;
pub use state::{Check, Shared, State};
// The reply decoders, for the fuzzing entry points.
pub(crate) use lookup::answer as lookup_answer;
pub(crate) use reply::{errno_arg, fake_stat, outcome as reply_outcome};

/// The spec's default, for a script that returned before its first
/// `master:receive()`: every call goes on in the kernel, as
/// `use_slave_credentials` (the policy's choice, by the spec), every
/// lookup to the supervisor's resolver.
struct Default;

impl Strategy for Default {
    type Out = std::convert::Infallible;
    fn event(&mut self, ev: Event) -> Result<Flow<Self::Out>, Stop> {
        match ev {
            Event::Request(mut p) => {
                p.audit().decide(Key::Notif(p.id), Decision::Default);
                let o = crate::act::continued(&mut p);
                p.answer(o)
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
pub fn run(
    source: &Source,
    program: Prepared,
    map: bpf::SyscallMap,
    run: Run,
) -> Result<i32, Stop> {
    let shared: Shared = Rc::new(RefCell::new(State::new(run, Some((program, map)))));
    run_shared(source, shared)
}

/// `supervisor learn --base`: [`run`], except that what the rules deny
/// only by a kind's default is allowed (as the program) and returned
/// ([`learning::Learnt`]); what a rule denies stays denied.
pub fn run_learning(
    source: &Source,
    program: Prepared,
    map: bpf::SyscallMap,
    run: Run,
) -> (Result<i32, Stop>, Vec<learning::Learnt>) {
    let mut st = State::new(run, Some((program, map)));
    st.learning = Some(Vec::new());
    let shared: Shared = Rc::new(RefCell::new(st));
    let r = run_shared(source, shared.clone());
    let learnt = shared.borrow_mut().learning.take().unwrap_or_default();
    (r, learnt)
}

fn run_shared(source: &Source, shared: Shared) -> Result<i32, Stop> {
    let r = execute(source, &shared);
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

/// Checks the policy at `path`; prints the verdict and returns the exit
/// code: 0 good, [`crate::exit::POLICY`] for a policy that fails before it
/// receives, [`crate::exit::INIT_SCRIPT`] for an init script that does not
/// compile.
pub fn check(source: &Source, init: Option<Init>) -> i32 {
    let mut st = State::new(Run::default(), None);
    st.check = Some(Check {
        init,
        path: source.name.clone(),
    });
    let shared: Shared = Rc::new(RefCell::new(st));
    let r = execute(source, &shared);
    // The script reached master:receive(): the verdict is made.
    if let Some(Stop::Checked(code)) = shared.borrow_mut().stop.take() {
        return code;
    }
    if let Err(e) = r {
        eprintln!("supervisor: {e}");
        return crate::exit::POLICY;
    }
    // The script returned without receiving (a receive() never returns).
    let c = shared.borrow_mut().check.take();
    match c {
        Some(c) => check::verdict(c, None),
        None => crate::exit::SUPERVISOR,
    }
}
