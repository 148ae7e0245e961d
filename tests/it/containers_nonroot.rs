//! Non-root containers under a policy that brokers everything
//! (broker-all.lua): runc's own open of `/proc/self/fd` before it execs
//! the entrypoint (its init then not dumpable: that directory is root's,
//! mode 0500) is brokered like any other call (`act::own_fd`), and what
//! the container sees is what it sees natively.

use std::os::unix::fs::PermissionsExt;

use crate::containers::{container_id, example, run, runc_ready, Agent, Bundle};

/// Its own descriptors (by a dumpable `ls`, then by one run from a file it
/// may execute but not read, hence not dumpable), a file it may read, a
/// root-only file.
const SCRIPT: &str = "ls /proc/self/fd; echo \"ls=$?\"; \
    /sbin/ls /proc/self/fd; echo \"unreadable=$?\"; \
    cat /etc/other; echo \"cat=$?\"; cat /etc/root-only; echo \"root=$?\"";

/// A uid 1000 container running [`SCRIPT`], under `seccomp` (or natively).
fn bundle(seccomp: Option<serde_json::Value>) -> Bundle {
    let b = Bundle::as_user(&["/bin/sh", "-c", SCRIPT], seccomp, 1000);
    b.write_root_only();
    let sbin = b.rootfs().join("sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    std::fs::copy(crate::util::BUSYBOX, sbin.join("ls")).unwrap();
    std::fs::set_permissions(sbin.join("ls"), std::fs::Permissions::from_mode(0o711)).unwrap();
    b
}

#[test]
fn a_non_root_container_under_broker_all_starts_and_sees_what_it_sees_natively() {
    if !runc_ready() {
        return;
    }
    let native = run(&bundle(None), &container_id("native"));
    assert_eq!(native.code, Some(0), "{native:?}");
    assert!(
        native.stdout.contains("ls=0\n") && native.stdout.contains("unreadable=0\n"),
        "{native:?}"
    );
    assert!(
        native.stdout.contains("another file\ncat=0\n") && native.stdout.contains("root=1\n"),
        "{native:?}"
    );
    assert!(native.stderr.contains("Permission denied"), "{native:?}");

    let agent = Agent::start(&[("broker-all", &example("broker-all"))], &[]);
    let r = run(
        &bundle(Some(agent.profile("broker-all"))),
        &container_id("broker-all"),
    );
    let err = agent.stderr();
    // It started (runc's own /proc/self/fd was brokered), and every line
    // is the native one: the descriptors listed, the file read, the
    // root-only file refused (EACCES: brokered as uid 1000).
    assert_eq!(r.code, Some(0), "{r:?} agent: {err}");
    assert_eq!(r.stdout, native.stdout, "{r:?} agent: {err}");
    assert_eq!(r.stderr, native.stderr, "{r:?} agent: {err}");
    assert!(!r.stdout.contains("root's only"), "{r:?}");
}
