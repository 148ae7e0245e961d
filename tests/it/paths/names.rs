//! The calls making a name: symlink, link, mknod.

use super::*;

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
        let o = supervised_in(&root, policy, kind, &args);
        let lines = refused_lines(&o, kind, 12, 10);
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
    let policy = with_slave_filters(
        r#"
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
"#,
    );
    for kind in KINDS {
        let (_t, root) = fixture();
        #[rustfmt::skip]
        let args = [
            "symlink", "/etc/passwd", "abs",
            "symlink", "f", "rel",
            "link", "f", "h",
            "mknod", "fifo", "fifo",
            "kind", "abs",
            "kind", "rel",
            "kind", "h",
            "kind", "d/h",
            "kind", "fifo",
        ];
        let o = supervised_in(&root, policy.clone(), kind, &args);
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
        let o = supervised_in(&root, policy.clone(), kind, &args);
        assert_eq!(
            results(&o),
            // f is not writable: no second name for it, even in d/.
            ["EACCES", "OK", "EACCES", "OK", "EACCES", "EACCES", "OK"],
            "{kind:?}: {o}"
        );
        assert!(root.join("d/s").is_symlink() && root.join("d/h2").exists());
        assert!(!root.join("s").exists() && !root.join("d/h").exists());
    }
}
