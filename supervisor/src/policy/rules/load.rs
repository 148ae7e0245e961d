//! Reading a rules table (docs/rules.md): checking every entry, converting
//! its values, and handing them to the Lua-free [`RulesetBuilder`] (which
//! checks the patterns and builds the matchers).  Every mistake is an
//! error naming the rule; nothing is silently ignored.

use mlua::{Table, Value};

use ::rules::{
    expand, port_range, Action, Error, Fallback, How, Kind, Ports, Refusal, RuleSpec, Ruleset,
    RulesetBuilder, KINDS,
};
use libc_service::{errno, GaiError};

type Result<T> = std::result::Result<T, String>;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        _ => None,
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.to_string_lossy()),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.type_name().to_string(),
    }
}

fn action(v: &Value) -> Result<Action> {
    match text(v).as_deref() {
        Some("allow") => Ok(Action::Allow),
        Some("deny") => Ok(Action::Deny),
        _ => Err(format!(
            "the action must be \"allow\" or \"deny\", not {}",
            describe(v)
        )),
    }
}

fn how(v: &Value) -> Result<How> {
    match v {
        Value::Nil => Ok(How::Program),
        v => match text(v).as_deref() {
            Some("program") => Ok(How::Program),
            Some("master") => Ok(How::Master),
            Some("slave") => Ok(How::Slave),
            _ => Err(format!(
                "how must be \"program\", \"master\" or \"slave\", not {}",
                describe(v)
            )),
        },
    }
}

/// An errno: a name or a number (1-4095).
fn errno_value(v: &Value) -> Result<i32> {
    match v {
        Value::Integer(i) if (1..4096).contains(i) => Ok(*i as i32),
        Value::String(s) => {
            let name = s.to_string_lossy();
            errno::by_name(&name).ok_or_else(|| format!("unknown errno name {name:?}"))
        }
        other => Err(format!(
            "errno must be a name such as \"EACCES\" or a number, not {}",
            describe(other)
        )),
    }
}

/// A refusal for `kinds`: an errno, or for resolve a getaddrinfo error.
fn refusal(v: &Value, kinds: &[Kind]) -> Result<Option<Refusal>> {
    if v.is_nil() {
        return Ok(None);
    }
    if kinds.contains(&Kind::Resolve) {
        if kinds.len() > 1 {
            return Err(Error::MixedRefusal.to_string());
        }
        let name = text(v).unwrap_or_default();
        return name
            .parse::<GaiError>()
            .map(|e| Some(Refusal::Gai(e)))
            .map_err(|_| {
                format!(
                    "errno of a resolve rule must be a getaddrinfo error (noname, again, fail, \
                     …), not {}",
                    describe(v)
                )
            });
    }
    errno_value(v).map(|e| Some(Refusal::Errno(e)))
}

/// `port = P` or `port = {lo, hi}`; `None` when not written.
fn ports(v: &Value) -> Result<Option<Ports>> {
    let one = |v: &Value| match v {
        Value::Integer(i) if (0..=65535).contains(i) => Ok(*i as u16),
        other => Err(format!("a port must be 0-65535, not {}", describe(other))),
    };
    match v {
        Value::Nil => Ok(None),
        Value::Table(t) => {
            let lo = one(&t.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
            let hi = one(&t.raw_get::<Value>(2).map_err(|e| e.to_string())?)?;
            if t.raw_len() != 2 {
                return Err(Error::PortRange.to_string());
            }
            port_range(lo, hi).map(Some).map_err(|e| e.to_string())
        }
        v => one(v).map(|p| Some(Ports { lo: p, hi: p })),
    }
}

fn kinds(v: &Value) -> Result<Vec<Kind>> {
    let one = |v: &Value| {
        text(v).and_then(|s| Kind::by_name(&s)).ok_or_else(|| {
            format!(
                "unknown kind {} (read, write, create, delete, connect, bind, resolve, device)",
                describe(v)
            )
        })
    };
    match v {
        Value::Table(t) => {
            let mut out = Vec::new();
            for k in t.sequence_values::<Value>() {
                let k = one(&k.map_err(|e| e.to_string())?)?;
                if !out.contains(&k) {
                    out.push(k);
                }
            }
            if out.is_empty() {
                return Err(Error::NoKinds.to_string());
            }
            Ok(out)
        }
        v => Ok(vec![one(v)?]),
    }
}

/// One entry of `default`: "allow", "deny", or {"deny", errno = …, how = …}.
fn default_entry(kind: Kind, v: &Value) -> Result<Fallback> {
    let what = |e: String| format!("default.{}: {e}", kind.name());
    match v {
        Value::Nil => Ok(Fallback {
            action: Action::Deny,
            refusal: None,
            how: How::Program,
        }),
        Value::Table(t) => {
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, _) = pair.map_err(|e| e.to_string())?;
                match &k {
                    Value::Integer(1) => {}
                    Value::String(s)
                        if matches!(&*s.to_str().map_err(|e| e.to_string())?, "errno" | "how") => {}
                    other => return Err(what(format!("unknown field {}", describe(other)))),
                }
            }
            let get = |k: &str| t.raw_get::<Value>(k).map_err(|e| e.to_string());
            Ok(Fallback {
                action: action(&t.raw_get::<Value>(1).map_err(|e| e.to_string())?).map_err(what)?,
                refusal: refusal(&get("errno")?, &[kind]).map_err(what)?,
                how: how(&get("how")?).map_err(what)?,
            })
        }
        v => Ok(Fallback {
            action: action(v).map_err(what)?,
            refusal: None,
            how: How::Program,
        }),
    }
}

/// Sets `kind`'s default to the entry `v`.
fn set_default(b: &mut RulesetBuilder, kind: Kind, v: &Value) -> Result<()> {
    let f = default_entry(kind, v)?;
    b.default_for(kind, f)
        .map_err(|e| format!("default.{}: {e}", kind.name()))?;
    Ok(())
}

/// `untrapped = "allowed everywhere"` (or `false`, nil: off).
fn untrapped(v: &Value) -> Result<bool> {
    match v {
        Value::Nil | Value::Boolean(false) => Ok(false),
        v if text(v).as_deref() == Some(UNTRAPPED) => Ok(true),
        other => Err(format!(
            "untrapped must be {UNTRAPPED:?} (or false), not {}",
            describe(other)
        )),
    }
}

/// The one value of `untrapped` that opts in.
pub const UNTRAPPED: &str = "allowed everywhere";

const RULE_FIELDS: [&str; 4] = ["errno", "port", "how", "exact"];

/// Builds the rule set from a rules table.
pub fn load(t: &Table) -> Result<Ruleset> {
    let mut b = RulesetBuilder::new();
    let n = t.raw_len();
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        match &k {
            Value::Integer(i) if *i >= 1 && (*i as usize) <= n => {}
            Value::String(s) => match &*s.to_string_lossy() {
                "errno" => {
                    b.errno(errno_value(&v).map_err(|e| format!("errno: {e}"))?);
                }
                "untrapped" => {
                    b.untrapped(untrapped(&v)?);
                }
                "default" => match &v {
                    Value::Table(d) => {
                        for pair in d.clone().pairs::<Value, Value>() {
                            let (dk, _) = pair.map_err(|e| e.to_string())?;
                            if text(&dk).is_none_or(|s| Kind::by_name(&s).is_none()) {
                                return Err(format!(
                                    "default: unknown kind {} (read, write, create, delete, \
                                     connect, bind, resolve, device)",
                                    describe(&dk)
                                ));
                            }
                        }
                        for kind in KINDS {
                            let e = d.raw_get::<Value>(kind.name()).map_err(|e| e.to_string())?;
                            set_default(&mut b, kind, &e)?;
                        }
                    }
                    v => {
                        for kind in KINDS {
                            set_default(&mut b, kind, v)?;
                        }
                    }
                },
                other => {
                    return Err(format!(
                    "unknown field {other:?} (errno, default, untrapped, and the rules as a list)"
                ))
                }
            },
            other => {
                return Err(format!(
                    "unexpected key {} (the rules must be a list without holes)",
                    describe(other)
                ))
            }
        }
    }
    for i in 1..=n {
        let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
        let Value::Table(r) = v else {
            return Err(format!(
                "rule {i}: must be a table {{action, kind, pattern, …}}, not {}",
                describe(&v)
            ));
        };
        add_rule(&mut b, &r).map_err(|e| format!("rule {i}: {e}"))?;
    }
    Ok(b.build())
}

/// Reads rule `r` (in the order its mistakes are told: fields, action,
/// kinds, pattern, errno, how, port, then the pattern for each kind) and
/// adds it.
fn add_rule(b: &mut RulesetBuilder, r: &Table) -> Result<()> {
    for pair in r.clone().pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match &k {
            Value::Integer(1..=3) => {}
            Value::String(s) if RULE_FIELDS.contains(&&*s.to_string_lossy()) => {}
            other => {
                return Err(format!(
                    "unknown field {} (a rule is {{action, kind, pattern}} with errno, port, how, exact)",
                    describe(other)
                ))
            }
        }
    }
    let get = |k: &str| r.raw_get::<Value>(k).map_err(|e| e.to_string());
    let act = action(&r.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
    let kinds = kinds(&r.raw_get::<Value>(2).map_err(|e| e.to_string())?)?;
    let raw = r.raw_get::<Value>(3).map_err(|e| e.to_string())?;
    let raw = text(&raw)
        .ok_or_else(|| format!("the pattern must be a string, not {}", describe(&raw)))?;
    let pattern = expand(&raw).map_err(|e| e.to_string())?;
    let refusal = refusal(&get("errno")?, &kinds)?;
    let how = how(&get("how")?)?;
    let ports = ports(&get("port")?)?;
    let exact = match get("exact")? {
        Value::Nil => false,
        Value::Boolean(b) => b,
        other => {
            return Err(format!(
                "exact must be true or false, not {}",
                describe(&other)
            ))
        }
    };
    b.rule(RuleSpec {
        action: act,
        kinds,
        pattern,
        refusal,
        how,
        ports,
        exact,
    })
    .map_err(|e| e.to_string())?;
    Ok(())
}
