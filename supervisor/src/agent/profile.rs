//! `supervisor oci-profile`: the OCI seccomp section (config-linux.md,
//! "Seccomp") that sends a container's mapped calls to `supervisor agent`.
//!
//! * every call of `bpf::syscalls::TABLE` is `SCMP_ACT_NOTIFY` (`sendto`
//!   only with a destination, as `supervisor run` traps it), `execve` and
//!   `execveat` included: the runtime's exec of the entrypoint is let
//!   through by the helper (`launch::entrypoint`), every other exec is a
//!   request;
//! * the default posture's refusals (`bpf::posture::REFUSED`) are
//!   `SCMP_ACT_NOTIFY` (masked ones with `SCMP_CMP_MASKED_EQ`): the
//!   container's helper answers each with its errno, as `supervisor run
//!   --log` does, so that it is recorded (`--log`, `--summary` of the
//!   agent); with no agent they fail with ENOSYS;
//! * only the native architecture is listed: a syscall of a foreign ABI
//!   (i386 `int 0x80`, x32) meets libseccomp's bad-architecture action,
//!   which kills it;
//! * everything else is allowed; `listenerPath` is the agent's socket and
//!   `listenerMetadata` the policy's name, which the agent looks up in its
//!   policy directory.
//!
//! No `flags`: runc 1.1 refuses any (docs/containers.md).

use serde_json::{json, Value};

use bpf::posture::{When, REFUSED};
use bpf::syscalls::{Disposition, SyscallMap, TABLE};

/// The libseccomp name of the architecture this binary runs on.
pub fn native_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        "SCMP_ARCH_X86_64"
    }
}

/// The seccomp section for policy `name` served at `listener`.
pub fn profile(name: &str, listener: &str) -> Value {
    let map = SyscallMap::native();
    let mut notify = Vec::new();
    let mut rules = Vec::new();
    for &(sys, _) in map.present() {
        let disposition = TABLE
            .iter()
            .find(|(s, _, _)| *s == sys)
            .map(|(_, _, d)| *d)
            .unwrap_or(Disposition::Notify);
        match disposition {
            Disposition::Notify | Disposition::Posture => notify.push(sys.name()),
            Disposition::NotifyIfMasked { arg, mask, values } => {
                for v in values {
                    rules.push(json!({
                        "names": [sys.name()],
                        "action": "SCMP_ACT_NOTIFY",
                        "args": [{ "index": arg, "value": mask, "valueTwo": v, "op": "SCMP_CMP_MASKED_EQ" }],
                    }))
                }
            }
            Disposition::NotifyIfSet(arg) => rules.push(json!({
                "names": [sys.name()],
                "action": "SCMP_ACT_NOTIFY",
                "args": [{ "index": arg, "value": 0, "op": "SCMP_CMP_NE" }],
            })),
            Disposition::NotifyUnlessEqual { arg, value } => rules.push(json!({
                "names": [sys.name()],
                "action": "SCMP_ACT_NOTIFY",
                "args": [{ "index": arg, "value": value, "op": "SCMP_CMP_NE" }],
            })),
        }
    }
    let mut all = vec![json!({ "names": notify, "action": "SCMP_ACT_NOTIFY" })];
    all.extend(rules);
    // The refusals go to the helper, which answers their errno and records
    // them (session.rs, bpf::posture::refused): every refusal is in the
    // container's audit trail.
    for r in REFUSED {
        match r.when {
            When::Always => all.push(json!({
                "names": [r.name],
                "action": "SCMP_ACT_NOTIFY",
            })),
            When::Masked { arg, mask, values } => {
                for v in values {
                    all.push(json!({
                        "names": [r.name],
                        "action": "SCMP_ACT_NOTIFY",
                        "args": [{
                            "index": arg,
                            "value": mask,
                            "valueTwo": v,
                            "op": "SCMP_CMP_MASKED_EQ",
                        }],
                    }))
                }
            }
        }
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [native_arch()],
        "listenerPath": listener,
        "listenerMetadata": name,
        "syscalls": all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_notifies_the_table_and_refuses_the_posture() {
        let p = profile("deny-path", "/run/supervisor/agent.sock");
        assert_eq!(p["listenerMetadata"], "deny-path");
        assert_eq!(p["listenerPath"], "/run/supervisor/agent.sock");
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(p["architectures"].as_array().unwrap().len(), 1);
        let rules = p["syscalls"].as_array().unwrap();
        let notified: Vec<&str> = rules
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_NOTIFY")
            .flat_map(|r| r["names"].as_array().unwrap())
            .map(|n| n.as_str().unwrap())
            .collect();
        for n in [
            "openat", "connect", "sendto", "sendmsg", "listen", "statx", "execve", "execveat",
        ] {
            assert!(notified.contains(&n), "{n} is not notified");
        }
        // The refusals go to the helper, which answers their errno and
        // records them.
        let refused = |name: &str| {
            rules
                .iter()
                .find(|r| r["names"][0] == name && r["action"] == "SCMP_ACT_NOTIFY")
                .unwrap_or_else(|| panic!("{name} is not sent to the helper"))
        };
        assert!(refused("io_uring_setup").get("args").is_none());
        assert_eq!(refused("unshare")["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert!(!rules.iter().any(|r| r["action"] == "SCMP_ACT_ERRNO"));
        // readlinkat with a descriptor (a stand-in's empty path), never
        // with AT_FDCWD.
        let readlinkat = rules
            .iter()
            .find(|r| r["names"][0] == "readlinkat")
            .expect("readlinkat is notified with a descriptor");
        assert_eq!(readlinkat["action"], "SCMP_ACT_NOTIFY");
        assert_eq!(readlinkat["args"][0]["op"], "SCMP_CMP_NE");
        assert_eq!(readlinkat["args"][0]["value"], libc::AT_FDCWD as i64 as u64);
        // Every refusal of the posture is there.
        for r in REFUSED {
            refused(r.name);
        }
    }
}
