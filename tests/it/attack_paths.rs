//! Security suite, names: `..` escapes through a directory descriptor, a
//! directory moved during resolution, magic links (/proc/self/fd,
//! /dev/fd, /proc/thread-self/fd, /proc/self/cwd, /proc/self/root)
//! resolving to the program's objects, RENAME_EXCHANGE of an allowed and a
//! denied name, O_CREAT through a dangling symlink, the umask on brokered
//! creates.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::util::{attack, canon, counters, outcome, tempdir, write_file, Cmd, Kind, Policy};

/// Allows (brokers) what resolves under $JAIL, denies the rest.
const JAIL: &str = r#"local master = require("libc_service").master
local jail = os.getenv("JAIL")
while true do
  master:receive()
  local p = master:resolved()
  if p and (p == jail or p:sub(1, #jail + 1) == jail .. "/") then
    master:use_master_credentials()
  else
    master:send(-1, "EACCES")
  end
end
"#;

#[test]
fn dotdot_through_a_dirfd_does_not_escape() {
    let tmp = tempdir();
    let dir = canon(&tmp).join("a/b/c");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Cmd::supervised(
        Policy::example("deny-path"),
        &attack(&["dotdot", dir.to_str().unwrap()]),
    )
    .env("DENY", "/etc/shadow")
    .run();
    out.assert_clean();
    for what in ["dotdot", "dotdot-symlink", "dotdot-symlink-dotdot"] {
        assert_eq!(outcome(&out, what), "EACCES", "{what}: {out}");
    }
}

/// openat(dirfd of JAIL/a/b, "../../secret") while the test moves JAIL/a
/// out of the jail and back: when `..` leads out, the resolved path says
/// so and the policy denies; OUT/secret is never opened.
#[test]
fn a_directory_moved_during_resolution_does_not_escape() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let jail = root.join("jail");
    let out_dir = root.join("out");
    std::fs::create_dir_all(jail.join("a/b")).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    let secret = out_dir.join("secret");
    write_file(&secret, "outside\n", 0o644);
    let m = std::fs::metadata(&secret).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let (inside, outside, stop) = (jail.join("a"), out_dir.join("a"), stop.clone());
        std::thread::spawn(move || {
            let mut moves = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::rename(&inside, &outside).is_ok() {
                    moves += 1;
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    std::fs::rename(&outside, &inside).expect("move back");
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            moves
        })
    };
    let out = Cmd::supervised(
        Policy::inline(JAIL),
        &attack(&[
            "dir-race",
            jail.join("a/b").to_str().unwrap(),
            "../../secret",
            &m.dev().to_string(),
            &m.ino().to_string(),
            "2000",
        ]),
    )
    .env("JAIL", &jail)
    .run();
    stop.store(true, Ordering::Relaxed);
    let moves = mover.join().unwrap();
    out.assert_clean();
    let c = counters(&out, "dir-race:");
    assert_eq!(
        c["leaks"], 0,
        "the secret outside the jail was opened: {out}"
    );
    assert!(moves > 0, "the directory never moved: {out}");
    assert!(
        c["denied"] > 0,
        "`..` never led out while moved, no race: {out}"
    );
}

/// /proc/self/fd/N, /dev/fd/N, /proc/thread-self/fd/N and
/// /proc/self/cwd/NAME name the program's objects (its descriptor N, its
/// working directory), not the supervisor's, when the supervisor opens
/// them (broker-all).
#[test]
fn magic_links_resolve_to_the_programs_objects() {
    let tmp = tempdir();
    let dir = canon(&tmp);
    let file = dir.join("the-programs-file");
    write_file(&file, "mine\n", 0o644);
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&["magic", file.to_str().unwrap(), dir.to_str().unwrap()]),
    )
    .run();
    out.assert_clean();
    for what in [
        "/proc/self/fd",
        "/dev/fd",
        "/proc/thread-self/fd",
        "/proc/self/cwd",
    ] {
        assert_eq!(outcome(&out, what), "the program's file", "{what}: {out}");
    }
}

/// The program in a root of its own (an init script: mount namespace,
/// pivot_root): /proc/self/root/marker is the marker of its root, which
/// the supervisor's root lacks.
#[test]
fn proc_self_root_is_the_programs_root() {
    let tmp = tempdir();
    let r = canon(&tmp).join("newroot");
    let probe = crate::util::probes().attack.clone();
    let inside = r.join(probe.strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    write_file(&inside, "", 0o755);
    std::fs::create_dir_all(r.join("proc")).unwrap();
    std::fs::create_dir_all(r.join("old")).unwrap();
    write_file(&r.join("marker"), "inside the program's root\n", 0o644);
    std::fs::set_permissions(&r, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = format!(
        r#"local R = "{r}"
C.unshare(C.CLONE_NEWNS)
C.mount(nil, "/", nil, C.MS_REC | C.MS_PRIVATE)
C.mount(R, R, nil, C.MS_BIND)
C.mount("{probe}", R .. "{probe}", nil, C.MS_BIND)
C.mount("proc", R .. "/proc", "proc", 0)
C.pivot_root(R, R .. "/old")
C.chdir("/")
C.umount2("/old", C.MNT_DETACH)
"#,
        r = r.display(),
        probe = probe.display()
    );
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&["cat", "/proc/self/root/marker"]),
    )
    .init(&script)
    .run();
    out.assert_clean();
    assert_eq!(
        out.stdout, "cat /proc/self/root/marker: [inside the program's root\n]\n",
        "{out}"
    );
}

/// renameat2(A, B, RENAME_EXCHANGE) with B denied: refused, both intact.
#[test]
fn rename_exchange_of_an_allowed_and_a_denied_name_is_denied() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let (a, b) = (root.join("allowed"), root.join("denied"));
    write_file(&a, "A\n", 0o644);
    write_file(&b, "B\n", 0o644);
    for (x, y) in [(&a, &b), (&b, &a)] {
        let out = Cmd::supervised(
            Policy::example("deny-path"),
            &Kind::Musl.probe_argv(&[
                "renameat2",
                x.to_str().unwrap(),
                y.to_str().unwrap(),
                "exchange",
            ]),
        )
        .env("DENY", &b)
        .run();
        out.assert_clean();
        assert!(out.stdout.ends_with(": EACCES\n"), "{out}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "A\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "B\n");
    }
}

/// open(LINK, O_CREAT) where LINK is a dangling symlink to a denied name:
/// the policy sees the target, denies, nothing is created.  (Under
/// broker-all the same call creates the target: the link is followed.)
#[test]
fn o_creat_through_a_dangling_symlink_is_decided_on_the_target() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let target = root.join("target");
    let link = root.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let argv = Kind::Musl.probe_argv(&["write", link.to_str().unwrap(), "x"]);
    let out = Cmd::supervised(Policy::example("deny-path"), &argv)
        .env("DENY", &target)
        .run();
    out.assert_clean();
    assert!(out.stdout.ends_with(": EACCES\n"), "{out}");
    assert!(!target.exists(), "{out}");
    let out = Cmd::supervised(Policy::example("broker-all"), &argv).run();
    out.assert_clean();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "x", "{out}");
}

/// The program's umask (027) applies to what the supervisor creates for
/// it: open and creat with 0666 give 0640, mkdir 0777 gives 0750.
#[test]
fn the_umask_is_honoured_on_brokered_creates() {
    let tmp = tempdir();
    let dir = canon(&tmp);
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&["umask", dir.to_str().unwrap()]),
    )
    .run();
    out.assert_clean();
    assert_eq!(out.stdout, "open: 640\ncreat: 640\nmkdir: 750\n", "{out}");
    let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().mode() & 0o7777;
    assert_eq!(
        (mode("open"), mode("creat"), mode("dir")),
        (0o640, 0o640, 0o750)
    );
}
