//! Building a [`Ruleset`] from rules as written (docs/rules.md): `$VAR`s
//! expanded ([`expand`]), path, name and address patterns checked and
//! made regular, and each pattern inserted in the matchers of its kinds.
//! Every mistake is an [`Error`]; nothing is silently ignored.
//!
//! The values are given already typed (a [`RuleSpec`] per rule, a
//! [`Fallback`] per kind); reading them from a policy's own notation
//! (the supervisor's Lua tables) and numbering the errors is the caller's.

use std::net::IpAddr;
use std::path::Path;

use super::glob;
use super::net::{AddrSet, NameSet};
use super::paths::PathSet;
use super::set::{Fallback, Refusal, Rule, Ruleset};
use super::spec::{Action, How, Kind, Ports, KINDS};

/// A mistake in a rule; the texts are the ones a policy's author reads
/// (the caller prefixes where: `rule 3: `, `default.read: `).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// [`expand`]: `${` without its `}`.
    #[error("unclosed ${{ in {0:?}")]
    UnclosedBrace(String),
    /// [`expand`]: `$` not followed by a variable name (nor `$`).
    #[error("bad variable name after $ in {0:?} (write $$ for a $)")]
    BadVariable(String),
    /// [`expand`]: a variable set to "".
    #[error("${name} is empty (in {text:?})")]
    EmptyVariable { name: String, text: String },
    /// [`expand`]: a variable not set.
    #[error("${name} is not set (in {text:?})")]
    UnsetVariable { name: String, text: String },
    /// `exact = true` on a pattern that is not a directory (`…/`).
    #[error("{0:?}: exact = true is for a directory pattern ending in /")]
    ExactNotDir(String),
    /// A path pattern neither absolute nor naming an object.
    #[error(
        "{0:?}: a path pattern must be absolute (or name an object such as \
         \"pipe:*\" or an abstract socket \"@name\")"
    )]
    NotAbsolute(String),
    /// A `.` or `..` component in a path pattern.
    #[error("{0:?}: no . or .. in a path pattern")]
    DotComponent(String),
    /// `**` within a component (`a**`).
    #[error("{0:?}: ** must be a whole component")]
    PartialAnyComponents(String),
    /// A name pattern (resolve, `name:`) that is not a name, `*.suffix` or `*`.
    #[error("{0:?}: a name pattern is a name, \"*.suffix\" or \"*\"")]
    NamePattern(String),
    /// An address pattern that is not an address, a CIDR or `*`.
    #[error("{0:?}: not an address or CIDR (\"10.0.0.0/8\", \"::1\", \"*\")")]
    NotAnAddress(String),
    /// A CIDR prefix length that is not a number within the family's bits.
    #[error("{0:?}: bad prefix length")]
    PrefixLength(String),
    /// An IPv4-mapped IPv6 CIDR shorter than /96.
    #[error("{0:?}: an IPv4-mapped prefix must be /96 or longer")]
    MappedPrefix(String),
    /// [`port_range`]: lo above hi (also a range not written as two ports).
    #[error("port = {{lo, hi}} with lo <= hi")]
    PortRange,
    /// Ports on a rule whose kind (files, resolve, unix sockets) has none.
    #[error("port: {} rules on {pattern:?} take no port", kind.name())]
    NoPort { kind: Kind, pattern: String },
    /// A `name:` pattern on bind.
    #[error("name: patterns are for connect, not bind")]
    NameOnBind,
    /// A rule on no kind.
    #[error("an empty list of kinds")]
    NoKinds,
    /// A refusal on resolve and other kinds at once.
    #[error(
        "errno: resolve takes a getaddrinfo error, the other kinds an errno: \
         write them as separate rules"
    )]
    MixedRefusal,
    /// A refusal of the wrong sort for its kind: a getaddrinfo error for a
    /// kind other than resolve, an errno for resolve.  (The Lua reader
    /// chooses the sort by the kind, so it never meets this.)
    #[error(
        "errno: a {} rule takes {}",
        kind.name(),
        if *kind == Kind::Resolve { "a getaddrinfo error" } else { "an errno" }
    )]
    RefusalSort { kind: Kind },
}

type Result<T> = std::result::Result<T, Error>;

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
                .ok_or_else(|| Error::UnclosedBrace(s.to_owned()))?;
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
            return Err(Error::BadVariable(s.to_owned()));
        }
        let (name, text) = (name.to_owned(), s.to_owned());
        match std::env::var(&name) {
            Ok(v) if !v.is_empty() => out.push_str(&v),
            Ok(_) => return Err(Error::EmptyVariable { name, text }),
            Err(_) => return Err(Error::UnsetVariable { name, text }),
        }
        rest = next;
    }
    out.push_str(rest);
    Ok(out)
}

/// `port = {lo, hi}`: the ports from `lo` to `hi`.
pub fn port_range(lo: u16, hi: u16) -> Result<Ports> {
    if lo > hi {
        return Err(Error::PortRange);
    }
    Ok(Ports { lo, hi })
}

/// A path pattern made regular: `//` collapsed; `.` and `..` refused.
fn path_pattern(p: &str) -> Result<String> {
    if !p.starts_with('/') {
        if p.contains('/') || !p.contains(':') && !p.starts_with('@') {
            return Err(Error::NotAbsolute(p.to_owned()));
        }
        return Ok(p.to_owned());
    }
    let mut out = String::from("/");
    for c in p.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." {
            return Err(Error::DotComponent(p.to_owned()));
        }
        if c.contains("**") && c != "**" {
            return Err(Error::PartialAnyComponents(p.to_owned()));
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
        return Err(Error::NamePattern(p.to_owned()));
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
    let ip: IpAddr = a.parse().map_err(|_| Error::NotAnAddress(p.to_owned()))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => bits,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= bits => n,
            _ => return Err(Error::PrefixLength(p.to_owned())),
        },
    };
    if ip.is_ipv6() && ip.to_canonical().is_ipv4() && len < 96 {
        return Err(Error::MappedPrefix(p.to_owned()));
    }
    Ok(vec![(ip, len)])
}

/// Whether `r` is of the sort `kind` takes.
fn refusal_fits(kind: Kind, r: Option<Refusal>) -> Result<()> {
    match (kind, r) {
        (_, None) | (Kind::Resolve, Some(Refusal::Gai(_))) => Ok(()),
        (Kind::Resolve, Some(Refusal::Errno(_))) => Err(Error::RefusalSort { kind }),
        (_, Some(Refusal::Gai(_))) => Err(Error::RefusalSort { kind }),
        (_, Some(Refusal::Errno(_))) => Ok(()),
    }
}

/// One rule as written: `{action, kinds, pattern, errno = …, how = …,
/// port = …}`.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub action: Action,
    /// At least one; a kind listed twice counts once.
    pub kinds: Vec<Kind>,
    /// The subject, its `$VAR`s already expanded ([`expand`]): a path
    /// pattern (files, `unix:PATH` for connect and bind), an address or
    /// CIDR (connect, bind), a name pattern (resolve, `name:` for connect).
    pub pattern: String,
    /// What a denial answers; `None`: the rule set's errno, or `noname`
    /// for resolve.  A getaddrinfo error for resolve, an errno otherwise.
    pub refusal: Option<Refusal>,
    pub how: How,
    /// The ports of an address rule; `None`: not written (any port).
    pub ports: Option<Ports>,
    /// A path pattern ending in `/` matches the directory itself only,
    /// not what is below it (`exact = true`).
    pub exact: bool,
}

/// Builds a [`Ruleset`]: rules in the order written (numbered from 1),
/// a default per kind (deny when not given), the errno of denials.
#[derive(Debug)]
pub struct RulesetBuilder {
    set: Ruleset,
}

impl Default for RulesetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RulesetBuilder {
    /// No rules; every kind denied with `EACCES` (`noname` for resolve).
    pub fn new() -> Self {
        let deny = Fallback {
            action: Action::Deny,
            refusal: None,
            how: How::Program,
        };
        RulesetBuilder {
            set: Ruleset {
                rules: Vec::new(),
                defaults: [deny; KINDS.len()],
                errno: libc::EACCES,
                paths: std::array::from_fn(|_| PathSet::default()),
                addrs: [AddrSet::default(), AddrSet::default()],
                names: NameSet::default(),
                links: NameSet::default(),
                fallback: None,
                untrapped: false,
            },
        }
    }

    /// The errno of denials without one of their own (`errno = …`).
    pub fn errno(&mut self, errno: i32) -> &mut Self {
        self.set.errno = errno;
        self
    }

    /// Leaves to the kernel the calls that need only kinds allowed
    /// everywhere (`untrapped = "allowed everywhere"`).
    pub fn untrapped(&mut self, on: bool) -> &mut Self {
        self.set.untrapped = on;
        self
    }

    /// The answer for `kind` when no rule matches (`default = …`).
    pub fn default_for(&mut self, kind: Kind, fallback: Fallback) -> Result<&mut Self> {
        refusal_fits(kind, fallback.refusal)?;
        self.set.defaults[kind.index()] = fallback;
        Ok(self)
    }

    /// Adds the next rule (numbered after the ones added before).
    pub fn rule(&mut self, r: RuleSpec) -> Result<&mut Self> {
        if r.kinds.is_empty() {
            return Err(Error::NoKinds);
        }
        if r.refusal.is_some() && r.kinds.contains(&Kind::Resolve) && r.kinds.len() > 1 {
            return Err(Error::MixedRefusal);
        }
        let index = self.set.rules.len() as u32;
        for &kind in &r.kinds {
            refusal_fits(kind, r.refusal)?;
            if r.exact && !r.pattern.ends_with('/') {
                return Err(Error::ExactNotDir(r.pattern.clone()));
            }
            self.add_pattern(kind, &r.pattern, r.ports, r.exact, index, r.action)?;
        }
        self.set.rules.push(Rule {
            number: self.set.rules.len() + 1,
            action: r.action,
            pattern: r.pattern,
            refusal: r.refusal,
            how: r.how,
            kinds: r.kinds,
        });
        Ok(self)
    }

    /// The rule set.
    pub fn build(self) -> Ruleset {
        self.set
    }

    fn add_pattern(
        &mut self,
        kind: Kind,
        pattern: &str,
        ports: Option<Ports>,
        exact: bool,
        index: u32,
        act: Action,
    ) -> Result<()> {
        let set = &mut self.set;
        let no_port = || match ports {
            None => Ok(()),
            Some(_) => Err(Error::NoPort {
                kind,
                pattern: pattern.to_owned(),
            }),
        };
        match kind {
            Kind::Read | Kind::Write | Kind::Create | Kind::Delete | Kind::Device => {
                no_port()?;
                add_path(&mut set.paths[kind.index()], pattern, index, act, exact)
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
                    return add_path(&mut set.paths[kind.index()], &p, index, act, exact);
                }
                let port = ports.unwrap_or(Ports::ANY);
                if let Some(n) = pattern.strip_prefix("name:") {
                    if kind == Kind::Bind {
                        return Err(Error::NameOnBind);
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
}

fn add_path(set: &mut PathSet, p: &str, index: u32, act: Action, exact: bool) -> Result<()> {
    let p = path_pattern(p)?;
    set.insert_as(p.as_bytes(), index, act, exact);
    if let Some(c) = canonical_variant(&p) {
        set.insert_as(c.as_bytes(), index, act, exact);
    }
    Ok(())
}
