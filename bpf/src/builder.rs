//! A seccomp filter builder for init scripts: a default action and
//! per-syscall actions, compiled with libseccomp to the raw bytes that
//! `C.seccomp_set_mode_filter` loads.
//!
//! Such a filter stacks with the supervisor's notify filter: for each
//! syscall the kernel runs every filter and keeps the most restrictive
//! action (kill > trap > errno > notify > log > allow), so an `errno` or
//! `kill` here wins over the supervisor, and `allow` leaves the decision to
//! it.

use libseccomp::{ScmpAction, ScmpSyscall};

use crate::filter::{export, Program};
use crate::Error;

/// What a filter does with a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it.
    Allow,
    /// Kill the whole process (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// Kill the calling thread (`SECCOMP_RET_KILL_THREAD`).
    KillThread,
    /// Send SIGSYS (`SECCOMP_RET_TRAP`).
    Trap,
    /// Run it and log it (`SECCOMP_RET_LOG`).
    Log,
    /// Fail with this errno (`SECCOMP_RET_ERRNO`), 1..=4095.
    Errno(i32),
}

impl Action {
    fn scmp(self) -> ScmpAction {
        match self {
            Action::Allow => ScmpAction::Allow,
            Action::KillProcess => ScmpAction::KillProcess,
            Action::KillThread => ScmpAction::KillThread,
            Action::Trap => ScmpAction::Trap,
            Action::Log => ScmpAction::Log,
            Action::Errno(e) => ScmpAction::Errno(e),
        }
    }
}

/// Compiles `default` plus one action per syscall name (the kernel's
/// names, resolved for the native architecture) to a classic-BPF program.
/// A foreign ABI (i386, x32) kills the process.  Rules whose action is
/// the default are redundant and skipped; an unknown name is an error.
pub fn build(default: Action, rules: &[(String, Action)]) -> Result<Program, Error> {
    for (name, action) in rules
        .iter()
        .chain(std::iter::once(&("(default)".to_string(), default)))
    {
        if let Action::Errno(e) = action {
            if !(1..=4095).contains(e) {
                return Err(Error::BadErrno {
                    name: name.clone(),
                    errno: *e,
                });
            }
        }
    }
    // Whoever loads the bytes decides about no_new_privs.
    let mut ctx = crate::filter::context(default.scmp())?;
    for (name, action) in rules {
        let sys = ScmpSyscall::from_name(name).map_err(|_| Error::UnknownSyscall(name.clone()))?;
        if *action == default {
            continue;
        }
        ctx.add_rule(action.scmp(), sys)
            .map_err(|source| Error::BuilderRule {
                name: name.clone(),
                source,
            })?;
    }
    export(&ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_program() {
        let p = build(
            Action::Allow,
            &[
                ("ptrace".into(), Action::Errno(libc::EPERM)),
                ("mount".into(), Action::KillProcess),
                ("getpid".into(), Action::Allow),
            ],
        )
        .unwrap();
        assert!(p.instructions().len() > 4);
        assert_eq!(p.to_bytes().len(), p.instructions().len() * 8);
    }

    #[test]
    fn unknown_syscall_is_an_error() {
        let e = build(
            Action::Allow,
            &[("no_such_call".into(), Action::KillProcess)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("no_such_call"), "{e}");
    }

    #[test]
    fn errno_out_of_range_is_an_error() {
        let e = build(Action::Errno(0), &[]).unwrap_err();
        assert!(e.to_string().contains("errno"), "{e}");
        assert!(build(Action::Allow, &[("read".into(), Action::Errno(5000))]).is_err());
    }
}
