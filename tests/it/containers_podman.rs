//! podman (Debian 12: 4.3.1) runs a container with the profile of
//! `supervisor oci-profile` (`--security-opt seccomp=FILE`), served by the
//! agent.  A child of containers.rs (its agent and bundles).
//!
//! How podman is run here, on a CI machine that is itself a container-less
//! host with hybrid cgroups, as root (docs/containers.md, "podman"):
//! `--runtime runc` (Debian's crun 1.8.1 refuses hybrid cgroups),
//! `--rootfs DIR` (no image, no registry), `--network none`,
//! `--cgroup-manager cgroupfs` and `--events-backend none` (no systemd),
//! `--storage-driver vfs` with `--root`/`--runroot` in the test's
//! directory (nothing left in /var/lib/containers), and `--ulimit nofile=
//! … nproc=…` at most 1024: podman's defaults (nofile 1048576) are above
//! the hard limits here, and runc's setrlimit then fails (EPERM).

use std::process::{Command, Stdio};
use std::time::Duration;

use super::{have, runc_ready, wait_piped, Agent, Bundle, DENY_SECRET, DENY_THEN_READ};

fn podman_ready() -> bool {
    runc_ready()
        && have(
            "podman (apt-get install podman)",
            Command::new("podman")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
        )
}

/// `soft:hard` of resource `r`, at most `cap` (lowering a limit is always
/// allowed; the processes between podman and runc's init may have lower
/// limits than the test).
fn limit(r: libc::__rlimit_resource_t, cap: u64) -> String {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let rc = unsafe { libc::getrlimit(r, &mut l) };
    assert_eq!(rc, 0, "getrlimit");
    let hard = l.rlim_max.min(cap);
    format!("{}:{hard}", l.rlim_cur.min(hard))
}

/// `podman run --security-opt seccomp=PROFILE --rootfs ROOTFS sh -c SCRIPT`
/// (stdout, stderr, exit code), failing the test after 120 s.
fn podman_run(bundle: &Bundle, profile: &std::path::Path, script: &str) -> (String, String, i32) {
    let state = bundle.dir.path().join("podman");
    let child = Command::new("podman")
        .arg("--root")
        .arg(state.join("root"))
        .arg("--runroot")
        .arg(state.join("runroot"))
        .args([
            "--runtime",
            "runc",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "none",
            "--storage-driver",
            "vfs",
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
        ])
        .arg(format!("nofile={}", limit(libc::RLIMIT_NOFILE, 1024)))
        .arg("--ulimit")
        .arg(format!("nproc={}", limit(libc::RLIMIT_NPROC, 1024)))
        .arg("--security-opt")
        .arg(format!("seccomp={}", profile.display()))
        .arg("--rootfs")
        .arg(bundle.rootfs())
        .args(["/bin/sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start podman");
    let (status, stdout, stderr) = wait_piped(child, "podman run", Duration::from_secs(120), || {});
    (stdout, stderr, status.code().unwrap_or(-1))
}

#[test]
fn podman_runs_a_container_under_the_oci_profile_served_by_the_agent() {
    if !podman_ready() {
        return;
    }
    let agent = Agent::start(&[("deny-path", &super::deny_path())], &[DENY_SECRET]);
    let bundle = Bundle::new(&["/bin/true"], None);
    for allow_list in [false, true] {
        let profile = bundle.dir.path().join(format!("profile-{allow_list}.json"));
        std::fs::write(&profile, agent.oci_profile("deny-path", allow_list)).unwrap();
        let (stdout, stderr, code) = podman_run(&bundle, &profile, DENY_THEN_READ);
        let what = format!("allow-list {allow_list}: code {code}\n{stdout}\n{stderr}");
        assert_eq!(code, 0, "{what}");
        assert!(
            stderr.contains("/etc/secret") && stderr.contains("Permission denied"),
            "{what}"
        );
        assert!(!stdout.contains("the secret"), "{what}");
        assert!(stdout.contains("rc=1\nanother file\n"), "{what}");
    }
    // Both containers were the agent's, and their denials are in its log
    // (complete once their helpers ended).
    agent.wait_log("the helpers did not end", |log| {
        log.iter().filter(|e| e["event"] == "ended").count() >= 2
    });
    let log = agent.log();
    let served: Vec<&str> = log
        .iter()
        .filter(|e| e["event"] == "serving")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(served.len(), 2, "{log:?}");
    for id in served {
        assert!(
            log.iter().any(|e| e["container"] == id
                && e["denied"] == true
                && e["resolved"][0] == "/etc/secret"),
            "no denial of container {id} in {log:?}"
        );
    }
}
