//! A loaded rule set and its queries: one (kind, subject) → the rule that
//! decides it, or the kind's default.

use std::net::IpAddr;

use super::net::{AddrSet, NameSet};
use super::paths::PathSet;
use super::spec::{best, Action, Hit, How, Kind, KINDS};
use libc_service::GaiError;

/// What a denial answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The call fails with this errno.
    Errno(i32),
    /// The lookup fails with this `getaddrinfo` error.
    Gai(GaiError),
}

/// One rule as written (its `$VAR`s expanded).
#[derive(Clone, Debug)]
pub struct Rule {
    /// 1-based, in the order written.
    pub number: usize,
    pub action: Action,
    pub pattern: String,
    pub refusal: Option<Refusal>,
    pub how: How,
    /// The kinds it is a rule of.
    pub kinds: Vec<Kind>,
}

/// The answer for a kind no rule matches.
#[derive(Clone, Copy, Debug)]
pub struct Fallback {
    pub action: Action,
    pub refusal: Option<Refusal>,
    pub how: How,
}

/// What decided one (kind, subject).
#[derive(Clone, Copy, Debug)]
pub struct Verdict {
    pub kind: Kind,
    /// The rule (index into [`Ruleset::rules`]), or `None` for the default.
    pub rule: Option<usize>,
    pub action: Action,
    pub refusal: Refusal,
    pub how: How,
    /// Decided by a rule of [`Ruleset::fallback`] (where this set had no
    /// rule): `rule` indexes its rules.
    pub fallback: bool,
}

#[derive(Debug)]
pub struct Ruleset {
    pub rules: Vec<Rule>,
    pub defaults: [Fallback; KINDS.len()],
    /// The errno of denials without one of their own.
    pub errno: i32,
    /// By kind index: read, write, create, delete, connect (unix), bind
    /// (unix), (resolve: unused), device.
    pub paths: [PathSet; KINDS.len()],
    /// connect, bind.
    pub addrs: [AddrSet; 2],
    /// resolve.
    pub names: NameSet,
    /// connect to an address learnt from a name (`name:` patterns).
    pub links: NameSet,
    /// Rules consulted only where this set has none (instead of its
    /// default): a learnt policy's rules completing its base policy
    /// (`rules.extend`).  They never override a rule of this set.
    pub fallback: Option<std::sync::Arc<Ruleset>>,
    /// `untrapped = "allowed everywhere"`: the calls that need only kinds
    /// [`Ruleset::allowed_everywhere`] are left to the kernel, untrapped
    /// (docs/rules.md, "Untrapped calls").  The rule set itself decides as
    /// always; acting on it is the supervisor's.
    pub untrapped: bool,
}

impl Ruleset {
    /// The verdict of `hit` (or of the default) for `kind`.
    pub fn verdict(&self, kind: Kind, hit: Option<Hit>) -> Verdict {
        let fallback = if kind == Kind::Resolve {
            Refusal::Gai(GaiError::Noname)
        } else {
            Refusal::Errno(self.errno)
        };
        match hit {
            Some(h) => {
                let r = &self.rules[h.rule as usize];
                Verdict {
                    kind,
                    rule: Some(h.rule as usize),
                    action: r.action,
                    refusal: r.refusal.unwrap_or(fallback),
                    how: r.how,
                    fallback: false,
                }
            }
            None => {
                let d = &self.defaults[kind.index()];
                Verdict {
                    kind,
                    rule: None,
                    action: d.action,
                    refusal: d.refusal.unwrap_or(fallback),
                    how: d.how,
                    fallback: false,
                }
            }
        }
    }

    /// Is `kind` allowed on every subject, performed as the program
    /// (`how = "program"` or `"slave"`)?  Its default allows it so, and no
    /// rule of this set or of its [`Ruleset::fallback`] denies it or
    /// allows it with the supervisor's authority (`how = "master"`): no
    /// subject could make a check of `kind` refuse, or act otherwise than
    /// the program itself would.
    pub fn allowed_everywhere(&self, kind: Kind) -> bool {
        let as_program = |action: Action, how: How| action == Action::Allow && how != How::Master;
        let d = &self.defaults[kind.index()];
        let rules_allow = |set: &Ruleset| {
            set.rules
                .iter()
                .filter(|r| r.kinds.contains(&kind))
                .all(|r| as_program(r.action, r.how))
        };
        as_program(d.action, d.how)
            && rules_allow(self)
            && self.fallback.as_deref().is_none_or(rules_allow)
    }

    /// `own`, or where it is the default, the fallback's rule if it has
    /// one (`query` asks the fallback).
    fn or_fallback(&self, own: Verdict, query: impl FnOnce(&Ruleset) -> Verdict) -> Verdict {
        if own.rule.is_some() {
            return own;
        }
        match self.fallback.as_deref().map(query) {
            Some(v) if v.rule.is_some() => Verdict {
                fallback: true,
                ..v
            },
            _ => own,
        }
    }

    /// A path (or unix socket name) for a file kind, connect or bind.
    pub fn path(&self, kind: Kind, text: &[u8]) -> Verdict {
        let hit = match kind {
            Kind::Resolve => None,
            k => self.paths[k.index()].lookup(text),
        };
        self.or_fallback(self.verdict(kind, hit), |f| f.path(kind, text))
    }

    /// What some path strictly below the directory `path` is for `kind`,
    /// if it may be `action`: a rule below it (or a glob that may reach
    /// below it), else the rule or default that decides what no rule below
    /// names.  A rename of a directory moves everything below it: a policy
    /// that denies something below the source must not see it reappear
    /// below the destination where it is allowed (docs/rules.md, "Moving
    /// a directory").
    pub fn below(&self, kind: Kind, path: &[u8], action: Action) -> Option<Verdict> {
        if kind == Kind::Resolve {
            return None;
        }
        if let Some(h) = self.paths[kind.index()].below(path, action) {
            return Some(self.verdict(kind, Some(h)));
        }
        // A name no rule below names (no path component holds a NUL).
        let mut probe = path.to_vec();
        if !probe.ends_with(b"/") {
            probe.push(b'/');
        }
        probe.push(0);
        let v = self.path(kind, &probe);
        (v.action == action).then_some(v)
    }

    /// An address for connect or bind; `names` are the names the program
    /// learnt `ip` from (connect only).
    pub fn addr(&self, kind: Kind, ip: IpAddr, port: u16, names: &[String]) -> Verdict {
        let set = match kind {
            Kind::Connect => &self.addrs[0],
            Kind::Bind => &self.addrs[1],
            _ => return self.verdict(kind, None),
        };
        let mut hit = set.lookup(ip, port);
        if kind == Kind::Connect && !self.links.is_empty() {
            // The best name rule among the names; then it counts as a rule
            // on the host address for any port: it beats a shorter prefix,
            // and ties with any rule on the very address (where a denial
            // wins).
            let named = names
                .iter()
                .fold(None, |f, n| best(f, self.links.lookup(n, Some(port))));
            if let Some(mut h) = named {
                h.spec = [AddrSet::host_len(ip), 0, 0];
                hit = best(hit, Some(h));
            }
        }
        self.or_fallback(self.verdict(kind, hit), |f| f.addr(kind, ip, port, names))
    }

    /// A name for resolve.
    pub fn name(&self, name: &str) -> Verdict {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let own = self.verdict(Kind::Resolve, self.names.lookup(&name, None));
        self.or_fallback(own, |f| f.name(&name))
    }

    /// The audit text of a verdict: `rule 3 (allow read /usr/)`,
    /// `default deny write`.
    pub fn describe(&self, v: &Verdict) -> String {
        if let (true, Some(f)) = (v.fallback, &self.fallback) {
            let own = Verdict {
                fallback: false,
                ..*v
            };
            return format!("learnt {}", f.describe(&own));
        }
        match v.rule {
            Some(i) => {
                let r = &self.rules[i];
                format!(
                    "rule {} ({} {} {})",
                    r.number,
                    r.action.name(),
                    v.kind.name(),
                    r.pattern
                )
            }
            None => format!("default {} {}", v.action.name(), v.kind.name()),
        }
    }
}
