//! A symlink's `O_PATH|O_NOFOLLOW` descriptor, brokered: the program gets
//! a stand-in (kernel::standin) that every trapped call with an empty path
//! maps back to the symlink the supervisor holds — `fstatat`/`statx`,
//! `readlinkat(fd, "")` (trapped for it: act::readlink), `fchownat`,
//! `utimensat`, `fchmodat2`, `linkat`, the `/proc/self/fd/N` stat and
//! `O_PATH` reopen.  What the kernel answers alone on the descriptor shows
//! the stand-in (a memfd), each such line asserted ([`as_brokered`]).
//! The opath probe (tests/probes/opath.c `symfd`), musl static and glibc
//! dynamic; GNU tar and Python.

use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use crate::opath::{probe, tar_create, tar_x};
use crate::util::{canon, tempdir, tree_listing, write_file, Cmd, Kind, Policy};

use super::KINDS;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// How the probe runs: natively, natively as root without capabilities
/// (as ci.lua runs a job: no capabilities, none regained by exec), or
/// under a policy.
#[derive(Clone, Copy)]
enum How {
    Native,
    NativeWithoutCaps,
    Policy(&'static str),
    /// Under a policy, the program without capabilities.
    PolicyWithoutCaps(&'static str),
}

/// Runs a command as root without capabilities, none regained by exec.
const WITHOUT_CAPS: &[&str] = &[
    "setpriv",
    "--securebits",
    "+noroot,+noroot_locked,+no_setuid_fixup",
    "--bounding-set",
    "-all",
    "--inh-caps",
    "-all",
    "--",
];

/// `symfd flnk flnk2 1234` (the owner given to the symlink: root changes
/// it), then a `readlinkat` relative to a directory's descriptor, in a
/// fresh `ROOT/f`, `ROOT/flnk -> f`.
fn run(kind: Kind, how: How) -> String {
    let tmp = tempdir();
    let root = canon(&tmp);
    write_file(&root.join("f"), "content\n", 0o644);
    symlink("f", root.join("flnk")).unwrap();
    let argv = [
        probe(kind).to_str().unwrap(),
        "symfd",
        "flnk",
        "flnk2",
        "1234",
        "readlinkat-in",
        ".",
        "flnk",
    ];
    let cmd = match how {
        How::Policy(p) => Cmd::supervised(Policy::example(p), &argv),
        How::Native => Cmd::native(&argv),
        How::NativeWithoutCaps => {
            Cmd::native(&WITHOUT_CAPS.iter().chain(&argv).collect::<Vec<_>>())
        }
        How::PolicyWithoutCaps(p) => Cmd::supervised(
            Policy::example(p),
            &WITHOUT_CAPS.iter().chain(&argv).collect::<Vec<_>>(),
        ),
    };
    let o = cmd.cwd(&root).run();
    o.assert_clean();
    o.stdout.replace(root.to_str().unwrap(), "ROOT")
}

/// `TMPFS_MAGIC`: a memfd's file system.
const TMPFS: &str = "1021994";

/// The native output as the brokered run gives it: what the kernel
/// answers alone on the stand-in (a memfd of mode 0, size 0, owned by the
/// supervisor, neither readable nor writable) instead of the symlink.
/// `fgetxattr` on it: `ENODATA` for a program with `CAP_DAC_OVERRIDE`
/// (mode 0 read past), `EACCES` without.
fn as_brokered(kind: Kind, native: &str, fgetxattr: &str) -> String {
    let me = format!("{}:{}", nix::unistd::geteuid(), nix::unistd::getegid());
    let memfd = format!("file mode 0 size 0 owner {me} same-inode no");
    native
        .lines()
        .map(|l| {
            let label = l.split(": ").next().unwrap();
            match label {
                // musl's fstat, and its fstatat(fd, "", AT_EMPTY_PATH), are
                // the fstat syscall (glibc's are newfstatat, trapped).
                "  fstat" | "  fstatat empty" | "    its fstatat empty" if kind == Kind::Musl => {
                    format!("{label}: {memfd}")
                }
                // getxattrat (Linux 6.13) is no request: its empty path
                // (AT_EMPTY_PATH) is the descriptor, the memfd.
                "  fgetxattr" | "  getxattrat empty" => format!("{label}: {fgetxattr}"),
                "  flistxattr" | "  lseek" => format!("{label}: OK"),
                "  fstatfs" => format!("{label}: type {TMPFS}"),
                "  fcntl getfl" => format!("{label}: not O_PATH"),
                "  readlink /proc/self/fd/N" => {
                    format!("{label}: /memfd:o_path stand-in (deleted)")
                }
                _ => l.to_owned(),
            }
        })
        .map(|l| l + "\n")
        .collect()
}

#[test]
fn calls_on_a_brokered_o_path_descriptor_of_a_symlink_equal_native_but_the_stand_ins_own() {
    if !is_root() {
        eprintln!("skipped: fchownat to another owner and linkat(AT_EMPTY_PATH) need root");
        return;
    }
    for kind in KINDS {
        let native = run(kind, How::Native);
        for want in [
            "symfd flnk: OK\n  fstat: symlink mode 777 size 1 owner 0:0 same-inode yes\n",
            "  fstatat empty nofollow: symlink mode 777 size 1 owner 0:0 same-inode yes\n",
            "  statx empty: symlink size 1 owner 0:0 same-inode yes\n",
            "  readlinkat empty: f\n  readlinkat empty 1 byte: 1 f\n  readlinkat empty 0 bytes: EINVAL\n  readlinkat empty bad buffer: EFAULT\n  readlinkat relative: ENOTDIR\n",
            "  fchownat empty: OK\n  fchownat no flag: ENOENT\n",
            "  utimensat empty: OK\n  utimensat empty nofollow: OK\n  utimensat null: EBADF\n",
            "  fchmodat2 empty: EOPNOTSUPP\n  fchmodat2 empty nofollow: EOPNOTSUPP\n",
            "  now: symlink mode 777 owner 1234:1234 mtime 1000000000\n",
            "  linkat empty: OK\n  new name: symlink mode 777 size 1 owner 1234:1234 same-inode yes\n",
            "  faccessat2 empty: OK\n  execveat empty: ELOOP\n  setxattrat empty: EBADF\n  getxattrat empty: EBADF\n",
            "  fgetxattr: EBADF\n  flistxattr: EBADF\n  fsetxattr: EBADF\n  fremovexattr: EBADF\n",
            "  fcntl getfl: O_PATH\n  fchdir: ENOTDIR\n  openat relative: ENOTDIR\n  read: EBADF\n  lseek: EBADF\n",
            "  readlink /proc/self/fd/N: ROOT/flnk\n",
            "  stat /proc/self/fd/N: symlink mode 777 size 1 owner 1234:1234 same-inode yes\n",
            "  reopen /proc/self/fd/N: ELOOP\n  reopen /proc/self/fd/N O_PATH: OK\n",
            "    its readlinkat empty: f\n",
            "readlinkat-in . flnk: f\n  readlinkat empty: ENOENT\n",
        ] {
            assert!(native.contains(want), "{kind:?}: no {want:?} in\n{native}");
        }
        // glibc's fchown is EBADF on O_PATH; musl's goes through
        // /proc/self/fd/N (a chown request on the symlink, brokered).
        let fchown = if kind == Kind::Musl { "OK" } else { "EBADF" };
        assert!(
            native.contains(&format!("  fchown: {fchown}\n")),
            "{native}"
        );
        assert_eq!(run(kind, How::Policy("allow-all")), native, "{kind:?}");
        let want = as_brokered(kind, &native, "ENODATA");
        assert_ne!(want, native);
        assert_eq!(run(kind, How::Policy("broker-all")), want, "{kind:?}");
        // ci.lua runs the job without capabilities: chown to another user
        // is EPERM there, natively too; linkat(AT_EMPTY_PATH) of the
        // program's own descriptor needs none (Linux 6.10).
        let native = run(kind, How::NativeWithoutCaps);
        assert!(native.contains("  fchownat empty: EPERM\n"), "{native}");
        assert!(native.contains("  linkat empty: OK\n"), "{native}");
        let want = as_brokered(kind, &native, "EACCES");
        assert_eq!(run(kind, How::Policy("ci")), want, "{kind:?} under ci.lua");
        // Acting as the program (chown request semantics): its missing
        // CAP_CHOWN is missing in the supervisor's acting thread too.
        assert_eq!(
            run(kind, How::PolicyWithoutCaps("broker-as-program")),
            want,
            "{kind:?} under broker-as-program"
        );
    }
}

/// Python's `os.open(link, os.O_PATH | os.O_NOFOLLOW)` and what Python
/// does with the descriptor: `os.stat(fd)` (glibc's fstat: newfstatat,
/// trapped), `os.readlink("", dir_fd=fd)` (readlinkat), and the calls
/// Python refuses on it as the kernel does (EBADF); `os.listxattr(fd)`
/// and the `/proc/self/fd` link show the stand-in.
#[test]
fn pythons_o_path_open_of_a_symlink_works_under_broker_all_and_ci() {
    let python = "/usr/bin/python3";
    if !Path::new(python).exists() {
        assert!(std::env::var_os("CI").is_none(), "no {python} under CI");
        eprintln!("skipped: no {python}");
        return;
    }
    let script = r#"
import os, stat
fd = os.open("lnk", os.O_PATH | os.O_NOFOLLOW)
st = os.stat(fd)
print("stat(fd)", stat.S_ISLNK(st.st_mode), st.st_size, st.st_ino == os.lstat("lnk").st_ino)
for what, f in [
    ("readlink dir_fd", lambda: os.readlink("", dir_fd=fd)),
    ("stat '' dir_fd", lambda: os.stat("", dir_fd=fd, follow_symlinks=False)),
    ("chown(fd)", lambda: os.chown(fd, 0, 0)),
    ("utime(fd)", lambda: os.utime(fd, (1, 1))),
    ("chmod(fd)", lambda: os.chmod(fd, 0o600)),
    ("fstatvfs", lambda: os.fstatvfs(fd) is not None),
    ("listxattr(fd)", lambda: os.listxattr(fd)),
    ("readlink /proc", lambda: os.readlink("/proc/self/fd/%d" % fd).replace(os.getcwd(), "ROOT")),
]:
    try:
        print(what, f())
    except OSError as e:
        print(what, type(e).__name__, e.errno)
"#;
    let run = |policy: Option<&str>| {
        let tmp = tempdir();
        let root = canon(&tmp);
        write_file(&root.join("f"), "content\n", 0o644);
        symlink("f", root.join("lnk")).unwrap();
        let argv = [python, "-c", script];
        let cmd = match policy {
            Some(p) => Cmd::supervised(Policy::example(p), &argv),
            None => Cmd::native(&argv),
        };
        let o = cmd.cwd(&root).run();
        o.assert_clean();
        o.stdout
    };
    let native = run(None);
    for want in [
        "stat(fd) True 1 True\n",
        "readlink dir_fd f\n",
        "chown(fd) OSError 9\n",
        "listxattr(fd) OSError 9\n",
        "readlink /proc ROOT/lnk\n",
    ] {
        assert!(native.contains(want), "no {want:?} in\n{native}");
    }
    let want = native
        .replace("listxattr(fd) OSError 9", "listxattr(fd) []")
        .replace(
            "readlink /proc ROOT/lnk",
            "readlink /proc /memfd:o_path stand-in (deleted)",
        );
    for policy in ["broker-all", "ci"] {
        assert_eq!(run(Some(policy)), want, "under {policy}");
    }
}

/// GNU tar extracting, as root, an archive of symlinks (to a file, to a
/// directory, dangling, absolute, a hard link of one) owned by another
/// user: the tree, the links' targets and owners equal native under
/// broker-all and ci.lua.
#[test]
fn gnu_tar_extracts_symlinks_as_root_under_broker_all_and_ci() {
    if !is_root() {
        eprintln!("skipped: tar gives symlinks their owners as root");
        return;
    }
    let tmp = tempdir();
    let root = canon(&tmp);
    let src = root.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    write_file(&src.join("d/f"), "f\n", 0o640);
    symlink("d/f", src.join("to-file")).unwrap();
    symlink("d", src.join("to-dir")).unwrap();
    symlink("nowhere", src.join("dangling")).unwrap();
    symlink("/etc/hostname", src.join("absolute")).unwrap();
    // linkat without AT_SYMLINK_FOLLOW: a second name of the symlink.
    std::fs::hard_link(src.join("to-file"), src.join("d/hard-of-link")).unwrap();
    for l in ["to-file", "to-dir", "dangling", "absolute"] {
        std::os::unix::fs::lchown(src.join(l), Some(1234), Some(1234)).unwrap();
    }
    let archive = root.join("t.tar");
    tar_create(&src, &archive);
    // (exit code, stderr with the directory replaced, the tree with the
    // symlinks' owners and link counts)
    let extract = |dir: &Path, how: How| {
        let (out, argv) = tar_x(&archive, dir);
        let cmd = match how {
            How::Policy(p) => Cmd::supervised(Policy::example(p), &argv).cwd(dir),
            How::Native => Cmd::native(&argv),
            How::PolicyWithoutCaps(_) => unreachable!("not for tar"),
            How::NativeWithoutCaps => {
                let mut v: Vec<String> = WITHOUT_CAPS.iter().map(|a| a.to_string()).collect();
                v.extend(argv);
                Cmd::native(&v)
            }
        };
        let o = cmd.run();
        let mut listing = tree_listing(&out);
        for l in [
            "to-file",
            "to-dir",
            "dangling",
            "absolute",
            "d/hard-of-link",
        ] {
            let md = std::fs::symlink_metadata(out.join(l)).unwrap();
            listing.push_str(&format!(
                "\n{l} owner {}:{} links {}",
                md.uid(),
                md.gid(),
                md.nlink()
            ));
        }
        (
            o.code,
            o.stderr.replace(dir.to_str().unwrap(), "DIR"),
            listing,
        )
    };
    let native = extract(&root.join("native"), How::Native);
    assert_eq!(native.0, 0, "{native:?}");
    assert!(native.2.contains("to-dir symlink -> d"), "{native:?}");
    assert!(native.2.contains("dangling owner 1234:1234"), "{native:?}");
    let broker = extract(&root.join("broker-all"), How::Policy("broker-all"));
    assert_eq!(broker, native);
    // ci.lua runs the job without capabilities: tar cannot give the links
    // their owners, natively either (EPERM, exit 2), the rest is the same.
    let native = extract(&root.join("native-nocaps"), How::NativeWithoutCaps);
    assert_eq!(native.0, 2, "{native:?}");
    assert!(
        native.1.contains("./dangling: Cannot change ownership"),
        "{native:?}"
    );
    let ci = extract(&root.join("ci"), How::Policy("ci"));
    assert_eq!(ci, native);
}

/// The filter traps `readlinkat` only with a descriptor (not `AT_FDCWD`,
/// as libc passes it): in the log, a path relative to a directory's
/// descriptor is the kernel's (CONTINUE, not a request), the empty path
/// the supervisor's, and `readlinkat(AT_FDCWD, …)` never appears.
#[test]
fn readlinkat_is_trapped_only_with_a_descriptor() {
    for kind in KINDS {
        let tmp = tempdir();
        let root = canon(&tmp);
        write_file(&root.join("f"), "content\n", 0o644);
        symlink("f", root.join("flnk")).unwrap();
        let argv = [probe(kind).to_str().unwrap(), "readlinkat-in", ".", "flnk"];
        let native = Cmd::native(&argv).cwd(&root).run();
        native.assert_clean();
        assert_eq!(
            native.stdout,
            "readlinkat-in . flnk: f\n  readlinkat empty: ENOENT\n  readlinkat AT_FDCWD: OK\n"
        );
        let log = root.join("log.jsonl");
        let o = Cmd::supervised(Policy::example("broker-all"), &argv)
            .cwd(&root)
            .option("--log")
            .option(&log)
            .run();
        o.assert_clean();
        assert_eq!(o.stdout, native.stdout, "{kind:?}");
        let text = std::fs::read_to_string(&log).unwrap();
        let records: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("\"syscall\":\"readlinkat\""))
            .collect();
        assert_eq!(records.len(), 2, "{kind:?}: {records:#?}");
        assert!(
            records[0].contains("readlink with a path, not a request")
                && records[0].contains("\"outcome\":\"continue\""),
            "{kind:?}: {}",
            records[0]
        );
        assert!(
            records[1].contains("descriptor readlink")
                && records[1].contains("\"errno\":\"ENOENT\""),
            "{kind:?}: {}",
            records[1]
        );
    }
}
