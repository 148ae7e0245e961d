//! chown, utime, truncate, xattr: by path, through a symlink or a
//! directory descriptor, and on descriptors.

use super::*;

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

/// The same on a brokered `O_PATH` descriptor of a FIFO (a stand-in,
/// kernel::standin): the calls on the descriptor are EBADF, the path
/// calls through its /proc/self/fd link reach the FIFO, as natively.
#[test]
fn calls_on_a_brokered_o_path_descriptor_of_a_fifo_equal_native() {
    #[rustfmt::skip]
    let args = [
        "mknod", "p1", "fifo",
        "open-path", "p1",
        "fchmod", "666",
        "fchown", "1", "1",
        "fsetxattr", "user.p", "p",
        "futimens", "1",
        "chmod", "@", "604",
        "chown", "@", "3", "4",
        "utimensat", ".", "@", "200", "300", "0",
        "truncate", "@", "0",
        "setxattr", "@", "user.m", "m", "0",
    ];
    for kind in KINDS {
        let o = same_as_native(kind, "broker-all", &args, &["p1"]);
        assert_eq!(line(&o, "fchmod 666"), "EBADF", "{o}");
        assert!(line(&o, "kind p1").starts_with("p 0604 uid=3 gid=4"), "{o}");
    }
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
        let o = under_deny_path(&root, kind, &args, &secret);
        let lines = refused_lines(&o, kind, 13, 12);
        assert_eq!(lines[12], "truncate f 1: OK", "{o}");
        assert_eq!(state(&secret), before, "{kind:?}: the denied file changed");
    }
}

#[test]
fn metadata_slave_filters_rewrite_or_refuse() {
    let policy = with_slave_filters(
        r#"
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
"#,
    );
    for kind in KINDS {
        let (_t, root) = fixture();
        #[rustfmt::skip]
        let args = [
            "chown", "f", "1", "2",
            "truncate", "secret", "100",
            "utimensat", ".", "t", "1", "1", "0",
            "utimensat", ".", "d/g", "5", "6", "0",
            "setxattr", "f", "user.moved", "v", "0",
        ];
        let o = supervised_in(&root, policy.clone(), kind, &args);
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
        let o = supervised_in(&root, policy.clone(), kind, &args);
        assert_eq!(
            results(&o),
            ["EACCES", "EACCES", "EACCES", "EACCES", "OK", "OK", "OK", "OK"],
            "{kind:?}: {o}"
        );
        assert_eq!(state(&root.join("f")), before);
        let g = std::fs::metadata(root.join("d/g")).unwrap();
        assert_eq!((g.uid(), g.len(), g.mtime()), (1, 0, 1), "{kind:?}");
    }
}
