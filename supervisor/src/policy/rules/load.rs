//! Loading a rules table (docs/rules.md): checking every entry, expanding
//! `$VAR`s, and building the matchers.  Every mistake is an error naming
//! the rule; nothing is silently ignored.

use std::net::IpAddr;
use std::path::Path;

use mlua::{Table, Value};

use super::glob;
use super::net::{AddrSet, NameSet};
use super::paths::PathSet;
use super::set::{Fallback, Refusal, Rule, Ruleset};
use super::spec::{Action, How, Kind, Ports, KINDS};
use crate::dns::GaiError;
use libc_service::errno;

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
        Value::Nil => Ok(How::Master),
        v => match text(v).as_deref() {
            Some("master") => Ok(How::Master),
            Some("slave") => Ok(How::Slave),
            _ => Err(format!(
                "how must be \"master\" or \"slave\", not {}",
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
            return Err(
                "errno: resolve takes a getaddrinfo error, the other kinds an errno: \
                        write them as separate rules"
                    .into(),
            );
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

/// `$NAME` and `${NAME}` replaced by the environment; `$$` is `$`.  An
/// unset or empty variable is an error (a rule on "" would be "/").
pub fn expand(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
            continue;
        }
        let (name, next) = if let Some(a) = after.strip_prefix('{') {
            let end = a
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
            (&a[..end], &a[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "bad variable name after $ in {s:?} (write $$ for a $)"
            ));
        }
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => out.push_str(&v),
            Ok(_) => return Err(format!("${name} is empty (in {s:?})")),
            Err(_) => return Err(format!("${name} is not set (in {s:?})")),
        }
        rest = next;
    }
    out.push_str(rest);
    Ok(out)
}

/// A path pattern made regular: `//` collapsed; `.` and `..` refused.
fn path_pattern(p: &str) -> Result<String> {
    if !p.starts_with('/') {
        if p.contains('/') || !p.contains(':') && !p.starts_with('@') {
            return Err(format!(
                "{p:?}: a path pattern must be absolute (or name an object such as \
                 \"pipe:*\" or an abstract socket \"@name\")"
            ));
        }
        return Ok(p.to_owned());
    }
    let mut out = String::from("/");
    for c in p.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." {
            return Err(format!("{p:?}: no . or .. in a path pattern"));
        }
        if c.contains("**") && c != "**" {
            return Err(format!("{p:?}: ** must be a whole component"));
        }
        if out.len() > 1 {
            out.push('/');
        }
        out.push_str(c);
    }
    if p.ends_with('/') && out.len() > 1 {
        out.push('/');
    }
    Ok(out)
}

/// The pattern with the longest existing part of its literal leading
/// components replaced by its canonical path (symlinks followed), if that
/// differs: rules are matched against canonical paths, so a rule on
/// `/lib/` must also be a rule on `/usr/lib/` when `/lib` is a symlink.
/// Not for `/proc` and `/dev`, whose links mean the supervisor's own
/// process there.
fn canonical_variant(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let comps: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    let lit = comps
        .iter()
        .position(|c| glob::is_wild(c.as_bytes()) || *c == "**" || c.contains('\\'))
        .unwrap_or(comps.len());
    let special =
        |s: &str| s == "/proc" || s.starts_with("/proc/") || s == "/dev" || s.starts_with("/dev/");
    for n in (1..=lit).rev() {
        let prefix = format!("/{}", comps[..n].join("/"));
        let Ok(canon) = std::fs::canonicalize(Path::new(&prefix)) else {
            continue;
        };
        let canon = canon.to_str()?.to_owned();
        if canon == prefix || special(&prefix) || special(&canon) {
            return None;
        }
        let mut out = canon;
        for c in &comps[n..] {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(c);
        }
        if p.ends_with('/') && !out.ends_with('/') {
            out.push('/');
        }
        return Some(out);
    }
    None
}

/// A DNS name pattern: `*`, `*.suffix` or a name; lower-cased, no
/// trailing dot.
fn name_pattern(p: &str) -> Result<String> {
    let n = p.trim_end_matches('.').to_ascii_lowercase();
    let body = n.strip_prefix("*.").unwrap_or(&n);
    let ok = n == "*"
        || (!body.is_empty()
            && !body.contains('*')
            && !body.contains("..")
            && !body.starts_with('.')
            && !body.contains(char::is_whitespace));
    if !ok {
        return Err(format!(
            "{p:?}: a name pattern is a name, \"*.suffix\" or \"*\""
        ));
    }
    Ok(n)
}

/// `ADDRESS`, `ADDRESS/LEN` or `*` → (address, length) pairs.
fn cidr(p: &str) -> Result<Vec<(IpAddr, u8)>> {
    if p == "*" {
        return Ok(vec![
            (IpAddr::from([0u8; 4]), 0),
            (IpAddr::from([0u16; 8]), 0),
        ]);
    }
    let (a, len) = match p.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (p, None),
    };
    // A scope (`fe80::1%2`) does not change which address it is.
    let a = a.split_once('%').map_or(a, |(a, _)| a);
    let ip: IpAddr = a
        .parse()
        .map_err(|_| format!("{p:?}: not an address or CIDR (\"10.0.0.0/8\", \"::1\", \"*\")"))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => bits,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= bits => n,
            _ => return Err(format!("{p:?}: bad prefix length")),
        },
    };
    if ip.is_ipv6() && ip.to_canonical().is_ipv4() && len < 96 {
        return Err(format!(
            "{p:?}: an IPv4-mapped prefix must be /96 or longer"
        ));
    }
    Ok(vec![(ip, len)])
}

fn ports(v: &Value) -> Result<Ports> {
    let one = |v: &Value| match v {
        Value::Integer(i) if (0..=65535).contains(i) => Ok(*i as u16),
        other => Err(format!("a port must be 0-65535, not {}", describe(other))),
    };
    match v {
        Value::Nil => Ok(Ports::ANY),
        Value::Table(t) => {
            let lo = one(&t.raw_get::<Value>(1).map_err(|e| e.to_string())?)?;
            let hi = one(&t.raw_get::<Value>(2).map_err(|e| e.to_string())?)?;
            if lo > hi || t.raw_len() != 2 {
                return Err("port = {lo, hi} with lo <= hi".into());
            }
            Ok(Ports { lo, hi })
        }
        v => one(v).map(|p| Ports { lo: p, hi: p }),
    }
}

fn kinds(v: &Value) -> Result<Vec<Kind>> {
    let one = |v: &Value| {
        text(v).and_then(|s| Kind::by_name(&s)).ok_or_else(|| {
            format!(
                "unknown kind {} (read, write, create, delete, connect, bind, resolve)",
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
                return Err("an empty list of kinds".into());
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
            how: How::Master,
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
            how: How::Master,
        }),
    }
}

const RULE_FIELDS: [&str; 3] = ["errno", "port", "how"];

/// Builds the rule set from a rules table.
pub fn load(t: &Table) -> Result<Ruleset> {
    let deny = Fallback {
        action: Action::Deny,
        refusal: None,
        how: How::Master,
    };
    let mut set = Ruleset {
        rules: Vec::new(),
        defaults: [deny; 7],
        errno: libc::EACCES,
        paths: std::array::from_fn(|_| PathSet::default()),
        addrs: [AddrSet::default(), AddrSet::default()],
        names: NameSet::default(),
        links: NameSet::default(),
    };
    let n = t.raw_len();
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        match &k {
            Value::Integer(i) if *i >= 1 && (*i as usize) <= n => {}
            Value::String(s) => match &*s.to_string_lossy() {
                "errno" => set.errno = errno_value(&v).map_err(|e| format!("errno: {e}"))?,
                "default" => match &v {
                    Value::Table(d) => {
                        for pair in d.clone().pairs::<Value, Value>() {
                            let (dk, _) = pair.map_err(|e| e.to_string())?;
                            if text(&dk).is_none_or(|s| Kind::by_name(&s).is_none()) {
                                return Err(format!(
                                    "default: unknown kind {} (read, write, create, delete, \
                                     connect, bind, resolve)",
                                    describe(&dk)
                                ));
                            }
                        }
                        for kind in KINDS {
                            let e = d.raw_get::<Value>(kind.name()).map_err(|e| e.to_string())?;
                            set.defaults[kind.index()] = default_entry(kind, &e)?;
                        }
                    }
                    v => {
                        for kind in KINDS {
                            set.defaults[kind.index()] = default_entry(kind, v)?;
                        }
                    }
                },
                other => {
                    return Err(format!(
                        "unknown field {other:?} (errno, default, and the rules as a list)"
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
        add_rule(&mut set, i, &r).map_err(|e| format!("rule {i}: {e}"))?;
    }
    Ok(set)
}

fn add_rule(set: &mut Ruleset, number: usize, r: &Table) -> Result<()> {
    for pair in r.clone().pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match &k {
            Value::Integer(1..=3) => {}
            Value::String(s) if RULE_FIELDS.contains(&&*s.to_string_lossy()) => {}
            other => {
                return Err(format!(
                    "unknown field {} (a rule is {{action, kind, pattern}} with errno, port, how)",
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
    let pattern = expand(&raw)?;
    let refusal = refusal(&get("errno")?, &kinds)?;
    let how = how(&get("how")?)?;
    let port_v = get("port")?;
    let port = ports(&port_v)?;
    let index = set.rules.len() as u32;
    for &kind in &kinds {
        add_pattern(set, kind, &pattern, &port_v, port, index, act)?;
    }
    set.rules.push(Rule {
        number,
        action: act,
        pattern,
        refusal,
        how,
    });
    Ok(())
}

fn add_path(set: &mut PathSet, p: &str, index: u32, act: Action) -> Result<()> {
    let p = path_pattern(p)?;
    set.insert(p.as_bytes(), index, act);
    if let Some(c) = canonical_variant(&p) {
        set.insert(c.as_bytes(), index, act);
    }
    Ok(())
}

fn add_pattern(
    set: &mut Ruleset,
    kind: Kind,
    pattern: &str,
    port_v: &Value,
    port: Ports,
    index: u32,
    act: Action,
) -> Result<()> {
    let no_port = || {
        if port_v.is_nil() {
            Ok(())
        } else {
            Err(format!(
                "port: {} rules on {pattern:?} take no port",
                kind.name()
            ))
        }
    };
    match kind {
        Kind::Read | Kind::Write | Kind::Create | Kind::Delete => {
            no_port()?;
            add_path(&mut set.paths[kind.index()], pattern, index, act)
        }
        Kind::Resolve => {
            no_port()?;
            set.names
                .insert(&name_pattern(pattern)?, Ports::ANY, index, act);
            Ok(())
        }
        Kind::Connect | Kind::Bind => {
            if let Some(p) = pattern.strip_prefix("unix:") {
                no_port()?;
                // An abstract name may be written with its NUL byte.
                let p = match p.strip_prefix('\0') {
                    Some(name) => format!("@{name}"),
                    None => p.to_owned(),
                };
                return add_path(&mut set.paths[kind.index()], &p, index, act);
            }
            if let Some(n) = pattern.strip_prefix("name:") {
                if kind == Kind::Bind {
                    return Err("name: patterns are for connect, not bind".into());
                }
                set.links.insert(&name_pattern(n)?, port, index, act);
                return Ok(());
            }
            let addrs = &mut set.addrs[if kind == Kind::Connect { 0 } else { 1 }];
            for (ip, len) in cidr(pattern)? {
                addrs.insert(ip, len, port, index, act);
            }
            Ok(())
        }
    }
}
