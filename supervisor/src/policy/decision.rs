//! Why a request got its answer: what the audit log shows as its
//! decision.
//!
//! Whoever decides the current request may put a [`Decision`] in
//! [`super::State::decision`] just before answering it through the
//! master (the rules module does: `rule 3 (allow read /usr/)`,
//! `default deny write`).  `master:receive()` clears it, so a decision
//! never outlives its request; a request answered without one was decided
//! by the policy's own Lua code.

/// The decision behind one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed (performed) or denied.
    pub allowed: bool,
    /// The number of the rule that decided (1-based, as written); `None`
    /// for a default or a request no rule could apply to.
    pub rule: Option<usize>,
    /// The text for the log, e.g. `rule 3 (allow read /usr/)`.
    pub text: String,
}
