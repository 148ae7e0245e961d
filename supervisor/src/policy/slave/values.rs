//! Results both ways: what `real_X(…)` returns (the master's answer to the
//! forwarded call, or what the supervisor did for it), and what a filter's
//! return value does to the program's call.
//!
//! `real_X` returns the result, the errno (0 on success), then any
//! descriptors as objects.  For open/openat answered with a descriptor the
//! result is that descriptor itself, so `return real_open(…)` hands it on.
//! stat tables have the spec's fields with the times as in `struct stat`:
//! `atim`/`mtim`/`ctim` = `{sec, nsec}`; `mode` includes the type bits.
//! getaddrinfo results follow the slave spec: an error name, `nil`, or
//! `nil`, address bytes (4, or 16 and the scope id), port — one pair per
//! address.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};

use mlua::{Lua, MultiValue, Table, Value};
use nix::errno::Errno;

use super::filter::Filter;
use crate::act::stat::FakeStat;
use crate::act::{self, Verdict};
use crate::answer::Outcome;
use crate::dns::{Answer, GaiError};
use crate::jobs::{Done, Job};
use crate::pending::Pending;
use crate::policy::host::{descriptor_list, Descriptor};
use crate::policy::lua::{lua_err, message};
use crate::policy::{lookup, reply};
use crate::request::net::SockOp;
use crate::request::Args;
use libc_service::errno;
use libc_service::Returns;

/// The master's answer to a forwarded call (its method and arguments).
pub enum MasterReply {
    Send(Value, Option<Value>),
    SendWithFds(Value, Table, Option<Value>),
    UseSlave,
    UseMaster,
    /// `use_program_credentials`: performed with the program's credentials.
    UseProgram,
}

/// What the master's answer means for the filter.
pub enum Next {
    /// `real_X` returns these.
    Values(MultiValue),
    /// The kernel performs the program's own call; the filter ends there.
    Continue,
    /// The program's call is gone; the filter ends.
    Gone,
    /// `real_X` returns the job's result once it is done.
    Job(Job),
    /// `real_X` returns the addresses of this name, looked up upstream.
    Resolve(String),
    /// An allowed exec: the program's call is answered with this now (the
    /// new image, verified at its exec event); like `execve`, `real_exec`
    /// does not return, the filter ends.
    Exec(Outcome),
}

fn int(i: i64) -> Value {
    Value::Integer(i)
}

fn descriptor(lua: &Lua, fd: OwnedFd) -> mlua::Result<Value> {
    lua.create_userdata(Descriptor(Some(fd)))
        .map(Value::UserData)
}

/// A stat result as a filter sees it.
pub fn stat_table(lua: &Lua, s: &FakeStat) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("dev", s.dev as i64)?;
    t.set("ino", s.ino as i64)?;
    t.set("mode", s.mode as i64)?;
    t.set("nlink", s.nlink as i64)?;
    t.set("uid", s.uid as i64)?;
    t.set("gid", s.gid as i64)?;
    t.set("rdev", s.rdev as i64)?;
    t.set("size", s.size)?;
    t.set("blksize", s.blksize)?;
    t.set("blocks", s.blocks)?;
    for (k, (sec, nsec)) in [("atim", s.atime), ("mtim", s.mtime), ("ctim", s.ctime)] {
        t.set(k, lua.create_sequence_from([sec, nsec as i64])?)?;
    }
    Ok(t)
}

/// `real_X`'s values for a checked `send` reply.
fn reply_values(lua: &Lua, result: &Value, r: Verdict) -> mlua::Result<Vec<Value>> {
    Ok(match r {
        Verdict::Fail(e) => vec![result.clone(), int(e as i64)],
        Verdict::Value(v) | Verdict::Returns(v) => vec![int(v), int(0)],
        Verdict::Stat(s) => vec![Value::Table(stat_table(lua, &s)?), int(0)],
        _ => vec![result.clone(), int(0)],
    })
}

/// The master's answer to call `p` forwarded by a filter; `changed`: the
/// filter changed its arguments.  A wrong reply is the master's Lua error.
pub fn call_reply(lua: &Lua, p: &mut Pending, changed: bool, r: MasterReply) -> mlua::Result<Next> {
    let f = p.req.function;
    match r {
        MasterReply::Send(result, err) => {
            let errno = reply::errno_arg(lua, "send", err.as_ref())?;
            let r = reply::outcome(lua, f, &result, errno)?;
            Ok(Next::Values(MultiValue::from_vec(reply_values(
                lua, &result, r,
            )?)))
        }
        MasterReply::SendWithFds(result, fds, err) => {
            let errno = reply::errno_arg(lua, "send_with_fds", err.as_ref())?;
            let uds = descriptor_list(lua, &fds)?;
            let is_open = f.returns() == Returns::Descriptor;
            if errno == 0 && is_open && uds.is_empty() {
                return Err(lua_err(
                    lua,
                    "send_with_fds: open needs one descriptor".into(),
                ));
            }
            let mut descs = Vec::with_capacity(uds.len());
            for ud in &uds {
                let d = ud.borrow::<Descriptor>()?;
                let fd = d.fd()?.try_clone_to_owned().map_err(|e| {
                    lua_err(
                        lua,
                        format!("send_with_fds: cannot duplicate a descriptor: {e}"),
                    )
                })?;
                descs.push(descriptor(lua, fd)?);
            }
            let mut v = if errno == 0 && is_open {
                vec![descs[0].clone(), int(0)]
            } else {
                let r = reply::outcome(lua, f, &result, errno)?;
                reply_values(lua, &result, r)?
            };
            v.extend(descs);
            Ok(Next::Values(MultiValue::from_vec(v)))
        }
        MasterReply::UseSlave if changed => Err(lua_err(
            lua,
            format!(
                "use_slave_credentials: the slave filter changed the arguments of this {}; the \
                 kernel would perform the program's own call instead (answer with \
                 use_master_credentials or send)",
                f.name()
            ),
        )),
        MasterReply::UseSlave => Ok(Next::Continue),
        who @ (MasterReply::UseMaster | MasterReply::UseProgram) => {
            let program = matches!(who, MasterReply::UseProgram);
            match f.returns() {
                Returns::Stat => match act::stat_values(p, program) {
                    Ok(s) => Ok(Next::Values(MultiValue::from_vec(vec![
                        Value::Table(stat_table(lua, &s)?),
                        int(0),
                    ]))),
                    Err(Errno::ESRCH) => Ok(Next::Gone),
                    Err(e) => Ok(Next::Values(MultiValue::from_vec(vec![
                        int(-1),
                        int(e as i64),
                    ]))),
                },
                Returns::Integer | Returns::Descriptor | Returns::Addresses => match if program {
                    act::perform_as_program(p)
                } else {
                    act::perform(p)
                } {
                    Outcome::Blocking(job) => Ok(Next::Job(Box::new(move || Done::Outcome(job())))),
                    o @ Outcome::Exec { .. } => Ok(Next::Exec(o)),
                    o => Ok(of_outcome(lua, o)?.map_or(Next::Gone, Next::Values)),
                },
            }
        }
    }
}

/// `real_X`'s values for what the supervisor did; `None` if the call is
/// gone.
pub fn of_outcome(lua: &Lua, o: Outcome) -> mlua::Result<Option<MultiValue>> {
    let v = match o {
        Outcome::Value(v) => vec![int(v), int(0)],
        Outcome::Fail(e) => vec![int(-1), int(e as i64)],
        Outcome::Fd { fd, .. } => {
            let d = descriptor(lua, fd)?;
            vec![d.clone(), int(0), d]
        }
        Outcome::Blocking(job) => return of_outcome(lua, job()),
        // Only blocking work watched for signals is interrupted; a filter's
        // work is not, but an EINTR is what the program would see.
        Outcome::Restart => vec![int(-1), int(libc::EINTR as i64)],
        Outcome::Gone => return Ok(None),
        // Not what performing a call gives (an allowed exec is answered
        // directly: Next::Exec).
        Outcome::Continue | Outcome::Install { .. } | Outcome::Exec { .. } => {
            vec![int(-1), int(libc::EINVAL as i64)]
        }
    };
    Ok(Some(MultiValue::from_vec(v)))
}

/// The master's answer to a lookup forwarded by a filter.
pub fn lookup_reply(lua: &Lua, name: &str, r: MasterReply) -> mlua::Result<Next> {
    match r {
        MasterReply::Send(result, _) => {
            let a = lookup::answer(lua, &result)?;
            Ok(Next::Values(of_answer(lua, &a, &ports(&result))?))
        }
        MasterReply::SendWithFds(..) => Err(lua_err(
            lua,
            "send_with_fds: getaddrinfo takes no descriptors (use send)".into(),
        )),
        // Either way the supervisor's own resolver, never the program's
        // network.
        MasterReply::UseSlave | MasterReply::UseMaster | MasterReply::UseProgram => {
            Ok(Next::Resolve(name.to_string()))
        }
    }
}

/// The ports of a master's getaddrinfo reply, in the order of its
/// addresses (0 where none was given).
fn ports(result: &Value) -> Vec<u16> {
    let port = |t: &Table| match t.raw_get::<Value>(2) {
        Ok(Value::Integer(p)) => u16::try_from(p).unwrap_or(0),
        _ => 0,
    };
    let Value::Table(t) = result else {
        return Vec::new();
    };
    if matches!(t.raw_get::<Value>(1), Ok(Value::String(_))) {
        return vec![port(t)];
    }
    (1..=t.raw_len())
        .map(|k| match t.raw_get::<Value>(k) {
            Ok(Value::Table(p)) => port(&p),
            _ => 0,
        })
        .collect()
}

fn gai_name(e: GaiError) -> &'static str {
    match e {
        GaiError::Again => "again",
        GaiError::Badflags => "badflags",
        GaiError::Fail => "fail",
        GaiError::Family => "family",
        GaiError::Memory => "memory",
        GaiError::Noname => "noname",
        GaiError::Service => "service",
        GaiError::Socktype => "socktype",
        GaiError::System => "system",
    }
}

/// `real_getaddrinfo`'s values for an answer.
pub fn of_answer(lua: &Lua, a: &Answer, ports: &[u16]) -> mlua::Result<MultiValue> {
    let v = match a {
        Answer::Error(e) => vec![Value::String(lua.create_string(gai_name(*e))?)],
        Answer::Addresses(addrs) => {
            let mut v = vec![Value::Nil];
            for (i, ip) in addrs.iter().enumerate() {
                let bytes: Vec<i64> = match ip {
                    IpAddr::V4(a) => a.octets().iter().map(|&b| b as i64).collect(),
                    IpAddr::V6(a) => {
                        let mut b: Vec<i64> = a.octets().iter().map(|&b| b as i64).collect();
                        b.push(0); // the scope id
                        b
                    }
                };
                v.push(Value::Table(lua.create_sequence_from(bytes)?));
                v.push(int(ports.get(i).copied().unwrap_or(0).into()));
            }
            v
        }
        // Not an answer a master's send makes.
        Answer::Upstream => vec![Value::String(lua.create_string("fail")?)],
    };
    Ok(MultiValue::from_vec(v))
}

/// `real_getaddrinfo`'s values for a lookup done upstream.
pub fn of_resolved(lua: &Lua, r: Result<Vec<IpAddr>, GaiError>) -> mlua::Result<MultiValue> {
    match r {
        Ok(v) => of_answer(lua, &Answer::Addresses(v), &[]),
        Err(e) => of_answer(lua, &Answer::Error(e), &[]),
    }
}

// ------------------------------------------------------------ filter → program

/// The errno a filter returned after its result: nil, an integer, or a
/// name such as "EACCES".
fn errno_value(v: Option<&Value>) -> Result<i32, String> {
    match v {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(i)) if (0..4096).contains(i) => Ok(*i as i32),
        Some(Value::Number(n)) if n.fract() == 0.0 && (0.0..4096.0).contains(n) => Ok(*n as i32),
        Some(Value::String(s)) => {
            let name = s.to_string_lossy();
            errno::by_name(&name).ok_or_else(|| format!("an unknown errno name {name:?}"))
        }
        Some(other) => Err(format!(
            "an errno that is not an integer 0-4095 ({})",
            describe(other)
        )),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Nil => "nothing".into(),
        other => super::filter::a_type(other),
    }
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => Some(*n as i64),
        _ => None,
    }
}

/// What the filter's return values do to the program's call `p` (its own
/// request).  A wrong return is an error message: the run ends.
pub fn call_result(p: &Pending, filter: &Filter, vals: MultiValue) -> Result<Verdict, String> {
    let what = format!("slave.{}", filter.name());
    let bad = |msg: String| format!("{}: {what} returned {msg}", filter.defined_at());
    let v = vals.into_vec();
    let result = v.first().cloned().unwrap_or(Value::Nil);
    let errno = errno_value(v.get(1)).map_err(bad)?;
    let f = p.req.function;
    let want = match f.returns() {
        Returns::Descriptor => "an integer or a descriptor (or -1 and an errno)",
        Returns::Stat => "a table (or -1 and an errno)",
        Returns::Integer | Returns::Addresses => "an integer (or -1 and an errno)",
    };
    let wrong = || bad(format!("{}; expected {want}", describe(&result)));
    match (&result, f.returns()) {
        (Value::UserData(ud), Returns::Descriptor) if ud.is::<Descriptor>() => {
            if errno != 0 {
                return Ok(Verdict::Fail(Errno::from_raw(errno)));
            }
            let d = ud.borrow::<Descriptor>().map_err(|e| bad(e.to_string()))?;
            let fd = d
                .fd()
                .map_err(|_| bad("a closed descriptor".into()))?
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| bad(format!("a descriptor that cannot be duplicated ({e})")))?;
            Ok(Verdict::Fd(fd))
        }
        (Value::Table(t), Returns::Stat) => {
            if errno != 0 {
                return Ok(Verdict::Fail(Errno::from_raw(errno)));
            }
            let s = reply::fake_stat_as(None, &format!("{what} return"), t).map_err(|e| {
                bad(format!(
                    "a bad table: {}",
                    message(&Value::Error(Box::new(e)))
                ))
            })?;
            Ok(Verdict::Stat(s))
        }
        (r, _) => {
            let Some(n) = integer(r) else {
                return Err(wrong());
            };
            if errno != 0 {
                return Ok(Verdict::Fail(Errno::from_raw(errno)));
            }
            if n < 0 {
                return Err(bad(format!("{n} without an errno")));
            }
            if f.returns() == Returns::Stat {
                return Err(wrong());
            }
            let send = matches!(&p.req.args, Args::Socket { call, .. } if call.op == SockOp::Send);
            Ok(if send && n == 0 {
                // A send presented as a connect: 0 is "connected", i.e.
                // everything sent (as the master's send(0)).
                Verdict::Value(0)
            } else {
                Verdict::Returns(n)
            })
        }
    }
}

/// Is a filter's result `kernel` (the program's call goes on)?  `None`:
/// no.  `Some(None)`: yes, with no errno; `Some(Some(why))`: yes, but
/// with an errno after it, which cannot be.
pub fn is_kernel(vals: &MultiValue, kernel: Option<&Table>) -> Option<Option<String>> {
    match (vals.front(), kernel) {
        (Some(Value::Table(t)), Some(k)) if t.to_pointer() == k.to_pointer() => match vals.get(1) {
            None | Some(Value::Nil) | Some(Value::Integer(0)) => Some(None),
            Some(e) => Some(Some(format!(
                "with the errno {}: the kernel's result goes to the program as it is",
                describe(e)
            ))),
        },
        _ => None,
    }
}

/// An address a getaddrinfo filter returned.
fn address(v: &Value) -> Result<IpAddr, String> {
    let Value::Table(t) = v else {
        return Err(format!(
            "{} where an address (a list of 4 or 17 integers) was expected",
            describe(v)
        ));
    };
    let n = t.raw_len();
    let mut b = Vec::with_capacity(n);
    for k in 1..=n {
        let x = t.raw_get::<Value>(k).ok().as_ref().and_then(integer);
        b.push(x.ok_or("an address with a value that is not an integer")?);
    }
    let octet = |x: i64| u8::try_from(x).map_err(|_| format!("an address byte {x} (not 0-255)"));
    match n {
        4 => {
            let o: Vec<u8> = b.iter().map(|&x| octet(x)).collect::<Result<_, _>>()?;
            Ok(IpAddr::from([o[0], o[1], o[2], o[3]]))
        }
        16 | 17 => {
            if n == 17 && b[16] != 0 {
                return Err(format!(
                    "the scope id {}: a DNS answer cannot carry one",
                    b[16]
                ));
            }
            let mut o = [0u8; 16];
            for (i, x) in b[..16].iter().enumerate() {
                o[i] = octet(*x)?;
            }
            Ok(IpAddr::from(o))
        }
        _ => Err(format!(
            "an address of {n} values (4 for IPv4, 16 and the scope id for IPv6)"
        )),
    }
}

/// What a getaddrinfo filter's return values answer.
pub fn lookup_result(filter: &Filter, vals: MultiValue) -> Result<Answer, String> {
    let bad = |msg: String| format!("{}: slave.getaddrinfo returned {msg}", filter.defined_at());
    let v = vals.into_vec();
    match v.first() {
        None | Some(Value::Nil) => {
            let mut addrs = Vec::new();
            let mut i = 1;
            while let Some(a) = v.get(i).filter(|a| !a.is_nil()) {
                addrs.push(address(a).map_err(bad)?);
                match v.get(i + 1) {
                    None | Some(Value::Nil) => {}
                    Some(p) if integer(p).is_some_and(|p| (0..=65535).contains(&p)) => {}
                    Some(p) => return Err(bad(format!("the port {}", describe(p)))),
                }
                i += 2;
            }
            Ok(Answer::Addresses(addrs))
        }
        Some(Value::String(s)) => {
            let name = s.to_string_lossy();
            name.parse::<GaiError>().map(Answer::Error).map_err(|_| {
                bad(format!(
                    "the unknown error {name:?} (again, badflags, fail, family, memory, noname, \
                     service, socktype, system)"
                ))
            })
        }
        Some(Value::Integer(code)) => {
            let e = match *code as i32 {
                libc::EAI_AGAIN => GaiError::Again,
                libc::EAI_BADFLAGS => GaiError::Badflags,
                libc::EAI_FAIL => GaiError::Fail,
                libc::EAI_FAMILY => GaiError::Family,
                libc::EAI_MEMORY => GaiError::Memory,
                libc::EAI_NONAME => GaiError::Noname,
                libc::EAI_SERVICE => GaiError::Service,
                libc::EAI_SOCKTYPE => GaiError::Socktype,
                libc::EAI_SYSTEM => GaiError::System,
                _ => return Err(bad(format!("the unknown error code {code}"))),
            };
            Ok(Answer::Error(e))
        }
        Some(other) => Err(bad(format!(
            "{}; expected an error name or code, nil, or nil and addresses",
            describe(other)
        ))),
    }
}
