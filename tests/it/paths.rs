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

use std::ffi::OsString;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::util::{
    canon, compile, repo, set_times, tempdir, write_file, Cmd, Kind, Output, Policy,
};

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
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probes");
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
    for n in ["f", "secret", "d/g", "l", "sl", "dl", "dangling", "d"] {
        set_times(&root.join(n), FIXED_TIME);
    }
    (tmp, root)
}

/// What every fixture file is, as the probe shows it (appended to each
/// run, so the comparison covers the files' state afterwards).
const SHOW_ALL: &[&str] = &[
    "show", "f", "show", "secret", "show", "d", "show", "d/g", "show", "l", "show", "sl", "show",
    "dl", "show", "dangling",
];

/// Runs `args` (then [`SHOW_ALL`] and `extra_show`) natively and under
/// `policy` in fresh fixtures; asserts equal outputs; returns the
/// supervised one.
#[track_caller]
fn same_as_native(kind: Kind, policy: &str, args: &[&str], extra_show: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(SHOW_ALL);
    for s in extra_show {
        all.extend(["show", s]);
    }
    let (_n, nroot) = fixture();
    let native = Cmd::native(&argv(kind, &all)).cwd(&nroot).run();
    native.assert_clean();
    let (_s, sroot) = fixture();
    let sup = Cmd::supervised(Policy::example(policy), &argv(kind, &all))
        .cwd(&sroot)
        .run();
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

// ------------------------------------------------------------------ chmod

const CHMOD: &[&str] = &[
    "chmod",
    "f",
    "600",
    "chmod",
    "l",
    "640",
    "chmod",
    "d",
    "700",
    "chmod",
    "f/",
    "600",
    "chmod",
    "missing",
    "600",
    "chmod",
    "dangling",
    "600",
    "chmod",
    "d/g",
    "4755",
    "chmod",
    "d/g",
    "104750",
    "fchmodat",
    ".",
    "f",
    "604",
    "fchmodat",
    "d",
    "g",
    "640",
    "fchmodat",
    "d",
    "../f",
    "606",
    "fchmodat2",
    ".",
    "l",
    "644",
    "nofollow",
    "fchmodat2",
    ".",
    "f",
    "644",
    "nofollow",
    "fchmodat2",
    ".",
    "f",
    "640",
    "bogus",
    "fchmodat2",
    "d",
    "",
    "711",
    "empty",
    "fchmodat2",
    "d",
    "",
    "711",
    "0",
    "fchmodat2",
    "dl",
    "g",
    "444",
    "0",
    "fchmod-empty",
    "f",
    "660",
    "fchmod-empty",
    "l",
    "660",
];

#[test]
fn chmod_under_the_kernel_and_the_supervisor_equals_native() {
    for kind in KINDS {
        for policy in ["allow-all", "broker-all"] {
            let o = same_as_native(kind, policy, CHMOD, &[]);
            // The calls did happen.
            assert!(line(&o, "show f").starts_with("f 0660 "), "{o}");
        }
    }
}

#[test]
fn chmod_of_a_denied_file_is_refused_and_leaves_it() {
    for kind in KINDS {
        let (_t, root) = fixture();
        let secret = root.join("secret");
        let args = [
            "chmod",
            "secret",
            "777",
            "chmod",
            "sl",
            "777",
            "fchmodat",
            ".",
            "secret",
            "4777",
            "fchmodat2",
            ".",
            "secret",
            "777",
            "nofollow",
            "fchmodat2",
            "dl",
            "../secret",
            "777",
            "0",
            "chmod",
            "f",
            "640",
        ];
        let o = Cmd::supervised(Policy::example("deny-path"), &argv(kind, &args))
            .cwd(&root)
            .env("DENY", &secret)
            .run();
        o.assert_clean();
        for l in [
            "chmod secret 777",
            "chmod sl 777",
            "fchmodat . secret 4777",
            "fchmodat2 . secret 777 nofollow",
            "fchmodat2 dl ../secret 777 0",
        ] {
            assert_eq!(line(&o, l), "EACCES", "{kind:?}: {o}");
        }
        assert_eq!(line(&o, "chmod f 640"), "OK", "{kind:?}: {o}");
        assert_eq!(mode(&secret), 0o644, "{kind:?}: the denied file changed");
        assert_eq!(mode(&root.join("f")), 0o640, "{kind:?}");
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn chmod_slave_filter_strips_setuid_bits() {
    let policy = Policy::inline(
        r#"
local svc = require("libc_service")
svc.slave.chmod = function(real_chmod, path, mode)
  return real_chmod(path, mode & ~0x0c00)   -- no set-user/group-ID bits
end
local master = svc.master
while true do
  master:receive()
  master:use_master_credentials()
end
"#,
    );
    for kind in KINDS {
        let (_t, root) = fixture();
        let args = ["chmod", "f", "6755", "fchmodat2", "d", "g", "2711", "0"];
        let o = Cmd::supervised(policy.clone(), &argv(kind, &args))
            .cwd(&root)
            .run();
        o.assert_clean();
        assert_eq!(line(&o, "chmod f 6755"), "OK", "{o}");
        assert_eq!(mode(&root.join("f")), 0o755, "{kind:?}: {o}");
        assert_eq!(mode(&root.join("d/g")), 0o711, "{kind:?}: {o}");
    }
}

/// `return rules.run { BODY }`.
fn rules(body: &str) -> Policy {
    Policy::inline(&format!(
        "local rules = require \"rules\"\nreturn rules.run {{\n{body}\n}}\n"
    ))
}

#[test]
fn chmod_rules_allow_and_deny_by_path() {
    for kind in KINDS {
        let (_t, root) = fixture();
        let policy = rules(&format!(
            "default = {{ read = \"allow\" }},\n{{ \"allow\", \"write\", \"{}/d/\" }},\n{{ \"deny\", \"write\", \"{}/d/g\", errno = \"EPERM\" }},",
            root.display(),
            root.display()
        ));
        let args = [
            "chmod", "f", "600", "chmod", "d", "700", "chmod", "dl", "700", "fchmodat", "d", "g",
            "640", "chmod", "l", "600",
        ];
        std::fs::write(root.join("d/h"), "h\n").unwrap();
        let args2 = ["chmod", "d/h", "640"];
        let all: Vec<&str> = args.iter().chain(args2.iter()).copied().collect();
        let o = Cmd::supervised(policy.clone(), &argv(kind, &all))
            .cwd(&root)
            .run();
        o.assert_clean();
        assert_eq!(line(&o, "chmod f 600"), "EACCES", "{o}");
        assert_eq!(line(&o, "chmod l 600"), "EACCES", "{o}");
        // d itself is under the rule "d/" (the directory and what it holds).
        assert_eq!(line(&o, "chmod d 700"), "OK", "{o}");
        assert_eq!(line(&o, "chmod dl 700"), "OK", "{o}");
        assert_eq!(line(&o, "fchmodat d g 640"), "EPERM", "{o}");
        assert_eq!(line(&o, "chmod d/h 640"), "OK", "{o}");
        assert_eq!(mode(&root.join("f")), 0o644, "{kind:?}");
        assert_eq!(mode(&root.join("d/g")), 0o600, "{kind:?}");
        assert_eq!(mode(&root.join("d/h")), 0o640, "{kind:?}");
        assert_eq!(mode(&root.join("d")), 0o700, "{kind:?}");
    }
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
    let args = [
        "race",
        op,
        how,
        allowed.to_str().unwrap(),
        denied.to_str().unwrap(),
        ITERATIONS,
        MILLIS,
    ];
    let o = Cmd::supervised(Policy::example("deny-path"), &argv(kind, &args))
        .cwd(&root)
        .env("DENY", &denied)
        .run();
    o.assert_clean();
    let (ok, refused, _other) = race_counts(&o, &format!("race {op} {how}:"));
    assert!(ok > 0, "{kind:?} {op} {how}: never allowed, no race: {o}");
    assert!(
        refused > 0,
        "{kind:?} {op} {how}: never denied, no race: {o}"
    );
    let target = if how == "buffer" {
        denied
    } else {
        denied.join("target")
    };
    untouched(&target);
}

#[test]
fn chmod_races_never_change_the_denied_file() {
    for kind in KINDS {
        for how in ["buffer", "symlink"] {
            race(kind, "chmod", how, &|p| {
                assert_eq!(
                    mode(p),
                    0o644,
                    "{kind:?} {how}: the denied file's mode changed"
                )
            });
        }
    }
}
