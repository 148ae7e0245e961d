//! Exec in containers: `supervisor oci-profile` traps execve/execveat and
//! the agent's helper serves them as `exec` requests, verified at the exec
//! event as in `supervisor run` (docs/containers.md, "Exec in
//! containers"); runc's own exec of the entrypoint is let through.

use crate::containers::{container_id, run, runc_ready, Agent, Bundle};

/// Denies the exec of `/bin/ls` (EACCES) and `/bin/ls-eperm` (EPERM) by
/// their resolved paths; allows every other exec (verified); for
/// `/bin/swapped`, moves another file onto that name after deciding (the
/// kernel then execs a file the policy never saw).  Other calls go to the
/// kernel.
const EXEC_POLICY: &str = r#"
local master = require("libc_service").master
local rootfs = os.getenv("ROOTFS")
while true do
  local f = master:receive()
  local p = master:resolved()
  if f == "exec" and p == "/bin/ls" then
    master:send(-1, "EACCES")
  elseif f == "exec" and p == "/bin/ls-eperm" then
    master:send(-1, "EPERM")
  elseif f == "exec" and p == "/bin/swapped" then
    assert(os.rename(rootfs .. "/bin/other", rootfs .. "/bin/swapped"))
    master:use_master_credentials()
  elseif f == "exec" then
    master:use_master_credentials()
  else
    master:use_slave_credentials()
  end
end
"#;

/// The agent under [`EXEC_POLICY`] and a root bundle running `script`
/// whose `/bin/ls`, `/bin/ls-eperm`, `/bin/swapped` and `/bin/other` are
/// files of their own (copies of busybox), not links to the busybox every
/// other applet runs; the policy's ROOTFS names the bundle's rootfs through
/// a link in the returned directory.
fn exec_agent_and_bundle(script: &str) -> (Agent, Bundle, tempfile::TempDir) {
    let link = crate::util::tempdir();
    let rootfs = link.path().join("rootfs");
    let agent = Agent::start(
        &[("exec", EXEC_POLICY)],
        &[("ROOTFS", rootfs.to_str().unwrap())],
    );
    let b = Bundle::as_user(&["/bin/sh", "-c", script], Some(agent.profile("exec")), 0);
    let bin = b.rootfs().join("bin");
    std::fs::remove_file(bin.join("ls")).unwrap();
    for f in ["ls", "ls-eperm", "swapped", "other"] {
        std::fs::copy(crate::util::BUSYBOX, bin.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(b.rootfs(), rootfs).unwrap();
    (agent, b, link)
}

#[test]
fn an_exec_the_policy_denies_fails_in_the_container_and_is_logged() {
    if !runc_ready() {
        return;
    }
    let (agent, bundle, _link) = exec_agent_and_bundle(
        "/bin/ls /; echo \"ls=$?\"; /bin/ls-eperm /; echo \"eperm=$?\"; /bin/cat /etc/other; echo \"cat=$?\"",
    );
    let r = run(&bundle, &container_id("exec-deny"));
    let err = agent.stderr();
    assert_eq!(r.code, Some(0), "{r:?} agent: {err}");
    // Refused as the policy said; nothing of ls ran (no listing of /).
    assert!(r.stdout.contains("ls=126\n"), "{r:?} agent: {err}");
    assert!(r.stdout.contains("eperm=126\n"), "{r:?} agent: {err}");
    assert!(!r.stdout.contains("proc"), "{r:?}");
    assert!(r.stderr.contains("/bin/ls: Permission denied"), "{r:?}");
    assert!(
        r.stderr.contains("/bin/ls-eperm: Operation not permitted"),
        "{r:?}"
    );
    // Another binary runs (allowed, verified).
    assert!(
        r.stdout.contains("another file\ncat=0\n"),
        "{r:?} agent: {err}"
    );
    // The denials are in the agent's record, with the call and the path.
    assert!(err.contains("denied: exec /bin/ls: EACCES"), "agent: {err}");
    assert!(
        err.contains("denied: exec /bin/ls-eperm: EPERM"),
        "agent: {err}"
    );
}

#[test]
fn an_allowed_exec_in_a_container_runs_exactly_the_decided_file() {
    if !runc_ready() {
        return;
    }
    // /bin/swapped is replaced by /bin/other between the decision and the
    // kernel's exec: the new image is not the file decided on, and is
    // killed before its first instruction.
    let (agent, bundle, _link) = exec_agent_and_bundle(
        "/bin/swapped; echo \"swapped=$?\"; /etc/other; echo \"failed=$?\"; /bin/cat /etc/other; echo \"cat=$?\"",
    );
    let r = run(&bundle, &container_id("exec-swap"));
    let err = agent.stderr();
    assert_eq!(r.code, Some(0), "{r:?} agent: {err}");
    assert!(
        r.stdout.contains("swapped=137\n"),
        "the swapped-in file was not killed: {r:?} agent: {err}"
    );
    // An allowed exec the kernel fails (a file without execute
    // permission): the thread, stopped on its way back, is let go with the
    // kernel's errno and the shell goes on.
    assert!(r.stdout.contains("failed=126\n"), "{r:?} agent: {err}");
    // busybox run as "swapped" would say so: it never ran.
    assert!(!r.stderr.contains("applet not found"), "{r:?}");
    // Recorded as the supervisor's kill of the exec the policy allowed.
    assert!(
        err.contains("denied: exec /bin/swapped: SIGKILL"),
        "agent: {err}"
    );
    // The swap happened (the policy moved the file).
    assert!(!bundle.rootfs().join("bin/other").exists());
    assert!(
        r.stdout.contains("another file\ncat=0\n"),
        "{r:?} agent: {err}"
    );
}

/// Refuses every exec; everything else goes to the kernel.
const NO_EXEC: &str = r#"
local master = require("libc_service").master
while true do
  if master:receive() == "exec" then
    master:send(-1, "EACCES")
  else
    master:use_slave_credentials()
  end
end
"#;

/// The runtime's exec of the entrypoint is let through (once), whatever
/// the policy; the entrypoint's own execs are the policy's: as root and as
/// uid 1000 (whose helper reads runc's init, not dumpable, with
/// CAP_SYS_PTRACE only).
#[test]
fn the_runtimes_exec_of_the_entrypoint_is_let_through_once_and_no_other() {
    if !runc_ready() {
        return;
    }
    for uid in [0, 1000] {
        let agent = Agent::start(&[("exec", NO_EXEC)], &[]);
        let b = Bundle::as_user(
            &[
                "/bin/sh",
                "-c",
                "echo started; /bin/cat /etc/other; echo \"cat=$?\"; exec /bin/cat /etc/other",
            ],
            Some(agent.profile("exec")),
            uid,
        );
        let r = run(&b, &container_id("entry"));
        let err = agent.stderr();
        // The shell ran; its exec of cat, and its own exec of cat, did not.
        assert!(
            r.stdout.starts_with("started\ncat=126\n"),
            "uid {uid}: {r:?} agent: {err}"
        );
        assert!(!r.stdout.contains("another file"), "uid {uid}: {r:?}");
        assert_ne!(r.code, Some(0), "uid {uid}: {r:?}");
        assert_eq!(
            err.matches("denied: exec /bin/cat: EACCES").count(),
            2,
            "uid {uid}: agent: {err}"
        );
    }
}
