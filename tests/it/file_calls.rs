//! The file calls under the example policies, for busybox (static), the
//! probe built with musl (static) and the probe built with glibc (dynamic).
//!
//! * allow-all and broker-all: the output of every operation equals the
//!   output of the same command run natively;
//! * deny-path: the denied file gives EACCES, its sibling reads fine;
//! * fake-file: the program reads the policy's content;
//! * fake-stat: the program sees the policy's stat result.

use std::ffi::OsString;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::util::{
    busybox, canon, set_times, tempdir, tree_listing, write_file, Cmd, Kind, Policy, BUSYBOX,
};

const HELLO: &str = "hello, world\n";
const FIXED_TIME: i64 = 1_600_000_000;

/// A directory `d` of fixed content (and fixed times) under a fresh
/// temporary root; returns the root (canonical).
///
/// ```text
/// d/hello.txt  0644 "hello, world\n"     d/sub/          0750
/// d/ro         0444                      d/sub/inner.txt 0640
/// d/wo         0200                      d/link     -> hello.txt
/// d/none       0000                      d/subl     -> sub
/// d/exe        0755                      d/dangling -> missing
/// ```
fn fixture() -> (TempDir, PathBuf) {
    let tmp = tempdir();
    let root = canon(&tmp);
    let d = root.join("d");
    std::fs::create_dir(&d).unwrap();
    write_file(&d.join("hello.txt"), HELLO, 0o644);
    write_file(&d.join("ro"), "read only\n", 0o444);
    write_file(&d.join("wo"), "write only\n", 0o200);
    write_file(&d.join("none"), "no permissions\n", 0o000);
    write_file(&d.join("exe"), "#!/bin/sh\nexit 0\n", 0o755);
    std::fs::create_dir(d.join("sub")).unwrap();
    write_file(&d.join("sub/inner.txt"), "inner\n", 0o640);
    std::fs::set_permissions(
        d.join("sub"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    symlink("hello.txt", d.join("link")).unwrap();
    symlink("sub", d.join("subl")).unwrap();
    symlink("missing", d.join("dangling")).unwrap();
    for name in [
        "hello.txt",
        "ro",
        "wo",
        "none",
        "exe",
        "sub/inner.txt",
        "link",
        "subl",
        "dangling",
        "sub",
    ] {
        set_times(&d.join(name), FIXED_TIME);
    }
    set_times(&d, FIXED_TIME);
    set_times(&root, FIXED_TIME);
    (tmp, root)
}

/// The operations compared with native runs.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Read files (open, openat, openat2 for the probe).
    Cat,
    /// `ls -la` of a directory.
    Ls,
    /// stat/lstat/statx/fstat.
    Stat,
    /// mkdir, rename, unlink, rmdir of a tree in a fresh directory.
    Tree,
    /// `test -r/-w/-e…` (busybox), access/faccessat2 (probe).
    Access,
}

fn strings(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn sh(script: &str) -> Vec<OsString> {
    busybox(&["sh", "-c", script])
}

const STAT_FORMAT: &str = "%s %h %f %u %g %Y";

/// The command for `op` by a program of `kind` (relative paths: it runs in
/// the fixture's root, or in a fresh directory for [`Op::Tree`]).
fn argv(kind: Kind, op: Op) -> Vec<OsString> {
    match (kind, op) {
        (Kind::Busybox, Op::Cat) => busybox(&[
            "cat",
            "d/hello.txt",
            "d/link",
            "d/sub/inner.txt",
            "d/subl/inner.txt",
            "d/../d/ro",
            "d/missing",
            "d/none",
        ]),
        (_, Op::Cat) => kind.probe_argv(&strings(&[
            "cat", "d/hello.txt", "cat", "d/link", "cat", "d/sub/inner.txt",
            "cat", "d/subl/inner.txt", "cat", "d/../d/ro", "cat", "d/missing",
            "cat", "d/sub", "cat", "d/dangling", "cat", "d/none", "cat", "d/hello.txt/",
            "openat", "d", "hello.txt", "openat", "d", "sub/inner.txt",
            "openat", "d", "../d/ro", "openat", "d", "missing",
            "openat2", "d", "hello.txt", "0", "openat2", "d", "../d/hello.txt", "beneath",
            "openat2", "d", "sub/../ro", "beneath", "openat2", "d", "link", "no_symlinks",
            "openat2", "d", "subl/inner.txt", "in_root", "openat2", "d", "/hello.txt", "in_root",
            "openat2", "d", "/etc/hostname", "in_root",
        ])),
        (Kind::Busybox, Op::Ls) => busybox(&["ls", "-la", "d", "d/sub"]),
        (_, Op::Ls) => kind.probe_argv(&["ls", "d", "ls", "d/sub", "ls", "d/subl/"]),
        (Kind::Busybox, Op::Stat) => sh(&format!(
            "{BUSYBOX} stat -c '{STAT_FORMAT}' d/hello.txt d/sub d/link d/none d/ro d/dangling d/missing; \
             echo \"exit $?\"; {BUSYBOX} stat -L -c '{STAT_FORMAT}' d/link d/subl d/dangling; echo \"exit $?\""
        )),
        (_, Op::Stat) => kind.probe_argv(&strings(&[
            "stat", "d/hello.txt", "stat", "d/sub", "stat", "d/link", "stat", "d/subl",
            "stat", "d/dangling", "stat", "d/missing", "stat", "d/none", "stat", "d/sub/../exe",
            "stat", "d/hello.txt/",
        ])),
        (Kind::Busybox, Op::Tree) => sh(concat!(
            "mkdir -p a/b/c && mkdir d && echo one > a/f && echo two > a/b/g && mv a/f d/f && ",
            "mv d a/b/c/d && echo three >> a/b/g\n",
            "rmdir a/b/c/d 2>&1; echo \"rmdir $?\"\n",
            "mkdir a 2>&1; echo \"mkdir $?\"\n",
            "mkdir -m 700 e && touch e/t && mv e a/e && ln -s ../b/g a/e/l && cp -r a/e a/e2\n",
            "rm a/b/c/d/f && rmdir a/b/c/d && rm -r a/b/c && mv a/b/g a/g2\n",
            "rm a/nonexistent 2>&1; echo \"rm $?\"\n",
            "mv a/e2 a/e 2>&1; echo \"mv $?\"\n",
            "ls -R; find . | sort",
        )),
        (_, Op::Tree) => kind.probe_argv(&strings(&[
            "mkdir", "a", "755", "mkdir", "a/b", "750", "mkdir", "a/b/c", "700",
            "mkdir", "a", "755", "mkdir", "a/x/y", "755", "mkdirat", "a", "m",
            "write", "a/f", "one", "write", "a/b/g", "two", "creat", "a/h",
            "rename", "a/f", "a/b/c/f", "renameat2", "a/b/g", "a/b/c/f", "noreplace",
            "renameat2", "a/b/g", "a/b/c/f", "exchange", "rename", "a/b/c", "a/m",
            "rename", "a/h", "a/b", "rename", "a/b", "a/b/inside",
            "unlinkat", "a", "h", "file", "unlinkat", "a", "m", "dir",
            "rmdir", "a/b", "unlink", "a/b", "rmdir", "a/missing", "unlink", "a/missing",
            "rmdir", "a/m/f", "unlink", "a/m", "unlinkat", "a/m", "f", "file", "rmdir", "a/m",
            "mkdir", "a/.", "755", "rmdir", "a/b/.", "unlink", "a/b/", "rename", "a/b/", "a/bb",
            "creat", "a/bb/new",
        ])),
        (Kind::Busybox, Op::Access) => sh(concat!(
            "for f in hello.txt ro wo none exe sub link subl dangling missing; do ",
            "for op in -e -f -d -L -r -w -x -s; do ",
            "test $op d/$f; echo \"$f $op $?\"; done; done",
        )),
        (_, Op::Access) => {
            let mut v = Vec::new();
            for f in [
                "hello.txt", "ro", "wo", "none", "exe", "sub", "link", "subl", "dangling",
                "missing",
            ] {
                for m in ["f", "r", "w", "x", "rw", "rwx"] {
                    v.push("access".to_string());
                    v.push(format!("d/{f}"));
                    v.push(m.to_string());
                }
            }
            kind.probe_argv(&v)
        }
    }
}

/// Something the native output must contain, so that two empty (or two
/// equally broken) outputs never pass as equal.
fn expected_in_native(kind: Kind, op: Op) -> &'static str {
    match (kind, op) {
        (_, Op::Cat) => "hello, world",
        (Kind::Busybox, Op::Ls) => "hello.txt",
        (_, Op::Ls) => "  hello.txt: size=13",
        (Kind::Busybox, Op::Stat) => "13 1 81a4 ",
        (_, Op::Stat) => "statx d/hello.txt: mask=7ff size=13 nlink=1 mode=100644",
        (Kind::Busybox, Op::Tree) => "./a/g2",
        (_, Op::Tree) => "renameat2 a/b/g a/b/c/f noreplace: EEXIST",
        (Kind::Busybox, Op::Access) => "missing -e 1",
        (_, Op::Access) => "access d/missing f: ENOENT",
    }
}

/// Runs `op` by `kind` under the example `policy` and natively, and
/// asserts the same stdout, stderr and exit code (and, for [`Op::Tree`],
/// the same resulting tree).
fn same_as_native(kind: Kind, policy: &str, op: Op) {
    let argv = argv(kind, op);
    let (sup, nat, trees) = match op {
        Op::Tree => {
            let (t1, t2) = (tempdir(), tempdir());
            let (d1, d2) = (canon(&t1), canon(&t2));
            let cmd = Cmd::supervised(Policy::example(policy), &argv);
            let sup = cmd.clone().cwd(&d1).run();
            let nat = cmd.without_supervisor().cwd(&d2).run();
            (sup, nat, Some((tree_listing(&d1), tree_listing(&d2))))
        }
        _ => {
            let (_tmp, root) = fixture();
            let cmd = Cmd::supervised(Policy::example(policy), &argv).cwd(&root);
            let nat = cmd.without_supervisor().run();
            let sup = cmd.run();
            (sup, nat, None)
        }
    };
    let want = expected_in_native(kind, op);
    assert!(
        nat.stdout.contains(want),
        "the native run does not show {want:?}: {nat}"
    );
    assert_eq!(
        sup.stdout, nat.stdout,
        "stdout differs under {policy} ({kind:?}, {op:?});\nsupervised: {sup}\nnative: {nat}"
    );
    assert_eq!(
        sup.stderr, nat.stderr,
        "stderr differs under {policy} ({kind:?}, {op:?});\nsupervised: {sup}\nnative: {nat}"
    );
    assert_eq!(
        sup.code, nat.code,
        "exit code differs under {policy} ({kind:?}, {op:?});\nsupervised: {sup}\nnative: {nat}"
    );
    if let Some((sup_tree, nat_tree)) = trees {
        assert!(
            nat_tree.contains("a dir"),
            "the native run built no tree:\n{nat_tree}"
        );
        assert_eq!(
            sup_tree, nat_tree,
            "the tree built under {policy} ({kind:?}) differs from the native one"
        );
    }
}

macro_rules! same_as_native_tests {
    ($($name:ident: $kind:ident, $policy:literal, $op:ident;)*) => {
        $(
            #[test]
            fn $name() {
                same_as_native(Kind::$kind, $policy, Op::$op);
            }
        )*
    };
}

same_as_native_tests! {
    allow_all_cat_same_as_native_busybox: Busybox, "allow-all", Cat;
    allow_all_cat_same_as_native_musl: Musl, "allow-all", Cat;
    allow_all_cat_same_as_native_glibc: Glibc, "allow-all", Cat;
    allow_all_ls_same_as_native_busybox: Busybox, "allow-all", Ls;
    allow_all_ls_same_as_native_musl: Musl, "allow-all", Ls;
    allow_all_ls_same_as_native_glibc: Glibc, "allow-all", Ls;
    allow_all_stat_same_as_native_busybox: Busybox, "allow-all", Stat;
    allow_all_stat_same_as_native_musl: Musl, "allow-all", Stat;
    allow_all_stat_same_as_native_glibc: Glibc, "allow-all", Stat;
    allow_all_tree_same_as_native_busybox: Busybox, "allow-all", Tree;
    allow_all_tree_same_as_native_musl: Musl, "allow-all", Tree;
    allow_all_tree_same_as_native_glibc: Glibc, "allow-all", Tree;
    allow_all_access_same_as_native_busybox: Busybox, "allow-all", Access;
    allow_all_access_same_as_native_musl: Musl, "allow-all", Access;
    allow_all_access_same_as_native_glibc: Glibc, "allow-all", Access;
    broker_all_cat_same_as_native_busybox: Busybox, "broker-all", Cat;
    broker_all_cat_same_as_native_musl: Musl, "broker-all", Cat;
    broker_all_cat_same_as_native_glibc: Glibc, "broker-all", Cat;
    broker_all_ls_same_as_native_busybox: Busybox, "broker-all", Ls;
    broker_all_ls_same_as_native_musl: Musl, "broker-all", Ls;
    broker_all_ls_same_as_native_glibc: Glibc, "broker-all", Ls;
    broker_all_stat_same_as_native_busybox: Busybox, "broker-all", Stat;
    broker_all_stat_same_as_native_musl: Musl, "broker-all", Stat;
    broker_all_stat_same_as_native_glibc: Glibc, "broker-all", Stat;
    broker_all_tree_same_as_native_busybox: Busybox, "broker-all", Tree;
    broker_all_tree_same_as_native_musl: Musl, "broker-all", Tree;
    broker_all_tree_same_as_native_glibc: Glibc, "broker-all", Tree;
    broker_all_access_same_as_native_busybox: Busybox, "broker-all", Access;
    broker_all_access_same_as_native_musl: Musl, "broker-all", Access;
    broker_all_access_same_as_native_glibc: Glibc, "broker-all", Access;
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 temporary path").to_string()
}

/// deny-path with DENY=d/hello.txt: that file (by any name: directly, via
/// a symlink, relative to a directory descriptor) gives EACCES; its sibling
/// reads fine.
fn deny_path(kind: Kind) {
    let (_tmp, root) = fixture();
    let denied = path_str(&root.join("d/hello.txt"));
    let argv = match kind {
        Kind::Busybox => sh(&format!(
            "{BUSYBOX} cat d/hello.txt; echo \"exit $?\"; {BUSYBOX} cat d/link; echo \"exit $?\"; \
             {BUSYBOX} cat d/ro; echo \"exit $?\""
        )),
        _ => kind.probe_argv(&strings(&[
            "cat",
            &denied,
            "cat",
            "d/link",
            "openat",
            "d",
            "hello.txt",
            "cat",
            "d/sub/../hello.txt",
            "cat",
            "d/ro",
        ])),
    };
    let out = Cmd::supervised(Policy::example("deny-path"), &argv)
        .cwd(&root)
        .env("DENY", &denied)
        .run();
    out.assert_code(0);
    match kind {
        Kind::Busybox => {
            assert_eq!(
                out.stdout, "exit 1\nexit 1\nread only\nexit 0\n",
                "denied cat must fail, sibling cat must work: {out}"
            );
            assert_eq!(
                out.stderr,
                "cat: can't open 'd/hello.txt': Permission denied\n\
                 cat: can't open 'd/link': Permission denied\n",
                "{out}"
            );
        }
        _ => {
            out.assert_clean();
            assert_eq!(
                out.stdout,
                format!(
                    "cat {denied}: EACCES\ncat d/link: EACCES\nopenat d hello.txt: EACCES\n\
                     cat d/sub/../hello.txt: EACCES\ncat d/ro: [read only\n]\n"
                ),
                "{out}"
            );
        }
    }
}

#[test]
fn deny_path_denies_only_the_named_file_busybox() {
    deny_path(Kind::Busybox);
}

#[test]
fn deny_path_denies_only_the_named_file_musl() {
    deny_path(Kind::Musl);
}

#[test]
fn deny_path_denies_only_the_named_file_glibc() {
    deny_path(Kind::Glibc);
}

const FAKE_CONTENT: &str = "served from a memfd by the policy\n";

/// fake-file with FAKE_PATH=d/hello.txt: the program reads the policy's
/// content (from the memfd), through the path or a symlink to it; other
/// files read as usual.
fn fake_file(kind: Kind) {
    let (_tmp, root) = fixture();
    let fake = path_str(&root.join("d/hello.txt"));
    let argv = match kind {
        Kind::Busybox => busybox(&["cat", &fake, "d/link", "d/ro"]),
        _ => kind.probe_argv(&strings(&["cat", &fake, "cat", "d/link", "cat", "d/ro"])),
    };
    let out = Cmd::supervised(Policy::example("fake-file"), &argv)
        .cwd(&root)
        .env("FAKE_PATH", &fake)
        .env("FAKE_CONTENT", FAKE_CONTENT)
        .run();
    out.assert_clean();
    let want = match kind {
        Kind::Busybox => format!("{FAKE_CONTENT}{FAKE_CONTENT}read only\n"),
        _ => format!(
            "cat {fake}: [{FAKE_CONTENT}]\ncat d/link: [{FAKE_CONTENT}]\ncat d/ro: [read only\n]\n"
        ),
    };
    assert_eq!(out.stdout, want, "{out}");
    // The real file is untouched.
    assert_eq!(std::fs::read_to_string(&fake).unwrap(), HELLO);
}

#[test]
fn fake_file_serves_the_policy_content_busybox() {
    fake_file(Kind::Busybox);
}

#[test]
fn fake_file_serves_the_policy_content_musl() {
    fake_file(Kind::Musl);
}

#[test]
fn fake_file_serves_the_policy_content_glibc() {
    fake_file(Kind::Glibc);
}

/// fake-stat with FAKE_PATH=d/hello.txt: stat, lstat and statx of the path
/// show the policy's result (4242 bytes, 3 links, mode 0600, uid/gid 4242,
/// mtime 1000000000); fstat of an open descriptor and other files show the
/// real values.
fn fake_stat(kind: Kind) {
    let (_tmp, root) = fixture();
    let fake = path_str(&root.join("d/hello.txt"));
    match kind {
        Kind::Busybox => {
            let out = Cmd::supervised(
                Policy::example("fake-stat"),
                &busybox(&["stat", "-c", STAT_FORMAT, &fake, "d/ro"]),
            )
            .cwd(&root)
            .env("FAKE_PATH", &fake)
            .run();
            out.assert_clean();
            assert_eq!(
                out.stdout, "4242 3 8180 4242 4242 1000000000\n10 1 8124 0 0 1600000000\n",
                "{out}"
            );
        }
        _ => {
            let out = Cmd::supervised(
                Policy::example("fake-stat"),
                &kind.probe_argv(&["stat", &fake, "stat", "d/ro"]),
            )
            .cwd(&root)
            .env("FAKE_PATH", &fake)
            .run();
            out.assert_clean();
            let line = |prefix: &str| -> &str {
                out.stdout
                    .lines()
                    .find(|l| l.starts_with(prefix))
                    .unwrap_or_else(|| panic!("no line {prefix:?} in {out}"))
            };
            let faked = "size=4242 nlink=3 mode=100600 uid=4242 gid=4242 mtime=1000000000.000000000 ino=4242";
            for call in ["stat", "lstat", "statx", "statx-nofollow"] {
                let l = line(&format!("{call} {fake}: "));
                assert!(
                    l.contains(faked),
                    "{call} must show the fake stat: {l}\n{out}"
                );
            }
            assert!(
                line(&format!("statx {fake}: ")).contains("dev=8:1"),
                "{out}"
            );
            assert!(
                line(&format!("stat {fake}: ")).contains("dev=801 blocks=16"),
                "{out}"
            );
            for call in ["fstat", "fstatat-empty", "statx-empty"] {
                let l = line(&format!("{call} {fake}: "));
                assert!(
                    l.contains("size=13 nlink=1"),
                    "{call} of the descriptor is real: {l}\n{out}"
                );
            }
            for call in ["stat", "lstat", "statx"] {
                let l = line(&format!("{call} d/ro: "));
                assert!(
                    l.contains("size=10 nlink=1"),
                    "{call} of another file is real: {l}\n{out}"
                );
            }
        }
    }
}

#[test]
fn fake_stat_shows_the_policy_stat_busybox() {
    fake_stat(Kind::Busybox);
}

#[test]
fn fake_stat_shows_the_policy_stat_musl() {
    fake_stat(Kind::Musl);
}

#[test]
fn fake_stat_shows_the_policy_stat_glibc() {
    fake_stat(Kind::Glibc);
}

/// The probes are what the tests say they are: the musl one static, the
/// glibc one dynamic.
#[test]
fn probes_are_static_musl_and_dynamic_glibc() {
    let p = crate::util::probes();
    assert!(
        !crate::util::has_interpreter(&p.musl),
        "the musl probe must be static"
    );
    assert!(
        crate::util::has_interpreter(&p.glibc),
        "the glibc probe must be dynamic"
    );
}

/// openat2 with RESOLVE_IN_ROOT treats an absolute path as relative to the
/// directory descriptor: under broker-all, `openat2(d, "/hello.txt",
/// RESOLVE_IN_ROOT)` opens d/hello.txt (not a decoy `hello.txt` in the
/// working directory), and `/etc/hostname` is looked up as d/etc/hostname
/// (ENOENT), never as the real /etc/hostname.
#[test]
fn broker_all_openat2_in_root_absolute_path_stays_under_dirfd() {
    let (_tmp, root) = fixture();
    write_file(
        &root.join("hello.txt"),
        "decoy in the working directory\n",
        0o644,
    );
    for kind in [Kind::Musl, Kind::Glibc] {
        let d = path_str(&root.join("d"));
        let argv = kind.probe_argv(&[
            "openat2",
            &d,
            "/hello.txt",
            "in_root",
            "openat2",
            &d,
            "/etc/hostname",
            "in_root",
        ]);
        for cwd in [root.clone(), PathBuf::from("/")] {
            let cmd = Cmd::supervised(Policy::example("broker-all"), &argv).cwd(&cwd);
            let native = cmd.without_supervisor().run();
            native.assert_clean();
            let want = format!(
                "openat2 {d} /hello.txt in_root: [{HELLO}]\nopenat2 {d} /etc/hostname in_root: ENOENT\n"
            );
            assert_eq!(native.stdout, want, "{native}");
            let out = cmd.run();
            out.assert_clean();
            assert_eq!(out.stdout, want, "{kind:?}, cwd {}: {out}", cwd.display());
        }
    }
}

/// A FIFO open done by the supervisor (it blocks until a writer comes) is
/// interrupted by a handled signal as the native open is: EINTR without
/// SA_RESTART; with it, the open is restarted and meets the writer.
#[test]
fn a_signal_interrupts_a_brokered_fifo_open_as_it_would_a_native_one() {
    for kind in [Kind::Musl, Kind::Glibc] {
        for (mode, want) in [
            ("eintr", "open: EINTR handled: 1\n"),
            ("restart", "open: OK handled: 1\n"),
        ] {
            for supervised in [false, true] {
                let dir = tempdir();
                let fifo = dir.path().join("fifo");
                let argv = kind.probe_argv(&["fifo-signal", mode, fifo.to_str().unwrap()]);
                let cmd = if supervised {
                    Cmd::supervised(Policy::example("broker-all"), &argv)
                } else {
                    Cmd::native(&argv)
                };
                let o = cmd.run();
                o.assert_clean();
                assert_eq!(
                    o.stdout, want,
                    "{kind:?} {mode} supervised={supervised}: {o}"
                );
            }
        }
    }
}
