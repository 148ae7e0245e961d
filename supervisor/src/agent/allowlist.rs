//! `supervisor oci-profile --allow-list`: the profile of [`super::profile`]
//! turned into an allow-list, the posture of `supervisor run` (bpf::known):
//!
//! * `defaultAction` `SCMP_ACT_ERRNO` with `defaultErrnoRet` **ENOSYS**:
//!   a syscall the profile does not name fails as on a kernel that lacks
//!   it, which is what `supervisor run` answers for a syscall outside its
//!   allow-list, and the one errno libcs take as "use the older call"
//!   (glibc's `clone3` → `clone`, `faccessat2`, `close_range`, `statx`…);
//!   EPERM would make those fallbacks fail instead;
//! * the rules of the profile first (the trapped calls and the posture's
//!   refusals, `SCMP_ACT_NOTIFY`), then `SCMP_ACT_ALLOW` for every syscall
//!   of `bpf::known::ALLOWED` the profile does not name, and for the calls
//!   the profile names only with some arguments, the other arguments
//!   ([`complement`]): libseccomp drops every conditional rule of a
//!   syscall that also has an unconditional one, so those never get one;
//! * the known syscalls that have no implementation (`bpf::known::
//!   NOT_ALLOWED`) are `SCMP_ACT_NOTIFY`: the helper answers ENOSYS and
//!   records them (`"syscall N"`, "not in the allow-list").
//!
//! One source of truth: the lists are the bpf crate's, as for `run`.
//! Syscalls newer than the runtime's libseccomp (runc ignores names it
//! cannot resolve) fall to the default, ENOSYS, unrecorded.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use bpf::known::{self, ALLOWED, NOT_ALLOWED};
use bpf::syscalls::TABLE;

/// The errno of the default action (see the module's documentation).
pub const DEFAULT_ERRNO: i32 = libc::ENOSYS;

/// Mask of the upper 32 bits of an argument: `MASKED_EQ 0` on it is the
/// rule that allows "every other value" of an `int` argument (ioctl's
/// request), listed after the rules that name values.
const UPPER: u64 = 0xffff_ffff_0000_0000;

/// `profile` (from [`super::profile::profile`]) as an allow-list.
pub fn allow_list(mut profile: Value) -> Value {
    let arch = bpf::SyscallMap::native().arch();
    let exists = |name: &str| known::number(name, arch).is_some();
    let rules: Vec<Value> = profile["syscalls"].as_array().cloned().unwrap_or_default();
    // Names with an unconditional rule, and the conditional rules of the
    // others (name → their single comparison).
    let mut whole: Vec<String> = Vec::new();
    let mut conditional: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in &rules {
        for n in r["names"].as_array().into_iter().flatten() {
            let Some(n) = n.as_str() else { continue };
            match r["args"].as_array() {
                Some(a) if !a.is_empty() => conditional
                    .entry(n.to_string())
                    .or_default()
                    .extend(a.iter().cloned()),
                _ => whole.push(n.to_string()),
            }
        }
    }
    let mut all = rules;
    let wanted =
        |n: &str| (ALLOWED.contains(&n) || TABLE.iter().any(|(_, t, _)| *t == n)) && exists(n);
    for (name, args) in &conditional {
        if whole.contains(name) || !wanted(name) {
            continue;
        }
        all.extend(complement(name, args));
    }
    let allowed: Vec<&str> = ALLOWED
        .iter()
        .copied()
        .filter(|n| exists(n) && !whole.iter().any(|w| w == n) && !conditional.contains_key(*n))
        .collect();
    all.push(json!({ "names": allowed, "action": "SCMP_ACT_ALLOW" }));
    let unimplemented: Vec<&str> = NOT_ALLOWED.iter().copied().filter(|n| exists(n)).collect();
    if !unimplemented.is_empty() {
        all.push(json!({ "names": unimplemented, "action": "SCMP_ACT_NOTIFY" }));
    }
    profile["defaultAction"] = json!("SCMP_ACT_ERRNO");
    profile["defaultErrnoRet"] = json!(DEFAULT_ERRNO);
    profile["syscalls"] = Value::Array(all);
    profile
}

/// `SCMP_ACT_ALLOW` rules for the arguments of `name` that its
/// conditional rules (`args`, one comparison each) do not name.
fn complement(name: &str, args: &[Value]) -> Vec<Value> {
    let allow = |index: &Value, value: Value, value_two: u64, op: &str| {
        json!({
            "names": [name],
            "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": index, "value": value, "valueTwo": value_two, "op": op }],
        })
    };
    let first = &args[0];
    let index = &first["index"];
    let same = args
        .iter()
        .all(|a| a["index"] == *index && a["op"] == first["op"] && a["value"] == first["value"]);
    match first["op"].as_str() {
        // sendto with a destination (NE 0): without one it runs; a call
        // trapped unless an argument is one value (NE v): with it, it runs.
        Some("SCMP_CMP_NE") if same && args.len() == 1 => {
            vec![allow(index, first["value"].clone(), 0, "SCMP_CMP_EQ")]
        }
        Some("SCMP_CMP_MASKED_EQ") if same => {
            let mask = first["value"].as_u64().unwrap_or(0);
            let named: Vec<u64> = args.iter().filter_map(|a| a["valueTwo"].as_u64()).collect();
            if mask != 0 && mask.count_ones() <= 8 {
                // A file type, a flag: every other value, one rule each.
                masked_values(mask)
                    .filter(|v| !named.contains(v))
                    .map(|v| allow(index, json!(mask), v, "SCMP_CMP_MASKED_EQ"))
                    .collect()
            } else {
                // ioctl's request (32 bits): after the rules naming values
                // (libseccomp checks a syscall's rules in the order given),
                // any request with the upper half clear — the kernel reads
                // the lower half only; a request with garbage above fails
                // with the default errno.
                vec![allow(index, json!(UPPER), 0, "SCMP_CMP_MASKED_EQ")]
            }
        }
        // Comparisons this module does not know how to complement: the
        // syscall runs only as those rules say (else the default errno).
        _ => Vec::new(),
    }
}

/// Every value `x & mask` can take (a run of at most 8 bits).
fn masked_values(mask: u64) -> impl Iterator<Item = u64> {
    let shift = mask.trailing_zeros();
    let n = (mask >> shift).count_ones().min(8);
    (0..1u64 << n).map(move |i| i << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Value {
        allow_list(super::super::profile::profile("p", "/s"))
    }

    /// The rules of `name`: (action, its comparisons).
    fn rules_of(p: &Value, name: &str) -> Vec<(String, Value)> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
            .map(|r| (r["action"].as_str().unwrap().to_string(), r["args"].clone()))
            .collect()
    }

    #[test]
    fn the_default_is_enosys_and_each_syscall_is_named_once_without_args_or_only_with() {
        let p = list();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], libc::ENOSYS);
        let arch = bpf::SyscallMap::native().arch();
        for name in ALLOWED.iter().chain(NOT_ALLOWED) {
            if known::number(name, arch).is_none() {
                continue;
            }
            let r = rules_of(&p, name);
            assert!(!r.is_empty(), "{name} is not in the allow-list profile");
            let unconditional = r.iter().filter(|(_, a)| a.is_null()).count();
            // libseccomp would drop the conditional rules of a syscall
            // that has an unconditional one.
            assert!(
                unconditional == 0 || r.len() == 1,
                "{name} has unconditional and conditional rules: {r:?}"
            );
        }
    }

    #[test]
    fn every_allowed_syscall_runs_with_some_arguments() {
        // Named without arguments, or allowed with some: never only
        // trapped with some and left to the default with the others.
        let p = list();
        let arch = bpf::SyscallMap::native().arch();
        for name in ALLOWED {
            if known::number(name, arch).is_none() {
                continue;
            }
            let r = rules_of(&p, name);
            assert!(
                r.iter()
                    .any(|(a, args)| args.is_null() || a == "SCMP_ACT_ALLOW"),
                "{name} never runs: {r:?}"
            );
        }
    }

    #[test]
    fn a_call_trapped_unless_an_argument_is_one_value_runs_with_that_value() {
        // readlinkat: trapped with a descriptor, allowed with AT_FDCWD.
        let at_fdcwd = json!(libc::AT_FDCWD as i64 as u64);
        let p = allow_list(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{
                "names": ["readlinkat"],
                "action": "SCMP_ACT_NOTIFY",
                "args": [{ "index": 0, "value": at_fdcwd, "op": "SCMP_CMP_NE" }],
            }],
        }));
        let r = rules_of(&p, "readlinkat");
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[1].0, "SCMP_ACT_ALLOW");
        assert_eq!(r[1].1[0]["op"], "SCMP_CMP_EQ");
        assert_eq!(r[1].1[0]["value"], at_fdcwd);
    }

    #[test]
    fn refusals_and_traps_come_before_the_rest_of_their_syscall() {
        let p = list();
        let ioctl = rules_of(&p, "ioctl");
        // TIOCSTI & co. first (to the helper), then every other request.
        assert!(ioctl.iter().any(|(a, _)| a == "SCMP_ACT_NOTIFY"));
        assert_eq!(ioctl.last().unwrap().0, "SCMP_ACT_ALLOW");
        assert_eq!(ioctl.last().unwrap().1[0]["value"], UPPER);
        assert!(ioctl[..ioctl.len() - 1]
            .iter()
            .all(|(a, _)| a == "SCMP_ACT_NOTIFY"));
        // clone: CLONE_NEWNS to the helper, without it allowed.
        let clone = rules_of(&p, "clone");
        assert_eq!(clone.len(), 2, "{clone:?}");
        assert_eq!(clone[1].0, "SCMP_ACT_ALLOW");
        assert_eq!(clone[1].1[0]["valueTwo"], 0);
        // mknod: 16 file types, each named once.
        let mknod = rules_of(&p, "mknod");
        assert_eq!(mknod.len(), 16, "{mknod:?}");
        // sendto: with a destination to the helper, without it allowed.
        let sendto = rules_of(&p, "sendto");
        assert_eq!(sendto.len(), 2, "{sendto:?}");
        assert_eq!(sendto[1].0, "SCMP_ACT_ALLOW");
        // io_uring: refused (to the helper), never allowed.
        assert_eq!(rules_of(&p, "io_uring_setup").len(), 1);
        assert_eq!(rules_of(&p, "io_uring_setup")[0].0, "SCMP_ACT_NOTIFY");
        // open: trapped only.
        assert_eq!(rules_of(&p, "openat").len(), 1);
        assert_eq!(rules_of(&p, "openat")[0].0, "SCMP_ACT_NOTIFY");
    }
}
