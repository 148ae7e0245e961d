//! policies/ci.lua serving a runc container (`libc_service.container`):
//! the runtime's namespaces and mounts take the place of its init script,
//! checked when the container is handed over, and its rules apply.  A
//! child of containers.rs (its agent and bundles).

use serde_json::{json, Value};

use super::audit::agent_logging_to;
use super::{container_id, example, run, runc_ready, Bundle};

/// A bundle for ci.lua: a workspace /ws, a secret in /root/.ssh, and,
/// when `set_up`, what ci.lua asks of the runtime (no capabilities, its
/// own tmpfs on /tmp; runc's default spec already sets noNewPrivileges
/// and mounts a tmpfs on /dev/shm).
fn ci_bundle(script: &str, profile: Value, set_up: bool) -> Bundle {
    let bundle = Bundle::new(&["/bin/sh", "-c", script], Some(profile));
    let root = bundle.rootfs();
    std::fs::create_dir_all(root.join("ws")).unwrap();
    std::fs::create_dir_all(root.join("root/.ssh")).unwrap();
    std::fs::write(root.join("root/.ssh/id_ed25519"), "private key\n").unwrap();
    std::fs::write(root.join("etc/shadow"), "root:x:::\n").unwrap();
    let path = bundle.dir.path().join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        config["process"]["noNewPrivileges"], true,
        "runc spec's default"
    );
    config["process"]["cwd"] = json!("/ws");
    if set_up {
        let none: Vec<String> = Vec::new();
        config["process"]["capabilities"] = json!({
            "bounding": none, "effective": none, "permitted": none,
            "inheritable": none, "ambient": none,
        });
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"],
        }));
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    bundle
}

const CI_SCRIPT: &str = "echo a > /ws/x && cat /ws/x; echo b > /etc/y; echo \"etc=$?\"; \
     cat /etc/shadow; cat /root/.ssh/id_ed25519; echo c > /tmp/z && cat /tmp/z; \
     echo d > /dev/stderr";

#[test]
fn ci_lua_serves_a_runc_container_set_up_by_its_runtime() {
    if !runc_ready() {
        return;
    }
    let dir = crate::util::tempdir();
    let log = dir.path().join("agent.log");
    let agent = agent_logging_to(
        Some(&log),
        &[("ci", &example("ci"))],
        &[("SUPERVISOR_WORKSPACE", "/ws")],
    );
    let bundle = ci_bundle(CI_SCRIPT, agent.profile("ci"), true);
    let id = container_id("ci");
    let r = run(&bundle, &id);
    // The workspace and the private /tmp are writable; the rest is not,
    // and the secrets are not readable.
    assert!(
        r.stdout.contains("a\n") && r.stdout.contains("etc=1\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains("c\n"), "{r:?}");
    assert!(
        r.stderr.contains("can't create /etc/y: Permission denied"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("can't open '/etc/shadow': Permission denied"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("can't open '/root/.ssh/id_ed25519': Permission denied"),
        "{r:?}"
    );
    assert!(
        !r.stdout.contains("private key") && !r.stdout.contains("root:x"),
        "{r:?}"
    );
    // The program's pipe through /dev/stderr: reopened by the supervisor
    // (no rule leaves a call to the kernel in a container).
    assert!(r.stderr.contains("d\n"), "{r:?}");
    let root = bundle.rootfs();
    assert_eq!(std::fs::read_to_string(root.join("ws/x")).unwrap(), "a\n");
    assert!(!root.join("etc/y").exists());
    // /tmp was the container's own tmpfs, not the rootfs's directory.
    assert!(!root.join("tmp/z").exists());
    // The denials are in the agent's log, by ci.lua's rules.
    let text = std::fs::read_to_string(&log).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["container"] == id.as_str() && e["denied"] == true)
        .collect();
    for (path, rule) in [
        ("/etc/shadow", "(deny read /etc/shadow)"),
        ("/root/.ssh/id_ed25519", "(deny read /root/.ssh/)"),
        ("/etc/y", "default deny create"),
    ] {
        assert!(
            recs.iter().any(|e| e["resolved"][0] == path
                && e["decision"].as_str().unwrap().contains(rule)),
            "no denial of {path} by {rule}: {recs:#?}"
        );
    }
}

#[test]
fn ci_lua_kills_a_container_its_runtime_did_not_set_up() {
    if !runc_ready() {
        return;
    }
    let agent = agent_logging_to(
        None,
        &[("ci", &example("ci"))],
        &[("SUPERVISOR_WORKSPACE", "/ws")],
    );
    // Capabilities (runc's defaults) and the rootfs's own /tmp.
    let bundle = ci_bundle("echo ran", agent.profile("ci"), false);
    let r = run(&bundle, &container_id("ci-bare"));
    assert!(!r.stdout.contains("ran"), "{r:?}");
    assert_ne!(r.code, Some(0), "{r:?}");
    let err = std::fs::read_to_string(agent.dir.path().join("agent.err")).unwrap();
    assert!(
        err.contains("ci.lua in a container needs from its runtime: no capabilities")
            && err.contains("its own tmpfs on /tmp"),
        "{err}"
    );
    assert!(
        !err.contains("/dev/shm"),
        "runc mounts a tmpfs there: {err}"
    );
}
