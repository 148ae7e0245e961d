//! Calls of the table a policy leaves to the kernel: untrapped, so they
//! run with the program's own credentials and never reach the supervisor
//! (docs/rules.md, "Untrapped calls"; docs/security.md says what that
//! changes).
//!
//! The policy says which calls need nothing of it (for a rules policy:
//! those that need only kinds it allows on every path, as the program);
//! this module only says what the filter can leave out.  Some calls are
//! never left out, whatever a policy says: the socket calls (addresses,
//! the DNS stub), the execs (the credential watch, `bpf::creds`, and the
//! exec's verification), `readlinkat` (stand-ins), `openat2` (its flags
//! are in memory, out of the filter's reach).  A call left out on a
//! condition is told by a register only (flags), never by memory.

use crate::syscalls::{Disposition, Sys, TABLE};

/// When a call of the table runs untrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrap {
    /// Every call.
    Always,
    /// When `(arg & mask)` is one of `values`, on the low 32 bits of the
    /// register (as the kernel reads an `int` of flags); the other calls
    /// are trapped.
    Masked {
        arg: u32,
        mask: u32,
        values: Vec<u32>,
    },
}

/// The calls a policy leaves untrapped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Untrapped {
    calls: Vec<(Sys, Untrap)>,
}

/// The calls never left untrapped.
pub const NEVER: &[Sys] = &[
    Sys::Openat2,
    Sys::Execve,
    Sys::Execveat,
    Sys::Readlinkat,
    Sys::Connect,
    Sys::Bind,
    Sys::Listen,
    Sys::Sendto,
    Sys::Sendmsg,
    Sys::Sendmmsg,
];

impl Untrapped {
    /// Nothing untrapped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves `sys` to the kernel `when`; `false` (and nothing changes)
    /// for a call never left out ([`NEVER`]), or a condition on a call the
    /// table traps only on a condition of its own (mknod: only `Always`).
    pub fn leave(&mut self, sys: Sys, when: Untrap) -> bool {
        if NEVER.contains(&sys) {
            return false;
        }
        let own = TABLE.iter().find(|(s, _, _)| *s == sys).map(|(_, _, d)| *d);
        if matches!(when, Untrap::Masked { .. }) && own != Some(Disposition::Notify) {
            return false;
        }
        if let Untrap::Masked { values, .. } = &when {
            if values.is_empty() {
                return true; // trapped as before
            }
        }
        self.calls.retain(|(s, _)| *s != sys);
        self.calls.push((sys, when));
        true
    }

    /// When `sys` runs untrapped, if it may.
    pub fn of(&self, sys: Sys) -> Option<&Untrap> {
        self.calls.iter().find(|(s, _)| *s == sys).map(|(_, u)| u)
    }

    /// Is nothing left out?
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls left out, in the order given.
    pub fn calls(&self) -> &[(Sys, Untrap)] {
        &self.calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calls_other_machinery_needs_stay_trapped() {
        let mut u = Untrapped::new();
        for &s in NEVER {
            assert!(!u.leave(s, Untrap::Always), "{s:?}");
        }
        assert!(u.is_empty());
        // mknod is trapped on its type only: all or nothing.
        let masked = Untrap::Masked {
            arg: 1,
            mask: 1,
            values: vec![0],
        };
        assert!(!u.leave(Sys::Mknod, masked.clone()));
        assert!(u.leave(Sys::Mknod, Untrap::Always));
        assert!(u.leave(Sys::Openat, masked.clone()));
        assert_eq!(u.of(Sys::Openat), Some(&masked));
        assert_eq!(u.of(Sys::Open), None);
    }
}
