//! Brokered `O_PATH` opens (supervisor/src/act/opath.rs): the program gets
//! a stand-in, the very object resolved reopened, and everything it does
//! through it equals the native run; for symlinks, FIFOs, sockets and
//! devices an inert stand-in mapped back to the object, whose differences
//! are asserted here (and in paths::symlink_fd).  GNU tar (glibc's
//! `fchmodat(AT_SYMLINK_NOFOLLOW)` opens with `O_PATH`) and Python's
//! `os.open(p, os.O_PATH)` under broker-all (tar under ci.lua too).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::{canon, compile, tempdir, tree_listing, write_file, Cmd, Kind, Policy};

/// tests/probes/opath.c, built static (musl) and dynamic (glibc), once.
pub(crate) fn probe(kind: Kind) -> &'static Path {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    let (musl, glibc) = BUILT.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let src = crate::util::repo().join("tests/probes/opath.c");
        let musl = dir.join("opath-musl-static");
        let glibc = dir.join("opath-glibc-dynamic");
        compile("musl-gcc", &["-static"], &src, &musl);
        compile("gcc", &[], &src, &glibc);
        (musl, glibc)
    });
    match kind {
        Kind::Musl => musl,
        Kind::Glibc => glibc,
        Kind::Busybox => panic!("no busybox opath probe"),
    }
}

/// `root/d/child`, `root/f`, `root/lnk -> d`, `root/flnk -> f`,
/// `root/fifo`, `root/sock` (a unix socket's name, no one listening).
fn fixture(root: &Path) {
    drop(std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap());
    std::fs::create_dir(root.join("d")).unwrap();
    write_file(&root.join("d/child"), "hello\n", 0o644);
    write_file(&root.join("f"), "content\n", 0o644);
    symlink("d", root.join("lnk")).unwrap();
    symlink("f", root.join("flnk")).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
}

/// Runs the probe with `args` in a fresh fixture, natively or under
/// `policy`; the fixture's root reads `ROOT` in the output.
fn run(kind: Kind, policy: Option<&str>, args: &[&str]) -> String {
    let tmp = tempdir();
    let root = canon(&tmp);
    fixture(&root);
    let mut argv = vec![probe(kind).as_os_str().to_os_string()];
    argv.extend(args.iter().map(Into::into));
    let cmd = match policy {
        Some(p) => Cmd::supervised(Policy::example(p), &argv),
        None => Cmd::native(&argv),
    };
    let o = cmd.cwd(&root).run();
    o.assert_clean();
    o.stdout.replace(root.to_str().unwrap(), "ROOT")
}

const FILES_AND_DIRS: &[&str] = &[
    "open",
    "d",
    "dir", //
    "open",
    "d",
    "follow", //
    "open",
    "d",
    "nofollow-dir", //
    "open",
    "f",
    "follow", //
    "open",
    "f",
    "nofollow", //
    "open",
    "lnk",
    "follow", // the symlink followed: the directory
    "open",
    "flnk",
    "follow", //
    "open",
    "f",
    "dir", // ENOTDIR, as natively
    "open",
    "missing",
    "follow", //
    "chmod-nofollow",
    "f",
    "0600", //
    "chmod-nofollow",
    "d",
    "0700", //
    "chmod-nofollow",
    "flnk",
    "0600", // EOPNOTSUPP, as natively
];

#[test]
fn brokered_o_path_opens_of_files_and_directories_behave_as_natively() {
    for kind in [Kind::Musl, Kind::Glibc] {
        let native = run(kind, None, FILES_AND_DIRS);
        assert!(native.contains("open d dir: OK"), "{native}");
        assert!(
            native.contains("  reopen /proc/self/fd/N: OK dir same-inode yes"),
            "{native}"
        );
        assert!(native.contains("  fchdir: OK cwd ROOT/d"), "{native}");
        assert!(native.contains("  openat(fd, child): OK hello"), "{native}");
        assert!(
            native.contains("chmod-nofollow f 0600: OK\n  mode now 600"),
            "{native}"
        );
        for policy in ["broker-all", "allow-all"] {
            let supervised = run(kind, Some(policy), FILES_AND_DIRS);
            assert_eq!(supervised, native, "{kind:?} under {policy}");
        }
    }
}

/// What an `O_PATH` descriptor of a symlink (`O_NOFOLLOW`), a FIFO, a
/// socket and a device gives natively, through the kernel (allow-all),
/// and brokered (broker-all, ci.lua).  ADDFD cannot carry an `O_PATH`
/// file, and no other file of these objects exists without effects (a
/// symlink and a socket cannot be opened but `O_PATH`: ELOOP, ENXIO; a
/// FIFO's open makes a reader or writer that others see, a device's runs
/// its driver):
///
/// * a symlink, FIFO, socket, device: the program gets a stand-in (an empty memfd
///   of mode 0, neither readable nor writable) that every trapped call
///   maps back to the object (kernel::standin; `readlinkat(fd, "")` is
///   trapped for it, act::readlink).  What differs is what the
///   kernel answers alone on the descriptor: `readlink("/proc/self/fd/N")`
///   names the memfd, and musl's `fstat` (syscall `fstat`, untrapped;
///   glibc's goes through `newfstatat`, trapped) shows it.
#[rustfmt::skip]
const SPECIAL: &[&str] = &[
    "open", "lnk", "nofollow",
    "open", "fifo", "follow",
    "open", "sock", "follow",
    "open", "/dev/null", "follow",
    "linkat-empty", "flnk", "flnk2",
    "chmod-nofollow", "fifo", "0600",
];

/// The native output of [`SPECIAL`] as the brokered run gives it: the one
/// difference of each object (see [`SPECIAL`]), nothing else.
fn as_brokered(kind: Kind, native: &str) -> String {
    let mut out = String::new();
    let mut object = "";
    for l in native.lines() {
        if let Some(rest) = l.strip_prefix("open ") {
            object = rest.split(' ').next().unwrap();
        } else if l.starts_with("linkat-empty ") {
            object = "linkat";
        } else if !l.starts_with("  ") {
            object = "";
        }
        let line = match (object, l) {
            ("lnk" | "fifo" | "sock" | "/dev/null", l)
                if l.starts_with("  readlink /proc/self/fd/N: ") =>
            {
                "  readlink /proc/self/fd/N: /memfd:o_path stand-in (deleted)".to_owned()
            }
            ("lnk" | "fifo" | "sock" | "/dev/null", l)
                if kind == Kind::Musl && l.starts_with("  fstat: ") =>
            {
                "  fstat: file mode 0 size 0 same-inode no".to_owned()
            }
            ("lnk" | "fifo" | "sock" | "/dev/null", l)
                if kind == Kind::Musl && l.starts_with("  fstatat empty: ") =>
            {
                "  fstatat empty: file same-inode no".to_owned()
            }
            (_, l) => l.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn brokered_o_path_opens_of_symlinks_fifos_sockets_and_devices_differ_only_as_documented() {
    for kind in [Kind::Musl, Kind::Glibc] {
        let native = run(kind, None, SPECIAL);
        for want in [
            // A symlink: fstat, readlinkat(fd, ""), fchownat(AT_EMPTY_PATH),
            // its /proc/self/fd link, a reopen refused (ELOOP).
            "open lnk nofollow: OK\n  fstat: symlink mode 777 size 1 same-inode yes\n",
            "  readlinkat empty: d\n  fchownat empty: OK\n  readlink /proc/self/fd/N: ROOT/lnk\n",
            "  reopen /proc/self/fd/N: ELOOP\n",
            // A FIFO: the reopen (O_RDONLY|O_NONBLOCK) is the FIFO itself.
            "open fifo follow: OK\n  fstat: fifo mode 644 size 0 same-inode yes\n  fstatat empty: fifo same-inode yes\n  readlinkat empty: ENOENT\n  fchownat empty: OK\n",
            "  reopen /proc/self/fd/N: OK fifo same-inode yes\n",
            // A socket cannot be reopened (ENXIO).
            "open sock follow: OK\n  fstat: sock",
            "  reopen /proc/self/fd/N: ENXIO\n",
            "open /dev/null follow: OK\n  fstat: chr mode 666",
            "  readlink /proc/self/fd/N: /dev/null\n  openat(fd, child): ENOTDIR\n  reopen /proc/self/fd/N: OK chr same-inode yes\n  fchdir: ENOTDIR\n",
            "linkat-empty flnk flnk2: OK\n  same-inode yes\n",
            // glibc's and musl's fchmodat(AT_SYMLINK_NOFOLLOW) open O_PATH.
            "chmod-nofollow fifo 0600: OK\n  mode now 600\n",
        ] {
            assert!(native.contains(want), "{kind:?}: no {want:?} in\n{native}");
        }
        // The kernel (as the program) gives the same.
        assert_eq!(run(kind, Some("allow-all"), SPECIAL), native, "{kind:?}");
        let want = as_brokered(kind, &native);
        assert_eq!(run(kind, Some("broker-all"), SPECIAL), want, "{kind:?}");
        // ci.lua decides on /dev/null itself: no metadata change there.
        let mut on_null = false;
        let want_ci: String = want
            .lines()
            .map(|l| {
                on_null = match l.strip_prefix("open ") {
                    Some(rest) => rest.starts_with("/dev/null "),
                    None => on_null && l.starts_with("  "),
                };
                if on_null && l == "  fchownat empty: OK" {
                    "  fchownat empty: EACCES\n".to_owned()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        assert_eq!(
            run(kind, Some("ci"), SPECIAL),
            want_ci,
            "{kind:?} under ci.lua"
        );
    }
}

/// A reopen through the stand-in's `/proc/self/fd/N`, and `fchownat` on
/// it, are requests on the FIFO or symlink itself: the log shows its path,
/// and the policy decides on it.
#[test]
fn uses_of_a_stand_in_are_requests_on_the_object() {
    // broker-all, asking for the resolved paths (which the log then shows).
    let policy = r#"
local master = require("libc_service").master
while true do
  master:receive()
  master:resolved()
  master:use_master_credentials()
end
"#;
    for (name, how) in [("fifo", "follow"), ("lnk", "nofollow")] {
        let tmp = tempdir();
        let root = canon(&tmp);
        fixture(&root);
        let log = root.join("log.jsonl");
        let o = Cmd::supervised(
            Policy::inline(policy),
            &[probe(Kind::Musl).to_str().unwrap(), "open", name, how],
        )
        .cwd(&root)
        .option("--log")
        .option(&log)
        .run();
        o.assert_code(0);
        assert!(o.stdout.contains(&format!("open {name} {how}: OK")), "{o}");
        let object = root.join(name);
        let object = object.to_str().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let on_object = |function: &str, how: &str| {
            text.lines().any(|l| {
                l.contains(&format!("\"function\":\"{function}\""))
                    && l.contains(how)
                    && l.contains(&format!("\"resolved\":[\"{object}\"]"))
            })
        };
        // The reopen through /proc/self/fd/N, fchownat(fd, "", AT_EMPTY_PATH).
        assert!(
            on_object("open", "/proc/self/fd/"),
            "no reopen of {object} in {text}"
        );
        assert!(
            on_object("chown", "\"path_dirfd\":3"),
            "no fchownat of {object} in {text}"
        );
        assert!(!text.contains("memfd"), "{text}");
    }
}

/// The policy decides first: an `O_PATH` open of a denied symlink, FIFO
/// or socket is EACCES (not EOPNOTSUPP), and of an allowed one through a
/// denied directory too.
#[test]
fn o_path_opens_of_denied_symlinks_fifos_and_sockets_are_denied_first() {
    for kind in [Kind::Musl, Kind::Glibc] {
        let tmp = tempdir();
        let root = canon(&tmp);
        fixture(&root);
        for name in ["lnk", "fifo", "sock"] {
            let how = if name == "lnk" { "nofollow" } else { "follow" };
            let o = Cmd::supervised(
                Policy::example("deny-path"),
                &[probe(kind).to_str().unwrap(), "open", name, how],
            )
            .cwd(&root)
            .env("DENY", root.join(name))
            .run();
            o.assert_clean();
            assert_eq!(o.stdout, format!("open {name} {how}: EACCES\n"), "{kind:?}");
        }
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn gnu_tar_extracts_as_root_under_broker_all_and_ci() {
    if !is_root() {
        eprintln!("skipped: GNU tar's O_PATH opens (fchmodat) happen as root");
        return;
    }
    let tmp = tempdir();
    let root = canon(&tmp);
    let src = root.join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    write_file(&src.join("a/x.sh"), "#!/bin/sh\n", 0o755);
    write_file(&src.join("a/b/secret"), "s\n", 0o600);
    write_file(&src.join("top"), "top\n", 0o640);
    symlink("a/x.sh", src.join("ln")).unwrap();
    // A FIFO: tar's fchmodat(AT_SYMLINK_NOFOLLOW) opens it O_PATH (a
    // stand-in under brokering).
    nix::unistd::mkfifo(
        &src.join("a/p"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    std::fs::set_permissions(
        src.join("a/b"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let archive = root.join("t.tar");
    tar_create(&src, &archive);
    let extract = |dir: &Path, policy: Option<&str>| {
        let (out, argv) = tar_x(&archive, dir);
        let cmd = match policy {
            Some(p) => Cmd::supervised(Policy::example(p), &argv).cwd(dir),
            None => Cmd::native(&argv),
        };
        let o = cmd.run();
        o.assert_code(0);
        assert!(!o.stderr.contains("tar:"), "{o}");
        tree_listing(&out)
    };
    let native = extract(&root.join("native"), None);
    assert!(native.contains("a/b dir 700"), "{native}");
    assert!(native.contains("a/p fifo 640"), "{native}");
    assert!(native.contains("ln symlink -> a/x.sh"), "{native}");
    for policy in ["broker-all", "ci"] {
        assert_eq!(
            extract(&root.join(policy), Some(policy)),
            native,
            "{policy}"
        );
    }
}

/// `tar -C SRC -cf ARCHIVE .`, natively.
pub(crate) fn tar_create(src: &Path, archive: &Path) {
    let (src, archive) = (src.to_str().unwrap(), archive.to_str().unwrap());
    Cmd::native(&["tar", "-C", src, "-cf", archive, "."])
        .run()
        .assert_clean();
}

/// `archive` copied into `dir` (ci.lua's /tmp is private: each extraction
/// has its own workspace) and the command extracting it into `dir/out`
/// (made): `(out, argv)`.
pub(crate) fn tar_x(archive: &Path, dir: &Path) -> (PathBuf, Vec<String>) {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let copy = dir.join("t.tar");
    std::fs::copy(archive, &copy).unwrap();
    let argv = [
        "tar",
        "-C",
        out.to_str().unwrap(),
        "-xf",
        copy.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    (out, argv)
}

#[test]
fn pythons_o_path_open_works_under_broker_all() {
    let python = "/usr/bin/python3";
    if !Path::new(python).exists() {
        eprintln!("skipped: no {python}");
        return;
    }
    let tmp = tempdir();
    let root = canon(&tmp);
    fixture(&root);
    let script = r#"
import os, sys
for p in ["d", "f", "lnk"]:
    fd = os.open(p, os.O_PATH)
    st = os.fstat(fd)
    print(p, "same inode", st.st_ino == os.stat(p).st_ino, oct(st.st_mode))
    print(" ", os.readlink("/proc/self/fd/%d" % fd).replace(os.getcwd(), "ROOT"))
    if os.path.isdir(p):
        print(" ", sorted(os.listdir(os.open(".", os.O_RDONLY, dir_fd=fd))))
        with open(os.open("child", os.O_RDONLY, dir_fd=fd)) as f:
            print(" ", f.read().strip())
    else:
        with open("/proc/self/fd/%d" % fd) as f:
            print(" ", f.read().strip())
    os.close(fd)
"#;
    let argv = [python, "-c", script];
    let native = Cmd::native(&argv).cwd(&root).run();
    native.assert_clean();
    assert!(native.stdout.contains("d same inode True"), "{native}");
    let brokered = Cmd::supervised(Policy::example("broker-all"), &argv)
        .cwd(&root)
        .run();
    brokered.assert_clean();
    assert_eq!(brokered.stdout, native.stdout);
}
