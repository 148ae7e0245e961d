//! execve and execveat as requests (docs/security.md, "Exec"), with the
//! exec probe (tests/probes/exec.c), static musl and dynamic glibc:
//!
//! * allowed (allow-all: the kernel; broker-all and broker-as-program:
//!   verified at the exec event): every form equals a native run;
//! * denied by path (deny-path, rules, a slave filter): the errno, nothing
//!   ran, in --log and --summary; a script whose interpreter is denied too;
//! * races: a thread swapping the path buffer, or a symlink exchanged,
//!   during the exec never runs the denied binary;
//! * a traced thread (a debugger inside the sandbox) is refused, never let
//!   through unverified;
//! * ordinary jobs under ci.lua: pipelines, env, #! scripts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::{
    canon, compile, counters, repo, tempdir, with_slave_filters, write_file, Cmd, Kind, Output,
    Policy,
};

const KINDS: [Kind; 2] = [Kind::Musl, Kind::Glibc];

/// The exec probe of `kind`, compiled once.
fn probe(kind: Kind) -> &'static Path {
    static MUSL: OnceLock<PathBuf> = OnceLock::new();
    static GLIBC: OnceLock<PathBuf> = OnceLock::new();
    let (cell, compiler, extra, name): (_, _, &[&str], _) = match kind {
        Kind::Musl => (
            &MUSL,
            "musl-gcc",
            &["-static", "-pthread"],
            "exec-musl-static",
        ),
        Kind::Glibc => (&GLIBC, "gcc", &["-pthread"], "exec-glibc-dynamic"),
        Kind::Busybox => panic!("busybox is no probe"),
    };
    cell.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join(name);
        compile(compiler, extra, &repo().join("tests/probes/exec.c"), &out);
        out
    })
}

/// A fresh directory with copies of the probe: `A` (allowed), `D`
/// (denied by the policies below), a symlink `la -> A`, a directory `dir`,
/// a file `plain` that is not executable, scripts `s.sh` (#!/bin/sh) and
/// `sd` (#! D: its interpreter is the denied binary).
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new(kind: Kind) -> Fixture {
        let tmp = tempdir();
        let root = canon(&tmp);
        for n in ["A", "D"] {
            std::fs::copy(probe(kind), root.join(n)).unwrap();
        }
        std::os::unix::fs::symlink("A", root.join("la")).unwrap();
        std::os::unix::fs::symlink("D", root.join("ld")).unwrap();
        std::fs::create_dir(root.join("dir")).unwrap();
        write_file(&root.join("plain"), "plain\n", 0o644);
        write_file(
            &root.join("s.sh"),
            "#!/bin/sh\necho script \"$@\"\nenv | grep -c . >/dev/null && echo env ok\n",
            0o755,
        );
        write_file(
            &root.join("sd"),
            &format!("#!{}\n", root.join("D").display()),
            0o755,
        );
        Fixture { _tmp: tmp, root }
    }

    fn path(&self, name: &str) -> OsString {
        self.root.join(name).into_os_string()
    }

    /// argv: the probe (outside the fixture), then `args`.
    fn argv(&self, kind: Kind, args: &[&str]) -> Vec<OsString> {
        let mut v = vec![probe(kind).as_os_str().to_os_string()];
        v.extend(args.iter().map(OsString::from));
        v
    }

    fn marker(&self) -> String {
        std::fs::read_to_string(self.root.join("marker")).unwrap_or_default()
    }

    /// The probe with `args` under `policy`, in the fixture's directory.
    fn supervised(&self, policy: Policy, kind: Kind, args: &[&str]) -> Cmd {
        Cmd::supervised(policy, &self.argv(kind, args)).cwd(&self.root)
    }
}

/// `cmd` with `--log LOG`.
fn logging(cmd: Cmd, log: &Path) -> Cmd {
    cmd.option("--log").option(log)
}

/// Whether a record of the log `text` is an exec's holding every one of
/// `parts`.
fn exec_record(text: &str, parts: &[&str]) -> bool {
    text.lines()
        .any(|l| l.contains("\"function\":\"exec\"") && parts.iter().all(|p| l.contains(p)))
}

/// Denies the exec of $DENY (the file, or a script's interpreter) with
/// EACCES; everything else, opens of $DENY included, is performed by the
/// supervisor: the descriptor forms (fexecve, /proc/self/fd) reach the
/// exec.
fn deny_exec() -> Policy {
    Policy::inline(
        r#"
local master = require("libc_service").master
local denied = os.getenv("DENY")
while true do
  local f = master:receive()
  local p1, p2 = master:resolved()
  if f == "exec" and (p1 == denied or p2 == denied) then
    master:send(-1, "EACCES")
  else
    master:use_master_credentials()
  end
end
"#,
    )
}

/// The commands every allowed form runs (in the fixture's directory).
const ALLOWED: &[&[&str]] = &[
    &["execve", "./A", "hello", "a", "b"],
    &["execve", "la", "hello", "via", "symlink"],
    &["execveat-fd", "A", "hello", "fd"],
    &["procfd", "A", "hello", "procfd"],
    &["thread", "A", "hello", "thread"],
    &["nofollow", "A", "hello", "nofollow"],
    &["nofollow", "la", "hello"],
    &["execve", "missing", "hello"],
    &["execve", "dir", "hello"],
    &["execve", "plain", "hello"],
    &["execve", "./s.sh", "x", "y"],
    &["execve", "", "hello"],
];

fn same_as_native(o: &Output, n: &Output, what: &str) {
    assert_eq!(
        (o.code, &o.stdout),
        (n.code, &n.stdout),
        "{what}: supervised {o}\nnative {n}"
    );
}

#[test]
fn allowed_execs_equal_native() {
    for kind in KINDS {
        let f = Fixture::new(kind);
        for policy in ["allow-all", "broker-all", "broker-as-program"] {
            for args in ALLOWED {
                let cmd = f.supervised(Policy::example(policy), kind, args);
                let o = cmd.run();
                let n = cmd.without_supervisor().run();
                same_as_native(&o, &n, &format!("{kind:?} {policy} {args:?}"));
            }
        }
    }
}

#[test]
fn allowed_execs_are_verified_in_the_log() {
    let kind = Kind::Musl;
    let f = Fixture::new(kind);
    let log = f.root.join("log.jsonl");
    let o = logging(
        f.supervised(
            Policy::example("broker-all"),
            kind,
            &["thread", "./A", "hello", "t"],
        ),
        &log,
    )
    .run();
    o.assert_clean();
    assert_eq!(o.stdout, "hello t\n");
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"function\":\"exec\""))
        .unwrap_or_else(|| panic!("no exec in the log: {text}"));
    assert!(line.contains("\"outcome\":\"verified\""), "{line}");
    assert!(
        line.contains("\"argv\":[\"./A\",\"hello\",\"t\"]"),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "\"resolved\":[\"{}\"]",
            f.root.join("A").display()
        )) || !line.contains("\"resolved\""),
        "{line}"
    );
}

/// Runs `args` under [`deny_exec`] with DENY=D (with --log and --summary).
fn denied_run(f: &Fixture, kind: Kind, args: &[&str]) -> (Output, String) {
    let log = f.root.join("deny.jsonl");
    let _ = std::fs::remove_file(&log);
    let o = logging(f.supervised(deny_exec(), kind, args), &log)
        .env("DENY", f.path("D"))
        .option("--summary")
        .run();
    (o, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn a_denied_binary_fails_with_the_errno_runs_nothing_and_is_logged() {
    for kind in KINDS {
        let f = Fixture::new(kind);
        let marker = f.path("marker");
        let marker = marker.to_str().unwrap();
        for (args, want) in [
            (vec!["execve", "D", "mark", marker, "x"], "execve: EACCES\n"),
            (
                vec!["execve", "ld", "mark", marker, "x"],
                "execve: EACCES\n",
            ),
            (
                vec!["execveat-fd", "D", "mark", marker, "x"],
                "execveat: EACCES\n",
            ),
            (vec!["procfd", "D", "mark", marker, "x"], "execve: EACCES\n"),
            (vec!["thread", "D", "mark", marker, "x"], "execve: EACCES\n"),
            // A script whose interpreter is denied: its interpreter would run.
            (
                vec!["execve", "./sd", "mark", marker, "x"],
                "execve: EACCES\n",
            ),
        ] {
            let (o, log) = denied_run(&f, kind, &args);
            assert_eq!(o.stdout, want, "{kind:?} {args:?}: {o}");
            assert_eq!(o.code, 2, "{kind:?} {args:?}: {o}");
            assert_eq!(f.marker(), "", "{kind:?} {args:?}: the denied binary ran");
            let d = f.root.join("D").display().to_string();
            assert!(
                exec_record(&log, &["\"denied\":true", "\"errno\":\"EACCES\"", &d]),
                "{kind:?} {args:?}: no denial of {d} in the log:\n{log}"
            );
            // The summary names the file asked for (the script, for sd).
            let asked = if args[1] == "./sd" {
                f.root.join("sd").display().to_string()
            } else {
                d.clone()
            };
            assert!(
                o.stderr.lines().any(|l| l.contains(&asked)),
                "{kind:?} {args:?}: no denial of {asked} in the summary:\n{}",
                o.stderr
            );
            assert!(o.stderr.contains("exec "), "{}", o.stderr);
        }
        // The allowed one still runs under the same policy.
        let (o, _) = denied_run(&f, kind, &["execve", "A", "hello", "ok"]);
        assert_eq!(o.stdout, "hello ok\n", "{o}");
    }
}

#[test]
fn an_exec_slave_filter_refuses_by_path() {
    let policy = Policy::inline(
        r#"
local svc = require("libc_service")
svc.slave.exec = function(real_exec, path)
  if path:match("D$") then return -1, "EPERM" end
  return real_exec(path)
end
"#,
    );
    for kind in KINDS {
        let f = Fixture::new(kind);
        let run = |args: &[&str]| f.supervised(policy.clone(), kind, args).run();
        let o = run(&["execve", "./A", "hello", "filtered"]);
        assert_eq!(o.stdout, "hello filtered\n", "{kind:?}: {o}");
        let o = run(&["execve", "./D", "hello"]);
        assert_eq!(o.stdout, "execve: EPERM\n", "{kind:?}: {o}");
    }
}

#[test]
fn an_exec_slave_filter_in_a_master_loop_ends_with_the_verified_exec() {
    let policy = with_slave_filters(
        r#"
svc.slave.exec = function(real_exec, path)
  if path:match("D$") then return -1, "EPERM" end
  -- Returns only when the exec failed (like execve).
  local r, e = real_exec(path)
  if r ~= -1 then error("real_exec returned " .. tostring(r)) end
  return r, e
end
"#,
    );
    for kind in KINDS {
        let f = Fixture::new(kind);
        let log = f.root.join("filter.jsonl");
        let run = |args: &[&str]| logging(f.supervised(policy.clone(), kind, args), &log).run();
        let o = run(&["execve", "./A", "hello", "filtered"]);
        o.assert_clean();
        assert_eq!(o.stdout, "hello filtered\n", "{kind:?}: {o}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("\"outcome\":\"verified\""), "{text}");
        // The new image's own requests are served on.
        let o = run(&[
            "execve",
            "/bin/sh",
            "-c",
            "cat s.sh >/dev/null && ./la hello again",
        ]);
        assert_eq!(o.stdout, "hello again\n", "{kind:?}: {o}");
        let o = run(&["execve", "./D", "hello"]);
        assert_eq!(o.stdout, "execve: EPERM\n", "{kind:?}: {o}");
        // A failing exec's errno reaches the program.
        let o = run(&["execve", "./missing", "hello"]);
        assert_eq!(o.stdout, "execve: ENOENT\n", "{kind:?}: {o}");
    }
}

#[test]
fn exec_rules_allow_and_deny_by_path() {
    for kind in KINDS {
        let f = Fixture::new(kind);
        let policy = Policy::inline(&format!(
            "local rules = require \"rules\"\nreturn rules.run {{\n default = {{ read = \"allow\" }},\n {{ \"deny\", \"read\", \"{}\", errno = \"EPERM\" }},\n}}\n",
            f.root.join("D").display()
        ));
        let log = f.root.join("rules.jsonl");
        let run = |args: &[&str]| logging(f.supervised(policy.clone(), kind, args), &log).run();
        let o = run(&["execve", "./A", "hello", "rules"]);
        assert_eq!(o.stdout, "hello rules\n", "{kind:?}: {o}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(exec_record(&text, &["\"outcome\":\"verified\""]), "{text}");
        for target in ["./D", "ld", "./sd"] {
            let o = run(&["execve", target, "hello"]);
            assert_eq!(o.stdout, "execve: EPERM\n", "{kind:?} {target}: {o}");
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(
                exec_record(&text, &["\"denied\":true", "deny read"]),
                "{text}"
            );
        }
    }
}

/// Runs the race `cmd` ("race" or "race-link") under `policy` with DENY=D
/// for up to `rounds` rounds of `trials`; returns (ran, killed).
fn race(kind: Kind, cmd: &str, policy: &Policy, rounds: usize) -> (u64, u64) {
    let f = Fixture::new(kind);
    let marker = f.path("marker");
    let (a, d) = (f.path("A"), f.path("D"));
    let (mut ran, mut killed) = (0, 0);
    for _ in 0..rounds {
        let mut argv = f.argv(kind, &[cmd]);
        argv.extend([a.clone(), d.clone(), marker.clone(), "40".into()]);
        let log = f.root.join("race.jsonl");
        // The symlink is also exchanged from outside the sandbox, by an
        // accomplice whose renames no supervisor serves (the program's own
        // wait for the supervisor, which holds them while it verifies an
        // exec: on a quiet machine they seldom land in the window).
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let accomplice = (cmd == "race-link").then(|| {
            let (stop, dir) = (stop.clone(), f.root.clone());
            std::thread::spawn(move || {
                use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
                let (l, o) = (dir.join("link"), dir.join("other"));
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = renameat2(AT_FDCWD, &l, AT_FDCWD, &o, RenameFlags::RENAME_EXCHANGE);
                }
            })
        });
        let o = logging(Cmd::supervised(policy.clone(), &argv).cwd(&f.root), &log)
            .env("DENY", &d)
            .option("--summary")
            .run();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = accomplice {
            t.join().unwrap();
        }
        assert_eq!(o.code, 0, "{o}");
        let c = counters(&o, "ran=");
        ran += c["ran"];
        killed += c["killed"];
        // Every kill is in the log, as a denial.
        let text = std::fs::read_to_string(&log).unwrap();
        let kills = text
            .lines()
            .filter(|l| l.contains("\"outcome\":\"killed\"") && l.contains("\"denied\":true"))
            .count() as u64;
        assert_eq!(kills, c["killed"], "{kind:?} {cmd}: {o}");
        let text = f.marker();
        assert!(
            text.lines().all(|l| Path::new(l) == Path::new(&a)),
            "{kind:?} {cmd}: a binary other than A ran: {text}"
        );
        assert_eq!(text.lines().count() as u64, ran, "{o}");
        if ran > 0 && killed > 0 {
            break;
        }
    }
    (ran, killed)
}

#[test]
fn a_thread_swapping_the_path_buffer_never_runs_the_denied_binary() {
    for kind in KINDS {
        let (ran, killed) = race(kind, "race", &Policy::example("deny-path"), 10);
        assert!(ran > 0, "{kind:?}: A never ran");
        assert!(
            killed > 0,
            "{kind:?}: the race never swapped D in (ran={ran})"
        );
    }
}

#[test]
fn a_symlink_exchanged_during_the_exec_never_runs_the_denied_binary() {
    // Renames are left to the kernel here (use_slave_credentials), so that
    // they go on while the supervisor decides and verifies the exec.
    let policy = Policy::inline(
        r#"
local master = require("libc_service").master
local denied = os.getenv("DENY")
while true do
  local f = master:receive()
  if f == "exec" then
    local p1, p2 = master:resolved()
    if p1 == denied or p2 == denied then
      master:send(-1, "EACCES")
    else
      master:use_master_credentials()
    end
  else
    master:use_slave_credentials()
  end
end
"#,
    );
    for kind in KINDS {
        let (ran, killed) = race(kind, "race-link", &policy, 10);
        assert!(ran > 0, "{kind:?}: A never ran (killed={killed})");
        // About 3 execs in 100 are swapped after the decision here.
        assert!(
            killed > 0,
            "{kind:?}: the race never swapped D in (ran={ran})"
        );
    }
}

#[test]
fn a_traced_thread_is_refused_never_let_through_unverified() {
    for kind in KINDS {
        let f = Fixture::new(kind);
        let marker = f.path("marker");
        let marker = marker.to_str().unwrap();
        // A decided exec: the thread cannot be seized; EPERM, in the log.
        let log = f.root.join("traced.jsonl");
        let o = logging(
            f.supervised(
                Policy::example("broker-all"),
                kind,
                &["traced", "./A", "hello", "traced"],
            ),
            &log,
        )
        .run();
        assert_eq!(o.stdout, "execve: EPERM\nchild: exit 2\n", "{kind:?}: {o}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            exec_record(&text, &["cannot be traced", "\"errno\":\"EPERM\""]),
            "{text}"
        );
        // A denied binary, traced or not, never runs.
        let (o, _) = denied_run(&f, kind, &["traced", "./D", "mark", marker, "x"]);
        assert_eq!(o.stdout, "execve: EACCES\nchild: exit 2\n", "{kind:?}: {o}");
        assert_eq!(f.marker(), "");
        // Left to the kernel (use_slave_credentials): the debugger works.
        let o = f
            .supervised(
                Policy::example("allow-all"),
                kind,
                &["traced", "./A", "hello", "traced"],
            )
            .run();
        assert_eq!(o.stdout, "hello traced\nchild: exit 0\n", "{kind:?}: {o}");
    }
}

#[test]
fn ordinary_jobs_exec_under_ci_lua() {
    let f = Fixture::new(Kind::Glibc);
    let script = "echo abc | tr a-c x-z | cat; env printf '%s\\n' env-ok; ./s.sh one two; \
                  sh -c 'exec ./A hello exec-in-sh'; (./la hello subshell) | wc -l";
    let cmd = Cmd::supervised(Policy::example("ci"), &["/bin/sh", "-c", script])
        .cwd(&f.root)
        .env("SUPERVISOR_WORKSPACE", &f.root);
    let o = cmd.run();
    o.assert_clean();
    let n = cmd.without_supervisor().run();
    assert_eq!(o.stdout, n.stdout, "{o}");
    assert_eq!(
        o.stdout,
        "xyz\nenv-ok\nscript one two\nenv ok\nhello exec-in-sh\n1\n"
    );
}

#[test]
fn the_exec_allowlist_policy_runs_only_allowed_directories() {
    for kind in KINDS {
        let f = Fixture::new(kind);
        let probe_dir = probe(kind).parent().unwrap().display().to_string();
        let run = |args: &[&str], allow: &str| {
            f.supervised(Policy::example("exec-allowlist"), kind, args)
                .env("EXEC_ALLOW", allow)
                .option("--summary")
                .run()
        };
        let usr = format!("/usr:/bin:{probe_dir}");
        // The fixture's directory is not allowed: A is refused, in the summary.
        let o = run(&["execve", "./A", "hello"], &usr);
        assert_eq!(o.stdout, "execve: EACCES\n", "{kind:?}: {o}");
        assert!(o.stderr.contains("exec outside EXEC_ALLOW"), "{o}");
        // /bin/sh and a script whose interpreter is /bin/sh, once allowed.
        let o = run(&["execve", "/bin/sh", "-c", "echo sh ran"], &usr);
        assert_eq!(o.stdout, "sh ran\n", "{kind:?}: {o}");
        let with_fixture = format!("{usr}:{}", f.root.display());
        let o = run(&["execve", "./s.sh", "z"], &with_fixture);
        assert_eq!(o.stdout, "script z\nenv ok\n", "{kind:?}: {o}");
        // A script whose interpreter (D) is outside the list.
        std::fs::create_dir(f.root.join("bin")).unwrap();
        std::fs::rename(f.root.join("sd"), f.root.join("bin/sd")).unwrap();
        let only_bin = format!("{usr}:{}", f.root.join("bin").display());
        let o = run(&["execve", "bin/sd", "hello"], &only_bin);
        assert_eq!(o.stdout, "execve: EACCES\n", "{kind:?}: {o}");
    }
}
