//! Observability: `--log FILE` (JSON lines, one record per request),
//! `--summary` (a table on stderr at exit) and `supervisor check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{busybox, canon, supervisor, tempdir, write_file, Cmd, Kind, Output, Policy};

/// Runs `cmd` with `--log` into `dir`; returns the run and the records.
fn logged(cmd: Cmd, dir: &Path) -> (Output, Vec<Value>) {
    let log = dir.join("log.jsonl");
    let o = cmd.option("--log").option(&log).run();
    (o, records(&log))
}

/// The records of a log file; every line must be one JSON object.
fn records(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("read the log {}: {e}", log.display()));
    assert!(text.is_empty() || text.ends_with('\n'), "unterminated log");
    text.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            assert!(v.is_object(), "not an object: {l}");
            v
        })
        .collect()
}

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str()
        .unwrap_or_else(|| panic!("{k} is not a string in {r}"))
}

/// The fields every record has, with their types.
fn assert_shape(r: &Value) {
    let t = s(r, "time");
    assert!(
        t.len() == 27 && t.ends_with('Z') && &t[10..11] == "T",
        "time {t}"
    );
    for k in ["function", "answer", "outcome"] {
        s(r, k);
    }
    // Only a request nobody decided on (the run ended first) has none.
    assert!(
        r["decision"].is_string() || (r["decision"].is_null() && r["outcome"] == "abandoned"),
        "decision in {r}"
    );
    assert!(r["tid"].is_u64() || r["tid"].is_null(), "tid in {r}");
    assert!(r["pid"].is_u64() || r["pid"].is_null(), "pid in {r}");
    assert!(r["arguments"].is_object(), "arguments in {r}");
    assert!(r["denied"].is_boolean(), "denied in {r}");
    assert!(r["duration_us"].is_u64(), "duration_us in {r}");
    assert!(
        r["errno"].is_string() || r["errno"].is_null(),
        "errno in {r}"
    );
    match s(r, "outcome") {
        "value" => assert!(r["result"].is_i64() || r["result"].is_array(), "{r}"),
        "error" => assert!(r["errno"].is_string() && r["result"].is_null(), "{r}"),
        "continue" | "abandoned" | "upstream" => assert!(r["result"].is_null(), "{r}"),
        o => panic!("unknown outcome {o} in {r}"),
    }
}

/// The total of the summary's first line.
fn summary_total(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("supervisor: summary: "))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    line["supervisor: summary: ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad summary line {line}"))
}

/// Counts what the policy sees: one line per request into `counter`.
fn counting_policy(counter: &Path) -> String {
    format!(
        r#"
local master = require("libc_service").master
local host = require("host")
local seen = assert(host.open({counter:?}, {{"write_only", "create", "append"}}, 384))
while true do
  local f = master:receive()
  seen:write(f .. "\n")
  master:use_master_credentials()
end
"#
    )
}

/// Refuses (EACCES, line 6) to open `secret`; lets everything else through
/// with the supervisor's credentials (line 8).
fn deny_secret_policy(secret: &Path) -> String {
    format!(
        r#"local master = require("libc_service").master
while true do
  master:receive()
  local path = master:resolved()
  if path == {secret:?} then
    master:send(-1, "EACCES")
  else
    master:use_master_credentials()
  end
end
"#,
        secret = secret.to_str().unwrap()
    )
}

/// A fresh canonical directory holding `name` (content "x", mode 644):
/// the directory (kept alive by the guard), its path and the file's path.
fn dir_with_file(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempdir();
    let d = canon(&dir);
    let file = d.join(name);
    write_file(&file, "x", 0o644);
    (dir, d, file)
}

/// `busybox cat FILE` under `policy`.
fn cat(policy: Policy, file: &Path) -> Cmd {
    Cmd::supervised(policy, &busybox(&["cat", file.to_str().unwrap()]))
}

#[test]
fn every_request_has_exactly_one_json_record() {
    let (_dir, d, file) = dir_with_file("file");
    let counter = d.join("seen");
    let argv = Kind::Musl.probe_argv(&["abuse".as_ref(), file.as_os_str()]);
    let cmd =
        Cmd::supervised(Policy::inline(&counting_policy(&counter)), &argv).option("--summary");
    let (o, recs) = logged(cmd, &d);
    assert_eq!(o.code, 0, "{o}");
    assert!(!recs.is_empty());
    for r in &recs {
        assert_shape(r);
    }
    // The policy's requests, in order, are the records it answered.
    let seen = std::fs::read_to_string(&counter).expect("the policy's count");
    let seen: Vec<&str> = seen.lines().collect();
    let answered: Vec<&str> = recs
        .iter()
        .filter(|r| s(r, "decision").starts_with("policy "))
        .map(|r| s(r, "function"))
        .collect();
    assert_eq!(answered, seen, "records vs requests the policy saw");
    // The others were answered by the supervisor itself: the invalid
    // pointers and the over-long paths the probe passes.
    let by_supervisor: Vec<&Value> = recs
        .iter()
        .filter(|r| s(r, "decision") == "supervisor (invalid arguments)")
        .collect();
    let errnos: Vec<&str> = by_supervisor.iter().map(|r| s(r, "errno")).collect();
    assert!(
        errnos.iter().filter(|e| **e == "EFAULT").count() >= 4
            && errnos.iter().filter(|e| **e == "ENAMETOOLONG").count() >= 2,
        "{errnos:?}"
    );
    assert!(by_supervisor.iter().all(|r| s(r, "answer") == "supervisor"));
    assert_eq!(
        recs.len(),
        seen.len()
            + recs
                .iter()
                .filter(|r| s(r, "answer") == "supervisor")
                .count(),
        "every record is the policy's or the supervisor's"
    );
    // Who asked.
    let probe = Kind::Musl.probe().to_str().unwrap();
    for r in &recs {
        assert_eq!(s(r, "executable"), probe, "{r}");
        assert!(r["pid"].as_u64().unwrap() > 1, "{r}");
        assert_eq!(r["pid"], r["tid"], "single-threaded: {r}");
        assert!(s(r, "syscall").len() > 2, "{r}");
    }
    // The summary counts the same requests.
    assert_eq!(summary_total(&o.stderr), recs.len(), "{o}");
}

#[test]
fn a_denial_names_the_policy_line_and_never_the_contents() {
    let dir = tempdir();
    let d = canon(&dir);
    let secret = d.join("secret");
    let public = d.join("public");
    write_file(&secret, "TOP-SECRET-CONTENT\n", 0o644);
    write_file(&public, "PUBLIC-CONTENT\n", 0o644);
    let pfile = policy_file(&d, "p.lua", &deny_secret_policy(&secret));
    let cmd = Cmd::supervised(
        Policy::file(&pfile),
        &busybox(&["cat", public.to_str().unwrap(), secret.to_str().unwrap()]),
    )
    .option("--summary");
    let (o, recs) = logged(cmd, &d);
    assert_eq!(o.code, 1, "cat fails on the secret: {o}");
    assert_eq!(o.stdout, "PUBLIC-CONTENT\n");
    let text = std::fs::read_to_string(d.join("log.jsonl")).unwrap();
    assert!(
        !text.contains("SECRET-CONTENT") && !text.contains("PUBLIC-CONTENT"),
        "file contents in the log:\n{text}"
    );
    let denied: Vec<&Value> = recs.iter().filter(|r| r["denied"] == true).collect();
    assert_eq!(denied.len(), 1, "{recs:?}");
    let r = denied[0];
    assert_eq!(s(r, "function"), "open");
    assert_eq!(s(&r["arguments"], "path"), secret.to_str().unwrap());
    assert_eq!(r["arguments"]["flags"][0], "read_only");
    assert_eq!(r["resolved"][0], secret.to_str().unwrap());
    assert_eq!(s(r, "decision"), format!("policy {}:6", pfile.display()));
    assert_eq!(s(r, "answer"), "send");
    assert_eq!(s(r, "errno"), "EACCES");
    let busybox_exe = std::fs::canonicalize(crate::util::BUSYBOX).unwrap();
    assert_eq!(s(r, "executable"), busybox_exe.to_str().unwrap());
    let allowed = recs
        .iter()
        .find(|r| r["arguments"]["path"] == public.to_str().unwrap())
        .expect("the public file's record");
    assert_eq!(
        s(allowed, "decision"),
        format!("policy {}:8", pfile.display())
    );
    assert_eq!(s(allowed, "answer"), "use_master_credentials");
    assert_eq!(s(allowed, "outcome"), "value");
    assert!(allowed["result"].as_i64().unwrap() >= 0);
    assert_eq!(allowed["denied"], false);
    // The summary: the counts by line, and the denied path.
    let den = o
        .stderr
        .split("denied:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no denied section: {o}"));
    // Under who decided, the row: function, errno, count, path.
    let line6 = format!("policy {}:6", pfile.display());
    assert_eq!(den.lines().next().unwrap().trim(), line6, "{o}");
    let row: Vec<&str> = den.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["open", "EACCES", "1", secret.to_str().unwrap()],
        "{o}"
    );
    // The counts: function, answer, count, denied, decided by.
    assert!(
        o.stderr.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() == 6 && w[..4] == ["open", "send", "1", "1"] && l.ends_with(&line6)
        }),
        "{o}"
    );
}

#[test]
fn default_and_described_decisions() {
    let (_dir, d, file) = dir_with_file("f");
    // No master loop: every request continues.
    let (o, recs) = logged(
        cat(
            Policy::inline("local m = require('libc_service').master"),
            &file,
        ),
        &d,
    );
    o.assert_clean();
    assert!(!recs.is_empty());
    for r in &recs {
        assert_shape(r);
        assert_eq!(s(r, "decision"), "default (no master loop)", "{r}");
        assert_eq!(s(r, "answer"), "use_slave_credentials");
        assert_eq!(s(r, "outcome"), "continue");
    }
    // master:describe labels the next answer.
    let policy = r#"local master = require("libc_service").master
while true do
  master:receive()
  master:describe("rule 7 (deny everything)")
  master:send(-1, "EPERM")
end"#;
    let (o, recs) = logged(cat(Policy::inline(policy), &file).option("--summary"), &d);
    assert_eq!(o.code, 1, "{o}");
    let r = recs
        .iter()
        .find(|r| r["arguments"]["path"] == file.to_str().unwrap())
        .expect("the open's record");
    assert_eq!(s(r, "decision"), "rule 7 (deny everything)");
    assert_eq!(s(r, "errno"), "EPERM");
    assert_eq!(r["denied"], true);
    assert!(o.stderr.contains("rule 7 (deny everything)"), "{o}");
}

#[test]
fn name_lookups_are_recorded() {
    let dir = tempdir();
    let d = canon(&dir);
    let policy = r#"local master = require("libc_service").master
while true do
  local f = master:receive()
  if f == "getaddrinfo" then
    if master:arguments() == "anonymous.invalid" then
      master:send({{"127.0.1.1", 80}})
    else
      master:send("noname")
    end
  else
    master:use_master_credentials()
  end
end"#;
    for (name, ok) in [("anonymous.invalid", true), ("blocked.invalid", false)] {
        let (o, recs) = logged(
            Cmd::supervised(
                Policy::inline(policy),
                &Kind::Musl.net_argv(&["resolve", name]),
            )
            .in_new_netns(),
            &d,
        );
        for r in &recs {
            assert_shape(r);
        }
        let gai: Vec<&Value> = recs
            .iter()
            .filter(|r| s(r, "function") == "getaddrinfo")
            .collect();
        assert_eq!(gai.len(), 1, "one lookup, one record: {o}\n{recs:?}");
        let r = gai[0];
        assert_eq!(s(&r["arguments"], "name"), name);
        assert!(r["syscall"].is_null());
        assert!(s(r, "decision").starts_with("policy "), "{r}");
        if ok {
            o.assert_clean();
            assert_eq!(r["result"], serde_json::json!(["127.0.1.1"]));
            assert_eq!(r["denied"], false);
        } else {
            assert_eq!(s(r, "errno"), "noname");
            assert_eq!(r["denied"], true);
        }
        // The DNS traffic itself: answered by the supervisor (the stub).
        assert!(
            recs.iter()
                .any(|r| s(r, "decision") == "supervisor (DNS to the stub)"),
            "{recs:?}"
        );
    }
}

#[test]
fn a_request_abandoned_by_its_dead_thread_is_recorded_once() {
    let (_dir, d, slow) = dir_with_file("slow");
    // The policy dwells on `slow` while the shell kills the cat asking.
    let policy = format!(
        r#"local master = require("libc_service").master
while true do
  master:receive()
  if master:resolved() == {slow:?} then
    local t = os.time() + 3
    while os.time() < t do end
  end
  master:use_master_credentials()
end"#,
        slow = slow.to_str().unwrap()
    );
    let script = format!(
        "cat {} & sleep 1; kill -9 $!; wait; echo done",
        slow.display()
    );
    let (o, recs) = logged(
        Cmd::supervised(Policy::inline(&policy), &busybox(&["sh", "-c", &script])),
        &d,
    );
    assert_eq!(o.stdout, "done\n", "{o}");
    let slow_recs: Vec<&Value> = recs
        .iter()
        .filter(|r| r["arguments"]["path"] == slow.to_str().unwrap())
        .collect();
    assert_eq!(slow_recs.len(), 1, "{recs:?}");
    assert_eq!(s(slow_recs[0], "outcome"), "abandoned", "{}", slow_recs[0]);
    assert_eq!(s(slow_recs[0], "answer"), "use_master_credentials");
    assert!(slow_recs[0]["duration_us"].as_u64().unwrap() >= 1_000_000);
}

#[test]
fn a_failed_log_write_ends_the_run() {
    let dir = tempdir();
    let d = canon(&dir);
    let marker = d.join("marker");
    let o = Cmd::supervised(
        Policy::example("broker-all"),
        &busybox(&[
            "sh",
            "-c",
            &format!("cat /etc/hostname; touch {}", marker.display()),
        ]),
    )
    .option("--log")
    .option("/dev/full")
    .run();
    o.assert_code(125);
    assert_eq!(
        o.stderr
            .matches("cannot write the audit log /dev/full")
            .count(),
        1,
        "{o}"
    );
    assert!(!marker.exists(), "the program went on after the log failed");
    // A log that cannot be opened: the program never starts.
    let o = Cmd::supervised(
        Policy::example("broker-all"),
        &busybox(&["touch", marker.to_str().unwrap()]),
    )
    .option("--log")
    .option(d.join("no/such/dir/log"))
    .run();
    o.assert_code(125);
    assert!(o.stderr.contains("cannot open the log file"), "{o}");
    assert!(!marker.exists());
}

#[test]
fn logging_changes_nothing_the_program_sees() {
    let (_dir, d, file) = dir_with_file("file");
    for policy in ["broker-all", "deny-path", "allow-all"] {
        let argv = Kind::Musl.probe_argv(&["abuse".as_ref(), file.as_os_str()]);
        let plain = Cmd::supervised(Policy::example(policy), &argv).run();
        let (o, recs) = logged(
            Cmd::supervised(Policy::example(policy), &argv).option("--summary"),
            &d,
        );
        assert!(!recs.is_empty());
        assert_eq!(o.stdout, plain.stdout, "{policy}: {o}\nvs\n{plain}");
        assert_eq!(o.code, plain.code, "{policy}");
        let without_summary: String = o
            .stderr
            .split("supervisor: summary:")
            .next()
            .unwrap()
            .to_string();
        assert_eq!(without_summary, plain.stderr, "{policy}");
    }
    // Nor does the program inherit the log.
    let (o, _) = logged(
        Cmd::supervised(
            Policy::example("allow-all"),
            &busybox(&["ls", "-l", "/proc/self/fd/"]),
        ),
        &d,
    );
    // (ls's own directory descriptor, gone when it reads the link, is
    // reported on stderr.)
    o.assert_code(0);
    assert!(o.stdout.contains(" 1 -> "), "{o}");
    assert!(!o.stdout.contains("log.jsonl"), "{o}");
}

// ---- supervisor check ----------------------------------------------------

fn check(args: &[&Path]) -> Output {
    let o = Command::new(supervisor())
        .arg("check")
        .args(args)
        .output()
        .expect("run supervisor check");
    output(o, format!("supervisor check {args:?}"))
}

/// A finished `supervisor` subcommand as an [`Output`] (no pid: it was not
/// started by [`Cmd`]).
fn output(o: std::process::Output, what: String) -> Output {
    Output {
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
        code: o.status.code().unwrap_or(-1),
        pid: 0,
        what,
    }
}

fn policy_file(dir: &Path, name: &str, src: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, src).unwrap();
    p
}

/// Writes `src` to `dir/name` and runs `supervisor check` on it, which must
/// exit with `code`; the file and the run.
#[track_caller]
fn check_file(dir: &Path, name: &str, src: &str, code: i32) -> (PathBuf, Output) {
    let p = policy_file(dir, name, src);
    let o = check(&[&p]);
    o.assert_code(code);
    (p, o)
}

#[test]
fn check_accepts_every_example_policy() {
    let dir = crate::util::repo().join("policies");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "lua") {
            let o = check(&[&p]);
            o.assert_code(0);
            assert!(o.stdout.starts_with(&format!("{}: ok", p.display())), "{o}");
            n += 1;
        }
    }
    assert!(n >= 5);
}

#[test]
fn check_reports_errors_with_file_and_line() {
    let dir = tempdir();
    let d = canon(&dir);
    // Syntax error.
    let (p, o) = check_file(
        &d,
        "syntax.lua",
        "local master = require('libc_service').master\n\nwhile true do\n  master:receive(\nend\n",
        124,
    );
    assert!(
        o.stderr.starts_with(&format!(
            "supervisor: policy syntax error: {}:5:",
            p.display()
        )),
        "{o}"
    );
    // Runtime error before the first receive.
    let (p, o) = check_file(
        &d,
        "runtime.lua",
        "local master = require('libc_service').master\nlocal cfg = nil\n\nlocal x = cfg.allowed\nmaster:receive()\n",
        124,
    );
    assert!(
        o.stderr
            .starts_with(&format!("supervisor: policy error: {}:4:", p.display())),
        "{o}"
    );
    // A wrong assignment to libc_service.init.
    let (p, o) = check_file(
        &d,
        "init-type.lua",
        "local ls = require('libc_service')\nls.init = 42\nls.master:receive()\n",
        124,
    );
    assert!(
        o.stderr.contains(&format!(
            "{}:2: libc_service.init must be a table",
            p.display()
        )),
        "{o}"
    );
    // A request method without a request.
    let (p, o) = check_file(
        &d,
        "no-request.lua",
        "local master = require('libc_service').master\nmaster:send(0)\n",
        124,
    );
    assert!(
        o.stderr
            .contains(&format!("{}:2: send: no request", p.display())),
        "{o}"
    );
    // Missing file.
    let o = check(&[&d.join("missing.lua")]);
    o.assert_code(124);
    assert!(o.stderr.contains("cannot read policy"), "{o}");
}

#[test]
fn check_compiles_the_init_script() {
    let dir = tempdir();
    let d = canon(&dir);
    let (_, o) = check_file(
        &d,
        "p.lua",
        "local ls = require('libc_service')\nls.init = { script = 'x = 1\\nif then end' }\nls.master:receive()\n",
        123,
    );
    assert!(
        o.stderr
            .contains("init script syntax error: libc_service.init.script:2:"),
        "{o}"
    );
    let good = policy_file(&d, "good.lua", "require('libc_service').master:receive()\n");
    let bad_init = policy_file(&d, "init.lua", "local a =\n");
    let o = check(&[&good, Path::new("--init"), &bad_init]);
    o.assert_code(123);
    assert!(
        o.stderr.contains(&format!("{}:2:", bad_init.display())),
        "{o}"
    );
}

#[test]
fn check_runs_nothing_past_the_first_receive() {
    let dir = tempdir();
    let d = canon(&dir);
    let marker = d.join("marker");
    // Even a receive inside pcall, in a loop, ends the check; nothing after
    // it runs (the marker would be created by the supervisor's own open).
    let (p, o) = check_file(
        &d,
        "p.lua",
        &format!(
            "local master = require('libc_service').master\nlocal host = require('host')\n\
             while true do\n  pcall(master.receive, master)\n  host.open({marker:?}, {{'write_only', 'create'}})\nend\n",
            marker = marker.to_str().unwrap()
        ),
        0,
    );
    assert_eq!(
        o.stdout,
        format!(
            "{}: ok (the program would start at the first master:receive(), {}:4)\n",
            p.display(),
            p.display()
        ),
        "{o}"
    );
    assert!(!marker.exists(), "check ran past receive()");
    // A policy that returns without receiving.
    let (_, o) = check_file(&d, "none.lua", "return\n", 0);
    assert!(o.stdout.contains("returns without master:receive()"), "{o}");
}

#[test]
fn a_request_left_by_a_failing_policy_is_recorded_as_abandoned() {
    let (_dir, d, file) = dir_with_file("f");
    // A wrong reply type: the run ends (124) with the request unanswered.
    let (o, recs) = logged(
        cat(
            Policy::inline(
                "local master = require('libc_service').master\nmaster:receive()\nmaster:send('nope')\n",
            ),
            &file,
        )
        .option("--summary"),
        &d,
    );
    o.assert_code(124);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_shape(&recs[0]);
    assert_eq!(s(&recs[0], "outcome"), "abandoned");
    assert!(recs[0]["decision"].is_null());
    assert_eq!(s(&recs[0], "answer"), "none");
    assert!(
        o.stderr
            .contains("supervisor: summary: 1 requests, 0 denied, 1 abandoned"),
        "{o}"
    );
}

#[test]
fn threads_are_recorded_under_their_process() {
    let dir = tempdir();
    let d = canon(&dir);
    for k in 0..8 {
        write_file(&d.join(format!("f{k}")), &format!("content {k}\n"), 0o644);
    }
    let (o, recs) = logged(
        Cmd::supervised(
            Policy::example("broker-all"),
            &Kind::Musl.probe_argv(&["threads", d.to_str().unwrap()]),
        ),
        &d,
    );
    o.assert_clean();
    // 8 threads × 8 files × 50 rounds, an open and a stat each.
    let opens: Vec<&Value> = recs.iter().filter(|r| s(r, "function") == "open").collect();
    assert_eq!(opens.len(), 3200, "{o}");
    let pid = recs[0]["pid"].as_u64().unwrap();
    assert!(
        recs.iter().all(|r| r["pid"].as_u64() == Some(pid)),
        "one process"
    );
    let mut tids: Vec<u64> = opens.iter().map(|r| r["tid"].as_u64().unwrap()).collect();
    tids.sort();
    tids.dedup();
    assert_eq!(tids.len(), 8, "eight threads");
    assert!(
        !tids.contains(&pid),
        "the opening threads are not the leader"
    );
}

// ---- supervisor learn ----------------------------------------------------

fn learn(out: &Path, argv: &[&str], cwd: &Path) -> Output {
    let o = Command::new(supervisor())
        .arg("learn")
        .arg("-o")
        .arg(out)
        .arg("--")
        .args(argv)
        .current_dir(cwd)
        .output()
        .expect("run supervisor learn");
    let o = output(
        o,
        format!("supervisor learn -o {} -- {argv:?}", out.display()),
    );
    assert!(!o.stderr.contains("panicked"), "{o}");
    o
}

#[test]
fn learn_writes_a_rules_policy_of_what_the_job_did() {
    let dir = tempdir();
    let d = canon(&dir);
    let ws = d.join("ws");
    std::fs::create_dir(&ws).unwrap();
    write_file(&ws.join("input"), "data\n", 0o644);
    let out = d.join("learnt.lua");
    let job = "cat input > output; mkdir build; echo x > build/a; echo y > build/b; \
               echo t > tmp.kept; rm tmp.kept; exit 3";
    let o = learn(&out, &[crate::util::BUSYBOX, "sh", "-c", job], &ws);
    o.assert_code(3); // the job's own status
    let text = std::fs::read_to_string(&out).expect("the learnt policy");
    let w = ws.to_str().unwrap();
    for rule in [
        format!("{{ \"allow\", \"read\", \"{w}/input\" }},"),
        format!("{{ \"allow\", \"create\", \"{w}/output\" }},"),
        format!("{{ \"allow\", \"write\", \"{w}/output\" }},"),
        // The directory the job made, whole.
        format!("{{ \"allow\", \"create\", \"{w}/build/\" }},"),
        format!("{{ \"allow\", \"write\", \"{w}/build/\" }},"),
        format!("{{ \"allow\", \"delete\", \"{w}/tmp.kept\" }},"),
    ] {
        assert!(
            text.lines().any(|l| l.trim() == rule),
            "{rule} not in\n{text}"
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with('{') && l.contains("build/a")),
        "folded into build/: {text}"
    );
    assert!(text.contains("return rules.run {"), "{text}");
    // It is Lua; `check` runs it until `require "rules"`, which needs the
    // rules module (not part of this branch).
    let o = check(&[&out]);
    assert!(
        o.code == 0 || o.stderr.contains("module 'rules' not found"),
        "{o}"
    );
}

/// `--log-level denied`: the log holds the denials and nothing else; the
/// summary still counts every request.
#[test]
fn log_level_denied_keeps_only_the_denials() {
    let dir = tempdir();
    let d = canon(&dir);
    let secret = d.join("secret");
    let public = d.join("public");
    write_file(&secret, "s\n", 0o644);
    write_file(&public, "p\n", 0o644);
    let policy = deny_secret_policy(&secret);
    let argv = busybox(&["cat", public.to_str().unwrap(), secret.to_str().unwrap()]);
    let (all_o, all) = logged(Cmd::supervised(Policy::inline(&policy), &argv), &d);
    let (o, recs) = logged(
        Cmd::supervised(Policy::inline(&policy), &argv)
            .option("--log-level")
            .option("denied")
            .option("--summary"),
        &d,
    );
    assert_eq!((o.code, &o.stdout), (all_o.code, &all_o.stdout));
    assert!(all.len() > 1, "{all:?}");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["denied"], true);
    assert_eq!(s(&recs[0]["arguments"], "path"), secret.to_str().unwrap());
    assert_eq!(summary_total(&o.stderr), all.len(), "{}", o.stderr);
}

/// A process's executable is read once per image (audit/exe.rs): after an
/// exec, the same pid's records name the new image, whether the exec was
/// verified (`broker-all`) or let through unverified (`allow-all`).
#[test]
fn audit_records_name_the_image_after_an_exec() {
    for policy in ["broker-all", "allow-all"] {
        let dir = tempdir();
        let d = canon(&dir);
        // Another file, named sh: busybox runs the applet of its name.
        std::fs::create_dir(d.join("b")).unwrap();
        let (f1, f2, bb2) = (d.join("f1"), d.join("f2"), d.join("b/sh"));
        write_file(&f1, "one\n", 0o644);
        write_file(&f2, "two\n", 0o644);
        std::fs::copy(crate::util::BUSYBOX, &bb2).expect("copy busybox");
        let inner = format!("exec 3<{0}; exec 4<{0}; exec 5<{0}", f2.display());
        let script = format!(
            "exec 3<{0}; exec 4<{0}; exec 5<{0}; exec {1} -c '{inner}'",
            f1.display(),
            bb2.display()
        );
        let (o, recs) = logged(
            Cmd::supervised(Policy::example(policy), &busybox(&["sh", "-c", &script])),
            &d,
        );
        o.assert_clean();
        let opens = |f: &Path| -> Vec<&Value> {
            recs.iter()
                .filter(|r| r["arguments"]["path"].as_str() == Some(f.to_str().unwrap()))
                .collect()
        };
        let (before, after) = (opens(&f1), opens(&f2));
        assert_eq!((before.len(), after.len()), (3, 3), "{policy}: {recs:?}");
        let pid = before[0]["pid"].as_u64().expect("a pid");
        let first = std::fs::canonicalize(crate::util::BUSYBOX).unwrap();
        for r in &before {
            assert_eq!(r["pid"].as_u64(), Some(pid), "{policy}: {r}");
            assert_eq!(s(r, "executable"), first.to_str().unwrap(), "{policy}: {r}");
        }
        for r in &after {
            assert_eq!(
                r["pid"].as_u64(),
                Some(pid),
                "{policy}: the same process: {r}"
            );
            assert_eq!(s(r, "executable"), bb2.to_str().unwrap(), "{policy}: {r}");
        }
    }
}
