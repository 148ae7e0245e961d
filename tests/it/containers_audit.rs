//! The agent's audit trail of each container (`--log`: the records of
//! `supervisor run --log` with the container's id; `--summary DIR`: one
//! summary per container) and the allow-list profile (`oci-profile
//! --allow-list`), with runc.  A child of containers.rs (its agent and
//! bundles).

use serde_json::Value;

use super::{container_id, deny_path, run, runc_ready, Agent, Bundle, DENY_SECRET};
use crate::util::posture_probes;

/// `supervisor agent --log DIR/agent.log --summary DIR/summaries` with
/// `policies`.
fn agent_with_summary(policies: &[(&str, &str)], env: &[(&str, &str)]) -> Agent {
    agent_logging_to(None, policies, env)
}

/// The same, the log at `log` if given.
pub(super) fn agent_logging_to(
    log: Option<&std::path::Path>,
    policies: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Agent {
    Agent::launch(policies, env, log, true)
}

/// Waits for the agent's `ended` event of container `id` (its helper has
/// then written every record and its summary).
fn wait_ended(agent: &Agent, id: &str) {
    agent.wait_log("the helper did not end with the container", |log| {
        log.iter().any(|e| e["event"] == "ended" && e["id"] == id)
    });
}

/// The per-request records of container `id` in the agent's log.
fn records(agent: &Agent, id: &str) -> Vec<Value> {
    agent
        .log()
        .into_iter()
        .filter(|e| e.get("event").is_none() && e["container"] == id)
        .collect()
}

fn summary(agent: &Agent, id: &str) -> String {
    let p = agent.dir.path().join("summaries").join(format!("{id}.txt"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("no summary {}: {e}", p.display()))
}

fn add_applet(bundle: &Bundle, name: &str) {
    std::os::unix::fs::symlink("busybox", bundle.rootfs().join("bin").join(name)).unwrap();
}

#[test]
fn the_agent_log_and_summary_show_each_denial_of_a_container_with_call_and_path() {
    if !runc_ready() {
        return;
    }
    let agent = agent_with_summary(&[("deny-path", &deny_path())], &[DENY_SECRET]);
    let bundle = Bundle::new(
        &[
            "/bin/sh",
            "-c",
            "cat /etc/secret; cat /etc/other; mount -t tmpfs none /tmp; echo \"mount=$?\"",
        ],
        Some(agent.profile("deny-path")),
    );
    add_applet(&bundle, "mount");
    let id = container_id("audit");
    let r = run(&bundle, &id);
    assert!(r.stderr.contains("Permission denied"), "{r:?}");
    assert!(
        r.stdout.contains("another file\nmount=") && !r.stdout.contains("mount=0"),
        "{r:?}"
    );
    wait_ended(&agent, &id);
    let recs = records(&agent, &id);
    // The policy's denial: the call, its path as given and resolved.
    let denial = recs
        .iter()
        .find(|e| e["denied"] == true && e["function"] == "open")
        .unwrap_or_else(|| panic!("no denied open of {id} in the agent log: {recs:#?}"));
    assert_eq!(denial["arguments"]["path"], "/etc/secret", "{denial}");
    assert_eq!(denial["resolved"][0], "/etc/secret", "{denial}");
    assert_eq!(denial["errno"], "EACCES", "{denial}");
    assert!(
        denial["decision"].as_str().unwrap().starts_with("policy /"),
        "{denial}"
    );
    // The allowed read is recorded too, not denied.
    assert!(
        recs.iter().any(|e| e["function"] == "open"
            && e["resolved"][0] == "/etc/other"
            && e["denied"] == false),
        "{recs:#?}"
    );
    // The posture's refusal (mount), made by the helper, not the kernel.
    let mount = recs
        .iter()
        .find(|e| e["function"] == "mount")
        .unwrap_or_else(|| panic!("no mount record: {recs:#?}"));
    assert_eq!(mount["denied"], true, "{mount}");
    assert_eq!(mount["errno"], "EPERM", "{mount}");
    assert!(
        mount["decision"].as_str().unwrap().starts_with("posture"),
        "{mount}"
    );
    // Every record is this container's and in run's format.
    for e in &recs {
        for k in [
            "time",
            "pid",
            "tid",
            "function",
            "syscall",
            "arguments",
            "outcome",
        ] {
            assert!(e.get(k).is_some(), "{k} missing in {e}");
        }
    }
    let s = summary(&agent, &id);
    assert!(s.starts_with("supervisor: summary: "), "{s}");
    let denied = s.split("requests:").next().unwrap();
    assert!(
        denied.contains("open") && denied.contains("EACCES") && denied.contains("/etc/secret"),
        "{s}"
    );
    assert!(
        denied.contains("posture") && denied.contains("mount") && denied.contains("EPERM"),
        "{s}"
    );
}

/// deny-path on /etc/secret, runc's listing of its own `/proc/self/fd`
/// left to the kernel (needed by a non-root container before that
/// directory was brokered as the kernel opens it; harmless after).
const DENY_SECRET_NON_ROOT: &str = r#"
local master = require("libc_service").master
while true do
  master:receive()
  if master:arguments() == "/proc/self/fd" then
    master:use_slave_credentials()
  elseif master:resolved() == "/etc/secret" then
    master:send(-1, "EACCES")
  else
    master:use_master_credentials()
  end
end
"#;

#[test]
fn a_non_root_containers_records_and_summary_are_written_after_its_ids_are_taken() {
    if !runc_ready() {
        return;
    }
    // The helper takes uid 1000 before serving: the log it inherited and
    // the summary it opened before stay writable.
    let agent = agent_with_summary(&[("deny-path", DENY_SECRET_NON_ROOT)], &[DENY_SECRET]);
    let bundle = Bundle::as_user(
        &["/bin/sh", "-c", "cat /etc/secret; cat /etc/other"],
        Some(agent.profile("deny-path")),
        1000,
    );
    let id = container_id("uid-audit");
    let r = run(&bundle, &id);
    assert!(r.stdout.contains("another file"), "{r:?}");
    wait_ended(&agent, &id);
    let recs = records(&agent, &id);
    assert!(
        recs.iter().any(|e| e["denied"] == true
            && e["resolved"][0] == "/etc/secret"
            && e["errno"] == "EACCES"),
        "{recs:#?}"
    );
    let s = summary(&agent, &id);
    assert!(s.contains("/etc/secret") && s.contains("EACCES"), "{s}");
}

#[test]
fn a_container_whose_records_cannot_be_written_is_killed() {
    if !runc_ready() {
        return;
    }
    // Every write to /dev/full fails (ENOSPC): fail closed, as `run`.
    let agent = agent_logging_to(
        Some(std::path::Path::new("/dev/full")),
        &[("deny-path", &deny_path())],
        &[DENY_SECRET],
    );
    let bundle = Bundle::new(
        &["/bin/sh", "-c", "cat /etc/other; sleep 30; echo survived"],
        Some(agent.profile("deny-path")),
    );
    let id = container_id("full");
    let r = run(&bundle, &id);
    assert!(!r.stdout.contains("survived"), "{r:?}");
    assert_ne!(r.code, Some(0), "{r:?}");
    // Served, then ended by its helper for the log (not refused).
    let err = std::fs::read_to_string(agent.dir.path().join("agent.err")).unwrap();
    assert!(
        err.contains("cannot write the audit log /dev/full") && err.contains("ending the run"),
        "{err}"
    );
    assert!(!err.contains("not served"), "{err}");
}

/// The posture probe in the bundle's rootfs, as /bin/posture.
fn with_probe(bundle: &Bundle) {
    std::fs::copy(&posture_probes().0, bundle.rootfs().join("bin/posture")).unwrap();
}

/// Removes `name` from the profile's unconditional allow rule.
fn without(mut profile: Value, name: &str) -> Value {
    for r in profile["syscalls"].as_array_mut().unwrap() {
        if r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none() {
            let names = r["names"].as_array_mut().unwrap();
            let before = names.len();
            names.retain(|n| n != name);
            assert_eq!(names.len() + 1, before, "{name} was not allowed");
        }
    }
    profile
}

fn allow_list_profile(agent: &Agent) -> Value {
    serde_json::from_slice(&agent.oci_profile("deny-path", true)).unwrap()
}

const ALLOW_LIST_SCRIPT: &str = "cat /etc/secret; cat /etc/other; \
     posture syscall 309; posture syscall 470; posture tiocsti x </dev/null";

#[test]
fn runc_runs_a_container_under_the_allow_list_profile_and_refuses_the_rest_with_enosys() {
    if !runc_ready() {
        return;
    }
    let agent = agent_with_summary(&[("deny-path", &deny_path())], &[DENY_SECRET]);
    let profile = allow_list_profile(&agent);
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(profile["defaultErrnoRet"], libc::ENOSYS);
    let bundle = Bundle::new(&["/bin/sh", "-c", ALLOW_LIST_SCRIPT], Some(profile.clone()));
    with_probe(&bundle);
    let id = container_id("allow");
    let r = run(&bundle, &id);
    assert!(
        r.stderr.contains("/etc/secret") && r.stderr.contains("Permission denied"),
        "{r:?}"
    );
    assert!(r.stdout.contains("another file\n"), "{r:?}");
    // getcpu (309) is on the list; 470 is not (and this kernel, 6.18,
    // has no such syscall either).
    assert!(r.stdout.contains("syscall 309: OK\n"), "{r:?}");
    assert!(r.stdout.contains("syscall 470: ENOSYS\n"), "{r:?}");
    // The terminal ioctls stay refused (EPERM, by the helper) while the
    // others run (ENOTTY: stdin is not a terminal): the refusals are
    // checked before the rule allowing ioctl.
    assert!(r.stdout.contains("TIOCSTI: EPERM\n"), "{r:?}");
    assert!(r.stdout.contains("TIOCSTI-upper: EPERM\n"), "{r:?}");
    assert!(r.stdout.contains("tcgetpgrp: ENOTTY\n"), "{r:?}");
    wait_ended(&agent, &id);
    let recs = records(&agent, &id);
    assert!(
        recs.iter()
            .any(|e| e["function"] == "ioctl" && e["denied"] == true && e["errno"] == "EPERM"),
        "{recs:#?}"
    );

    // A syscall the kernel has but the list leaves out fails with ENOSYS:
    // the same profile without getcpu.
    let bundle = Bundle::new(
        &["/bin/sh", "-c", "posture syscall 309"],
        Some(without(profile, "getcpu")),
    );
    with_probe(&bundle);
    let r = run(&bundle, &container_id("allow"));
    assert!(r.stdout.contains("syscall 309: ENOSYS\n"), "{r:?}");
}
