//! `libc_service.master`: the policy's end of the request loop.

use mlua::{Lua, MultiValue, Table, UserData, UserDataFields, UserDataMethods, Value};

use super::host::{descriptor_list, failure, Descriptor};
use super::lua::lua_err;
use super::reply;
use super::slave::{self, MasterReply};
use super::state::{caller, decided, Shared, State};
use crate::act::Verdict;
use crate::answer::Lookup;
use crate::audit::{How, Key};
use crate::pending::Pending;
use crate::request::attr;
use crate::request::flags::{self, Amode};
use crate::request::net::NetAddr;
use crate::request::{Args, Function};
use crate::run::Stop;
use crate::session::{self, Event, Flow, Strategy};
use libc_service::errno;

const GETADDRINFO: &str = "getaddrinfo";

/// What the master's `receive()` takes: a request or a lookup.
pub enum Item {
    Call(Box<Pending>),
    Lookup(Lookup),
}

/// The master loop without slave filters: every request and lookup goes
/// to the policy.
pub(super) struct ToPolicy;

impl Strategy for ToPolicy {
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

/// A metadata call's argument as Lua reads it: a time is `"now"`,
/// `"omit"` or `{sec, nsec}`.
fn field(lua: &Lua, f: attr::Field) -> mlua::Result<Value> {
    Ok(match f {
        attr::Field::Int(n) => Value::Integer(n),
        attr::Field::Mode(m) => Value::Integer(m.into()),
        attr::Field::Word(w) => Value::String(lua.create_string(w)?),
        attr::Field::Bytes(b) => Value::String(lua.create_string(&b)?),
        attr::Field::Time(attr::Time::Now) => Value::String(lua.create_string("now")?),
        attr::Field::Time(attr::Time::Omit) => Value::String(lua.create_string("omit")?),
        attr::Field::Time(attr::Time::At(s, ns)) => {
            Value::Table(lua.create_sequence_from([s, ns])?)
        }
    })
}

fn string_list(lua: &Lua, v: &[&str]) -> mlua::Result<Table> {
    lua.create_sequence_from(v.iter().copied())
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
                let code = super::check::reached(c, &caller(lua));
                return Err(st.end(lua, Stop::Checked(code)));
            }
            if slave::has_filters(&st) {
                // Requests pass their slave filters first.
                drop(st);
                return slave::receive(lua, &this.0);
            }
            let next = match st.ensure_started() {
                Ok(s) => session::serve(|| s.next_event(), &mut ToPolicy),
                Err(stop) => Err(stop),
            };
            match next {
                Ok(Item::Call(p)) => {
                    let f = p.req.function.name();
                    st.current = Some(p);
                    Ok(f)
                }
                Ok(Item::Lookup(l)) => {
                    st.lookup = Some(l);
                    Ok(GETADDRINFO)
                }
                // The program is gone (or the run failed): the run is over,
                // whatever the policy would do next.
                Err(stop) => Err(st.end(lua, stop)),
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
                Args::Symlink { target, at } => vec![path(target)?, path(&at.path)?],
                Args::Link {
                    from,
                    to,
                    flags: fl,
                } => vec![
                    path(&from.path)?,
                    path(&to.path)?,
                    Value::Table(string_list(lua, &attr::link_flag_names(*fl))?),
                ],
                Args::Mknod { at, mode } => vec![
                    path(&at.path)?,
                    Value::Integer((mode & 0o7777).into()),
                    Value::String(lua.create_string(attr::node_type(*mode))?),
                ],
                Args::Attr {
                    at,
                    flags: fl,
                    change,
                } => {
                    let mut v = vec![path(&at.path)?];
                    for (_, f) in change.fields() {
                        v.push(field(lua, f)?);
                    }
                    v.push(Value::Table(string_list(
                        lua,
                        &attr::flag_names(*fl, change),
                    )?));
                    v
                }
                Args::Exec {
                    at,
                    flags: fl,
                    argv,
                } => {
                    let list = lua.create_table()?;
                    for a in &argv.args {
                        list.raw_push(lua.create_string(a)?)?;
                    }
                    let names = crate::request::exec::flag_names(*fl);
                    vec![
                        path(&at.path)?,
                        Value::Table(list),
                        Value::Table(string_list(lua, &names)?),
                    ]
                }
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

        // `"block"` or `"char"` when the request opens a device other than
        // the harmless ones (docs/rules.md, "Devices"), else nil.
        m.add_method("device", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if st.lookup.is_some() {
                return Ok(None);
            }
            let p = current(lua, &mut st, "device")?;
            let opens = matches!(
                &p.req.args,
                crate::request::Args::Open { flags, .. } if flags & libc::O_PATH == 0
            );
            if !opens {
                return Ok(None);
            }
            let rs = match p.resolve() {
                Ok(rs) => rs,
                Err(_) => return Ok(None),
            };
            Ok(rs
                .first()
                .and_then(|r| r.as_ref().ok())
                .and_then(crate::policy::device::kind_of))
        });

        m.add_method("resolved", |lua, this, ()| {
            let mut st = state(lua, &this.0)?;
            if st.lookup.is_some() {
                return Ok(MultiValue::new());
            }
            let audit = st.run.audit.clone();
            let p = current(lua, &mut st, "resolved")?;
            let id = p.id;
            let rs = match p.resolve() {
                Ok(rs) => rs,
                Err(e) => return failure(lua, e),
            };
            if audit.enabled() {
                let paths = rs.iter().map(|r| r.as_ref().ok().map(|r| &r.path[..]));
                audit.resolved(id, paths);
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
                    if let Some(l) = st.lookup.take() {
                        decided(lua, &st.run.audit, l.key(), How::Send);
                        l.answer(answer);
                    }
                    return Ok(());
                }
                let function = current(lua, &mut st, "send")?.req.function;
                let errno = reply::errno_arg(lua, "send", err.as_ref())?;
                let verdict = reply::outcome(lua, function, &result, errno)?;
                let p = take(lua, &mut st, "send")?;
                st.settle(lua, p, How::Send, verdict);
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
                let socket = matches!(p.req.args, Args::Socket { .. });
                let errno = reply::errno_arg(lua, "send_with_fds", err.as_ref())?;
                let uds = descriptor_list(lua, &fds)?;
                let is_open = function.returns() == libc_service::Returns::Descriptor;
                if errno == 0 && is_open && uds.is_empty() {
                    return Err(lua_err(
                        lua,
                        "send_with_fds: open needs one descriptor".into(),
                    ));
                }
                if errno == 0 && socket && uds.is_empty() {
                    return Err(lua_err(
                        lua,
                        "send_with_fds: a socket request needs one descriptor".into(),
                    ));
                }
                // Everything is checked before the request is taken: a Lua
                // error never leaves descriptors half-installed.
                let then = match errno {
                    0 if !is_open && !socket => {
                        Some(Box::new(reply::outcome(lua, function, &result, 0)?))
                    }
                    _ => None,
                };
                let mut owned = Vec::with_capacity(uds.len());
                for ud in &uds {
                    let d = ud.borrow::<Descriptor>()?;
                    let fd = d.fd()?.try_clone_to_owned().map_err(|e| {
                        lua_err(
                            lua,
                            format!("send_with_fds: cannot duplicate a descriptor: {e}"),
                        )
                    })?;
                    owned.push(fd);
                }
                let p = take(lua, &mut st, "send_with_fds")?;
                let verdict = match errno {
                    0 => Verdict::Fds { fds: owned, then },
                    e => Verdict::Fail(nix::errno::Errno::from_raw(e)),
                };
                st.settle(lua, p, How::Send, verdict);
                Ok(())
            },
        );

        // Extension: a description of the answer about to be given, for the
        // audit log and the summary (instead of the policy's line).
        m.add_method("describe", |lua, this, text: mlua::LuaString| {
            let mut st = state(lua, &this.0)?;
            let key = match &st.lookup {
                Some(l) => l.key(),
                None => Some(Key::Notif(current(lua, &mut st, "describe")?.id)),
            };
            if let Some(k) = key {
                st.run.audit.describe(k, &text.to_string_lossy());
            }
            Ok(())
        });

        m.add_method("use_slave_credentials", |lua, this, ()| {
            allow(
                lua,
                this,
                (How::Slave, MasterReply::UseSlave, Verdict::Kernel),
            )
        });
        m.add_method("use_master_credentials", |lua, this, ()| {
            allow(
                lua,
                this,
                (How::Master, MasterReply::UseMaster, Verdict::Perform),
            )
        });
        // Extension: performed by the supervisor on exactly what the policy
        // saw, as use_master_credentials, but with the program thread's
        // credentials (docs/policy.md, "Three ways to allow").
        m.add_method("use_program_credentials", |lua, this, ()| {
            allow(
                lua,
                this,
                (How::Program, MasterReply::UseProgram, Verdict::AsProgram),
            )
        });
    }
}

/// `use_slave_credentials`, `use_master_credentials`,
/// `use_program_credentials`: the current request (a forwarded call, a
/// lookup, the program's call) is allowed, performed by `how`.  A lookup
/// goes to the supervisor's own resolver whichever it is, never the
/// program's network.
fn allow(
    lua: &Lua,
    this: &Master,
    (how, reply, verdict): (How, MasterReply, Verdict),
) -> mlua::Result<()> {
    let name = how.name();
    let mut st = state(lua, &this.0)?;
    if slave::forwarded(&st) {
        drop(st);
        return slave::reply(lua, &this.0, reply);
    }
    if let Some(l) = st.lookup.take() {
        decided(lua, &st.run.audit, l.key(), how);
        l.answer(crate::dns::Answer::Upstream);
        return Ok(());
    }
    let p = take(lua, &mut st, name)?;
    st.settle(lua, p, how, verdict);
    Ok(())
}
