//! What the filter traps depends on what the policy can see: a policy that
//! leaves every file call to the kernel (no master loop, no slave filter,
//! no audit trail) gets a filter that traps only the socket calls, so its
//! file calls cost nothing.  Observed from outside: with the supervisor
//! stopped (SIGSTOP), a trapped call waits for it, an untrapped one does
//! not.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use crate::util::{busybox, tempdir, BUSYBOX};

/// A supervised shell that, for each line it reads, prints the content of
/// `file` (an open, trapped or not) and then `done`.
fn start(policy: &Path, options: &[&str], file: &Path) -> (Child, Receiver<String>) {
    let script = format!(
        "while read x; do {BUSYBOX} cat {}; echo done; done",
        file.display()
    );
    let mut child = Command::new(crate::util::supervisor())
        .arg("run")
        .arg("--policy")
        .arg(policy)
        .args(options)
        .arg("--")
        .args(busybox(&["sh", "-c", &script]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill with the pid of our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// The two lines of a round, if they come within `wait` each.
fn two_lines(rx: &Receiver<String>, wait: Duration) -> Option<Vec<String>> {
    (0..2).map(|_| rx.recv_timeout(wait).ok()).collect()
}

/// Asks for one round and waits up to `wait` for its two lines.
fn round(child: &mut Child, rx: &Receiver<String>, wait: Duration) -> Option<Vec<String>> {
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(b"go\n").unwrap();
    stdin.flush().unwrap();
    two_lines(rx, wait)
}

/// Does a file call made while the supervisor is stopped complete?
/// (The run is ended cleanly either way.)
fn completes_while_stopped(policy: &Path, options: &[&str], file: &Path) -> bool {
    let (mut child, rx) = start(policy, options, file);
    // A first round with the supervisor running: the shell is up.
    let first = round(&mut child, &rx, Duration::from_secs(20));
    assert_eq!(
        first.as_deref(),
        Some(&["content".into(), "done".into()][..])
    );
    signal(&child, libc::SIGSTOP);
    let stopped = round(&mut child, &rx, Duration::from_millis(1500));
    signal(&child, libc::SIGCONT);
    let late = match &stopped {
        // The call was waiting for the supervisor: it completes now.
        None => two_lines(&rx, Duration::from_secs(20)),
        done => done.clone(),
    };
    assert_eq!(
        late.as_deref(),
        Some(&["content".into(), "done".into()][..])
    );
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    stopped.is_some()
}

#[test]
fn a_policy_that_never_receives_leaves_file_calls_untrapped() {
    let dir = tempdir();
    let file = dir.path().join("f");
    std::fs::write(&file, "content\n").unwrap();
    let no_loop = dir.path().join("no-loop.lua");
    std::fs::write(&no_loop, r#"local _ = require("libc_service").master"#).unwrap();
    let allow_all = crate::util::repo().join("policies/allow-all.lua");
    let log = dir.path().join("log.jsonl");
    let log_opt = format!("--log={}", log.display());

    assert!(
        completes_while_stopped(&no_loop, &[], &file),
        "no loop: the open waited for the stopped supervisor (trapped)"
    );
    // The same policy with an audit trail: every call is trapped, for its
    // record.
    assert!(
        !completes_while_stopped(&no_loop, &[&log_opt], &file),
        "no loop with --log: the open completed while the supervisor was stopped"
    );
    let records = std::fs::read_to_string(&log).unwrap();
    assert!(
        records.contains(&file.display().to_string()),
        "the log has no record of {}: {records}",
        file.display()
    );
    // A slave filter sees the calls of its function.
    let filter = dir.path().join("filter.lua");
    std::fs::write(
        &filter,
        r#"require("libc_service").slave.open = function(real_open, path, flags, mode)
  return real_open(path, flags, mode)
end"#,
    )
    .unwrap();
    assert!(
        !completes_while_stopped(&filter, &[], &file),
        "open filter: the open completed while the supervisor was stopped"
    );
    // A Lua loop sees every request.
    assert!(
        !completes_while_stopped(&allow_all, &[], &file),
        "allow-all loop: the open completed while the supervisor was stopped"
    );
}
