//! The path calls of issue 15 (chmod, …) with the path probe
//! (tests/probes/paths.c), static musl and dynamic glibc:
//!
//! * allow-all (the kernel) and broker-all (the supervisor): the output of
//!   every command, and what the files are afterwards, equal a native run;
//! * deny-path: the denied file gives EACCES and is left as it was;
//! * a slave filter rewriting the call;
//! * rules allowing and denying by path;
//! * races: a thread swapping the path buffer or a symlink component
//!   never gets a denied file changed.
//!
//! One file per family: [`chmod`], [`metadata`] (chown, utime, truncate,
//! xattr), [`names`] (symlink, link, mknod), [`slashes`] (trailing
//! slashes, `.`/`..` and dangling symlinks as the last component of the
//! calls that name it), [`races`]; the probe, the fixture and the
//! native comparison are here.

use std::ffi::OsString;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::util::{
    canon, compile, repo, set_times, tempdir, with_slave_filters, write_file, Cmd, Kind, Output,
    Policy,
};

mod chmod;
mod metadata;
mod names;
mod races;
mod refusals;
mod slashes;
mod symlink_fd;

const KINDS: [Kind; 2] = [Kind::Musl, Kind::Glibc];
const FIXED_TIME: i64 = 1_600_000_000;

/// The path probe of `kind`, compiled once.
fn probe(kind: Kind) -> &'static Path {
    static MUSL: OnceLock<PathBuf> = OnceLock::new();
    static GLIBC: OnceLock<PathBuf> = OnceLock::new();
    let (cell, compiler, extra, name): (_, _, &[&str], _) = match kind {
        Kind::Musl => (&MUSL, "musl-gcc", &["-static"], "paths-musl-static"),
        Kind::Glibc => (&GLIBC, "gcc", &[], "paths-glibc-dynamic"),
        Kind::Busybox => panic!("busybox is no probe"),
    };
    cell.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join(name);
        compile(compiler, extra, &repo().join("tests/probes/paths.c"), &out);
        out
    })
}

/// argv for the path probe of `kind`.
pub fn argv(kind: Kind, args: &[&str]) -> Vec<OsString> {
    let mut v = vec![probe(kind).as_os_str().to_os_string()];
    v.extend(args.iter().map(OsString::from));
    v
}

/// A fresh fixture; returns its canonical root.
///
/// ```text
/// f        0644 "file\n"        d/       0755
/// secret   0644 "secret\n"      d/g      0600 "g\n"
/// l     -> f                    sl    -> secret
/// dl    -> d                    dangling -> missing
/// ```
fn fixture() -> (TempDir, PathBuf) {
    let tmp = tempdir();
    let root = canon(&tmp);
    write_file(&root.join("f"), "file\n", 0o644);
    write_file(&root.join("secret"), "secret\n", 0o644);
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::set_permissions(
        root.join("d"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    write_file(&root.join("d/g"), "g\n", 0o600);
    symlink("f", root.join("l")).unwrap();
    symlink("secret", root.join("sl")).unwrap();
    symlink("d", root.join("dl")).unwrap();
    symlink("missing", root.join("dangling")).unwrap();
    // Set to "now" by the utime tests: not shown.
    write_file(&root.join("t"), "t\n", 0o644);
    for n in ["f", "secret", "d/g", "l", "sl", "dl", "dangling", "t", "d"] {
        set_times(&root.join(n), FIXED_TIME);
    }
    (tmp, root)
}

/// What every fixture file is, as the probe shows it (appended to each
/// run, so the comparison covers the files' state afterwards).
#[rustfmt::skip]
const SHOW_ALL: &[&str] = &[
    "show", "f",
    "show", "secret",
    "show", "d",
    "show", "d/g",
    "show", "l",
    "show", "sl",
    "show", "dl",
    "show", "dangling",
];

/// Runs `args` (then [`SHOW_ALL`] and `kind` of each of `extra_show`: new
/// names, whose times are the run's) natively and under
/// `policy` in fresh fixtures; asserts equal outputs; returns the
/// supervised one.
#[track_caller]
fn same_as_native(kind: Kind, policy: &str, args: &[&str], extra_show: &[&str]) -> Output {
    same_as_native_under(kind, Policy::example(policy), policy, args, extra_show)
}

/// [`same_as_native`] under the policy `p` (named `policy` in messages).
#[track_caller]
fn same_as_native_under(
    kind: Kind,
    p: Policy,
    policy: &str,
    args: &[&str],
    extra_show: &[&str],
) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(SHOW_ALL);
    for s in extra_show {
        all.extend(["kind", s]);
    }
    let (_n, nroot) = fixture();
    let native = Cmd::native(&argv(kind, &all)).cwd(&nroot).run();
    native.assert_clean();
    let (_s, sroot) = fixture();
    let sup = Cmd::supervised(p, &argv(kind, &all)).cwd(&sroot).run();
    sup.assert_clean();
    assert_eq!(
        sup.stdout, native.stdout,
        "{kind:?} under {policy}: the output differs from the native run\nnative:\n{native}\nsupervised:\n{sup}"
    );
    sup
}

/// The line of `label` in `o`.
#[track_caller]
fn line<'a>(o: &'a Output, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    o.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label:?} line: {o}"))
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

/// The path probe of `kind` with `args` under `policy`, in `root`; a clean
/// exit asserted.
#[track_caller]
fn supervised_in(root: &Path, policy: Policy, kind: Kind, args: &[&str]) -> Output {
    let o = Cmd::supervised(policy, &argv(kind, args)).cwd(root).run();
    o.assert_clean();
    o
}

/// The path probe of `kind` with `args` under deny-path denying `deny`, in
/// `root`; a clean exit asserted.
#[track_caller]
fn under_deny_path(root: &Path, kind: Kind, args: &[&str], deny: &Path) -> Output {
    let o = Cmd::supervised(Policy::example("deny-path"), &argv(kind, args))
        .cwd(root)
        .env("DENY", deny)
        .run();
    o.assert_clean();
    o
}

/// The output's lines, `total` of them, the first `refused` of which end
/// in EACCES.
#[track_caller]
fn refused_lines(o: &Output, kind: Kind, total: usize, refused: usize) -> Vec<&str> {
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), total, "{o}");
    for l in &lines[..refused] {
        assert!(l.ends_with(": EACCES"), "{kind:?}: {l}\n{o}");
    }
    lines
}

/// What each line of the output ends with (the result after ": ").
fn results(o: &Output) -> Vec<&str> {
    o.stdout
        .lines()
        .map(|l| l.rsplit(": ").next().unwrap())
        .collect()
}

/// `race OP HOW ALLOWED DENIED` under deny-path denying `deny`: both
/// outcomes asserted to occur (else there was no race); the output.
#[track_caller]
fn race_under_deny_path(
    kind: Kind,
    root: &Path,
    (op, how): (&str, &str),
    (allowed, denied): (&Path, &Path),
    deny: &Path,
) -> Output {
    let args = [
        "race",
        op,
        how,
        allowed.to_str().unwrap(),
        denied.to_str().unwrap(),
        ITERATIONS,
        MILLIS,
    ];
    let o = under_deny_path(root, kind, &args, deny);
    let (ok, refused, _other) = race_counts(&o, &format!("race {op} {how}:"));
    assert!(ok > 0, "{kind:?} {op} {how}: never allowed, no race: {o}");
    assert!(
        refused > 0,
        "{kind:?} {op} {how}: never denied, no race: {o}"
    );
    o
}

/// `return rules.run { BODY }`.
fn rules(body: &str) -> Policy {
    Policy::inline(&format!(
        "local rules = require \"rules\"\nreturn rules.run {{\n{body}\n}}\n"
    ))
}

// ------------------------------------------------------------------ races

const ITERATIONS: &str = "4000";
const MILLIS: &str = "3000";

/// The counts of a `race` line.
#[track_caller]
fn race_counts(o: &Output, label: &str) -> (u64, u64, u64) {
    let c = crate::util::counters(o, label);
    (c["ok"], c["denied"], c["other"])
}

/// Races `op` on an allowed and a denied file, swapping the path buffer
/// (`buffer`) or a symlink component (`symlink`), under deny-path; returns
/// the output; `untouched` checks the denied file.
#[track_caller]
fn race(kind: Kind, op: &str, how: &str, untouched: &dyn Fn(&Path)) {
    let (_t, root) = fixture();
    let (allowed, denied) = match how {
        "buffer" => (root.join("f"), root.join("secret")),
        _ => {
            // link/target: link -> a (allowed) or b (denied).
            std::fs::create_dir(root.join("a")).unwrap();
            std::fs::create_dir(root.join("b")).unwrap();
            write_file(&root.join("a/target"), "a\n", 0o644);
            write_file(&root.join("b/target"), "b\n", 0o644);
            set_times(&root.join("a/target"), FIXED_TIME);
            set_times(&root.join("b/target"), FIXED_TIME);
            (root.join("a"), root.join("b"))
        }
    };
    race_under_deny_path(kind, &root, (op, how), (&allowed, &denied), &denied);
    let target = if how == "buffer" {
        denied
    } else {
        denied.join("target")
    };
    untouched(&target);
}

/// "uid=U gid=G" of the test's own files.
fn owner() -> String {
    // SAFETY: getuid/getgid only read the process's credentials.
    let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
    format!("uid={u} gid={g}")
}

/// What `p` is: mode, owner, size, times, and its user.* attributes.
fn state(p: &Path) -> String {
    let m = std::fs::symlink_metadata(p).unwrap();
    let x = std::process::Command::new("getfattr")
        .args(["-d", "-h"])
        .arg(p)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    format!(
        "{:o} {} {} {} {}.{} {}.{} {x}",
        m.mode(),
        m.uid(),
        m.gid(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.atime(),
        m.atime_nsec()
    )
}
