//! `untrapped = "allowed everywhere"` (docs/rules.md, "Untrapped calls"):
//! the calls a rules policy could never refuse, left to the kernel.
//!
//! A kind the rules allow on every path, as the program
//! (`Ruleset::allowed_everywhere`), is never refused and always performed
//! with the program's own credentials: the kernel performing the call
//! itself, untrapped, does exactly that.  A call is left out of the
//! filter when every kind it may be checked as (`decide.rs`, whatever its
//! path turns out to be) is such a kind, and the filter can tell it from
//! its registers alone.  The rest is trapped as before.

use std::fmt::Write as _;

use bpf::{Sys, Untrap, Untrapped};
use mlua::Lua;

use super::decide::open_kinds;
use crate::policy::lua::lua_err;
use crate::policy::slave;
use crate::policy::state::Shared;
use crate::resolve::Last;
use ::rules::{Kind, Ruleset};

/// The kinds a path has whatever the request (what a rename moves, a link
/// names again): with any of them refused somewhere, renames and links
/// stay trapped (decide.rs, `moved`).
const PATH_KINDS: [Kind; 7] = [
    Kind::Read,
    Kind::Write,
    Kind::Create,
    Kind::Delete,
    Kind::Connect,
    Kind::Bind,
    Kind::Device,
];

/// The flag bits of an open that change what it is checked as
/// (`open_kinds`): the access mode, `O_CREAT`, `O_EXCL`, `O_TRUNC`,
/// `O_DIRECTORY` (part of `O_TMPFILE`), `O_PATH`, `O_TMPFILE`.
const OPEN_MASK: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_TRUNC
    | libc::O_DIRECTORY
    | libc::O_PATH
    | libc::O_TMPFILE;

/// Every kind an open with `flags` may be checked as, whatever its path:
/// a file that exists or not, a device (`device`, unless `O_PATH`).
pub fn open_needs(flags: i32) -> Vec<Kind> {
    let reg = Last::Exists {
        mode: libc::S_IFREG,
    };
    let mut v = Vec::new();
    for last in [Some(reg), Some(Last::Missing), Some(Last::Dot), None] {
        for k in open_kinds(flags, last) {
            if !v.contains(&k) {
                v.push(k);
            }
        }
    }
    if flags & libc::O_PATH == 0 {
        v.push(Kind::Device);
    }
    v
}

/// Every value of the bits of `mask` (each subset of its bits).
fn subsets(mask: u32) -> impl Iterator<Item = u32> {
    let mut next = Some(0u32);
    std::iter::from_fn(move || {
        let s = next?;
        next = (s != mask).then(|| s.wrapping_sub(mask) & mask);
        Some(s)
    })
}

/// The calls `set` leaves untrapped, with the kinds allowed everywhere.
pub fn calls(set: &Ruleset) -> (Vec<Kind>, Untrapped) {
    let everywhere: Vec<Kind> = ::rules::KINDS
        .into_iter()
        .filter(|&k| set.allowed_everywhere(k))
        .collect();
    let all = |kinds: &[Kind]| kinds.iter().all(|k| everywhere.contains(k));
    let mut u = Untrapped::new();
    let mut leave = |sys: &[Sys], when: Untrap| {
        for &s in sys {
            u.leave(s, when.clone());
        }
    };
    if all(&[Kind::Read]) {
        leave(
            &[Sys::Stat, Sys::Lstat, Sys::Access, Sys::Faccessat],
            Untrap::Always,
        );
        // With AT_EMPTY_PATH: possibly a stat of a descriptor, which the
        // supervisor answers for its stand-ins (kernel::standin).
        let unset = |arg| Untrap::Masked {
            arg,
            mask: libc::AT_EMPTY_PATH as u32,
            values: vec![0],
        };
        leave(&[Sys::Newfstatat, Sys::Faccessat2], unset(3));
        leave(&[Sys::Statx], unset(2));
    }
    if all(&[Kind::Create]) {
        leave(
            &[
                Sys::Mkdir,
                Sys::Mkdirat,
                Sys::Symlink,
                Sys::Symlinkat,
                Sys::Mknod,
                Sys::Mknodat,
            ],
            Untrap::Always,
        );
    }
    if all(&[Kind::Write]) {
        leave(
            &[
                Sys::Chmod,
                Sys::Fchmodat,
                Sys::Fchmodat2,
                Sys::Chown,
                Sys::Lchown,
                Sys::Fchownat,
                Sys::Utime,
                Sys::Utimes,
                Sys::Futimesat,
                Sys::Utimensat,
                Sys::Truncate,
                Sys::Setxattr,
                Sys::Lsetxattr,
                Sys::Removexattr,
                Sys::Lremovexattr,
                Sys::Setxattrat,
                Sys::Removexattrat,
                Sys::Fchmod,
                Sys::Fchown,
                Sys::Fsetxattr,
                Sys::Fremovexattr,
            ],
            Untrap::Always,
        );
    }
    if all(&[Kind::Delete]) {
        leave(&[Sys::Unlink, Sys::Unlinkat, Sys::Rmdir], Untrap::Always);
    }
    if all(&PATH_KINDS) {
        leave(
            &[
                Sys::Rename,
                Sys::Renameat,
                Sys::Renameat2,
                Sys::Link,
                Sys::Linkat,
            ],
            Untrap::Always,
        );
    }
    if all(&open_needs(libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC)) {
        leave(&[Sys::Creat], Untrap::Always);
    }
    let values: Vec<u32> = subsets(OPEN_MASK as u32)
        .filter(|&f| all(&open_needs(f as i32)))
        .collect();
    if values.len() == subsets(OPEN_MASK as u32).count() {
        leave(&[Sys::Open, Sys::Openat], Untrap::Always);
    } else {
        let flags = |arg| Untrap::Masked {
            arg,
            mask: OPEN_MASK as u32,
            values: values.clone(),
        };
        leave(&[Sys::Open], flags(1));
        leave(&[Sys::Openat], flags(2));
    }
    (everywhere, u)
}

/// `rules.run` with `untrapped`: leaves the calls of [`calls`] out of the
/// program's filter before the program starts, and tells the audit trail.
/// Nothing is left out under `supervisor check`, while learning (every
/// call is a request there), or for a program the supervisor attaches to
/// (its filter is the runtime's).  An error where the opt-in cannot hold:
/// slave filters (they see every call), a program already started.
pub fn apply(lua: &Lua, shared: &Shared, set: &Ruleset, at: &str) -> mlua::Result<()> {
    let mut st = shared.borrow_mut();
    if st.check.is_some() || st.learning.is_some() {
        return Ok(());
    }
    if slave::has_filters(&st) {
        return Err(lua_err(
            lua,
            "rules: untrapped: not with slave filters (a call left to the kernel \
             would never reach them)"
                .into(),
        ));
    }
    if st.started() {
        return Err(lua_err(
            lua,
            "rules: untrapped: the program already runs (rules.run must come \
             before any master:receive())"
                .into(),
        ));
    }
    let (kinds, u) = calls(set);
    if u.is_empty() {
        return Ok(());
    }
    let Some((prog, _)) = st.program.as_mut() else {
        return Ok(());
    };
    let left = prog
        .untrap(u.clone())
        .map_err(|e| lua_err(lua, format!("rules: untrapped: {e}")))?;
    if left {
        let audit = st.run.audit.clone();
        audit.untrapped(&summary(&kinds, &u), at);
    }
    Ok(())
}

/// What was left out, for the audit trail: the kinds allowed everywhere,
/// then the calls (`openat` with the flags that are not).
fn summary(kinds: &[Kind], u: &Untrapped) -> (Vec<&'static str>, String) {
    // The socket calls are never left out: only the file kinds are told.
    let names = kinds
        .iter()
        .filter(|k| PATH_KINDS.contains(k) && !matches!(k, Kind::Connect | Kind::Bind))
        .map(|k| k.name())
        .collect();
    let mut calls = String::new();
    for (sys, when) in u.calls() {
        if !calls.is_empty() {
            calls.push_str(", ");
        }
        calls.push_str(sys.name());
        if let Untrap::Masked { .. } = when {
            let _ = write!(calls, " (some flags)");
        }
    }
    (names, calls)
}
