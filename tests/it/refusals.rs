//! Every layer's refusal is visible (issue 18): one refusal by the policy
//! (a Lua `send`), one by a rule, one by the posture (a syscall outside
//! the allow-list) and one by the init script's Landlock backstop (a write
//! the rules leave to the kernel, `how = "slave"`, which Landlock refuses:
//! answered EACCES by the supervisor, as Landlock would, and recorded)
//! are each in `--log` and in `--summary`, with the call and the path.

use std::path::Path;

use serde_json::Value;

use crate::util::{busybox, canon, posture, tempdir, Cmd, Output, Policy};

/// A policy whose init script enforces a Landlock layer that handles
/// writes and creations and grants them nowhere (as policies/ci.lua's
/// does); reads are performed as the program, writes and creations left
/// to the kernel; `$WS/policy-denied` is refused by the policy itself and
/// `$WS/rules-denied` by a rule.
const LAYERS: &str = r#"
local libc_service = require "libc_service"
local rules = require "rules"
local WS = os.getenv("WS")
libc_service.init = { script = [[
  local ruleset = C.landlock_create_ruleset({
    handled_access_fs = { "write_file", "make_reg", "make_dir", "remove_file" } })
  set_no_new_privs()
  C.landlock_restrict_self(ruleset)
]] }
local r = rules.policy {
  errno = "EACCES",
  default = { read = "allow", write = { "allow", how = "slave" },
              create = { "allow", how = "slave" }, delete = "deny" },
  { "deny", "read", rules.literal(WS) .. "/rules-denied" },
}
local master = libc_service.master
while true do
  master:receive()
  if master.function_ == "open" and master:resolved() == WS .. "/policy-denied" then
    master:send(-1, "EACCES")
  else
    r:answer()
  end
end
"#;

/// `cmd` with `--log LOG --summary`, run; exit code 0 asserted; the run
/// and the log's records.
#[track_caller]
fn run_logged(cmd: Cmd, log: &Path) -> (Output, Vec<Value>) {
    let o = cmd.option("--log").option(log).option("--summary").run();
    o.assert_code(0);
    let recs = std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (o, recs)
}

#[test]
fn a_refusal_of_each_layer_is_in_the_log_and_the_summary() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    for f in ["policy-denied", "rules-denied"] {
        std::fs::write(ws.join(f), "x\n").unwrap();
    }
    let log = ws.join("audit.jsonl");
    let probe = posture::<&str>(&[]).remove(0);
    let mut argv = busybox(&[
        "sh",
        "-c",
        "cat policy-denied; cat rules-denied; echo x > landlock-denied; \"$1\" syscall 470; \
         cat /dev/null && echo read",
        "sh",
    ]);
    argv.push(probe);
    let (o, recs) = run_logged(
        Cmd::supervised(Policy::inline(LAYERS), &argv)
            .cwd(&ws)
            .env("WS", &ws),
        &log,
    );
    // The program saw each refusal.
    for what in ["policy-denied", "rules-denied", "landlock-denied"] {
        assert!(
            o.stderr
                .lines()
                .any(|l| l.contains(what) && l.ends_with("Permission denied")),
            "{what}: {o}"
        );
    }
    assert!(o.stdout.contains("syscall 470: ENOSYS"), "{o}");
    assert!(o.stdout.ends_with("read\n"), "{o}");
    assert!(!ws.join("landlock-denied").exists(), "{o}");

    // The log: one denial per layer, with its call, path and decision.
    let w = ws.display().to_string();
    let denial = |function: &str, path: &str, decision: &str, errno: &str| {
        recs.iter().any(|r| {
            let named = r["arguments"]["path"].as_str() == Some(path)
                || r["resolved"][0].as_str() == Some(path)
                || r["arguments"]["refused"].as_str() == Some(path);
            r["denied"] == true
                && r["function"] == function
                && named
                && r["decision"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(decision))
                && r["errno"] == errno
        })
    };
    let want = [
        ("open", format!("{w}/policy-denied"), "policy ", "EACCES"),
        (
            "open",
            format!("{w}/rules-denied"),
            "rule 1 (deny read ",
            "EACCES",
        ),
        (
            "open",
            format!("{w}/landlock-denied"),
            "landlock (the backstop grants make_reg nowhere)",
            "EACCES",
        ),
        ("syscall", "syscall 470".into(), "posture (", "ENOSYS"),
    ];
    for (function, path, decision, errno) in &want {
        assert!(
            denial(function, path, decision, errno),
            "no {function} {path} denied by {decision} in the log:\n{recs:#?}"
        );
    }

    // The summary: each under who decided, with the call and the path.
    let den = o
        .stderr
        .split("\ndenied:\n")
        .nth(1)
        .and_then(|d| d.split("requests:\n").next())
        .unwrap_or_else(|| panic!("no denials in the summary: {o}"));
    for (function, path, decision, errno) in &want {
        let mut lines = den
            .lines()
            .skip_while(|l| !l.starts_with(&format!("  {decision}")));
        assert!(lines.next().is_some(), "no group {decision}: {o}");
        assert!(
            lines.take_while(|l| l.starts_with("    ")).any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f[0] == *function && f[1] == *errno && l.ends_with(path.as_str())
            }),
            "no {function} {path} under {decision}: {o}"
        );
    }
}

/// The same backstop under a policy with no master loop (every call left
/// to the kernel, by the spec's default) and under a slave filter that
/// passes the call on unchanged: the write Landlock refuses is recorded as
/// its denial, with the call and the path.
#[test]
fn a_refusal_of_the_backstop_without_a_master_loop_is_recorded() {
    let init = r#"
libc_service.init = { script = [[
  local ruleset = C.landlock_create_ruleset({ handled_access_fs = { "make_reg" } })
  set_no_new_privs()
  C.landlock_restrict_self(ruleset)
]] }
"#;
    let no_loop = format!("local libc_service = require \"libc_service\"\n{init}");
    let filter = format!(
        "local libc_service = require \"libc_service\"\n{init}\n\
         libc_service.slave.open = function(real_open, path, flags, mode)\n\
           return real_open(path, flags, mode)\n\
         end\n"
    );
    for (name, src) in [("no loop", no_loop), ("slave filter", filter)] {
        let ws_dir = tempdir();
        let ws = canon(&ws_dir);
        let log = ws.join("audit.jsonl");
        let (o, recs) = run_logged(
            Cmd::supervised(
                Policy::inline(&src),
                &busybox(&["sh", "-c", "echo x > new; echo done"]),
            )
            .cwd(&ws),
            &log,
        );
        assert!(o.stderr.contains("new: Permission denied"), "{name}: {o}");
        assert!(!ws.join("new").exists(), "{name}: {o}");
        let path = ws.join("new").display().to_string();
        assert!(
            recs.iter().any(|r| r["denied"] == true
                && r["function"] == "open"
                && r["resolved"][0] == path.as_str()
                && r["decision"] == "landlock (the backstop grants make_reg nowhere)"
                && r["errno"] == "EACCES"),
            "{name}: {recs:#?}"
        );
        assert!(
            o.stderr
                .contains("  landlock (the backstop grants make_reg nowhere)\n")
                && o.stderr.contains(&path),
            "{name}: {o}"
        );
    }
}

/// A TCP connect the rules leave to the kernel (`how = "slave"`) under a
/// backstop that handles `connect_tcp` and grants it on no port (Landlock
/// ABI 4, Linux 6.7): refused, as Landlock would, and recorded with the
/// address.
#[test]
fn a_tcp_connect_the_backstop_refuses_is_recorded() {
    let port = crate::rules::greeter("127.0.0.1:0");
    let src = r#"
local libc_service = require "libc_service"
local rules = require "rules"
libc_service.init = { script = [[
  local ruleset = C.landlock_create_ruleset({ handled_access_net = { "connect_tcp" } })
  set_no_new_privs()
  C.landlock_restrict_self(ruleset)
]] }
return rules.run {
  default = { read = "allow" },
  { "allow", "connect", "127.0.0.0/8", how = "slave" },
}
"#;
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    let log = ws.join("audit.jsonl");
    let connect = crate::util::Kind::Musl.net_argv(&["connect", &format!("tcp:127.0.0.1:{port}")]);
    let (o, recs) = run_logged(Cmd::supervised(Policy::inline(src), &connect), &log);
    assert_eq!(o.stdout, "connect: EACCES\n", "{o}");
    // The same answer as Landlock's own, without an audit trail (the
    // kernel refuses the continued connect).
    let plain = Cmd::supervised(Policy::inline(src), &connect).run();
    assert_eq!(plain.stdout, o.stdout, "{plain}");
    assert!(
        recs.iter().any(|r| r["denied"] == true
            && r["function"] == "connect_inet"
            && r["arguments"]["address"] == "127.0.0.1"
            && r["arguments"]["port"] == port
            && r["decision"] == "landlock (the backstop grants connect_tcp nowhere)"
            && r["errno"] == "EACCES"),
        "{recs:#?}"
    );
    assert!(
        o.stderr
            .contains("  landlock (the backstop grants connect_tcp nowhere)\n")
            && o.stderr.contains(&format!("127.0.0.1:{port}")),
        "{o}"
    );
}
