//! The matcher of rules policies (docs/rules.md), without Lua and without
//! the supervisor's requests: what a rule set says about one (kind,
//! subject) pair, the subject being what the supervisor will act on — a
//! canonical path (or the text of an object such as `pipe:[12]`, an
//! abstract unix name `@name`), an address and port, or a DNS name.
//!
//! Among the rules that match, the most specific rule wins (a longer
//! literal path, an exact path over a glob over a prefix, a longer CIDR
//! prefix, a narrower port range, an exact name over a suffix); at equal
//! specificity a denial wins, then the rule written first.  No rule: the
//! kind's default.  Lookups cost what the subject costs (its components,
//! the prefix lengths in use, its labels), not the number of rules.
//!
//! * [`RulesetBuilder`] (`builder.rs`): rules as written ([`RuleSpec`],
//!   `$VAR`s expanded by [`expand`]) → a [`Ruleset`]; each mistake an
//!   [`Error`].  The supervisor's `require "rules"` reads a Lua table and
//!   fills it.
//! * [`Ruleset`] (`set.rs`): the queries — [`Ruleset::path`],
//!   [`Ruleset::addr`], [`Ruleset::name`] → a [`Verdict`], and its audit
//!   text ([`Ruleset::describe`]).
//! * The matchers: [`PathSet`] (`paths.rs`, a trie of components, globs
//!   from `glob.rs`), [`AddrSet`] and [`NameSet`] (`net.rs`), sharing the
//!   specificity order of `spec.rs` ([`Hit::cmp_best`]).
//!
//! Mapping a request to its (kind, subject) pairs, and answering it, are
//! the supervisor's (`supervisor/src/policy/rules/`).

mod builder;
mod glob;
mod net;
mod paths;
mod set;
mod spec;
#[cfg(test)]
mod tests;

pub use builder::{expand, port_range, Error, RuleSpec, RulesetBuilder};
pub use net::{AddrSet, NameSet};
pub use paths::PathSet;
pub use set::{Fallback, Refusal, Rule, Ruleset, Verdict};
pub use spec::{best, Action, Hit, How, Kind, Ports, Spec, KINDS};
