//! policies/ci.lua and the path requests of issue 15, as root: links,
//! symlinks, FIFOs, chmod and utime work in the workspace and the private
//! /tmp; chmod, chown, utime, xattr, symlink and link on a file outside
//! are denied, and every denial is in the log and the summary.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use serde_json::Value;

use crate::paths::argv;
use crate::rules::dir_outside_tmp;
use crate::util::{busybox, canon, need, set_times, tempdir, write_file, Cmd, Kind, Policy};

fn ci(argv: &[std::ffi::OsString], ws: &Path, home: &Path) -> Cmd {
    Cmd::supervised(Policy::example("ci"), argv)
        .cwd(ws)
        .env("HOME", home)
}

#[test]
fn ci_lua_allows_names_and_metadata_in_the_workspace_and_tmp() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    write_file(&ws.join("f"), "f\n", 0o644);
    let home = dir_outside_tmp("paths-home");
    let script =
        "ln -s f s && ln f h && mkfifo p && chmod 600 f && touch -d '2001-02-03 04:05:06' f \
         && mkdir /tmp/x && ln -s a /tmp/x/s && mkfifo /tmp/x/p && echo t > /tmp/x/t \
         && ln /tmp/x/t /tmp/x/h && chmod 700 /tmp/x && touch /tmp/x/t \
         && ls -l /tmp/x | wc -l && echo done";
    let o = ci(&busybox(&["sh", "-c", script]), &ws, &home).run();
    o.assert_clean();
    assert_eq!(o.stdout, "5\ndone\n", "{o}");
    assert_eq!(std::fs::read_link(ws.join("s")).unwrap(), Path::new("f"));
    assert_eq!(std::fs::metadata(ws.join("f")).unwrap().nlink(), 2);
    assert!(std::fs::metadata(ws.join("p"))
        .unwrap()
        .file_type()
        .is_fifo());
    let f = std::fs::metadata(ws.join("f")).unwrap();
    assert_eq!(f.permissions().mode() & 0o7777, 0o600);
    assert_eq!(f.mtime(), 981_173_106, "touch -d in the workspace");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn ci_lua_denies_names_and_metadata_outside_and_logs_them() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    write_file(&ws.join("f"), "f\n", 0o644);
    let home = dir_outside_tmp("paths-home");
    let outside = dir_outside_tmp("paths-outside");
    let o_file = outside.join("o");
    write_file(&o_file, "outside\n", 0o644);
    set_times(&o_file, 1_600_000_000);
    let before = std::fs::metadata(&o_file).unwrap();
    let of = o_file.to_str().unwrap();
    let new_outside = outside.join("new");
    let nf = new_outside.to_str().unwrap();
    #[rustfmt::skip]
    let args = [
        "chmod", of, "4777",
        "chown", of, "1", "1",
        "utimensat", ".", of, "1", "1", "0",
        "setxattr", of, "user.x", "x", "0",
        "setxattrat", ".", of, "user.x", "x", "0",
        "symlink", "/etc/passwd", nf,
        "link", of, "h",
        "link", "f", nf,
        "truncate", of, "0",
        "chmod", "/dev/null", "600",
        // The outside file may be read: open, then change it through
        // the descriptor.
        "open-fd", of,
        "fchmod", "4777",
        "fchown", "1", "1",
        "futimens", "1",
        "fsetxattr", "user.x", "x",
        "setxattrat", "fd", "null", "user.x", "x", "empty",
        "chmod", "f", "600",
    ];
    let log = home.join("audit.jsonl");
    for kind in [Kind::Musl, Kind::Glibc] {
        let _ = std::fs::remove_file(&log);
        let o = ci(&argv(kind, &args), &ws, &home)
            .option("--log")
            .option(&log)
            .option("--summary")
            .run();
        o.assert_code(0);
        let results: Vec<&str> = o
            .stdout
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap())
            .collect();
        let mut want = vec!["EACCES"; 10];
        want.push("OK"); // open-fd (reading is allowed)
        want.extend(["EACCES"; 5]);
        want.push("OK"); // chmod in the workspace
        assert_eq!(results, want, "{kind:?}: {o}");
        let after = std::fs::metadata(&o_file).unwrap();
        assert_eq!(
            (
                after.mode(),
                after.uid(),
                after.gid(),
                after.len(),
                after.mtime(),
                after.nlink()
            ),
            (
                before.mode(),
                before.uid(),
                before.gid(),
                before.len(),
                before.mtime(),
                1
            ),
            "{kind:?}: the outside file changed"
        );
        assert!(!new_outside.exists() && !ws.join("h").exists());
        assert_eq!(
            std::fs::metadata("/dev/null").unwrap().permissions().mode() & 0o777,
            0o666
        );
        // Each denial in the log, with its call and path.
        let recs: Vec<Value> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let denied = |function: &str, key: &str, path: &str| {
            recs.iter().any(|r| {
                r["denied"] == true
                    && r["function"] == function
                    && r["arguments"][key] == path
                    && r["errno"] == "EACCES"
            })
        };
        for (function, key, path) in [
            ("chmod", "path", of),
            ("chown", "path", of),
            ("utime", "path", of),
            ("xattr", "path", of),
            ("symlink", "path", nf),
            ("link", "from", of),
            ("link", "to", nf),
            ("truncate", "path", of),
            ("chmod", "path", "/dev/null"),
        ] {
            assert!(
                denied(function, key, path),
                "{kind:?}: no denied {function} of {path} in the log"
            );
        }
        // The calls on the descriptor: decided (and logged) on the path
        // of its file.
        for function in ["chmod", "chown", "utime", "xattr", "xattr"] {
            let n = recs
                .iter()
                .filter(|r| {
                    r["denied"] == true
                        && r["function"] == function
                        && r["arguments"]["path"] == ""
                        && r["resolved"][0] == of
                })
                .count();
            assert!(
                n >= 1,
                "{kind:?}: no denied {function} on the descriptor in the log"
            );
        }
        // And in the summary.
        let den = o
            .stderr
            .split("denied:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("no denied section: {o}"));
        for (function, target) in [
            ("chmod", of.to_string()),
            ("chown", of.to_string()),
            ("utime", of.to_string()),
            ("xattr", of.to_string()),
            ("symlink", nf.to_string()),
            ("link", format!("{of} -> h")),
            ("link", format!("f -> {nf}")),
            ("truncate", of.to_string()),
        ] {
            assert!(
                den.lines().any(|l| l.trim_start().starts_with(function)
                    && l.contains(&target)
                    && l.contains("EACCES")),
                "{kind:?}: no {function} {target} in the summary: {o}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&outside);
}

/// Jobs of issue 18 that need the path requests, under ci.lua as root:
/// a venv (symlinks to the interpreter), multiprocessing.Pool (POSIX
/// semaphores: a file linked into the private /dev/shm), a git repository
/// that keeps symlinks as symlinks (core.symlinks is not set to false).
#[test]
fn ci_lua_runs_venv_multiprocessing_and_git_with_symlinks() {
    for tool in ["python3", "git"] {
        need(tool, "python3 python3-venv git");
    }
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    let home = dir_outside_tmp("paths-home");
    let script =
        "python3 -m venv --without-pip v && test -L v/bin/python3 && v/bin/python3 -c 'print(42)' \
        && python3 -c 'import multiprocessing as m
with m.Pool(2) as p: print(sum(p.map(abs, range(-10, 0))))' \
        && git init -q r && cd r && ln -s target l && git add l \
        && git -c user.name=ci -c user.email=ci@example.org commit -qm symlink \
        && git ls-files -s l | cut -c1-6 && git config core.symlinks; echo \"core.symlinks=$?\"";
    let o = ci(&crate::util::busybox(&["sh", "-c", script]), &ws, &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .run();
    o.assert_code(0);
    // git config exits 1 for an unset key: symlinks work.
    assert_eq!(o.stdout, "42\n55\n120000\ncore.symlinks=1\n", "{o}");
    assert!(ws.join("v/bin/python3").is_symlink());
    let _ = std::fs::remove_dir_all(&home);
}
