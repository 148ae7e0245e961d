//! chmod, fchmodat, fchmodat2 (and `fchmodat(AT_SYMLINK_NOFOLLOW)`).

use super::*;

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
        #[rustfmt::skip]
        let args = [
            "chmod", "secret", "777",
            "chmod", "sl", "777",
            "fchmodat", ".", "secret", "4777",
            "fchmodat2", ".", "secret", "777", "nofollow",
            "fchmodat2", "dl", "../secret", "777", "0",
            "chmod", "f", "640",
        ];
        let o = under_deny_path(&root, kind, &args, &secret);
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

#[test]
fn chmod_slave_filter_strips_setuid_bits() {
    let policy = with_slave_filters(
        r#"
svc.slave.chmod = function(real_chmod, path, mode)
  return real_chmod(path, mode & ~0x0c00)   -- no set-user/group-ID bits
end
"#,
    );
    for kind in KINDS {
        let (_t, root) = fixture();
        let args = ["chmod", "f", "6755", "fchmodat2", "d", "g", "2711", "0"];
        let o = supervised_in(&root, policy.clone(), kind, &args);
        assert_eq!(line(&o, "chmod f 6755"), "OK", "{o}");
        assert_eq!(mode(&root.join("f")), 0o755, "{kind:?}: {o}");
        assert_eq!(mode(&root.join("d/g")), 0o711, "{kind:?}: {o}");
    }
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
        let o = supervised_in(&root, policy.clone(), kind, &all);
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
