//! Who answered a request, and how: carried with each answered request to
//! the audit log (`--log`) and the summary (`--summary`).

/// How the answer was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum How {
    /// `send` / `send_with_fds`: the decider's own result or errno.
    Send,
    /// `use_master_credentials`: performed by the supervisor.
    Master,
    /// `use_program_credentials`: performed by the supervisor with the
    /// program's credentials.
    Program,
    /// `use_slave_credentials`: the kernel runs the call (CONTINUE); for a
    /// name lookup, the supervisor's resolver.
    Slave,
}

impl How {
    pub fn name(self) -> &'static str {
        match self {
            How::Send => "send",
            How::Master => "use_master_credentials",
            How::Program => "use_program_credentials",
            How::Slave => "use_slave_credentials",
        }
    }
}

/// The decision behind an answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// The policy script answered; `at` is the Lua `source:line` of the
    /// call to `send`/`use_*` (taken only while auditing).
    Policy { at: Box<str>, how: How },
    /// A described rule: the text a rules module (or `master:describe`)
    /// gave, e.g. `rule 3 (allow read /usr/)` or `default deny write`.
    Rule { text: Box<str>, how: How },
    /// The script returned before its first `master:receive()`: every
    /// request is left to the kernel (no master loop).
    Default,
    /// Answered by the supervisor without the policy (invalid arguments,
    /// fd-only stat, a socket call naming no address, …): why.
    Supervisor(&'static str),
    /// Refused by the default posture (a socket family, a syscall outside
    /// the allow-list, a refused call recorded with `--log`/`--summary`):
    /// why.  A denial.
    Posture(&'static str),
    /// Refused as the init script's Landlock backstop refuses it (a call
    /// the policy left to the kernel, see act/backstop.rs): the right it
    /// lacks.  A denial.
    Landlock(&'static str),
}

impl Decision {
    /// The `answer` field of a log record.
    pub fn answer(&self) -> &'static str {
        match self {
            Decision::Policy { how, .. } | Decision::Rule { how, .. } => how.name(),
            Decision::Default => How::Slave.name(),
            Decision::Supervisor(_) => "supervisor",
            Decision::Posture(_) => "posture",
            Decision::Landlock(_) => "landlock",
        }
    }

    /// Whether an errno answer is a denial: the decider chose the errno
    /// (`send`), rather than it coming from performing the call or from
    /// the supervisor's own checks (which the kernel would make the same).
    pub fn denies_on_error(&self) -> bool {
        matches!(
            self,
            Decision::Policy { how: How::Send, .. }
                | Decision::Rule { how: How::Send, .. }
                | Decision::Posture(_)
                | Decision::Landlock(_)
        )
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Policy { at, .. } => write!(f, "policy {at}"),
            Decision::Rule { text, .. } => f.write_str(text),
            Decision::Default => f.write_str("default (no master loop)"),
            Decision::Supervisor(why) => write!(f, "supervisor ({why})"),
            Decision::Posture(why) => write!(f, "posture ({why})"),
            Decision::Landlock(right) => {
                write!(f, "landlock (the backstop grants {right} nowhere)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_denials() {
        let p = Decision::Policy {
            at: "p.lua:12".into(),
            how: How::Send,
        };
        assert_eq!(p.to_string(), "policy p.lua:12");
        assert_eq!(p.answer(), "send");
        assert!(p.denies_on_error());
        let r = Decision::Rule {
            text: "rule 3 (allow read /usr/)".into(),
            how: How::Master,
        };
        assert_eq!(r.to_string(), "rule 3 (allow read /usr/)");
        assert_eq!(r.answer(), "use_master_credentials");
        assert!(!r.denies_on_error());
        assert_eq!(Decision::Default.answer(), "use_slave_credentials");
        assert_eq!(
            Decision::Supervisor("invalid arguments").to_string(),
            "supervisor (invalid arguments)"
        );
        assert!(!Decision::Supervisor("x").denies_on_error());
    }
}
