//! `--summary` under a program that makes it big or makes it lie (issue 17
//! item 9): 100,000 distinct denied paths of 3,000 bytes keep the
//! supervisor's memory bounded (counts, and the first examples of each
//! kind), and a path with control characters is printed escaped: no ESC
//! reaches the terminal, no newline forges a row.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use crate::util::{busybox, posture, supervisor, Cmd, Policy};

/// Denies every path under /denied/ (the literal argument), lets the kernel
/// do the rest.
const DENY_PREFIX: &str = r#"
local master = require("libc_service").master
while true do
  master:receive()
  local path = master:arguments()
  if type(path) == "string" and path:sub(1, 8) == "/denied/" then
    master:send(-1, "EACCES")
  else
    master:use_slave_credentials()
  end
end
"#;

/// The supervisor's peak resident memory must stay under this while it
/// holds the summary of 100,000 distinct denials (before, at 502ea53:
/// every path kept, over 300 MiB for these).
const BOUND_KIB: u64 = 64 * 1024;

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

#[test]
fn a_hundred_thousand_distinct_denials_keep_the_summary_bounded() {
    let d = crate::util::tempdir();
    let policy = d.path().join("deny.lua");
    std::fs::write(&policy, DENY_PREFIX).unwrap();
    let mut child = Command::new(supervisor())
        .args(["run", "--summary", "--policy"])
        .arg(&policy)
        .arg("--")
        .args(posture(&["deny-many", "100000", "3000"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the supervisor");
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        let done = l.trim_end() == "done";
        lines.push(l);
        if done {
            break;
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.trim_end() == "denied=100000 other=0"),
        "{lines:?}"
    );
    // Every denial is counted by now; the summary is printed at exit.
    let peak = vm_hwm_kib(child.id());
    drop(child.stdin.take());
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    let status = child.wait().unwrap();
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        peak < BOUND_KIB,
        "the supervisor peaked at {peak} KiB holding 100,000 denials (bound {BOUND_KIB} KiB)"
    );
    assert!(
        err.contains("supervisor: summary: 100000 requests, 100000 denied"),
        "{err:.2000}"
    );
    let den = err.split("denied:\n").nth(1).expect("a denied section");
    let den = den.split("requests:\n").next().unwrap();
    // One group: 8 paths, then folds by place (/denied/8/…, then
    // /denied/…), every denial counted, every line within 100 columns.
    assert!(den.lines().count() <= 1 + 16 + 1, "{den:.3000}");
    assert!(
        den.lines().any(|l| l.ends_with(" /denied/…")),
        "{den:.3000}"
    );
    let counted: u64 = den
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(|l| l.split_whitespace().nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, 100_000, "{den:.3000}");
    assert!(err.lines().all(|l| l.chars().count() <= 100), "{err:.3000}");
}

/// A denied path carrying an OSC title, a clear-screen sequence, a C1 CSI
/// and a newline followed by a forged row: the summary prints them escaped
/// (`\u001b`, `\n`, as the JSONL log does).  Before (502ea53): the raw bytes
/// went to the terminal and the forged row appeared as its own line.
#[test]
fn the_summary_escapes_what_the_program_names() {
    let evil = "/denied/\x1b]0;owned\x07\x1b[2J\u{9b}31m\n  open  /etc/forged  EACCES  1";
    let out = Cmd::supervised(Policy::inline(DENY_PREFIX), &busybox(&["cat", evil]))
        .option("--summary")
        .run();
    assert_eq!(out.code, 1, "{out}");
    let summary = out
        .stderr
        .split("supervisor: summary:")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {out}"));
    assert!(
        !summary.contains('\x1b') && !summary.contains('\u{9b}'),
        "{summary:?}"
    );
    assert!(!summary.contains('\x07'), "{summary:?}");
    assert!(
        summary.contains(r"/denied/\u001b]0;owned\u0007\u001b[2J\u009b31m\n  open  /etc/forged"),
        "{summary}"
    );
    assert!(
        !summary
            .lines()
            .any(|l| l.trim_start().starts_with("open  /etc/forged")),
        "a forged row: {summary}"
    );
}
