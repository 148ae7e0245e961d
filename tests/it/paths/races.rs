//! Races: a thread swapping the path buffer or a symlink component never
//! gets a denied file changed or a name made in a denied directory.

use super::*;

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
    race_under_deny_path(kind, &root, (op, how), (&allowed, &denied), &b);
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
