//! The parts of a rule set every matcher shares: kinds, actions, hits and
//! how two hits compare ("the most specific rule wins").

use std::cmp::Ordering;

pub use libc_service::kind::{Kind, KINDS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }
}

/// How an allowed request is performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// By the supervisor, race-free, with the program's credentials
    /// (`use_program_credentials`): the default.
    Program,
    /// By the supervisor, race-free, with its own authority
    /// (`use_master_credentials`): grants what the program could not do.
    Master,
    /// By the kernel with the program's credentials (`use_slave_credentials`).
    Slave,
}

/// How specific a match is: compared field by field, larger wins.
pub type Spec = [u32; 3];

/// A rule that matched, and how specifically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index into the rule set's rules.
    pub rule: u32,
    pub action: Action,
    pub spec: Spec,
}

impl Hit {
    /// Orders two hits: the more specific first; at equal specificity a
    /// denial first (fail closed), then the rule written first.
    pub fn cmp_best(&self, other: &Hit) -> Ordering {
        other
            .spec
            .cmp(&self.spec)
            .then_with(|| match (self.action, other.action) {
                (Action::Deny, Action::Allow) => Ordering::Less,
                (Action::Allow, Action::Deny) => Ordering::Greater,
                _ => Ordering::Equal,
            })
            .then_with(|| self.rule.cmp(&other.rule))
    }
}

/// The better of two optional hits.
pub fn best(a: Option<Hit>, b: Option<Hit>) -> Option<Hit> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.cmp_best(&x) == Ordering::Less {
            y
        } else {
            x
        }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A port range of a network rule; any port when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub lo: u16,
    pub hi: u16,
}

impl Ports {
    pub const ANY: Ports = Ports { lo: 0, hi: 65535 };

    pub fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }

    /// Narrower ranges are more specific.
    pub fn narrowness(self) -> u32 {
        65535 - u32::from(self.hi - self.lo)
    }
}

/// A hit with the ports it applies to.
#[derive(Clone, Copy, Debug)]
pub struct PortHit {
    pub ports: Ports,
    pub hit: Hit,
}
