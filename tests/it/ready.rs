//! The ready policies built into the binary: `--policy NAME`, `supervisor
//! policy list|show`, `supervisor check NAME`.

use std::process::Command;

use crate::util::{busybox, repo, supervisor, Cmd, Policy};

fn sup(args: &[&str]) -> std::process::Output {
    Command::new(supervisor()).args(args).output().unwrap()
}

#[test]
fn a_ready_policy_runs_by_name_as_its_file_does() {
    let argv = busybox(&["cat", "/etc/shadow"]);
    let by_file = Cmd::supervised(Policy::example("deny-path"), &argv).run();
    let by_name = Cmd::supervised(Policy::file("deny-path"), &argv).run();
    by_name.assert_code(by_file.code);
    assert_eq!(by_name.stdout, by_file.stdout);
    assert!(by_name.stderr.contains("Permission denied"), "{by_name}");
}

#[test]
fn policy_list_and_show_print_every_ready_policy() {
    let out = sup(&["policy", "list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(repo().join("policies"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".lua").map(str::to_string))
        .collect();
    files.sort();
    let listed: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, files);
    for name in &files {
        let out = sup(&["policy", "show", name]);
        assert!(out.status.success(), "{name}");
        let file = std::fs::read(repo().join("policies").join(format!("{name}.lua"))).unwrap();
        assert_eq!(out.stdout, file, "policy show {name}");
    }
}

#[test]
fn an_unknown_policy_name_is_a_policy_error_naming_the_ready_ones() {
    let o = Cmd::supervised(Policy::file("no-such-policy"), &busybox(&["true"])).run();
    o.assert_code(124);
    assert!(o.stderr.contains("\"no-such-policy\""), "{o}");
    assert!(o.stderr.contains("ci, deny-path"), "{o}");
    let out = sup(&["policy", "show", "no-such-policy"]);
    assert_eq!(out.status.code(), Some(124));
}

#[test]
fn check_takes_a_ready_policy_by_name() {
    let out = sup(&["check", "ci"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ci.lua: ok"), "{text}");
}
