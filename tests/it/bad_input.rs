//! Bad policies and bad programs: the documented exit codes (124 for any
//! policy failure, 126/127 for a program that cannot run, the program's
//! status otherwise), a short clear message, no program left running.

use std::path::{Path, PathBuf};

use crate::util::{alive, busybox, canon, tempdir, write_file, Cmd, Policy, BUSYBOX};

/// A program that records its pid in `pidfile` and then (same process,
/// `exec`) opens `trigger`: the policy's trouble starts on that open, while
/// the program is running.
fn pid_then_open(pidfile: &Path, trigger: &Path) -> Vec<std::ffi::OsString> {
    busybox(&[
        "sh",
        "-c",
        &format!(
            "echo $$ > {}; exec {BUSYBOX} cat {}",
            pidfile.display(),
            trigger.display()
        ),
    ])
}

struct Scene {
    _tmp: tempfile::TempDir,
    pidfile: PathBuf,
    trigger: PathBuf,
}

fn scene() -> Scene {
    let tmp = tempdir();
    let root = canon(&tmp);
    let trigger = root.join("trigger");
    write_file(&trigger, "trigger\n", 0o644);
    Scene {
        pidfile: root.join("pid"),
        trigger,
        _tmp: tmp,
    }
}

impl Scene {
    /// Runs `policy` on [`pid_then_open`]; checks the program ran, and is
    /// gone once the supervisor has exited.
    fn run(&self, policy: &str) -> crate::util::Output {
        let out = Cmd::supervised(
            Policy::inline(policy),
            &pid_then_open(&self.pidfile, &self.trigger),
        )
        .env("TRIGGER", &self.trigger)
        .run();
        let pid: i32 = std::fs::read_to_string(&self.pidfile)
            .unwrap_or_else(|e| panic!("the program did not start (no pid file: {e}): {out}"))
            .trim()
            .parse()
            .expect("a pid");
        assert!(
            !alive(pid),
            "the program (pid {pid}) is still running after: {out}"
        );
        assert!(
            !out.stdout.contains("trigger"),
            "the program went on after the policy failed: {out}"
        );
        out
    }
}

/// The first line of stderr, which must say it all; the rest (a Lua
/// traceback) is bounded.
#[track_caller]
fn first_line(out: &crate::util::Output) -> &str {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        !lines.is_empty() && lines.len() <= 12,
        "stderr must be a short message: {out}"
    );
    lines[0]
}

/// A policy that fails on the open of $TRIGGER with `failure` (line 6).
fn failing_policy(failure: &str) -> String {
    format!(
        "local master = require(\"libc_service\").master\n\
         local trigger = os.getenv(\"TRIGGER\")\n\
         while true do\n\
         \x20 master:receive()\n\
         \x20 if master:resolved() == trigger then\n\
         \x20   {failure}\n\
         \x20 end\n\
         \x20 master:use_slave_credentials()\n\
         end\n"
    )
}

#[test]
fn syntax_error_exits_124_with_file_and_line() {
    let s = scene();
    let marker = s.pidfile.with_file_name("started");
    let out = Cmd::supervised(
        Policy::inline("local master = require(\"libc_service\").master\nlocal x = = 1\n"),
        &busybox(&["sh", "-c", &format!("echo yes > {}", marker.display())]),
    )
    .run();
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("policy.lua:2:"),
        "the message must name policy.lua:2: {out}"
    );
    assert!(
        l.contains("syntax error"),
        "the message must say what is wrong: {out}"
    );
    assert!(
        !marker.exists(),
        "the program must not run with a broken policy: {out}"
    );
}

#[test]
fn runtime_error_exits_124_with_file_and_line_and_kills_the_program() {
    let s = scene();
    let out = s.run(&failing_policy("error(\"boom\")"));
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("policy.lua:6: boom"),
        "the message must be policy.lua:6: boom: {out}"
    );
}

#[test]
fn indexing_nil_exits_124_with_file_and_line_and_kills_the_program() {
    let s = scene();
    let out = s.run(&failing_policy("local t = nil; local _ = t.field"));
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("policy.lua:6:"),
        "the message must name policy.lua:6: {out}"
    );
    assert!(l.contains("attempt to index a nil value"), "{out}");
}

#[test]
fn wrong_reply_type_exits_124_with_file_and_line_and_kills_the_program() {
    let s = scene();
    let out = s.run(&failing_policy("master:send(\"yes\")"));
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("policy.lua:6:"),
        "the message must name policy.lua:6: {out}"
    );
    assert!(
        l.contains("must be an integer"),
        "the message must say what was wrong: {out}"
    );
}

#[test]
fn stat_reply_of_wrong_type_exits_124() {
    let s = scene();
    let policy = "local master = require(\"libc_service\").master\n\
                  local trigger = os.getenv(\"TRIGGER\")\n\
                  while true do\n\
                  \x20 master:receive()\n\
                  \x20 local f = master.function_\n\
                  \x20 if (f == \"stat\" or f == \"lstat\") and master:resolved() == trigger then\n\
                  \x20   master:send({ size = \"big\" })\n\
                  \x20 end\n\
                  \x20 master:use_slave_credentials()\n\
                  end\n";
    let out = Cmd::supervised(
        Policy::inline(policy),
        &busybox(&["stat", "-c", "%s", s.trigger.to_str().unwrap()]),
    )
    .env("TRIGGER", &s.trigger)
    .run();
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("policy.lua:7:"),
        "the message must name policy.lua:7: {out}"
    );
    assert!(l.contains("size"), "the message must name the field: {out}");
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn missing_policy_file_exits_124() {
    let s = scene();
    let missing = s.pidfile.with_file_name("no-such-policy.lua");
    let marker = s.pidfile.with_file_name("started");
    let out = Cmd::supervised(
        Policy::file(&missing),
        &busybox(&["sh", "-c", &format!("echo yes > {}", marker.display())]),
    )
    .run();
    out.assert_code(124);
    let l = first_line(&out);
    assert!(
        l.contains("no-such-policy.lua"),
        "the message must name the file: {out}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        !marker.exists(),
        "the program must not run without a policy: {out}"
    );
}

#[test]
fn missing_program_exits_127() {
    for prog in ["/nonexistent/program", "no-such-program-on-path-xyz"] {
        let out = Cmd::supervised(Policy::example("allow-all"), &[prog]).run();
        out.assert_code(127);
        assert!(
            first_line(&out).contains(prog),
            "the message must name the program: {out}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "{out}");
    }
}

#[test]
fn non_executable_program_exits_126() {
    let s = scene();
    let out = Cmd::supervised(Policy::example("allow-all"), &[&s.trigger]).run();
    out.assert_code(126);
    assert!(
        first_line(&out).contains("trigger"),
        "the message must name the program: {out}"
    );
}

#[test]
fn program_exit_status_is_passed_through() {
    let out = Cmd::supervised(
        Policy::example("allow-all"),
        &busybox(&["sh", "-c", "exit 3"]),
    )
    .run();
    out.assert_code(3);
    assert_eq!(out.stderr, "", "{out}");
}

#[test]
fn program_killed_by_sigkill_exits_137() {
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &busybox(&["sh", "-c", "kill -9 $$"]),
    )
    .run();
    out.assert_code(137);
    assert_eq!(out.stderr, "", "{out}");
}

/// A policy that fails while the program has forked: the child is killed
/// too (the whole program, not just its first process, is stopped).  The
/// child's output goes to /dev/null so that it cannot keep the captured
/// pipes (and so this test) waiting.
#[test]
fn policy_error_kills_forked_children_too() {
    let s = scene();
    let policy = failing_policy("error(\"boom\")");
    let script = format!(
        "{BUSYBOX} sleep 30 </dev/null >/dev/null 2>&1 & echo $! > {}; {BUSYBOX} cat {}; wait",
        s.pidfile.display(),
        s.trigger.display()
    );
    let out = Cmd::supervised(Policy::inline(&policy), &busybox(&["sh", "-c", &script]))
        .env("TRIGGER", &s.trigger)
        .run();
    out.assert_code(124);
    let pid: i32 = std::fs::read_to_string(&s.pidfile)
        .unwrap_or_else(|e| panic!("no pid file ({e}): {out}"))
        .trim()
        .parse()
        .expect("a pid");
    // Give a dying child a moment to be reaped by whoever inherited it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let survived = alive(pid);
    if survived {
        // SAFETY: plain kill(2) of the stray process this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(
        !survived,
        "the forked child (pid {pid}) outlived the failed policy: {out}"
    );
    // The forked cat whose open was pending must not go on either (it would
    // report the failed open on stderr).
    assert!(
        !out.stderr.contains("cat:"),
        "the forked cat went on running after the policy failed: {out}"
    );
}

/// A policy that received requests and then returns does not leave the
/// rest to the kernel: the run fails closed.
#[test]
fn policy_returning_after_receiving_fails_closed() {
    let policy = r#"local master = require("libc_service").master
master:receive()
master:use_slave_credentials()
"#;
    let out = Cmd::supervised(
        Policy::inline(policy),
        &busybox(&["cat", "/etc/hostname", "/etc/hostname", "/etc/hostname"]),
    )
    .run();
    out.assert_code(124);
    assert!(
        out.stderr
            .contains("returned while the program was running"),
        "{out}"
    );
}

/// A policy that returns before receiving leaves every call to the kernel.
#[test]
fn policy_returning_before_receiving_allows_everything() {
    let policy = r#"local master = require("libc_service").master
return
"#;
    let out = Cmd::supervised(Policy::inline(policy), &busybox(&["cat", "/etc/hostname"])).run();
    out.assert_clean();
    assert!(!out.stdout.is_empty(), "{out}");
}

/// A reply table whose metamethod calls back into `master` while `send`
/// reads it is a policy error (124, with the line), never a crash.
#[test]
fn a_reply_whose_metamethod_reenters_master_exits_124() {
    let policy = "local master = require(\"libc_service\").master\n\
                  while true do\n\
                  \x20 local f = master:receive()\n\
                  \x20 if f == \"stat\" or f == \"lstat\" then\n\
                  \x20   master:send(setmetatable({}, { __index = function() return master.function_ end }))\n\
                  \x20 else\n\
                  \x20   master:use_master_credentials()\n\
                  \x20 end\n\
                  end\n";
    let out = Cmd::supervised(
        Policy::inline(policy),
        &busybox(&["stat", "-c", "%s", "/etc/hostname"]),
    )
    .run();
    out.assert_code(124);
    assert!(out.stderr.contains("policy.lua:5"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
}

/// A policy's runtime error names the request it was answering: the call
/// and its path (control characters escaped), or the address.
#[test]
fn a_runtime_error_names_the_request_being_answered() {
    let dir = tempdir();
    let d = canon(&dir);
    let odd = d.join("a\x1b[2Jb");
    write_file(&odd, "x", 0o644);
    let policy = "local master = require('libc_service').master\n\
                  while true do\n  master:receive()\n  \
                  if master.function_ == 'open' and master:arguments():find('a') then error('boom') end\n  \
                  master:use_slave_credentials()\nend\n";
    let o = Cmd::supervised(
        Policy::inline(policy),
        &busybox(&["cat", odd.to_str().unwrap()]),
    )
    .run();
    o.assert_code(124);
    let want = format!("while answering: open {:?}", odd.to_str().unwrap());
    assert!(o.stderr.contains(&want), "{o}");
    assert!(
        !o.stderr.contains('\x1b'),
        "a control character reached the terminal: {o}"
    );
}
