//! The request loop waits in a blocking receive; what is not a
//! notification (the program's exit, a signal for the supervisor) must
//! still end that wait (`doorbell`).  In each test the program is idle in
//! untrapped calls when the event comes, so no notification wakes the loop.

use std::time::{Duration, Instant};

use crate::util::{busybox, Cmd, Policy, BUSYBOX};

/// The policies the waiting loop runs under: a Lua loop, and none.
fn policies() -> [(&'static str, Policy); 2] {
    [
        ("allow-all", Policy::example("allow-all")),
        (
            "no loop",
            Policy::inline(r#"local _ = require("libc_service").master"#),
        ),
    ]
}

/// The program exits leaving a process that holds the filter and makes no
/// trapped call: the run ends at once, with the program's status.
#[test]
fn the_run_ends_when_the_program_exits_beside_an_idle_daemon() {
    // The pause lets the daemon make its trapped calls (the redirections)
    // before the program exits.
    let script =
        format!("{BUSYBOX} sleep 30 </dev/null >/dev/null 2>&1 & {BUSYBOX} sleep 0.3; exit 5");
    for (name, policy) in policies() {
        let t0 = Instant::now();
        let out = Cmd::supervised(policy, &busybox(&["sh", "-c", &script])).run();
        out.assert_code(5);
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{name}: the run outlived its program by {:?}: {out}",
            t0.elapsed()
        );
    }
}

/// A signal sent to the supervisor (by someone outside the sandbox: the
/// program itself may not signal it) while the program waits (in `wait`,
/// for a child sleeping) reaches the program, whose trap ends it.
#[test]
fn a_signal_for_the_supervisor_reaches_a_waiting_program() {
    use std::process::{Command, Stdio};
    let script = format!(
        "trap 'echo got TERM; exit 7' TERM; {BUSYBOX} sleep 30 </dev/null >/dev/null 2>&1 & \
         wait"
    );
    let dir = crate::util::tempdir();
    for (name, policy) in policies() {
        let path = match policy {
            Policy::File(p) => p,
            Policy::Inline(src) => {
                let p = dir.path().join("policy.lua");
                std::fs::write(&p, src).unwrap();
                p
            }
        };
        let t0 = Instant::now();
        let child = Command::new(crate::util::supervisor())
            .arg("run")
            .arg("--policy")
            .arg(&path)
            .arg("--")
            .args(busybox(&["sh", "-c", &script]))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The program is in `wait` by then (untrapped: no notification
        // wakes the loop).
        std::thread::sleep(Duration::from_millis(800));
        // SAFETY: kill with the pid of our own child, not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{name}: {stdout} {stderr}");
        assert_eq!(stdout, "got TERM\n", "{name}: {stderr}");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{name}: the signal took {:?} to end the program",
            t0.elapsed()
        );
    }
}
