//! Install and everyday use: `--version`, `supervisor doctor` (on this
//! machine, and with a feature faked missing), the man pages, the shell
//! completions (driven by a real bash), the LuaLS stubs.  The package and
//! `cargo install` are checked by .ci/package.

use std::process::{Command, Output};

use crate::util::{supervisor, tempdir};

fn sv(args: &[&str], fake: Option<&str>) -> Output {
    let mut c = Command::new(supervisor());
    c.args(args).env_remove("SUPERVISOR_DOCTOR_FAKE_MISSING");
    if let Some(f) = fake {
        c.env("SUPERVISOR_DOCTOR_FAKE_MISSING", f);
    }
    c.output().expect("run the supervisor")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_names_the_commit() {
    let out = sv(&["--version"], None);
    assert!(out.status.success());
    let v = text(&out.stdout);
    let head = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=12",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_string());
    match head {
        // The build's commit: HEAD may have moved since, so only its shape.
        Some(_) => assert!(
            v.starts_with(&format!(
                "supervisor {} (commit ",
                env!("CARGO_PKG_VERSION")
            )),
            "{v}"
        ),
        None => assert!(v.contains("(unknown commit)"), "{v}"),
    }
}

/// The row of `feature` in doctor's table: its status and cost columns.
fn row<'a>(table: &'a str, feature: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.starts_with(feature))
        .unwrap_or_else(|| panic!("no row {feature:?} in\n{table}"))
}

#[test]
fn doctor_on_this_machine() {
    let out = sv(&["doctor"], None);
    let t = text(&out.stdout);
    // Shown in the test log: what this machine gives.
    println!("{t}");
    // The test machines run the whole suite, so they have what it needs.
    assert_eq!(out.status.code(), Some(0), "{t}");
    for f in [
        "seccomp user notification",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        "SECCOMP_IOCTL_NOTIF_ADDFD flags",
    ] {
        assert!(row(&t, f).contains(" ok "), "{f}: {t}");
    }
    for f in [
        "kernel",
        "Landlock ABI",
        "Landlock rights",
        "user namespaces",
        "legacy TIOCSTI",
        "container",
    ] {
        row(&t, f);
    }
    assert!(t.contains("verdict: ready"), "{t}");
}

#[test]
fn doctor_with_wait_killable_recv_faked_missing_is_not_ready() {
    let out = sv(&["doctor"], Some("wait_killable_recv"));
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let r = row(&t, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    assert!(r.contains("MISSING  refuses to start"), "{r}");
    assert!(
        r.contains("no (faked by SUPERVISOR_DOCTOR_FAKE_MISSING)"),
        "{r}"
    );
    assert!(
        t.contains("verdict: not ready: the default posture needs what is missing here: wait_killable_recv"),
        "{t}"
    );
}

#[test]
fn doctor_with_sync_wake_up_faked_missing_is_slower_but_ready() {
    let out = sv(&["doctor"], Some("sync_wake_up"));
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        row(&t, "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP").contains("missing  slower"),
        "{t}"
    );
    assert!(t.contains("sync_wake_up (slower): "), "{t}");
    assert!(
        t.contains("verdict: ready: the default posture has what it needs (missing: "),
        "{t}"
    );
}

#[test]
fn man_pages_of_every_command_and_the_policy_api() {
    let dir = tempdir();
    let out = sv(&["man", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (page, has) in [
        ("supervisor.1", "supervisor\\-run(1)"),
        ("supervisor-run.1", "\\-\\-policy"),
        ("supervisor-learn.1", "\\-\\-output"),
        ("supervisor-check.1", "POLICY"),
        ("supervisor-policy.5", ".SS \"\\fBlibc_service.master\\fR\""),
    ] {
        let t = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            t.starts_with(".ie") || t.starts_with(".TH"),
            "{page}: {}",
            &t[..80.min(t.len())]
        );
        assert!(
            t.contains(has) || page == "supervisor.1",
            "{page} lacks {has}"
        );
    }
    // An unwritable place: one line, exit 125.
    let out = sv(&["man", "/proc/version/x"], None);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        text(&out.stderr),
        "supervisor: cannot create the directory /proc/version/x: Not a directory (os error 20)\n"
    );
}

/// Completions of `line` (up to the cursor at its end) by the bash script,
/// run in an interactive bash as a user's shell would.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let prog = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _supervisor supervisor '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-i", "-c", &prog])
        .current_dir(script.parent().unwrap())
        .output()
        .expect("bash");
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_subcommands_and_policies() {
    let dir = tempdir();
    let out = sv(&["completions", "bash"], None);
    assert!(out.status.success());
    let script = dir.path().join("supervisor.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    assert_eq!(bash_complete(&script, &["supervisor", "r"]), ["run"]);
    assert_eq!(bash_complete(&script, &["supervisor", "d"]), ["doctor"]);
    std::fs::write(dir.path().join("mine.lua"), "").unwrap();
    let got = bash_complete(&script, &["supervisor", "run", "--policy", "mi"]);
    assert_eq!(got, ["mine.lua"]);
    // zsh and fish scripts are generated too.
    for shell in ["zsh", "fish"] {
        let out = sv(&["completions", shell], None);
        assert!(
            out.status.success() && text(&out.stdout).contains("/usr/share/supervisor/policies")
        );
    }
}

#[test]
fn stubs_are_written() {
    let dir = tempdir();
    let d = dir.path().join("lua");
    let out = sv(&["stubs", d.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in [
        "libc_service.lua",
        "host.lua",
        "rules.lua",
        "errno.lua",
        "init_script.lua",
    ] {
        let t = std::fs::read_to_string(d.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(t.starts_with("---@meta "), "{f}");
    }
}
