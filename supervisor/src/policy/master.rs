//! `libc_service.master`: the policy's end of the request loop.

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::rc::Rc;

use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, UserDataFields, UserDataMethods, Value};
use nix::errno::Errno;

use super::host::{failure, Descriptor};
use super::slave::{self, MasterReply};
use super::{errno, lua_err, reply, How};
use crate::act::{self, Outcome};
use crate::audit::{self, Key};
use crate::launch::Prepared;
use crate::pending::Pending;
use crate::request::flags::{self, Amode};
use crate::request::net::{NetAddr, SockCall, SockOp};
use crate::request::{Args, Function};
use crate::session::{Next, Session};

/// The state behind the master object, shared with the runner.
pub struct State {
    pub program: Option<(Prepared, bpf::SyscallMap)>,
    pub session: Option<Session>,
    pub current: Option<Box<Pending>>,
    /// The name lookup being decided (`getaddrinfo`), instead of `current`.
    pub lookup: Option<crate::dns::Query>,
    /// `supervisor check`: no program; the first receive() ends the check.
    pub check: Option<super::check::Check>,
    /// The slave filters and the calls they hold (policy/slave/).
    pub slave: slave::Slave,
}

impl State {
    /// Starts the program if not started yet.  A launch failure ends the
    /// run at once (nothing to kill).
    pub fn ensure_started(&mut self) -> &mut Session {
        if self.session.is_none() {
            let (prog, map) = self
                .program
                .take()
                .expect("program prepared before the policy runs");
            match Session::start(&prog, map) {
                Ok(s) => self.session = Some(s),
                Err(e) => {
                    eprintln!("supervisor: {e}");
                    crate::exit::exit(e.exit_code());
                }
            }
        }
        self.session.as_mut().expect("started")
    }

    pub fn started(&self) -> bool {
        self.session.is_some()
    }
}

pub type Shared = Rc<RefCell<State>>;

const GETADDRINFO: &str = "getaddrinfo";

/// The master userdata.
pub struct Master(pub Shared);

fn current<'a>(lua: &Lua, st: &'a mut State, what: &str) -> mlua::Result<&'a mut Box<Pending>> {
    st.current.as_mut().ok_or_else(|| {
        lua_err(
            lua,
            format!("{what}: no request (call master:receive() first)"),
        )
    })
}

fn take(lua: &Lua, st: &mut State, what: &str) -> mlua::Result<Box<Pending>> {
    st.current.take().ok_or_else(|| {
        lua_err(
            lua,
            format!("{what}: no request (call master:receive() first)"),
        )
    })
}

/// Records who answers the current request, and how, for the audit log.
fn decided(lua: &Lua, key: Option<Key>, how: How) {
    if let Some(key) = key {
        audit::decided(key, how, || caller(lua));
    }
}

fn notif(p: &Pending) -> Option<Key> {
    Some(Key::Notif(p.id))
}

fn lookup_key(q: &crate::dns::Query) -> Option<Key> {
    q.audit.map(Key::Lookup)
}

/// The Lua `source:line` that called the running method (`p.lua:12`): the
/// nearest Lua frame (past a `pcall`).
pub(super) fn caller(lua: &Lua) -> String {
    for level in 1..16 {
        let at = lua.inspect_stack(level, |d| {
            let line = d.current_line()?;
            let src = d.source().source?;
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

fn string_list(lua: &Lua, v: &[&str]) -> mlua::Result<Table> {
    lua.create_sequence_from(v.iter().copied())
}

/// The outcome of a checked reply; a stat table is written into the
/// program's buffer here.
pub(super) fn settle_reply(p: &mut Pending, r: reply::Reply) -> Outcome {
    match r {
        reply::Reply::Direct(Outcome::Value(v)) => match &p.req.args {
            // A send the policy lets "succeed" reports its data sent.
            Args::Socket { call, .. } if call.op == SockOp::Send => {
                act::net::pretend_sent(&p.task, call)
            }
            _ => Outcome::Value(v),
        },
        reply::Reply::Direct(o) => o,
        reply::Reply::Stat(fake) => match &p.req.args {
            Args::Stat { out, .. } => {
                let out = *out;
                act::stat::write_fake(&mut p.task, out, &fake).into()
            }
            _ => Outcome::Fail(Errno::EINVAL),
        },
    }
}

/// send_with_fds on a socket request: the first descriptor takes the
/// place of the program's socket (same fd number, same close-on-exec);
/// connect and bind then succeed, a send goes out on the new socket.
fn replace_socket(p: &mut Pending, call: &SockCall, uds: &[AnyUserData]) -> mlua::Result<Outcome> {
    let Some(ud) = uds.first() else {
        return Err(mlua::Error::RuntimeError(
            "send_with_fds: a socket request needs one descriptor".into(),
        ));
    };
    let d = ud.borrow::<Descriptor>()?;
    let fd = d.fd()?;
    let cloexec = match p.task.fd_cloexec(call.fd) {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Fail(e).normalize()),
    };
    if let Err(e) = p.task.settle() {
        return Ok(Outcome::Fail(e).normalize());
    }
    let listener = p.task.listener().clone();
    match listener.inject_at(p.id, fd, call.fd, cloexec) {
        Ok(_) => {}
        Err(Errno::ENOENT) => return Ok(Outcome::Gone),
        Err(e) => return Ok(Outcome::Fail(e)),
    }
    Ok(match (&call.payload, call.op) {
        (Some(pl), SockOp::Send) => match act::net::Socket::of_own(fd) {
            Ok(sock) => act::net::send(&mut p.task, &sock, None, pl),
            Err(e) => Outcome::Fail(e),
        },
        _ => Outcome::Value(0),
    })
}

/// The descriptors of a `send_with_fds` list.
pub(super) fn descriptor_list(lua: &Lua, fds: &Table) -> mlua::Result<Vec<AnyUserData>> {
    let mut uds: Vec<AnyUserData> = Vec::new();
    for v in fds.sequence_values::<AnyUserData>() {
        let ud = v.map_err(|_| {
            lua_err(
                lua,
                "send_with_fds: fds must be a list of descriptors".into(),
            )
        })?;
        if !ud.is::<Descriptor>() {
            return Err(lua_err(
                lua,
                "send_with_fds: fds must be a list of descriptors".into(),
            ));
        }
        uds.push(ud);
    }
    Ok(uds)
}

/// The state, for a method of `master`.  A method called while another
/// one is running (from a metamethod of a value that method reads, e.g. a
/// reply table's `__index`) is a policy error, not a crash.
fn state<'a>(lua: &Lua, s: &'a Shared) -> mlua::Result<std::cell::RefMut<'a, State>> {
    s.try_borrow_mut().map_err(|_| reentered(lua))
}

fn state_ref<'a>(lua: &Lua, s: &'a Shared) -> mlua::Result<std::cell::Ref<'a, State>> {
    s.try_borrow().map_err(|_| reentered(lua))
}

fn reentered(lua: &Lua) -> mlua::Error {
    lua_err(
        lua,
        "master: used while one of its own calls reads a value (from a metamethod)".into(),
    )
}

impl UserData for Master {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("function_", |lua, this| {
            let st = state_ref(lua, &this.0)?;
            if st.lookup.is_some() {
                return Ok(Some(GETADDRINFO));
            }
            Ok(st.current.as_ref().map(|p| p.req.function.name()))
        });
        f.add_field_method_get("tid", |lua, this| {
            let st = state_ref(lua, &this.0)?;
            if let Some(q) = &st.lookup {
                return Ok(q.tid);
            }
            Ok(st.current.as_ref().map(|p| p.tid))
        });
        f.add_field_method_get("syscall", |lua, this| {
            Ok(state_ref(lua, &this.0)?
                .current
                .as_ref()
                .map(|p| p.req.sys.name()))
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("receive", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            let unanswered = st
                .current
                .as_ref()
                .map(|p| p.req.function.name())
                .or(st.lookup.as_ref().map(|_| GETADDRINFO));
            if let Some(f) = unanswered {
                return Err(lua_err(
                    lua,
                    format!("receive: the previous request ({f}) was not answered"),
                ));
            }
            if let Some(c) = st.check.take() {
                super::check::reached(c, &caller(lua));
            }
            if slave::has_filters(&st) {
                // Requests pass their slave filters first.
                drop(st);
                return slave::receive(lua, &this.0);
            }
            let session = st.ensure_started();
            match session.next_request() {
                Next::Request(p) => {
                    let f = p.req.function.name();
                    st.current = Some(p);
                    Ok(f)
                }
                Next::Lookup(q) => {
                    st.lookup = Some(q);
                    Ok(GETADDRINFO)
                }
                // Only slave filters start jobs.
                Next::Done(..) => Err(lua_err(lua, "receive: unexpected job result".into())),
                Next::Exited(code) => {
                    // The program is gone: the run is over, whatever the
                    // policy would do next.
                    crate::exit::exit(code)
                }
            }
        });

        m.add_method("arguments", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if let Some(q) = &st.lookup {
                // What DNS carries: the name (the service and protocol of
                // the program's call stay in the program).
                let name = Value::String(lua.create_string(&q.name)?);
                return Ok(MultiValue::from_vec(vec![name, Value::Nil, Value::Nil]));
            }
            let p = current(lua, &mut st, "arguments")?;
            let path = |b: &[u8]| lua.create_string(b).map(Value::String);
            let v: Vec<Value> = match &p.req.args {
                Args::Open {
                    at,
                    flags: fl,
                    mode,
                    resolve,
                } => {
                    let mut names = flags::open_flags(*fl);
                    if p.req.function == Function::Openat {
                        names.extend(flags::resolve_flags(*resolve));
                    }
                    let mut v = vec![path(&at.path)?, Value::Table(string_list(lua, &names)?)];
                    if names.contains(&"create") || names.contains(&"temporary") {
                        v.push(Value::Integer(*mode as i64));
                    }
                    v
                }
                Args::Unlink { at } | Args::Stat { at, .. } => vec![path(&at.path)?],
                Args::Rename {
                    from,
                    to,
                    flags: fl,
                } => vec![
                    path(&from.path)?,
                    path(&to.path)?,
                    Value::Table(string_list(lua, &flags::rename_flags(*fl))?),
                ],
                Args::Access { at, mode, .. } => {
                    let amode = match flags::access_mode(*mode) {
                        Amode::Exists => Value::String(lua.create_string("f")?),
                        Amode::Modes(v) => Value::Table(string_list(lua, &v)?),
                    };
                    vec![path(&at.path)?, amode]
                }
                Args::Mkdir { at, mode } => vec![path(&at.path)?, Value::Integer(*mode as i64)],
                Args::Socket { addr, .. } => match addr {
                    NetAddr::Unix(p) => vec![path(p)?],
                    NetAddr::Inet(a) => vec![
                        Value::String(lua.create_string(a.ip().to_string())?),
                        Value::Integer(a.port().into()),
                    ],
                    NetAddr::Inet6(a) => {
                        let text = match a.scope_id() {
                            0 => a.ip().to_string(),
                            s => format!("{}%{s}", a.ip()),
                        };
                        vec![
                            Value::String(lua.create_string(text)?),
                            Value::Integer(a.port().into()),
                        ]
                    }
                },
            };
            Ok(MultiValue::from_vec(v))
        });

        m.add_method("descriptors", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if st.lookup.is_some() {
                return Ok(MultiValue::new());
            }
            let p = current(lua, &mut st, "descriptors")?;
            match p.descriptors() {
                Ok(fds) => {
                    let mut v = Vec::new();
                    for fd in fds {
                        v.push(Value::UserData(lua.create_userdata(Descriptor(Some(fd)))?));
                    }
                    Ok(MultiValue::from_vec(v))
                }
                Err(e) => failure(lua, e),
            }
        });

        m.add_method("resolved", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if st.lookup.is_some() {
                return Ok(MultiValue::new());
            }
            let p = current(lua, &mut st, "resolved")?;
            let id = p.id;
            let rs = match p.resolve() {
                Ok(rs) => rs,
                Err(e) => return failure(lua, e),
            };
            if audit::enabled() {
                let paths = rs.iter().map(|r| r.as_ref().ok().map(|r| &r.path[..]));
                audit::resolved(id, paths);
            }
            let mut v = Vec::with_capacity(rs.len() + 1);
            let mut first_err = None;
            for r in rs {
                match r {
                    Ok(r) => v.push(Value::String(lua.create_string(&r.path)?)),
                    Err(e) => {
                        first_err = first_err.or(Some(*e));
                        v.push(Value::Nil);
                    }
                }
            }
            if let Some(e) = first_err {
                let name = errno::name(e as i32).unwrap_or("EIO");
                v.push(Value::String(lua.create_string(name)?));
            }
            Ok(MultiValue::from_vec(v))
        });

        m.add_method(
            "send",
            |lua, this, (result, err): (Value, Option<Value>)| {
                let mut st = state(lua, &this.0)?;
                if slave::forwarded(&st) {
                    drop(st);
                    return slave::reply(lua, &this.0, MasterReply::Send(result, err));
                }
                if st.lookup.is_some() {
                    let answer = super::lookup::answer(lua, &result)?;
                    if let Some(q) = st.lookup.take() {
                        decided(lua, lookup_key(&q), How::Send);
                        q.answer(answer);
                    }
                    return Ok(());
                }
                let function = current(lua, &mut st, "send")?.req.function;
                let errno = reply::errno_arg(lua, "send", err.as_ref())?;
                let outcome = reply::outcome(lua, function, &result, errno)?;
                let mut p = take(lua, &mut st, "send")?;
                decided(lua, notif(&p), How::Send);
                let outcome = settle_reply(&mut p, outcome);
                st.ensure_started().answer(p.id, p.task.tid, outcome);
                Ok(())
            },
        );

        m.add_method(
            "send_with_fds",
            |lua, this, (result, fds, err): (Value, Table, Option<Value>)| {
                let mut st = state(lua, &this.0)?;
                if slave::forwarded(&st) {
                    drop(st);
                    return slave::reply(lua, &this.0, MasterReply::SendWithFds(result, fds, err));
                }
                if st.lookup.is_some() {
                    return Err(lua_err(
                        lua,
                        "send_with_fds: getaddrinfo takes no descriptors (use send)".into(),
                    ));
                }
                let p = current(lua, &mut st, "send_with_fds")?;
                let function = p.req.function;
                let cloexec = match &p.req.args {
                    Args::Open { flags, .. } => flags & libc::O_CLOEXEC != 0,
                    _ => false,
                };
                let errno = reply::errno_arg(lua, "send_with_fds", err.as_ref())?;
                let uds = descriptor_list(lua, &fds)?;
                let is_open = matches!(function, Function::Open | Function::Openat);
                if errno == 0 && is_open && uds.is_empty() {
                    return Err(lua_err(
                        lua,
                        "send_with_fds: open needs one descriptor".into(),
                    ));
                }
                // Everything is checked before the request is taken: a Lua
                // error never leaves descriptors half-installed.
                let reply = match errno {
                    0 if !is_open => Some(reply::outcome(lua, function, &result, 0)?),
                    _ => None,
                };
                for ud in &uds {
                    ud.borrow::<Descriptor>()?.fd()?;
                }
                let mut p = take(lua, &mut st, "send_with_fds")?;
                decided(lua, notif(&p), How::Send);
                if errno != 0 {
                    let session = st.ensure_started();
                    session.answer(p.id, p.task.tid, Outcome::Fail(Errno::from_raw(errno)));
                    return Ok(());
                }
                if let Args::Socket { call, .. } = &p.req.args {
                    let call = call.clone();
                    let outcome = replace_socket(&mut p, &call, &uds)?;
                    st.ensure_started().answer(p.id, p.task.tid, outcome);
                    return Ok(());
                }
                let listener = st.ensure_started().listener().clone();
                let mut first = None;
                for ud in &uds {
                    let d = ud.borrow::<Descriptor>()?;
                    match listener.inject(p.id, d.fd()?.as_fd(), cloexec) {
                        Ok(n) => first = first.or(Some(n)),
                        Err(Errno::ENOENT) => {
                            audit::gone(p.id);
                            return Ok(());
                        }
                        Err(e) => {
                            st.ensure_started()
                                .answer(p.id, p.task.tid, Outcome::Fail(e));
                            return Ok(());
                        }
                    }
                }
                let outcome = match reply {
                    None => Outcome::Value(first.unwrap_or(-1).into()),
                    Some(r) => settle_reply(&mut p, r),
                };
                st.ensure_started().answer(p.id, p.task.tid, outcome);
                Ok(())
            },
        );

        // Extension: a description of the answer about to be given, for the
        // audit log and the summary (instead of the policy's line).
        m.add_method("describe", |lua, this, text: mlua::LuaString| {
            let mut st = state(lua, &this.0)?;
            let key = match &st.lookup {
                Some(q) => lookup_key(q),
                None => notif(current(lua, &mut st, "describe")?),
            };
            if let Some(k) = key {
                audit::describe(k, &text.to_string_lossy());
            }
            Ok(())
        });

        m.add_method("use_slave_credentials", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if slave::forwarded(&st) {
                drop(st);
                return slave::reply(lua, &this.0, MasterReply::UseSlave);
            }
            if let Some(q) = st.lookup.take() {
                // The supervisor's own resolver, never the program's network.
                decided(lua, lookup_key(&q), How::Slave);
                q.answer(crate::dns::Answer::Upstream);
                return Ok(());
            }
            let p = take(lua, &mut st, "use_slave_credentials")?;
            decided(lua, notif(&p), How::Slave);
            st.ensure_started().listener().reply_continue(p.id);
            Ok(())
        });

        m.add_method("use_master_credentials", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if slave::forwarded(&st) {
                drop(st);
                return slave::reply(lua, &this.0, MasterReply::UseMaster);
            }
            if let Some(q) = st.lookup.take() {
                decided(lua, lookup_key(&q), How::Master);
                q.answer(crate::dns::Answer::Upstream);
                return Ok(());
            }
            let mut p = take(lua, &mut st, "use_master_credentials")?;
            decided(lua, notif(&p), How::Master);
            let outcome = act::perform(&mut p);
            st.ensure_started().answer(p.id, p.task.tid, outcome);
            Ok(())
        });
    }
}
