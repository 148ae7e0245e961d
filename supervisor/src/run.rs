//! One run's context and how it ends.
//!
//! [`Run`] holds what the whole run shares, made once from the command
//! line before the program starts and handed down to whoever needs it:
//! the audit recorder, the upstream name server, whether the program's
//! root can change, the policy's name.  Nothing of it lives in statics.
//!
//! [`Stop`] is how a run ends early or is over: the library never exits
//! the process; it returns (or raises through Lua) a `Stop`, and `main`
//! turns it into the exit code, after the audit trail is complete.

use std::net::SocketAddr;
use std::sync::Arc;

use nix::errno::Errno;

use crate::audit::Recorder;
use crate::exit;
use crate::launch::LaunchError;
use crate::pending::Root;

/// What the whole run shares.
#[derive(Clone, Default)]
pub struct Run {
    /// `--log`, `--summary`.
    pub audit: Recorder,
    /// `--dns-upstream`; `None`: the host's resolv.conf.
    pub dns_upstream: Option<SocketAddr>,
    /// The program's root, as seen by resolution (fixed for the run under
    /// the default posture).
    pub root: Arc<Root>,
    /// The policy's name (its file), for messages.
    pub policy: Option<String>,
    /// `--timeout`, `--kill-after`.
    pub limits: crate::jobctl::Limits,
    /// `--serving-threads`: how many threads serve the requests a policy
    /// decides without Lua (`rules.run`), the main thread included;
    /// `None`: two per CPU available, at most 4 (`session::serving`).
    pub serving_threads: Option<usize>,
    /// The container served (`supervisor agent`), for the policy
    /// (`libc_service.container`); `None` for `supervisor run`.
    pub container: Option<Container>,
}

/// The container a run serves: its id and its process, as the runtime
/// sent them.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    /// The container's process, in the agent's pid namespace.
    pub pid: i32,
}

/// Why a run ended before the program did, or that the program did.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    /// The program (and all it left behind) ended with this exit code.
    #[error("the program ended (exit code {0})")]
    Exited(i32),
    /// `--timeout` expired: the job was ended.
    #[error("the job ran out of time (--timeout); it was ended")]
    TimedOut,
    /// `supervisor check`: the policy reached its first `master:receive()`
    /// (or failed); the check's exit code.
    #[error("the check is over (exit code {0})")]
    Checked(i32),
    /// The program could not be started.
    #[error("{0}")]
    Launch(#[from] LaunchError),
    /// A slave filter failed; the program was killed.
    #[error("slave filter error: {0}")]
    SlaveFilter(String),
    /// The policy file cannot be read.
    #[error("cannot read policy {path}: {source}")]
    PolicyRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `--policy NAME` names no ready policy (and no file).
    #[error(
        "no policy file or ready policy {name:?} (ready: {known}; a file's path needs a / or .lua)"
    )]
    UnknownPolicy { name: String, known: String },
    /// The policy failed; the program (if started) was killed.
    #[error("policy {0}")]
    Policy(String),
    /// `supervisor learn`: the learnt policy cannot be written.
    #[error("cannot write the learnt policy {path}: {source}")]
    LearntPolicy {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The request loop could not go on (a failing step, with its errno);
    /// the program was killed.
    #[error("{what}: {errno}")]
    Internal { what: &'static str, errno: Errno },
}

impl Stop {
    /// The supervisor's exit code for this end (docs: exit codes).
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::Exited(c) | Stop::Checked(c) => *c,
            Stop::TimedOut => exit::TIMEOUT,
            Stop::Launch(e) => e.exit_code(),
            Stop::SlaveFilter(_) => exit::SLAVE_FILTER,
            Stop::Policy(_) | Stop::PolicyRead { .. } | Stop::UnknownPolicy { .. } => exit::POLICY,
            Stop::Internal { .. } | Stop::LearntPolicy { .. } => exit::SUPERVISOR,
        }
    }

    /// The same end again, for a policy that keeps calling into a run
    /// that is over (the first `Stop` is the one the run ends with).
    pub fn again(&self) -> Stop {
        match self {
            Stop::Exited(c) => Stop::Exited(*c),
            Stop::TimedOut => Stop::TimedOut,
            Stop::Checked(c) => Stop::Checked(*c),
            other => Stop::Policy(other.to_string()),
        }
    }

    /// The line to print, if this end is an error.
    pub fn message(&self) -> Option<String> {
        match self {
            Stop::Exited(_) | Stop::Checked(_) => None,
            e => Some(e.to_string()),
        }
    }
}
