//! The posture's refusals of path calls (a device mknod, chroot, mount,
//! open_tree, umount2) are denials like every other: in `--log` with the
//! call and the path the program named, and in `--summary`'s denied
//! section.  Without `--log`/`--summary` the filter refuses them itself
//! (same errno).

use serde_json::Value;

use super::*;
use crate::util::attack;

/// The log's records of `log`.
fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Is there a denied record of `function` with `path` (and `path2`) and
/// the posture's decision, answered `errno`?
fn logged(recs: &[Value], function: &str, path: &str, path2: Option<&str>, errno: &str) -> bool {
    recs.iter().any(|r| {
        r["denied"] == true
            && r["function"] == function
            && r["syscall"] == function
            && r["arguments"]["path"] == path
            && path2.is_none_or(|p| r["arguments"]["path2"] == p)
            && r["errno"] == errno
            && r["decision"]
                .as_str()
                .is_some_and(|d| d.starts_with("posture"))
    })
}

/// `argv` under `policy` in `root` with `--log ROOT/audit.jsonl --summary`,
/// exit code 0 asserted; the run and the log's records.
#[track_caller]
fn logged_run(root: &Path, policy: &str, argv: &[OsString]) -> (Output, Vec<Value>) {
    let log = root.join("audit.jsonl");
    let o = Cmd::supervised(Policy::example(policy), argv)
        .cwd(root)
        .option("--log")
        .option(&log)
        .option("--summary")
        .run();
    o.assert_code(0);
    (o, records(&log))
}

/// The lines of the summary's denied section.
fn denied_section(o: &Output) -> String {
    o.stderr
        .split("denied:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no denied section: {o}"))
        .to_owned()
}

#[test]
fn device_mknod_refusals_are_in_the_log_and_summary_with_their_path() {
    for kind in KINDS {
        for policy in ["broker-all", "ci"] {
            let (_t, root) = fixture();
            let args = [
                "mknod", "dev-c", "chr", //
                "mknodat", "d", "dev-c2", "chr", //
                "mknod", "fifo1", "fifo",
            ];
            let (o, recs) = logged_run(&root, policy, &argv(kind, &args));
            assert_eq!(line(&o, "mknod dev-c chr"), "EPERM", "{o}");
            assert_eq!(line(&o, "mknodat d dev-c2 chr"), "EPERM", "{o}");
            assert_eq!(line(&o, "mknod fifo1 fifo"), "OK", "{o}");
            assert!(!root.join("dev-c").exists() && !root.join("d/dev-c2").exists());
            assert!(
                logged(&recs, "mknod", "dev-c", None, "EPERM"),
                "{kind:?} {policy}: no device mknod in the log: {recs:?}"
            );
            assert!(
                logged(&recs, "mknodat", "dev-c2", None, "EPERM"),
                "{kind:?} {policy}: no device mknodat in the log: {recs:?}"
            );
            let den = denied_section(&o);
            for (function, path) in [("mknod", "dev-c"), ("mknodat", "dev-c2")] {
                assert!(
                    den.lines().any(|l| l.trim_start().starts_with(function)
                        && l.contains(path)
                        && l.contains("EPERM")),
                    "{kind:?} {policy}: no {function} {path} in the summary: {o}"
                );
            }
        }
    }
}

/// The other refused path calls: mount (source and target), open_tree,
/// umount2.  (A chroot is a restriction the program may take: issue 22.)
#[test]
fn other_posture_refusals_of_path_calls_are_in_the_log_and_summary() {
    let (_t, root) = fixture();
    // The attack probe runs one command: a bind mount (mount, open_tree,
    // umount2).
    let (o, recs) = logged_run(&root, "broker-all", &attack(&["mount-bind", "f", "d/g"]));
    let den = denied_section(&o);
    for (function, path, path2) in [
        ("mount", "f", Some("d/g")),
        ("open_tree", "f", None),
        ("umount2", "d/g", None),
    ] {
        assert!(
            logged(&recs, function, path, path2, "EPERM"),
            "no {function} {path} in the log: {recs:?}"
        );
    }
    for (function, target) in [
        ("mount", "f -> d/g"),
        ("open_tree", "f"),
        ("umount2", "d/g"),
    ] {
        assert!(
            den.lines()
                .any(|l| l.trim_start().starts_with(function) && l.contains(target)),
            "no {function} {target} in the summary: {den}"
        );
    }
}
