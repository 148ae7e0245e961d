//! The calls through which a thread changes its own credentials, trapped
//! so that the supervisor knows when credentials it read may be stale.
//!
//! The supervisor acts "as the program" with the credentials of the
//! notifying thread (`kernel::creds`), read from `/proc/<tid>/status`.
//! Linux credentials change only by a thread's own syscall: the set*id
//! calls and `setgroups`, `capset` (which refuses any other target),
//! `unshare(CLONE_NEWUSER)` and `setns` into a user namespace (full
//! capabilities there, none outside), and `execve`/`execveat` (set-id and
//! file-capability binaries, capabilities recomputed), which the table
//! traps already.  The other commits of a thread's own credentials change
//! nothing the supervisor acts with (docs/security.md, "Credentials read
//! once per thread"): keyrings (`keyctl`, `add_key`, `request_key`),
//! securebits, keep-caps, the bounding and ambient sets (`prctl`: they
//! matter at the next set*id or exec, both trapped), Landlock domains and
//! LSM labels.
//!
//! Each of these calls goes to the supervisor, which marks the thread's
//! credentials stale and answers CONTINUE: the call runs as without the
//! supervisor.  It takes no path and no pointer the supervisor decides on
//! (the CONTINUE is the posture's, which allows them), so trapping them
//! lets nothing through that was refused.

use libseccomp::ScmpArch;

use crate::known;

/// `CLONE_NEWUSER` (the flags of unshare).
pub const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

/// When a call is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// When `(arg & mask) != 0` (a register: the check cannot be raced;
    /// the mask never covers the upper half of an `int` argument).
    Set {
        arg: u32,
        mask: u64,
    },
}

/// The watched calls (not the execs: the table traps them).
pub const WATCHED: &[(&str, When)] = &[
    ("setuid", When::Always),
    ("setgid", When::Always),
    ("setreuid", When::Always),
    ("setregid", When::Always),
    ("setresuid", When::Always),
    ("setresgid", When::Always),
    ("setfsuid", When::Always),
    ("setfsgid", When::Always),
    ("setgroups", When::Always),
    ("capset", When::Always),
    (
        "unshare",
        When::Set {
            arg: 0,
            mask: CLONE_NEWUSER,
        },
    ),
    // Refused by the default posture; runs with --allow-unmapped.  Its
    // namespace type may be 0 (any), so every call is watched.
    ("setns", When::Always),
];

/// The watched call that syscall `nr` of `arch` with `args` is, if any.
pub fn watched(arch: ScmpArch, nr: i32, args: &[u64; 6]) -> Option<&'static str> {
    WATCHED.iter().find_map(|&(name, when)| {
        if known::number(name, arch) != Some(nr) {
            return None;
        }
        match when {
            When::Always => Some(name),
            When::Set { arg, mask } => (args[arg as usize] & mask != 0).then_some(name),
        }
    })
}

/// What a filter does with the watched calls, for the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watch {
    /// Not all of them reach the supervisor, or not the execs (a filter of
    /// the socket calls only, or one not built here): credentials read
    /// once cannot be trusted later.
    #[default]
    Unseen,
    /// Every one reaches the supervisor, but those the posture refuses:
    /// with `posture_refuses`, a watched call that matches a refusal of
    /// [`crate::posture::REFUSED`] is one to refuse (it was notified only
    /// to be recorded); without, every watched call is to run.
    Trapped { posture_refuses: bool },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_watched_call_is_known_and_allowed_or_refused() {
        for arch in [ScmpArch::X8664, ScmpArch::Aarch64] {
            for (name, _) in WATCHED {
                assert!(known::number(name, arch).is_some(), "{name} on {arch:?}");
                let allowed = known::ALLOWED.contains(name);
                let refused = crate::posture::REFUSED.iter().any(|r| r.name == *name);
                assert!(allowed || refused, "{name}");
            }
        }
    }

    #[test]
    fn unshare_is_watched_only_with_a_new_user_namespace() {
        let arch = ScmpArch::native();
        let nr = known::number("unshare", arch).unwrap();
        let mut args = [0u64; 6];
        args[0] = libc::CLONE_NEWNET as u64;
        assert_eq!(watched(arch, nr, &args), None);
        args[0] |= CLONE_NEWUSER;
        assert_eq!(watched(arch, nr, &args), Some("unshare"));
        // The upper half of the int is not the kernel's.
        args[0] = 1 << 40;
        assert_eq!(watched(arch, nr, &args), None);
        let setuid = known::number("setuid", arch).unwrap();
        assert_eq!(watched(arch, setuid, &[0; 6]), Some("setuid"));
        let getuid = known::number("getuid", arch).unwrap();
        assert_eq!(watched(arch, getuid, &[0; 6]), None);
    }
}
