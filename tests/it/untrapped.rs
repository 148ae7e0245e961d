//! `rules.run { untrapped = "allowed everywhere", … }` (docs/rules.md,
//! "Untrapped calls"): the calls that need only kinds the rules allow on
//! every path, as the program, are left out of the filter.  They must do
//! what they do natively (owners, modes, errnos, as root and as nobody),
//! leave no record; what the rules still deny stays trapped, refused and
//! recorded; a kind allowed with the supervisor's authority stays
//! trapped; without the opt-in every call is a request.

use std::path::Path;

use crate::transparency::{assert_same, fixture, need_root, probes};
use crate::util::{busybox, tempdir, Cmd, Output, Policy};

/// A rules policy: everything allowed but reading `denied`, with the
/// opt-in or not, and `extra` rules.
fn policy(untrapped: bool, denied: &Path, extra: &str) -> Policy {
    let opt = if untrapped {
        "untrapped = \"allowed everywhere\","
    } else {
        ""
    };
    Policy::inline(&format!(
        "local rules = require \"rules\"\nreturn rules.run {{ {opt}\n  default = \"allow\",\n  \
         {{ \"deny\", \"read\", \"{}\" }},\n{extra}\n}}\n",
        denied.display()
    ))
}

/// Calls that need only create, write or delete: as root, then as nobody.
const STEPS: &[&str] = &[
    "umask 022",
    "open open/new wronly,creat,excl 640",
    "open open/new wronly,creat,excl 640",
    "open open/new rdwr,creat,excl 600",
    "open sgid/new wronly,creat 2755",
    "open world wronly,trunc 0",
    "open secret wronly 0",
    "open open/t wronly,tmpfile 600",
    "creat open/c 644",
    "mkdir open/m 777",
    "mkdir sgid/m 6777",
    "mkdirat open m2 700",
    "chmod open/c 4755",
    "chown open/c 65534 -1",
    "utime open/c 1000",
    "truncate open/c 3",
    "symlink ro/f open/sl",
    "mkfifo open/fifo 640",
    "unlink open/c",
    "rmdir open/m",
    "unlinkat open m2 dir",
    "unlink sticky/rootf",
    "drop 65534 65534 -",
    "open home/new wronly,creat,excl 640",
    "open ro/new wronly,creat 644",
    "open ro/f wronly 0",
    "open world wronly 0",
    "open secret wronly 0",
    "creat home/c 600",
    "creat ro/c 644",
    "mkdir home/m 755",
    "mkdir ro/m 755",
    "chmod home/c 640",
    "chmod ro/f 666",
    "chown home/c 0 0",
    "utime home/mine 2000",
    "utime ro/f 2000",
    "truncate ro/f 0",
    "symlink x home/sl",
    "symlink x ro/sl",
    "mkfifo home/fifo 600",
    "unlink ro/f",
    "unlink sticky/mine",
    "rmdir home/m",
    "rmdir ro/sub",
];

/// The probe's output for `STEPS` in a fresh fixture, and the audit log
/// (`--log`, supervised), as (stdout, log).
fn run(probe: &Path, policy: Option<Policy>) -> (String, String) {
    let dir = tempdir();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    fixture(dir.path());
    let log = tempdir();
    let log_file = log.path().join("log.jsonl");
    let words: Vec<&str> = STEPS.iter().flat_map(|s| s.split_whitespace()).collect();
    let mut argv: Vec<&std::ffi::OsStr> = vec![probe.as_os_str()];
    argv.extend(words.iter().map(std::ffi::OsStr::new));
    let cmd = match policy {
        None => Cmd::native(&argv),
        Some(p) => Cmd::supervised(p, &argv).option(format!("--log={}", log_file.display())),
    };
    let out = cmd.cwd(dir.path()).run();
    out.assert_code(0);
    assert_eq!(out.stderr, "", "{out}");
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    (out.stdout.replace(dir.path().to_str().unwrap(), "DIR"), log)
}

/// The functions of the log's records.
fn functions(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let i = l.find("\"function\":\"")? + 12;
            Some(l[i..].split('"').next()?.to_string())
        })
        .collect()
}

const UNTRAPPED: &[&str] = &[
    "mkdir", "chmod", "chown", "utime", "truncate", "symlink", "mknod", "unlink", "rmdir",
];

#[test]
fn calls_allowed_everywhere_run_untrapped_as_natively() {
    if !need_root() {
        return;
    }
    for probe in probes() {
        let (native, _) = run(probe, None);
        let pol = |untrapped| {
            // The denied path is the fixture's, made in run(): a pattern
            // for any fixture directory.
            Policy::inline(&format!(
                "local rules = require \"rules\"\nreturn rules.run {{ {}\n  default = \"allow\",\n  \
                 {{ \"deny\", \"read\", \"/**/secret\" }},\n}}\n",
                if untrapped {
                    "untrapped = \"allowed everywhere\","
                } else {
                    ""
                }
            ))
        };
        let (got, log) = run(probe, Some(pol(true)));
        assert_same(&format!("{}, untrapped", probe.display()), &native, &got);
        let first = log.lines().next().unwrap_or_default();
        assert!(
            first.contains("\"untrapped\":[\"write\",\"create\",\"delete\",\"device\"]"),
            "the log does not start with what was left untrapped: {first}"
        );
        let f = functions(&log);
        for u in UNTRAPPED {
            assert!(
                !f.iter().any(|x| x == u),
                "{}: a record of {u} under the opt-in:\n{log}",
                probe.display()
            );
        }
        // Opens that create or write only are not requests; reads are.
        let opened = |l: &str| l.contains("\"function\":\"open\"") && l.contains("open/new");
        assert!(!log.lines().any(opened), "{log}");
        assert!(f.iter().any(|x| x == "stat" || x == "lstat"), "{log}");
        // Without the opt-in: the same outcomes, every call a request.
        let (got, log) = run(probe, Some(pol(false)));
        assert_same(&format!("{}, trapped", probe.display()), &native, &got);
        assert!(!log.contains("\"untrapped\""), "{log}");
        let f = functions(&log);
        for u in UNTRAPPED {
            assert!(
                f.iter().any(|x| x == u),
                "{}: no record of {u} without the opt-in:\n{log}",
                probe.display()
            );
        }
        assert!(log.lines().any(opened), "{log}");
    }
}

/// `busybox sh -c SCRIPT` under `policy` with `--log` (in `dir`): the
/// output and the log.
fn shell(policy: Policy, dir: &Path, script: &str) -> (Output, String) {
    let log = dir.join("log.jsonl");
    let out = Cmd::supervised(policy, &busybox(&["sh", "-c", script]))
        .option(format!("--log={}", log.display()))
        .option("--summary")
        .cwd(dir)
        .run();
    let log = std::fs::read_to_string(&log).unwrap();
    (out, log)
}

#[test]
fn what_the_rules_deny_stays_trapped_refused_and_logged() {
    let tmp = tempdir();
    let d = tmp.path().canonicalize().unwrap();
    std::fs::create_dir(d.join("sec")).unwrap();
    std::fs::write(d.join("sec/key"), "key\n").unwrap();
    std::fs::copy(crate::util::BUSYBOX, d.join("sec/tool")).unwrap();
    let pol = policy(true, &d.join("sec/"), "");
    // The probe's link is one link(2), without a stat before it.
    let script = format!(
        "cat sec/key; echo cat=$?; stat sec/key >/dev/null; echo stat=$?; \
         ./sec/tool true; echo exec=$?; mv sec moved; echo mv=$?; \
         {} link sec/key k2 stat sec/key; echo new > sec/key; echo write=$?; \
         mkdir sec/m; echo mkdir=$?; unlink sec/tool; echo rm=$?",
        probes()[0].display()
    );
    let (out, log) = shell(pol, &d, &script);
    out.assert_code(0);
    for want in [
        "cat=1",
        "stat=1",
        "exec=126",
        "mv=1",
        "link sec/key k2: EACCES",
        "stat sec/key: EACCES",
        "statx sec/key: EACCES",
        "write=0",
        "mkdir=0",
        "rm=0",
    ] {
        assert!(out.stdout.contains(want), "{want}: {out}");
    }
    assert_eq!(std::fs::read_to_string(d.join("sec/key")).unwrap(), "new\n");
    assert!(d.join("sec/m").is_dir() && !d.join("sec/tool").exists());
    // Each refusal in the log, and in the summary.
    let denied: Vec<String> = log
        .lines()
        .filter(|l| l.contains("\"denied\":true"))
        .map(|l| {
            let i = l.find("\"function\":\"").unwrap() + 12;
            l[i..].split('"').next().unwrap().to_string()
        })
        .collect();
    for f in ["open", "stat", "lstat", "exec", "rename", "link"] {
        assert!(
            denied.iter().any(|x| x == f),
            "no denial of {f} in the log: {denied:?}\n{log}"
        );
    }
    assert!(
        out.stderr.contains("supervisor: untrapped by the policy"),
        "{out}"
    );
    assert!(out.stderr.contains("rule 1 (deny read "), "{out}");
    // The write, the mkdir and the rm were not requests.
    let f = functions(&log);
    assert!(!f.iter().any(|x| x == "mkdir" || x == "unlink"), "{log}");
}

#[test]
fn a_kind_allowed_with_the_supervisors_authority_stays_trapped() {
    if !need_root() {
        return;
    }
    // Creating in a directory only root may write: nobody cannot natively;
    // the rule performs it with the supervisor's authority, so create is
    // not "as the program everywhere" and mkdir stays a request, while
    // write and delete are still left to the kernel.
    let tmp = tempdir();
    let d = tmp.path().canonicalize().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(d.join("ro")).unwrap();
        std::fs::write(d.join("ro/f"), "f\n").unwrap();
        std::fs::set_permissions(d.join("ro/f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let extra = format!(
        "  {{ \"allow\", \"create\", \"{}/ro/\", how = \"master\" }},",
        d.display()
    );
    let pol = policy(true, &d.join("secret"), &extra);
    let log = d.join("log.jsonl");
    let steps = "drop 65534 65534 - mkdir ro/m 755 mkdir m2 755 chmod ro/f 666";
    let mut argv = vec![probes()[0].as_os_str()];
    argv.extend(steps.split(' ').map(std::ffi::OsStr::new));
    let out = Cmd::supervised(pol, &argv)
        .option(format!("--log={}", log.display()))
        .cwd(&d)
        .run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("mkdir ro/m 755: 0 [ro/m: 0:0 040755]"),
        "{out}"
    );
    assert!(out.stdout.contains("mkdir m2 755: EACCES"), "{out}");
    assert!(out.stdout.contains("chmod ro/f 666: EPERM"), "{out}");
    let log = std::fs::read_to_string(&log).unwrap();
    let first = log.lines().next().unwrap_or_default();
    assert!(
        first.contains("\"untrapped\":[\"write\",\"delete\",\"device\"]"),
        "{first}"
    );
    let f = functions(&log);
    assert_eq!(f.iter().filter(|x| *x == "mkdir").count(), 2, "{log}");
    assert!(!f.iter().any(|x| x == "chmod"), "{log}");
}

#[test]
fn the_opt_in_is_refused_where_it_cannot_hold() {
    let cases = [
        (
            "local rules = require \"rules\"\nlocal p = rules.policy { untrapped = \"allowed everywhere\", default = \"allow\" }",
            "untrapped is for rules.run",
        ),
        (
            "local rules = require \"rules\"\nrequire(\"libc_service\").slave.open = function(o, ...) return o(...) end\n\
             return rules.run { untrapped = \"allowed everywhere\", default = \"allow\" }",
            "not with slave filters",
        ),
        (
            "local rules = require \"rules\"\nreturn rules.extend(\"ci\", { untrapped = \"allowed everywhere\" })",
            "untrapped is the base policy's",
        ),
        (
            "local rules = require \"rules\"\nreturn rules.run { untrapped = true, default = \"allow\" }",
            "untrapped must be \"allowed everywhere\"",
        ),
    ];
    for (src, want) in cases {
        let out = Cmd::supervised(Policy::inline(src), &busybox(&["true"])).run();
        out.assert_code(124);
        assert!(out.stderr.contains(want), "{want}: {out}");
    }
}

#[test]
fn the_benchmarks_untrapped_policy_denies_what_rules_secret_denies() {
    let tmp = tempdir();
    let f = tmp.path().join("f");
    let p = Policy::file(crate::util::repo().join("bench/policies/rules-secret-untrapped.lua"));
    let f = f.display().to_string();
    let argv =
        crate::util::Kind::Musl.probe_argv(&["write", &f, "x", "cat", &f, "cat", "/root/secret"]);
    let out = Cmd::supervised(p, &argv).run();
    out.assert_clean();
    assert_eq!(
        out.stdout,
        format!("write {f}: OK\ncat {f}: [x]\ncat /root/secret: EACCES\n"),
        "{out}"
    );
}

/// Everything allowed, so every file call untrapped: the program's own
/// opens of the supervisor's `/proc` files (its memory, a thread's, its
/// cwd, its descriptors) are the kernel's, and its Landlock domain keeps
/// them out of reach, as under allow-all (attack_bypass).
#[test]
fn untrapped_opens_never_reach_the_supervisors_memory() {
    let pol = Policy::inline(
        "local rules = require \"rules\"\nreturn rules.run { untrapped = \"allowed everywhere\", default = \"allow\" }",
    );
    let out = Cmd::supervised(pol, &crate::util::attack(&["proc-parent"]))
        .option("-v")
        .run();
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("untrapped by the policy"), "{out}");
    for what in ["proc-mem", "proc-task-mem", "proc-cwd"] {
        assert_eq!(crate::util::outcome(&out, what), "EACCES", "{what}: {out}");
    }
    assert_eq!(crate::util::outcome(&out, "proc-fds-opened"), "0", "{out}");
}
