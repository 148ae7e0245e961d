//! Ending the job from outside: a signal to the supervisor's pid (what a
//! CI runner does on cancel) reaches every process of the job, whatever
//! is left after the grace period is killed; `--timeout` ends a hung job
//! with its own exit code; `--status-file` says whose the exit code is.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{alive, busybox, canon, supervisor, tempdir, Cmd, Policy, BUSYBOX};

fn allow_all() -> std::path::PathBuf {
    crate::util::repo().join("policies/allow-all.lua")
}

/// `supervisor run [options] --policy allow-all -- busybox sh -c SCRIPT`.
fn spawn(options: &[&str], script: &str) -> Child {
    Command::new(supervisor())
        .arg("run")
        .args(options)
        .arg("--policy")
        .arg(allow_all())
        .arg("--")
        .args(busybox(&["sh", "-c", script]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `file` holds `n` lines (pids written by the job).
fn pids(file: &Path, n: usize) -> Vec<i32> {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let v: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if v.len() >= n {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the job did not start: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file for the job's pids, in a fresh directory (kept by the guard).
fn pid_file() -> (tempfile::TempDir, String) {
    let dir = tempdir();
    let f = canon(&dir).join("pids").to_str().unwrap().to_string();
    (dir, f)
}

/// SIGTERM to `child` (the supervisor), then its end.
fn terminate(child: Child) -> std::process::Output {
    // SAFETY: kill with the pid of our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    child.wait_with_output().unwrap()
}

/// Asserts that no process of `job` runs any more.
#[track_caller]
fn assert_ended(job: Vec<i32>) {
    for p in job {
        assert!(!alive(p), "process {p} of the job still runs");
    }
}

/// A job of three nested processes (sh → sh → sleep): the outer shell
/// catches SIGTERM, but a shell runs its trap only once its foreground
/// command is done, and the inner ones do not pass it on.  A SIGTERM to
/// the supervisor's pid reaches every process of the job at once (before,
/// only the outer shell got it, and the job ran on for the sleep's 31 s).
#[test]
fn sigterm_to_the_supervisor_reaches_every_process_of_the_job() {
    let (_dir, f) = pid_file();
    let script = format!(
        "trap 'echo outer got TERM' TERM; echo $$ >> {f}; \
         {BUSYBOX} sh -c 'echo $$ >> {f}; {BUSYBOX} sleep 31 & echo $! >> {f}; wait'; echo after"
    );
    let t0 = Instant::now();
    let child = spawn(&["--kill-after", "20s"], &script);
    let job = pids(Path::new(&f), 3);
    let out = terminate(child);
    let elapsed = t0.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "the job took {elapsed:?} to end (it must not wait for the sleep, nor for the 20 s grace period)"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "outer got TERM\nafter\n",
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ended(job);
}

/// A job that ignores SIGTERM is killed when the grace period ends.
#[test]
fn a_job_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let (_dir, f) = pid_file();
    let script = format!(
        "trap '' TERM; echo $$ >> {f}; {BUSYBOX} sh -c 'trap \"\" TERM; echo $$ >> {f}; while :; do {BUSYBOX} sleep 1; done'"
    );
    let child = spawn(&["--kill-after", "1s"], &script);
    let job = pids(Path::new(&f), 2);
    let t0 = Instant::now();
    let out = terminate(child);
    let elapsed = t0.elapsed();
    assert_eq!(out.status.code(), Some(128 + libc::SIGKILL), "{out:?}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(8),
        "ended after {elapsed:?}, not after the 1 s grace period"
    );
    assert_ended(job);
}

/// What the `--status-file` at `path` says.
fn status_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `--timeout` ends a hung job (SIGTERM, then SIGKILL for what ignores
/// it) and the run exits 121; the status file says it was the supervisor.
#[test]
fn timeout_ends_a_hung_job_with_its_own_exit_code() {
    let dir = tempdir();
    let status = canon(&dir).join("status.json");
    let t0 = Instant::now();
    let o = Cmd::supervised(
        Policy::example("allow-all"),
        &busybox(&[
            "sh",
            "-c",
            "trap '' TERM; while :; do /bin/busybox sleep 1; done",
        ]),
    )
    .option("--timeout")
    .option("1s")
    .option("--kill-after")
    .option("1s")
    .option("--status-file")
    .option(&status)
    .run();
    o.assert_code(121);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    assert!(o.stderr.contains("--timeout"), "{o}");
    let v = status_file(&status);
    assert_eq!(v["code"], 121);
    assert_eq!(v["by"], "supervisor");
    assert_eq!(v["reason"], "timeout");
}

/// A job that ends in time keeps its own exit code, even one in the
/// supervisor's range: the status file tells them apart.
#[test]
fn the_status_file_tells_the_programs_code_from_the_supervisors() {
    let dir = tempdir();
    let status = canon(&dir).join("status.json");
    let o = Cmd::supervised(
        Policy::example("allow-all"),
        &busybox(&["sh", "-c", "exit 124"]),
    )
    .option("--timeout")
    .option("30s")
    .option("--status-file")
    .option(&status)
    .run();
    o.assert_code(124);
    let v = status_file(&status);
    assert_eq!(
        (v["code"].as_i64(), v["by"].as_str()),
        (Some(124), Some("program"))
    );

    // The same code from a failing policy is the supervisor's.
    let o = Cmd::supervised(Policy::inline("error('nope')"), &busybox(&["true"]))
        .option("--status-file")
        .option(&status)
        .run();
    o.assert_code(124);
    let v = status_file(&status);
    assert_eq!(v["by"], "supervisor");
    assert!(v["reason"].as_str().unwrap().contains("nope"), "{v}");
}
