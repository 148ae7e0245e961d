use super::*;

fn set(v: &[&str]) -> BTreeSet<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn ctx() -> Context {
    Context {
        cmd: "job".into(),
        base: None,
        home: Some(b"/home/u".to_vec()),
        path_dirs: vec![b"/usr/local/bin".to_vec(), b"/usr/bin".to_vec()],
        tmpdir: None,
    }
}

fn pats_in(seen: &Seen, k: Kind, ctx: &Context) -> Vec<String> {
    kind_rules(seen, k, ctx)
        .rules
        .into_keys()
        .map(|p| String::from_utf8(p).unwrap())
        .collect()
}

fn pats(seen: &Seen, k: Kind) -> Vec<String> {
    pats_in(seen, k, &ctx())
}

/// The policy compiles as Lua, and its rules load (`rules.run` replaced
/// by a function that checks the table through the real loader).
fn loads(p: &str) {
    mlua::Lua::new()
        .load(p)
        .into_function()
        .expect("the policy compiles");
}

#[test]
fn reads_fold_into_deep_directories_only() {
    let mut s = Seen::default();
    for p in [
        "/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
        "/usr/lib/gcc/x86_64-linux-gnu/12/crtbegin.o",
        "/usr/lib/gcc/x86_64-linux-gnu/12/crtend.o",
        "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a",
        "/etc/passwd",
        "/etc/group",
        "/etc/hosts",
        "/etc/ld.so.cache",
        "/home/u/.bashrc",
        "/home/u/.profile",
        "/home/u/a",
        "/home/u/b",
    ] {
        s.path(Kind::Read, p.as_bytes());
    }
    let r = pats(&s, Kind::Read);
    assert!(
        r.contains(&"/usr/lib/gcc/x86_64-linux-gnu/12/".to_string()),
        "{r:?}"
    );
    // Shallow directories stay exact: /etc/ and $HOME are never opened wide.
    assert!(r.contains(&"/etc/passwd".to_string()), "{r:?}");
    assert!(!r.iter().any(|p| p == "/etc/" || p == "/home/u/"), "{r:?}");
    assert_eq!(r.len(), 1 + 4 + 4, "{r:?}");
}

#[test]
fn never_folds_into_home_or_above_it() {
    // A $HOME deep enough to fold (a temporary one, as in a CI job).
    let c = Context {
        home: Some(b"/tmp/x/home".to_vec()),
        ..ctx()
    };
    let mut s = Seen::default();
    for f in ["a", "b", "c", "d", "e"] {
        s.path(Kind::Read, format!("/tmp/x/home/{f}").as_bytes());
    }
    let r = pats_in(&s, Kind::Read, &c);
    assert_eq!(r.len(), 5, "{r:?}");
    assert!(!r.iter().any(|p| p.ends_with('/')), "{r:?}");
}

#[test]
fn folding_climbs_but_never_into_hidden_directories() {
    let mut s = Seen::default();
    for d in ["a", "b", "c", "d"] {
        for f in ["1", "2", "3", "4"] {
            s.path(Kind::Read, format!("/opt/tool/share/{d}/{f}").as_bytes());
        }
    }
    for f in ["1", "2", "3", "4"] {
        s.path(Kind::Read, format!("/opt/x/.cache/{f}").as_bytes());
    }
    let r = pats(&s, Kind::Read);
    assert!(r.contains(&"/opt/tool/share/".to_string()), "{r:?}");
    assert!(
        !r.iter().any(|p| p.starts_with("/opt/tool/share/a")),
        "{r:?}"
    );
    assert!(r.contains(&"/opt/x/.cache/1".to_string()), "{r:?}");
    assert!(!r.iter().any(|p| p.ends_with(".cache/")), "{r:?}");
}

#[test]
fn secrets_are_never_learnt() {
    let mut s = Seen::default();
    for f in ["config", "known_hosts", "id_rsa", "id_ed25519"] {
        s.path(Kind::Read, format!("/home/u/.ssh/{f}").as_bytes());
    }
    for p in [
        "/home/u/.netrc",
        "/home/u/.config/gh/hosts.yml",
        "/etc/shadow",
        "/etc/ssh/ssh_host_ed25519_key",
        "/proc/12/environ",
        "/srv/deploy/.aws/credentials",
    ] {
        s.path(Kind::Read, p.as_bytes());
    }
    s.path(Kind::Read, b"/etc/ssh/ssh_host_ed25519_key.pub");
    // Agents holding keys and root-equivalent sockets: never connected to.
    for sock in [
        "/tmp/ssh-XXXXa1b2/agent.1234",
        "/run/user/1000/gnupg/S.gpg-agent",
        "/run/docker.sock",
    ] {
        s.address(Kind::Connect, format!("unix:{sock}"), None, "connect_unix");
    }
    let kr = kind_rules(&s, Kind::Read, &ctx());
    let r: Vec<_> = kr
        .rules
        .keys()
        .map(|p| String::from_utf8_lossy(p))
        .collect();
    assert_eq!(r, ["/etc/ssh/ssh_host_ed25519_key.pub"]);
    assert_eq!(kr.refused.len(), 10);
    let p = policy(&s, &ctx());
    assert!(p.contains("Never learnt"), "{p}");
    assert!(!p.contains(r#""allow", "connect""#), "{p}");
    assert!(p.contains("--   connect /run/docker.sock"), "{p}");
    assert!(
        p.contains(r#"{ "deny", "connect", "unix:/home/u/.gnupg/" },"#),
        "{p}"
    );
    assert!(p.contains("--   read /home/u/.ssh/id_rsa"), "{p}");
    // Without a base, the secrets are denied by rule as well.
    assert!(
        p.contains(r#"{ "deny", { "read", "write", "create", "delete" }, "/home/u/.ssh/" },"#),
        "{p}"
    );
}

#[test]
fn the_root_is_the_root_alone() {
    let mut s = Seen::default();
    s.note(Kind::Read, b"/", "stat", false);
    s.note(Kind::Read, b"/home/u", "stat", false);
    let p = policy(&s, &ctx());
    assert!(
        p.lines()
            .any(|l| l == r#"  { "allow", "read", "/", exact = true },"#),
        "{p}"
    );
    // $HOME itself only: no trailing /.
    assert!(
        p.lines()
            .any(|l| l == r#"  { "allow", "read", "/home/u" },"#),
        "{p}"
    );
    assert!(
        p.contains("$HOME itself (stat, listing), nothing in it"),
        "{p}"
    );
    assert!(
        !p.lines()
            .any(|l| l.contains(r#""allow", "read", "/home/u/""#)),
        "{p}"
    );
    loads(&p);
}

#[test]
fn path_lookups_stay_exact_and_never_fold() {
    let mut s = Seen::default();
    // Many commands looked up in PATH, found in /usr/bin only.
    for cmd in ["make", "cc", "ld", "as", "ar", "sed"] {
        s.note(
            Kind::Read,
            format!("/usr/local/bin/{cmd}").as_bytes(),
            "stat",
            true,
        );
        s.note(
            Kind::Read,
            format!("/opt/sdk/tools/bin/{cmd}").as_bytes(),
            "stat",
            true,
        );
        s.note(
            Kind::Read,
            format!("/usr/bin/{cmd}").as_bytes(),
            "stat",
            false,
        );
    }
    let r = pats(&s, Kind::Read);
    assert!(!r.iter().any(|p| p.ends_with('/')), "{r:?}");
    assert_eq!(r.len(), 18, "{r:?}");
    let p = policy(&s, &ctx());
    assert!(p.contains("a PATH lookup of make"), "{p}");
    assert!(p.contains("not found there: a probe"), "{p}");
}

#[test]
fn what_the_program_made_folds_into_its_directory() {
    let mut s = Seen {
        made_dirs: set(&["/w/build", "/w/build/obj", "/tmp/tmpk3j_9x2q"]),
        ..Default::default()
    };
    s.path(Kind::Create, b"/w/build");
    s.path(Kind::Create, b"/w/build/obj");
    s.path(Kind::Create, b"/w/build/obj/a.o");
    s.path(Kind::Write, b"/w/build/obj/a.o");
    s.path(Kind::Write, b"/w/main");
    s.path(Kind::Create, b"/w/main");
    // mkdtemp: its random name becomes a glob.
    s.path(Kind::Create, b"/tmp/tmpk3j_9x2q");
    s.path(Kind::Create, b"/tmp/tmpk3j_9x2q/f");
    assert_eq!(
        pats(&s, Kind::Create),
        ["/tmp/tmp*/", "/w/build/", "/w/main"]
    );
    assert_eq!(pats(&s, Kind::Write), ["/w/build/", "/w/main"]);
}

#[test]
fn temporary_names_glob_their_random_part() {
    for (name, glob) in [
        ("/tmp/ccAb12Cd.s", Some("/tmp/cc*.s")),
        ("/tmp/ccw1ycL2.cdtor.o", Some("/tmp/cc*.cdtor.o")),
        ("/tmp/cczzzzzz.o", Some("/tmp/cc*.o")),
        // mktemp(1)
        ("/tmp/tmp.G3Wv7aB9xQ", Some("/tmp/tmp.*")),
        ("/tmp/build.XyZ123", Some("/tmp/build.*")),
        // Python's tempfile, all lowercase too
        ("/tmp/tmpk3j_9x2q", Some("/tmp/tmp*")),
        ("/tmp/tmpabcdefgh.txt", Some("/tmp/tmp*.txt")),
        ("/tmp/ab12CD", Some("/tmp/*")),
        ("/tmp/settings.ini", Some("/tmp/*.ini")),
        // Words are not random.
        ("/tmp/keep.txt", None),
        ("/tmp/output.log", None),
        ("/tmp/x.lock", None),
        ("/tmp/tmp", None),
    ] {
        let g = temp_glob(name.as_bytes(), true).map(|g| String::from_utf8(g).unwrap());
        assert_eq!(g.as_deref(), glob, "{name}");
    }
    // Python's names may be all lowercase: 8 of them count in /tmp only.
    assert_eq!(temp_glob(b"/tmp/abcdefgh", true), Some(b"/tmp/*".to_vec()));
    assert_eq!(temp_glob(b"/w/abcdefgh", false), None);
    // mktemp(1)'s ten characters may all be lowercase letters.
    assert_eq!(
        temp_glob(b"/tmp/tmp.abcdefghij", true),
        Some(b"/tmp/tmp.*".to_vec())
    );
    assert_eq!(
        temp_glob(b"/w/out/tmp.abcdefghij", false),
        Some(b"/w/out/tmp.*".to_vec())
    );
    assert_eq!(
        temp_glob(b"/w/job-k3j9x2qa", false),
        Some(b"/w/job-*".to_vec())
    );
}

#[test]
fn temporary_files_become_globs_where_they_are_temporary() {
    let mut s = Seen::default();
    let all = [
        "/tmp/ccAb12Cd.s",
        "/tmp/tmp.G3Wv7aB9xQ",
        "/tmp/keep.txt",
        "/w/objAb12Cd.o",
        "/w/gone.Ab12Cd",
    ];
    for p in all {
        s.path(Kind::Create, p.as_bytes());
        s.created.insert(p.as_bytes().to_vec());
    }
    // Deleted: the one in the workspace.
    s.deleted.insert(b"/w/gone.Ab12Cd".to_vec());
    // In /tmp kept or not; elsewhere only if deleted in the run.
    assert_eq!(
        pats(&s, Kind::Create),
        [
            "/tmp/cc*.s",
            "/tmp/keep.txt",
            "/tmp/tmp.*",
            "/w/gone.*",
            "/w/objAb12Cd.o"
        ]
    );
}

#[test]
fn numbers_that_change_become_stars() {
    assert_eq!(unnumber(b"/proc/1234/status"), b"/proc/*/status");
    assert_eq!(unnumber(b"/proc/12/task/13/stat"), b"/proc/*/task/*/stat");
    assert_eq!(
        unnumber(b"/proc/sys/kernel/ngroups_max"),
        b"/proc/sys/kernel/ngroups_max"
    );
    assert_eq!(unnumber(b"/usr/1234"), b"/usr/1234");
    assert_eq!(unnumber(b"pipe:[98765]"), b"pipe:*");
    assert_eq!(unnumber(b"socket:[1]"), b"socket:*");
    assert_eq!(unnumber(b"/dev/pts/3"), b"/dev/pts/*");
}

#[test]
fn paths_are_literal_patterns() {
    let mut s = Seen::default();
    s.path(Kind::Read, b"/srv/a*b?c$HOME\\d");
    // A temporary file with a special character before its random part.
    s.path(Kind::Write, b"/tmp/x$ccAb12Cd.s");
    s.created.insert(b"/tmp/x$ccAb12Cd.s".to_vec());
    s.deleted.insert(b"/tmp/x$ccAb12Cd.s".to_vec());
    s.address(
        Kind::Connect,
        "unix:/run/a*.sock".into(),
        None,
        "connect_unix",
    );
    assert_eq!(pats(&s, Kind::Read), [r"/srv/a\*b\?c$$HOME\\d"]);
    assert_eq!(pats(&s, Kind::Write), ["/tmp/x$$cc*.s"]);
    assert!(policy(&s, &ctx()).contains(r#""unix:/run/a\\*.sock""#));
}

#[test]
fn lua_strings_keep_every_byte() {
    assert_eq!(lua_str(b"/a\"b\\c"), r#""/a\"b\\c""#);
    assert_eq!(lua_str(b"/x\xff1\n"), r#""/x\2551\n""#);
}

#[test]
fn every_rule_says_why() {
    let mut s = Seen::default();
    for f in ["a", "b", "c", "d"] {
        s.note(
            Kind::Read,
            format!("/opt/t/lib/{f}").as_bytes(),
            "open",
            false,
        );
    }
    s.note(Kind::Read, b"/opt/t/lib/a", "stat", false);
    let p = policy(&s, &ctx());
    assert!(
        p.contains(
            "  -- open ×4, stat ×1 on 4 paths: /opt/t/lib/a, /opt/t/lib/b, /opt/t/lib/c, …\n"
        ),
        "{p}"
    );
    assert!(
        p.contains("folded: 4 existing entries read below it"),
        "{p}"
    );
}

#[test]
fn the_whole_policy() {
    let mut s = Seen::default();
    s.path(Kind::Read, b"/etc/hosts");
    s.address(
        Kind::Connect,
        "127.0.0.1".into(),
        Some(8080),
        "connect_inet",
    );
    s.address(
        Kind::Connect,
        "unix:/run/x.sock".into(),
        None,
        "connect_unix",
    );
    s.address(Kind::Bind, "::1".into(), Some(0), "bind_inet6");
    s.name("example.org");
    let p = policy(
        &s,
        &Context {
            cmd: "make test".into(),
            ..ctx()
        },
    );
    assert!(
        p.starts_with("-- Learnt by `supervisor learn` from: make test\n"),
        "{p}"
    );
    for line in [
        "local rules = require \"rules\"",
        "return rules.run {",
        "  { \"allow\", \"read\", \"/etc/hosts\" },",
        "  { \"allow\", \"connect\", \"127.0.0.1\", port = 8080 },",
        "  { \"allow\", \"connect\", \"unix:/run/x.sock\" },",
        "  { \"allow\", \"bind\", \"::1\", port = 0 },",
        "  { \"allow\", \"resolve\", \"example.org\" },",
        "  -- getaddrinfo ×1",
    ] {
        assert!(p.lines().any(|l| l == line), "{line} not in\n{p}");
    }
    assert!(p.ends_with("}\n"));
    loads(&p);
}

#[test]
fn a_policy_on_a_base_extends_it() {
    let mut s = Seen::default();
    s.note(Kind::Write, b"/opt/out/x", "open", false);
    s.refused_by_base.insert(
        (
            Kind::Read,
            b"/home/u/.ssh/id_rsa".to_vec(),
            "rule 5 (deny read /home/u/.ssh/)".into(),
        ),
        Why::default(),
    );
    let c = Context {
        base: Some("ci".into()),
        ..ctx()
    };
    let p = policy(&s, &c);
    assert!(p.contains("return rules.extend(\"ci\", {\n"), "{p}");
    assert!(p.ends_with("})\n"), "{p}");
    assert!(
        p.contains("  { \"allow\", \"write\", \"/opt/out/x\" },"),
        "{p}"
    );
    assert!(
        p.contains("Denied by ci's own rules, so never learnt"),
        "{p}"
    );
    assert!(!p.contains("\"deny\""), "the base has its own denials: {p}");
    loads(&p);
    // Nothing learnt: still a policy.
    let p = policy(&Seen::default(), &c);
    assert!(
        p.contains("return rules.extend(\"ci\", {\n  -- nothing"),
        "{p}"
    );
    loads(&p);
}
