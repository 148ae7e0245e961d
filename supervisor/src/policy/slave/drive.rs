//! Running the filters: one coroutine per filtered call, driven from the
//! request loop — inside `master:receive()` with a master loop, or by
//! [`serve`] without one.
//!
//! With a master loop, a filter runs in a coroutine until it returns (its
//! values answer the call), errors (the run ends), or calls its real
//! function, which yields: the call goes to the master (`receive()`
//! returns it next) and the master's answer, through [`reply`], resumes
//! the filter with the result.  A result that takes time (a blocking open
//! or connect, a lookup upstream) comes back as a job: the filter waits
//! without holding up other requests.
//!
//! Without a master loop, a file or socket call's filter is simply called:
//! its real function, given the program's own arguments, returns the
//! placeholder `kernel` (use_slave_credentials, the default) and the
//! filter returning it lets the call go on — the fast path, with no
//! coroutine and no call back into Rust.  A getaddrinfo filter still runs
//! in a coroutine: its real function waits for the supervisor's resolver.
//!
//! The run's state is a `RefCell`: it is never borrowed while Lua code
//! runs (a filter, or metamethods of the tables it returns).

use std::net::SocketAddr;
use std::rc::Rc;

use mlua::thread::ThreadStatus;
use mlua::{Lua, MultiValue, Value};
use nix::errno::Errno;

use super::args::{self, FilterArgs};
use super::filter::Rewritten;
use super::filter::{slot, Filter, Invocation, Item, GETADDRINFO};
use super::values::{self, MasterReply, Next};
use crate::act;
use crate::answer::Outcome;
use crate::dns::{Answer, GaiError};
use crate::jobs::{Done, Job};
use crate::policy::lua::{location_at, lua_err, lua_err_at, message};
use crate::policy::state::{Shared, State};
use crate::run::Stop;
use crate::session::{self, Event, Flow, Strategy};

/// Finished coroutines kept for reuse.
const POOL: usize = 8;

/// What `real_X` does next (see `REAL` in mod.rs).
const NOW: i64 = 0;
const FORWARD: i64 = 1;
const KERNEL: i64 = 2;

/// The name of the real function of `slot`, as the spec's filters call it.
pub(super) fn real_name(slot: usize) -> &'static str {
    crate::request::Function::of_slot(slot).map_or("real_?", |f| f.row().real)
}

/// `real_X(…)` past its fast path: checks the arguments; returns what the
/// real function does next (`REAL` in mod.rs): [`FORWARD`] (the rewritten
/// call is recorded, the coroutine yields), [`KERNEL`], or [`NOW`] and
/// the values to return (the errno for arguments the kernel would refuse).
pub fn prepare(lua: &Lua, shared: &Shared, slot: usize, a: MultiValue) -> mlua::Result<MultiValue> {
    let (filter, thread, master_loop) = {
        let st = shared.borrow();
        match &st.slave.running {
            Some(inv) if inv.filter.slot == slot => (
                inv.filter.clone(),
                inv.thread.as_ref().map(|t| t.to_pointer()),
                st.slave.master_loop,
            ),
            // The caller is at level 2, behind the wrapper.
            Some(inv) => {
                return Err(lua_err_at(
                    lua,
                    2,
                    format!(
                        "{}: called from the slave.{} filter",
                        real_name(slot),
                        inv.filter.name()
                    ),
                ))
            }
            None => {
                return Err(lua_err_at(
                    lua,
                    2,
                    format!(
                        "{}: called outside its filter (it works only while the filter runs \
                         for a call)",
                        real_name(slot)
                    ),
                ))
            }
        }
    };
    // Located at the filter's line (it called this through the wrapper);
    // after a tail call, where the filter is defined.
    let err = |msg: String| {
        let at = location_at(lua, 2).unwrap_or_else(|| filter.defined_at());
        mlua::Error::RuntimeError(format!("{at}: {}: {msg}", real_name(slot)))
    };
    // A forwarded call must suspend the filter's own coroutine.  (Without
    // a master loop a file call is answered here: nothing is suspended.)
    if thread.is_some_and(|t| t != lua.current_thread().to_pointer()) {
        return Err(err(
            "called from a coroutine the filter made; call it from the filter itself".into(),
        ));
    }
    let given = args::given(slot, a, &err)?;
    let mut st = shared.borrow_mut();
    let Some(inv) = st.slave.running.as_mut() else {
        return Err(err("the call is not held".into()));
    };
    if !master_loop {
        if let Some(Item::Call(p)) = &inv.item {
            if args::same_call(&p.req, &given) {
                // The default, use_slave_credentials: the program's own
                // call goes on if the filter returns `kernel`.
                return Ok(MultiValue::from_vec(vec![Value::Integer(KERNEL)]));
            }
        }
    }
    let rw = match inv.item.as_mut() {
        Some(Item::Call(p)) => match args::rewrite_call(p, given) {
            Ok(rw) => rw,
            Err(e) => {
                return Ok(MultiValue::from_vec(vec![
                    Value::Integer(NOW),
                    Value::Integer(-1),
                    Value::Integer(e as i64),
                ]))
            }
        },
        Some(Item::Lookup(q)) => match args::rewrite_lookup(q, given) {
            Some(rw) => rw,
            None => {
                return Ok(MultiValue::from_vec(vec![
                    Value::Integer(NOW),
                    Value::String(lua.create_string("noname")?),
                ]))
            }
        },
        None => return Err(err("the call is not held".into())),
    };
    if !master_loop && matches!(rw, Rewritten::Call { .. }) {
        return Err(err(
            "the filter changed the call's arguments, but with no master loop the call is left \
             to the kernel (use_slave_credentials), which would perform the program's own \
             arguments; answer changed calls in a master loop (e.g. with \
             master:use_master_credentials())"
                .into(),
        ));
    }
    st.slave.prepared = Some(rw);
    Ok(MultiValue::from_vec(vec![Value::Integer(FORWARD)]))
}

/// The message of an error raised in a filter, with its traceback (the
/// frames of the real functions' wrapper left out: noise to the author).
fn error_text(e: &mlua::Error) -> String {
    let text = match e {
        mlua::Error::CallbackError { traceback, cause } => {
            let m = message(&Value::Error(Box::new((**cause).clone())));
            format!("{m}\n{traceback}")
        }
        mlua::Error::RuntimeError(s) => s.clone(),
        other => message(&Value::Error(Box::new(other.clone()))),
    };
    let mut out: Vec<&str> = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        let noise = t.starts_with("[real function]:")
            || t == "[C]: in upvalue 'prepare'"
            || t == "[C]: in ?"
            // The message handler, called as the failing metamethod.
            || (t.starts_with("[C]: in metamethod") && out.last() == Some(&"stack traceback:"));
        if !noise {
            out.push(l);
        }
    }
    out.join("\n")
}

/// Ends the run because of a filter: the call it held fails (`EPERM`; a
/// lookup `"fail"`), the program is killed, and the run's end is recorded
/// (the loops driving filters return it).
fn fail(shared: &Shared, mut inv: Invocation, msg: String) {
    match inv.item.take() {
        Some(Item::Call(p)) => p.answer(Outcome::Fail(Errno::EPERM)),
        Some(Item::Lookup(q)) => q.answer(Answer::Error(GaiError::Fail)),
        None => {}
    }
    stop(shared, Stop::SlaveFilter(msg));
}

/// Records how the run ends (the first end counts) and kills the program.
fn stop(shared: &Shared, stop: Stop) {
    let Ok(mut st) = shared.try_borrow_mut() else {
        // Never: every caller releases the state first.  Should it happen,
        // the run must not go on without its end recorded: fail closed
        // (the keeper's death signal ends the program with us).
        eprintln!("supervisor: {stop} (while the run's state was in use)");
        std::process::abort();
    };
    if let Some(s) = st.session.as_mut() {
        s.kill_and_reap();
    }
    st.stop.get_or_insert(stop);
}

/// The run's end, if it has ended.
fn ended(shared: &Shared) -> Option<Stop> {
    shared.borrow().stop.as_ref().map(Stop::again)
}

fn recycle(st: &mut State, inv: Invocation) {
    if let Some(t) = inv.thread {
        if st.slave.pool.len() < POOL {
            st.slave.pool.push(t);
        }
    }
}

/// Waits for `job`; its result resumes `inv` (see [`resume_waiting`]).
fn wait(st: &mut State, inv: Invocation, job: Job) {
    let token = st.slave.next_token;
    st.slave.next_token += 1;
    st.slave.waiting.insert(token, inv);
    let r = st.ensure_started().and_then(|s| s.spawn_job(token, job));
    if let Err(e) = r {
        st.stop.get_or_insert(e);
    }
}

/// The upstream name server of the supervisor's resolver.
fn upstream(st: &mut State) -> Option<SocketAddr> {
    st.ensure_started().ok().and_then(|s| s.dns_upstream())
}

/// A lookup of `name` by the supervisor's resolver.
fn resolve_job(upstream: Option<SocketAddr>, name: String) -> Job {
    Box::new(move || {
        Done::Lookup(match upstream {
            Some(u) => crate::dns::resolve::lookup(u, &name),
            None => Err(GaiError::Again),
        })
    })
}

/// Runs `filter` for `item`.
fn start(lua: &Lua, shared: &Shared, filter: Rc<Filter>, item: Item) {
    // Without a master loop a file or socket call's filter is called
    // directly; otherwise it runs in a coroutine, which can wait.
    let coroutine = {
        let st = shared.borrow();
        st.slave.master_loop || matches!(item, Item::Lookup(_))
    };
    let thread = if coroutine {
        let pooled = shared.borrow_mut().slave.pool.pop();
        // Resetting closes what a finished or abandoned run left (its
        // to-be-closed variables), with no borrow held.
        match pooled.map(|t| t.reset(filter.func.clone()).map(|_| t)) {
            Some(Ok(t)) => Ok(Some(t)),
            _ => lua.create_thread(filter.func.clone()).map(Some),
        }
    } else {
        Ok(None)
    };
    let args = match &item {
        Item::Call(p) => args::of_call(lua, p),
        Item::Lookup(q) => args::of_lookup(lua, q),
    };
    let mut inv = Invocation {
        filter,
        thread: None,
        item: Some(item),
        original: None,
        original_name: None,
        changed: false,
    };
    match (thread, args) {
        (Ok(thread), Ok(args)) => {
            inv.thread = thread;
            drive(shared, inv, Run::Start(args))
        }
        (Err(e), _) | (_, Err(e)) => {
            let msg = format!("cannot start slave.{}: {e}", inv.filter.name());
            fail(shared, inv, msg)
        }
    }
}

/// How a filter runs: from the start with the call's arguments (its real
/// function is put first), or resumed with its real function's result.
enum Run {
    Start(args::FilterArgs),
    Resume(MultiValue),
}

/// Runs (or resumes) `inv`'s filter and acts on what it does.
fn drive(shared: &Shared, inv: Invocation, run: Run) {
    let thread = inv.thread.clone();
    let filter = inv.filter.clone();
    let direct = {
        let mut st = shared.borrow_mut();
        let direct = match thread {
            None => st.slave.direct.clone(),
            Some(_) => None,
        };
        st.slave.prepared = None;
        st.slave.running = Some(inv);
        direct
    };
    let mut went_on = false;
    let r = match (&thread, run, direct) {
        (Some(t), Run::Start(FilterArgs::Path(p)), _) => t.resume((&filter.real, p)),
        (Some(t), Run::Start(FilterArgs::List(a)), _) => t.resume((&filter.real, a)),
        (Some(t), Run::Resume(a), _) => t.resume::<MultiValue>(a),
        // No master loop: `direct` says `true` when the filter returned
        // `kernel` (see REAL), else `false` and the filter's values.
        (None, Run::Start(a), Some(d)) => match a {
            FilterArgs::Path(p) => d.call::<(bool, MultiValue)>((&filter.func, &filter.real, p)),
            FilterArgs::List(a) => d.call::<(bool, MultiValue)>((&filter.func, &filter.real, a)),
        }
        .map(|(kernel, v)| {
            went_on = kernel;
            v
        }),
        (None, _, _) => Err(mlua::Error::RuntimeError(
            "a filter without a coroutine cannot be resumed".into(),
        )),
    };
    let (inv, prepared) = {
        let mut st = shared.borrow_mut();
        (st.slave.running.take(), st.slave.prepared.take())
    };
    let Some(inv) = inv else {
        return stop(shared, Stop::SlaveFilter("a filter's call was lost".into()));
    };
    let status = thread.map_or(ThreadStatus::Finished, |t| t.status());
    match r {
        Err(e) => fail(shared, inv, error_text(&e)),
        Ok(_) if went_on => continue_call(shared, inv),
        Ok(vals) => match status {
            ThreadStatus::Resumable => match prepared {
                Some(rw) => forward(shared, inv, rw),
                None => {
                    let msg = format!(
                        "{}: slave.{} yielded outside its real function (a filter can only wait \
                         in {})",
                        inv.filter.defined_at(),
                        inv.filter.name(),
                        real_name(inv.filter.slot)
                    );
                    fail(shared, inv, msg)
                }
            },
            _ => finish(shared, inv, vals),
        },
    }
}

/// Ends a filter whose call is gone: it is left suspended (its coroutine
/// is closed when reused).
fn abandon(shared: &Shared, mut inv: Invocation) {
    inv.item = None;
    recycle(&mut shared.borrow_mut(), inv);
}

/// The master let a forwarded call go on to the kernel: the filter's real
/// function returns the placeholder `kernel`.
fn went_on(shared: &Shared, inv: Invocation) {
    let kernel = shared.borrow().slave.kernel.clone();
    drive(
        shared,
        inv,
        Run::Resume(MultiValue::from_vec(vec![
            kernel.map_or(Value::Nil, Value::Table)
        ])),
    )
}

/// The filter called its real function: the call goes to the master, or
/// gets the default answer.
fn forward(shared: &Shared, mut inv: Invocation, rw: Rewritten) {
    let mut st = shared.borrow_mut();
    let master_loop = st.slave.master_loop;
    if master_loop && (st.slave.ready.is_some() || st.slave.with_master.is_some()) {
        drop(st);
        return fail(shared, inv, "two forwarded calls at once".into());
    }
    match (inv.item.take(), rw) {
        (Some(Item::Call(mut p)), Rewritten::Call { req, sock, changed }) => {
            inv.changed = changed;
            inv.original = Some(p.replace_request(req));
            if let Some(s) = sock {
                p.sock = Some(s);
            }
            if master_loop {
                st.slave.ready = Some(Item::Call(p));
                st.slave.with_master = Some(inv);
            } else {
                // prepare answers these itself.
                inv.item = Some(Item::Call(p));
                drop(st);
                fail(shared, inv, "a call forwarded with no master loop".into())
            }
        }
        (Some(Item::Lookup(mut q)), Rewritten::Lookup { name, changed }) => {
            inv.changed = changed;
            if master_loop {
                inv.original_name = Some(std::mem::replace(&mut q.name, name));
                st.slave.ready = Some(Item::Lookup(q));
                st.slave.with_master = Some(inv);
            } else {
                // The default: the supervisor's resolver.
                inv.item = Some(Item::Lookup(q));
                let upstream = upstream(&mut st);
                wait(&mut st, inv, resolve_job(upstream, name));
            }
        }
        (item, _) => {
            inv.item = item;
            drop(st);
            fail(shared, inv, "a forwarded call of the wrong kind".into())
        }
    }
}

/// The filter returned `kernel`: the program's own call goes on.
fn continue_call(shared: &Shared, mut inv: Invocation) {
    match inv.item.take() {
        Some(Item::Call(mut p)) => {
            let o = crate::act::continued(&mut p);
            p.answer(o)
        }
        item => {
            inv.item = item;
            return fail(shared, inv, "kernel for a call that cannot go on".into());
        }
    }
    recycle(&mut shared.borrow_mut(), inv);
}

/// The filter returned: its values answer the program's call.
fn finish(shared: &Shared, mut inv: Invocation, vals: MultiValue) {
    let kernel = {
        let st = shared.borrow();
        values::is_kernel(&vals, st.slave.kernel.as_ref())
    };
    if let Some(extra) = kernel {
        if let (Some(Item::Call(_)), None) = (&inv.item, &extra) {
            return continue_call(shared, inv);
        }
        let msg = format!(
            "{}: slave.{} returned kernel {}",
            inv.filter.defined_at(),
            inv.filter.name(),
            extra.unwrap_or_else(|| "for a name lookup (kernel stands for a file or socket \
                 call's result)"
                .into())
        );
        return fail(shared, inv, msg);
    }
    match inv.item.take() {
        Some(Item::Call(mut p)) => match values::call_result(&p, &inv.filter, vals) {
            Ok(v) => {
                let o = act::carry_out(&mut p, v);
                p.answer(o);
                recycle(&mut shared.borrow_mut(), inv);
            }
            Err(msg) => {
                inv.item = Some(Item::Call(p));
                fail(shared, inv, msg)
            }
        },
        Some(Item::Lookup(q)) => match values::lookup_result(&inv.filter, vals) {
            Ok(a) => {
                q.answer(a);
                recycle(&mut shared.borrow_mut(), inv);
            }
            Err(msg) => {
                inv.item = Some(Item::Lookup(q));
                fail(shared, inv, msg)
            }
        },
        None => fail(shared, inv, "a filter's call was lost".into()),
    }
}

/// A job finished: resumes the filter waiting for it.
fn resume_waiting(lua: &Lua, shared: &Shared, token: u64, done: Done) {
    let Some(inv) = shared.borrow_mut().slave.waiting.remove(&token) else {
        return;
    };
    let vals = match done {
        Done::Outcome(o) => values::of_outcome(lua, o),
        Done::Lookup(r) => values::of_resolved(lua, r).map(Some),
    };
    match vals {
        Ok(Some(v)) => drive(shared, inv, Run::Resume(v)),
        // The call is gone: so is the filter's work.
        Ok(None) => abandon(shared, inv),
        Err(e) => fail(shared, inv, e.to_string()),
    }
}

/// Makes `item` the master's current request; its `function_`.
fn make_current(st: &mut State, item: Item) -> &'static str {
    match item {
        Item::Call(p) => {
            let f = p.req.function.name();
            st.current = Some(p);
            f
        }
        Item::Lookup(l) => {
            st.lookup = Some(l);
            crate::request::Function::Getaddrinfo.name()
        }
    }
}

/// The request loop's strategy with slave filters: a filtered call runs
/// its filter; the others go to the master (with a master loop: yielded to
/// `receive()`) or get the default answer.
struct Filters<'a> {
    lua: &'a Lua,
    shared: &'a Shared,
    master_loop: bool,
}

impl Strategy for Filters<'_> {
    type Out = Item;
    fn event(&mut self, ev: Event) -> Result<Flow<Item>, Stop> {
        let (lua, shared) = (self.lua, self.shared);
        let (filter, item) = match ev {
            Event::Request(p) => (
                shared.borrow().slave.filter(slot(p.req.function)),
                Item::Call(p),
            ),
            Event::Lookup(l) => (shared.borrow().slave.filter(GETADDRINFO), Item::Lookup(l)),
            Event::Done(token, done) => {
                resume_waiting(lua, shared, token, done);
                return self.after(shared);
            }
        };
        match (filter, item) {
            (Some(f), item) => start(lua, shared, f, item),
            (None, item) if self.master_loop => return Ok(Flow::Yield(item)),
            // The default with no master loop: the kernel, the resolver.
            (None, Item::Call(mut p)) => {
                let o = crate::act::continued(&mut p);
                p.answer(o)
            }
            (None, Item::Lookup(l)) => l.answer(Answer::Upstream),
        }
        self.after(shared)
    }
}

impl Filters<'_> {
    /// After a filter ran: the run's end, or the call it forwarded to the
    /// master, or the next event.
    fn after(&self, shared: &Shared) -> Result<Flow<Item>, Stop> {
        if let Some(e) = ended(shared) {
            return Err(e);
        }
        // A filter forwarded its call to the master.
        match shared.borrow_mut().slave.ready.take() {
            Some(item) => Ok(Flow::Yield(item)),
            None => Ok(Flow::Next),
        }
    }
}

/// The next event of the run, waiting for it.
fn next_event(shared: &Shared) -> Result<Event, Stop> {
    let mut st = shared.borrow_mut();
    if let Some(e) = &st.stop {
        return Err(e.again());
    }
    st.ensure_started()?.next_event()
}

/// `master:receive()` with filters: the next request the master sees,
/// running the filters of the others.
pub fn receive(lua: &Lua, shared: &Shared) -> mlua::Result<&'static str> {
    {
        let mut st = shared.borrow_mut();
        if st.slave.running.is_some() {
            return Err(lua_err(
                lua,
                "master:receive() cannot be called from a slave filter".into(),
            ));
        }
        st.slave.master_loop = true;
        if let Some(item) = st.slave.ready.take() {
            return Ok(make_current(&mut st, item));
        }
    }
    let mut filters = Filters {
        lua,
        shared,
        master_loop: true,
    };
    match session::serve(|| next_event(shared), &mut filters) {
        Ok(item) => Ok(make_current(&mut shared.borrow_mut(), item)),
        // The program is gone, or a filter failed: the run is over.
        Err(stop) => Err(shared.borrow_mut().end(lua, stop)),
    }
}

/// The run of a policy made of filters only (it returned without
/// receiving): filtered calls run their filters, the others get the
/// default answer.  Returns the exit code.
pub fn serve(lua: &Lua, shared: &Shared) -> Result<i32, Stop> {
    shared.borrow_mut().slave.master_loop = false;
    let mut filters = Filters {
        lua,
        shared,
        master_loop: false,
    };
    let r = session::serve(|| next_event(shared), &mut filters);
    // The first end recorded is the run's.
    let stop = match shared.borrow_mut().stop.take() {
        Some(s) => s,
        None => match r {
            Err(s) => s,
            Ok(_) => Stop::SlaveFilter("a call yielded with no master loop".into()),
        },
    };
    match stop {
        Stop::Exited(code) => Ok(code),
        s => Err(s),
    }
}

/// The master answers a call a filter forwarded: the filter resumes with
/// the result.  A wrong answer is the master's Lua error (the call stays
/// current).
pub fn reply(lua: &Lua, shared: &Shared, r: MasterReply) -> mlua::Result<()> {
    let (mut inv, item) = {
        let mut st = shared.borrow_mut();
        let Some(inv) = st.slave.with_master.take() else {
            return Err(lua_err(lua, "no forwarded request".into()));
        };
        let item = match (st.current.take(), st.lookup.take()) {
            (Some(p), _) => Item::Call(p),
            (None, Some(q)) => Item::Lookup(q),
            (None, None) => {
                st.slave.with_master = Some(inv);
                return Err(lua_err(
                    lua,
                    "no request (call master:receive() first)".into(),
                ));
            }
        };
        (inv, item)
    };
    match item {
        Item::Call(mut p) => {
            let next = match values::call_reply(lua, &mut p, inv.changed, r) {
                Ok(n) => n,
                Err(e) => {
                    let mut st = shared.borrow_mut();
                    st.current = Some(p);
                    st.slave.with_master = Some(inv);
                    return Err(e);
                }
            };
            if let Some(orig) = inv.original.take() {
                p.replace_request(orig);
            }
            match next {
                Next::Values(v) => {
                    inv.item = Some(Item::Call(p));
                    drive(shared, inv, Run::Resume(v));
                }
                Next::Continue => {
                    // The filter decides: returning `kernel` lets it go on.
                    inv.item = Some(Item::Call(p));
                    went_on(shared, inv);
                }
                Next::Gone => abandon(shared, inv),
                Next::Exec(o) => {
                    // real_exec does not return: the program runs the
                    // new image (or gets the kernel's errno).
                    p.answer(o);
                    abandon(shared, inv)
                }
                Next::Job(job) => {
                    inv.item = Some(Item::Call(p));
                    wait(&mut shared.borrow_mut(), inv, job);
                }
                Next::Resolve(_) => {
                    inv.item = Some(Item::Call(p));
                    fail(shared, inv, "a name lookup for a call".into())
                }
            }
        }
        Item::Lookup(mut q) => {
            let next = match values::lookup_reply(lua, &q.name, r) {
                Ok(n) => n,
                Err(e) => {
                    let mut st = shared.borrow_mut();
                    st.lookup = Some(q);
                    st.slave.with_master = Some(inv);
                    return Err(e);
                }
            };
            if let Some(n) = inv.original_name.take() {
                q.name = n;
            }
            inv.item = Some(Item::Lookup(q));
            match next {
                Next::Values(v) => drive(shared, inv, Run::Resume(v)),
                Next::Resolve(name) => {
                    let mut st = shared.borrow_mut();
                    let upstream = upstream(&mut st);
                    wait(&mut st, inv, resolve_job(upstream, name));
                }
                _ => fail(shared, inv, "a lookup answered like a call".into()),
            }
        }
    }
    Ok(())
}
