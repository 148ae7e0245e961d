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

// ------------------------------------------------------------------ chmod

#[rustfmt::skip]
const CHMOD: &[&str] = &[
    "chmod", "f", "600",
    "chmod", "l", "640",
    "chmod", "d", "700",
    "chmod", "f/", "600",
    "chmod", "missing", "600",
    "chmod", "dangling", "600",
    "chmod", "d/g", "4755",
    "chmod", "d/g", "104750",
    "fchmodat", ".", "f", "604",
    "fchmodat", "d", "g", "640",
    "fchmodat", "d", "../f", "606",
    "fchmodat2", ".", "l", "644", "nofollow",
    "fchmodat2", ".", "f", "644", "nofollow",
    "fchmodat2", ".", "f", "640", "bogus",
    "fchmodat2", "d", "", "711", "empty",
    "fchmodat2", "d", "", "711", "0",
    "fchmodat2", "dl", "g", "444", "0",
    "fchmod-empty", "f", "660",
    "fchmod-empty", "l", "660",
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

// ------------------------------------------------- chown, utime, truncate, xattr

#[rustfmt::skip]
const CHOWN: &[&str] = &[
    "chown", "f", "1", "2",
    "chown", "l", "3", "-1",
    "lchown", "l", "5", "6",
    "chown", "d", "-1", "7",
    "chown", "dangling", "1", "1",
    "chown", "f/", "1", "1",
    "fchownat", ".", "d/g", "8", "9", "0",
    "fchownat", "dl", "g", "10", "-1", "nofollow",
    "fchownat", "d", "", "11", "11", "empty",
    "fchownat", ".", "f", "1", "1", "bogus",
];

#[rustfmt::skip]
const UTIME: &[&str] = &[
    "utimensat", ".", "f", "100", "200", "0",
    "utimensat", ".", "l", "300", "omit", "nofollow",
    "utimensat", "dl", "g", "omit", "400", "0",
    "utimensat", ".", "f", "bad", "1", "0",
    "utimensat", ".", "f", "omit", "omit", "bogus",
    "utimensat", ".", "missing", "omit", "omit", "0",
    "utimensat", ".", "missing", "1", "1", "0",
    "utimensat", ".", "t", "now", "now", "0",
    "utimensat", ".", "t", "null", "null", "0",
    "utimensat", "d", "", "500", "600", "empty",
    "utimes", "secret", "700",
    "utimes", "f", "bad",
    "utimes", "t", "null",
    "futimesat", "d", "g", "800",
    "utime", "dl", "900",
    "utime", "t", "null",
];

#[rustfmt::skip]
const TRUNCATE: &[&str] = &[
    "truncate", "f", "2",
    "truncate", "l", "1",
    "truncate", "d/g", "10",
    "truncate", "d", "1",
    "truncate", "dl", "1",
    "truncate", "missing", "1",
    "truncate", "dangling", "1",
    "truncate", "f", "-1",
    "truncate", "f/", "1",
    // truncate sets the times to now: back to fixed ones.
    "utimensat", ".", "f", "1", "1", "0",
    "utimensat", ".", "d/g", "1", "1", "0",
];

#[rustfmt::skip]
const XATTR: &[&str] = &[
    "setxattr", "f", "user.a", "one", "0",
    "setxattr", "l", "user.b", "two", "create",
    "setxattr", "f", "user.b", "again", "create",
    "setxattr", "f", "user.c", "three", "replace",
    "setxattr", "d", "user.d", "four", "0",
    "lsetxattr", "l", "user.e", "five", "0",
    "setxattr", "missing", "user.a", "x", "0",
    "setxattr", "f", "bad.namespace", "x", "0",
    "setxattr", "dl", "user.f", "", "0",
    "removexattr", "f", "user.a",
    "removexattr", "f", "user.zzz",
    "lremovexattr", "l", "user.b",
    "getxattr", "f", "user.a",
    "getxattr", "f", "user.b",
    "getxattr", "d", "user.d",
    "getxattr", "d", "user.f",
];

/// The calls on a descriptor (fchmod, fchown, futimens, fsetxattr,
/// fremovexattr, setxattrat with a NULL path), on an O_PATH one (EBADF),
/// and the path calls through `/proc/self/fd/N` ("@": a magic link, the
/// object itself).
#[rustfmt::skip]
const ON_FD: &[&str] = &[
    "open-fd", "f",
    "fchmod", "600",
    "fchown", "1", "2",
    "futimens", "100",
    "fsetxattr", "user.fd", "v",
    "fremovexattr", "user.fd",
    "fsetxattr", "user.fd2", "w",
    "chmod", "@", "640",
    "setxattr", "@", "user.m", "m", "0",
    "truncate", "@", "3",
    "utimensat", ".", "@", "200", "300", "0",
    "chown", "@", "3", "4",
    "open-fd", "d",
    "fchmod", "700",
    "futimens", "400",
    "setxattrat", "fd", "null", "user.n", "n", "empty",
    "setxattrat", ".", "f", "user.at", "a", "0",
    "setxattrat", ".", "f", "user.bad", "a", "bogus",
    "getxattr", "f", "user.fd2",
    "getxattr", "f", "user.m",
    "getxattr", "f", "user.at",
    "getxattr", "d", "user.n",
];

#[test]
fn chown_utime_truncate_xattr_equal_native() {
    for kind in KINDS {
        for policy in ["allow-all", "broker-all"] {
            for args in [CHOWN, UTIME, TRUNCATE, XATTR, ON_FD] {
                same_as_native(kind, policy, args, &[]);
            }
        }
    }
}

/// On an O_PATH descriptor, fchmod, fchown, fsetxattr and futimens are
/// EBADF (the kernel's fdget), while chmod through its /proc/self/fd link
/// reaches the file.  The O_PATH open is the kernel's here (brokered
/// O_PATH opens are the other half of issue 15), the calls on it the
/// supervisor's.
#[test]
fn calls_on_an_o_path_descriptor_equal_native() {
    let policy = Policy::inline(
        r#"
local master = require("libc_service").master
while true do
  master:receive()
  if master.function_ == "open" or master.function_ == "openat" then
    master:use_slave_credentials()
  else
    master:use_master_credentials()
  end
end
"#,
    );
    #[rustfmt::skip]
    let args = [
        "open-path", "d/g",
        "fchmod", "666",
        "fchown", "1", "1",
        "fsetxattr", "user.p", "p",
        "futimens", "1",
        "chmod", "@", "604",
    ];
    for kind in KINDS {
        let o = same_as_native_under(kind, policy.clone(), "open by the kernel", &args, &[]);
        assert_eq!(line(&o, "fchmod 666"), "EBADF", "{o}");
        assert!(line(&o, "show d/g").starts_with("f 0604 "), "{o}");
    }
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

/// Each metadata call on the denied file (directly, through a symlink,
/// through a directory descriptor) under deny-path.
#[rustfmt::skip]
const ON_SECRET: &[&str] = &[
    "chown", "secret", "1", "1",
    "lchown", "secret", "1", "1",
    "fchownat", "dl", "../sl", "1", "1", "0",
    "utimensat", ".", "sl", "1", "1", "0",
    "utimes", "secret", "1",
    "futimesat", "d", "../secret", "1",
    "utime", "sl", "1",
    "truncate", "sl", "0",
    "setxattr", "sl", "user.x", "x", "0",
    "lsetxattr", "secret", "user.x", "x", "0",
    "removexattr", "secret", "user.keep",
    "lremovexattr", "secret", "user.keep",
];

#[test]
fn metadata_calls_on_a_denied_file_are_refused_and_leave_it() {
    for kind in KINDS {
        let (_t, root) = fixture();
        let secret = root.join("secret");
        let _ = std::process::Command::new("setfattr")
            .args(["-n", "user.keep", "-v", "kept"])
            .arg(&secret)
            .status();
        let before = state(&secret);
        let mut args = ON_SECRET.to_vec();
        args.extend(["truncate", "f", "1"]);
        let o = Cmd::supervised(Policy::example("deny-path"), &argv(kind, &args))
            .cwd(&root)
            .env("DENY", &secret)
            .run();
        o.assert_clean();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), 13, "{o}");
        for l in &lines[..12] {
            assert!(l.ends_with(": EACCES"), "{kind:?}: {l}\n{o}");
        }
        assert_eq!(lines[12], "truncate f 1: OK", "{o}");
        assert_eq!(state(&secret), before, "{kind:?}: the denied file changed");
    }
}

#[test]
fn metadata_slave_filters_rewrite_or_refuse() {
    let policy = Policy::inline(
        r#"
local svc = require("libc_service")
svc.slave.chown = function(real_chown, path, uid, gid)
  return real_chown(path, uid, -1)          -- never the group
end
svc.slave.truncate = function(real_truncate, path, length)
  return real_truncate(path, math.min(length, 3))
end
svc.slave.utime = function(real_utime, path)
  if path == "t" then return -1, "EPERM" end
  return real_utime(path)
end
svc.slave.xattr = function(real_xattr, path)
  return real_xattr("d/g")                  -- elsewhere
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
        let args = [
            "chown",
            "f",
            "1",
            "2",
            "truncate",
            "secret",
            "100",
            "utimensat",
            ".",
            "t",
            "1",
            "1",
            "0",
            "utimensat",
            ".",
            "d/g",
            "5",
            "6",
            "0",
            "setxattr",
            "f",
            "user.moved",
            "v",
            "0",
        ];
        let o = Cmd::supervised(policy.clone(), &argv(kind, &args))
            .cwd(&root)
            .run();
        o.assert_clean();
        assert_eq!(line(&o, "utimensat . t 1 1 0"), "EPERM", "{o}");
        let f = std::fs::metadata(root.join("f")).unwrap();
        // SAFETY: getgid only reads the process's credentials.
        let gid = unsafe { libc::getgid() };
        assert_eq!((f.uid(), f.gid()), (1, gid), "{kind:?}");
        assert_eq!(std::fs::metadata(root.join("secret")).unwrap().len(), 3);
        assert_eq!(std::fs::metadata(root.join("d/g")).unwrap().mtime(), 6);
        assert_eq!(
            std::fs::metadata(root.join("t")).unwrap().mtime(),
            FIXED_TIME
        );
        let g = std::process::Command::new("getfattr")
            .args(["-n", "user.moved", "--only-values"])
            .arg(root.join("d/g"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&g.stdout), "v", "{kind:?}: {o}");
    }
}

#[test]
fn metadata_rules_allow_and_deny_by_path() {
    for kind in KINDS {
        let (_t, root) = fixture();
        let policy = rules(&format!(
            "default = {{ read = \"allow\" }},\n{{ \"allow\", \"write\", \"{}/d/\" }},",
            root.display()
        ));
        let args = [
            "chown", "f", "1", "1", "truncate", "f", "0", "utimes", "f", "1", "setxattr", "f",
            "user.a", "a", "0", "chown", "dl/g", "1", "1", "truncate", "dl/g", "0", "utimes",
            "dl/g", "1", "setxattr", "dl/g", "user.a", "a", "0",
        ];
        let before = state(&root.join("f"));
        let o = Cmd::supervised(policy.clone(), &argv(kind, &args))
            .cwd(&root)
            .run();
        o.assert_clean();
        let results: Vec<&str> = o
            .stdout
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap())
            .collect();
        assert_eq!(
            results,
            ["EACCES", "EACCES", "EACCES", "EACCES", "OK", "OK", "OK", "OK"],
            "{kind:?}: {o}"
        );
        assert_eq!(state(&root.join("f")), before);
        let g = std::fs::metadata(root.join("d/g")).unwrap();
        assert_eq!((g.uid(), g.len(), g.mtime()), (1, 0, 1), "{kind:?}");
    }
}

#[test]
fn chown_utimensat_truncate_setxattr_races_never_touch_the_denied_file() {
    for kind in KINDS {
        for op in ["chown", "utimensat", "truncate", "setxattr"] {
            for how in ["buffer", "symlink"] {
                let before = std::cell::RefCell::new(None);
                race(kind, op, how, &|p| {
                    let s = state(p);
                    // The fixture's state: mode 644, its owner, "b\n" or
                    // "secret\n", the fixed times, no attribute.
                    assert!(s.starts_with("100644 "), "{kind:?} {op} {how}: {s}");
                    assert!(
                        s.contains(&format!(" {FIXED_TIME}.0 {FIXED_TIME}.0 ")),
                        "{kind:?} {op} {how}: times changed: {s}"
                    );
                    assert!(!s.contains("user.race"), "{kind:?} {op} {how}: {s}");
                    let m = std::fs::metadata(p).unwrap();
                    // SAFETY: getuid only reads the process's credentials.
                    assert_eq!(m.uid(), unsafe { libc::getuid() }, "{kind:?} {op} {how}");
                    assert!(m.len() > 1, "{kind:?} {op} {how}: truncated");
                    before.replace(Some(s));
                });
            }
        }
    }
}

// ------------------------------------------------------- symlink, link, mknod

#[rustfmt::skip]
const NAMES: &[&str] = &[
    "symlink", "f", "s1",
    "symlink", "x", "f",
    "symlink", "x", "new/",
    "symlink", "x", "d/../s3",
    "symlinkat", "../f", "d", "s2",
    "symlinkat", "/etc", "dl", "s4",
    "link", "f", "h1",
    "link", "l", "h2",
    "link", "d", "h3",
    "link", "f", "l",
    "link", "missing", "h4",
    "link", "dangling", "h9",
    "linkat", ".", "l", ".", "h5", "follow",
    "linkat", ".", "f", ".", "h6", "bogus",
    "linkat", ".", "f", "dl", "h7", "empty",
    "linkat", "dl", "g", ".", "h10", "0",
    "link", "f/", "h8",
    "link", "f", "newdir/x",
    "mknod", "n1", "fifo",
    "mknod", "n2", "sock",
    "mknod", "n3", "reg",
    "mknod", "n4", "zero",
    "mknod", "n5", "dir",
    "mknod", "f", "fifo",
    "mknodat", "d", "n6", "fifo",
    "mknodat", "dl", "n8", "reg",
    "mknod", "n7", "upper",
    "mknod", "n9/", "fifo",
    // Making names in d set its times to now: back to fixed ones.
    "utimensat", ".", "d", "1", "1", "0",
];

const NEW_NAMES: &[&str] = &[
    "s1", "d/s2", "s3", "d/s4", "h1", "h2", "h5", "d/h7", "h9", "h10", "n1", "n2", "n3", "n4",
    "d/n6", "d/n8", "n7",
];

#[test]
fn symlink_link_mknod_equal_native() {
    for kind in KINDS {
        for policy in ["allow-all", "broker-all"] {
            let o = same_as_native(kind, policy, NAMES, NEW_NAMES);
            assert_eq!(
                line(&o, "kind h1"),
                format!("f 0644 {} size=5 nlink=4", owner()),
                "{o}"
            );
        }
    }
}

/// "uid=U gid=G" of the test's own files.
fn owner() -> String {
    // SAFETY: getuid/getgid only read the process's credentials.
    let (u, g) = unsafe { (libc::getuid(), libc::getgid()) };
    format!("uid={u} gid={g}")
}

/// The calls making a name, at or from the denied place (deny-path
/// denies `DENY` and what is under it).
#[rustfmt::skip]
const AT_DENIED: &[&str] = &[
    "symlink", "f", "b/s",
    "symlinkat", "f", ".", "b/s2",
    "symlink", "f", "bl/s",
    "link", "f", "b/h",
    "link", "secret", "h",
    "linkat", ".", "sl", ".", "h", "follow",
    "link", "d/../secret", "h",
    "mknod", "b/n", "fifo",
    "mknodat", ".", "b/n2", "reg",
    "mknod", "bl/n", "sock",
];

#[test]
fn names_at_or_from_a_denied_place_are_refused() {
    for kind in KINDS {
        let (_t, root) = fixture();
        std::fs::create_dir(root.join("b")).unwrap();
        symlink("b", root.join("bl")).unwrap();
        let mut args = AT_DENIED.to_vec();
        args.extend(["link", "sl", "ok", "kind", "ok"]);
        // Two denied places: the directory b and the file secret.
        let policy = Policy::inline(&format!(
            r#"
local master = require("libc_service").master
local denied = {{ "{root}/b", "{root}/secret" }}
local function is_denied(p)
  for _, d in ipairs(denied) do
    if p == d or (p and p:sub(1, #d + 1) == d .. "/") then return true end
  end
  return false
end
while true do
  master:receive()
  local p1, p2 = master:resolved()
  -- link: the source is denied as such (a hard link to a denied file,
  -- followed or not); symlink's target is only text.
  if is_denied(p1) or is_denied(p2) then
    master:send(-1, "EACCES")
  else
    master:use_master_credentials()
  end
end
"#,
            root = root.display()
        ));
        let o = Cmd::supervised(policy, &argv(kind, &args)).cwd(&root).run();
        o.assert_clean();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), 12, "{o}");
        for l in &lines[..10] {
            assert!(l.ends_with(": EACCES"), "{kind:?}: {l}\n{o}");
        }
        // link does not follow "sl": a second name for the symlink
        // itself, not for the denied file.
        assert_eq!(lines[10], "link sl ok: OK", "{o}");
        assert_eq!(
            lines[11],
            format!("kind ok: l 0777 {} size=6 nlink=2 -> secret", owner())
        );
        assert_eq!(
            std::fs::read_dir(root.join("b")).unwrap().count(),
            0,
            "{kind:?}"
        );
        assert_eq!(
            std::fs::metadata(root.join("secret")).unwrap().nlink(),
            1,
            "{kind:?}"
        );
        assert!(!root.join("h").exists());
    }
}

#[test]
fn names_slave_filters_rewrite_or_refuse() {
    let policy = Policy::inline(
        r#"
local svc = require("libc_service")
svc.slave.symlink = function(real_symlink, target, path)
  if target:sub(1, 1) == "/" then return -1, "EPERM" end  -- relative only
  return real_symlink(target, path)
end
svc.slave.link = function(real_link, path1, path2)
  return real_link(path1, "d/" .. path2)   -- into d
end
svc.slave.mknod = function(real_mknod, path, mode)
  return real_mknod(path, mode & ~0x3f)    -- no group or other bits
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
        let args = [
            "symlink",
            "/etc/passwd",
            "abs",
            "symlink",
            "f",
            "rel",
            "link",
            "f",
            "h",
            "mknod",
            "fifo",
            "fifo",
            "kind",
            "abs",
            "kind",
            "rel",
            "kind",
            "h",
            "kind",
            "d/h",
            "kind",
            "fifo",
        ];
        let o = Cmd::supervised(policy.clone(), &argv(kind, &args))
            .cwd(&root)
            .run();
        o.assert_clean();
        let who = owner();
        assert_eq!(line(&o, "symlink /etc/passwd abs"), "EPERM", "{o}");
        assert_eq!(line(&o, "kind abs"), "ENOENT", "{o}");
        assert_eq!(
            line(&o, "kind rel"),
            format!("l 0777 {who} size=1 nlink=1 -> f"),
            "{o}"
        );
        assert_eq!(line(&o, "kind h"), "ENOENT", "{o}");
        assert_eq!(
            line(&o, "kind d/h"),
            format!("f 0644 {who} size=5 nlink=2"),
            "{o}"
        );
        assert_eq!(
            line(&o, "kind fifo"),
            format!("p 0600 {who} size=0 nlink=1"),
            "{o}"
        );
    }
}

#[test]
fn names_rules_allow_and_deny_by_path() {
    for kind in KINDS {
        let (_t, root) = fixture();
        // create in d/, read and write d/g only; everything readable.
        let policy = rules(&format!(
            "default = {{ read = \"allow\" }},\n{{ \"allow\", \"create\", \"{r}/d/\" }},\n{{ \"allow\", \"write\", \"{r}/d/g\" }},",
            r = root.display()
        ));
        let args = [
            "symlink", "f", "s", "symlink", "f", "dl/s", "mknod", "n", "fifo", "mknod", "dl/n",
            "fifo", "link", "f", "d/h", "link", "d/g", "h", "link", "dl/g", "d/h2",
        ];
        let o = Cmd::supervised(policy.clone(), &argv(kind, &args))
            .cwd(&root)
            .run();
        o.assert_clean();
        let results: Vec<&str> = o
            .stdout
            .lines()
            .map(|l| l.rsplit(": ").next().unwrap())
            .collect();
        assert_eq!(
            results,
            // f is not writable: no second name for it, even in d/.
            ["EACCES", "OK", "EACCES", "OK", "EACCES", "EACCES", "OK"],
            "{kind:?}: {o}"
        );
        assert!(root.join("d/s").is_symlink() && root.join("d/h2").exists());
        assert!(!root.join("s").exists() && !root.join("d/h").exists());
    }
}

#[test]
fn symlink_link_mknod_races_never_make_a_denied_name() {
    for kind in KINDS {
        for op in ["symlink", "link", "mknod"] {
            for how in ["buffer", "symlink"] {
                race_names(kind, op, how);
            }
        }
    }
}

/// Races `op` making a name in an allowed and a denied directory; the
/// denied one stays empty.
fn race_names(kind: Kind, op: &str, how: &str) {
    let (_t, root) = fixture();
    let a = root.join("a");
    let b = root.join("b");
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let (allowed, denied) = match how {
        "buffer" => (a.join("new"), b.join("new")),
        _ => (a.clone(), b.clone()),
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
        .env("DENY", &b)
        .run();
    o.assert_clean();
    let (ok, refused, _) = race_counts(&o, &format!("race {op} {how}:"));
    assert!(ok > 0, "{kind:?} {op} {how}: never allowed, no race: {o}");
    assert!(
        refused > 0,
        "{kind:?} {op} {how}: never denied, no race: {o}"
    );
    let made: Vec<_> = std::fs::read_dir(&b).unwrap().collect();
    assert!(
        made.is_empty(),
        "{kind:?} {op} {how}: {made:?} in the denied directory"
    );
    assert_eq!(
        std::fs::metadata(root.join("f")).unwrap().nlink(),
        1,
        "{kind:?} {op} {how}: a link was left"
    );
}
