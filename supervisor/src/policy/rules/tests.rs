//! The matchers and the loader, without a program (the integration tests
//! in tests/it/rules.rs run real programs under rules policies).

use std::net::IpAddr;

use mlua::{Lua, Value};

use super::decide::{open_kinds_for_test as open_kinds, Answer};
use super::load::{self, expand};
use super::set::{Refusal, Ruleset};
use super::spec::{Action, Kind};
use crate::resolve::Last;

fn try_load(src: &str) -> Result<Ruleset, String> {
    let lua = Lua::new();
    let v: Value = lua.load(src).eval().expect("test table evaluates");
    match v {
        Value::Table(t) => load::load(&t),
        _ => panic!("not a table"),
    }
}

fn set(src: &str) -> Ruleset {
    try_load(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// (action, description) for a path.
fn path(s: &Ruleset, kind: Kind, p: &str) -> (Action, String) {
    let v = s.path(kind, p.as_bytes());
    (v.action, s.describe(&v))
}

fn allowed(s: &Ruleset, kind: Kind, p: &str) -> bool {
    s.path(kind, p.as_bytes()).action == Action::Allow
}

#[test]
fn the_most_specific_path_rule_wins() {
    let s = set(r#"{
        default = { read = "deny" },
        { "allow", "read", "/usr/" },
        { "deny",  "read", "/usr/lib/secret/" },
        { "allow", "read", "/usr/lib/secret/ok" },
        { "deny",  "read", "/usr/share/*.key" },
        { "allow", "read", "/usr/share/public.key" },
    }"#);
    assert_eq!(
        path(&s, Kind::Read, "/usr/bin/ls"),
        (Action::Allow, "rule 1 (allow read /usr/)".into())
    );
    assert_eq!(
        path(&s, Kind::Read, "/usr"),
        (Action::Allow, "rule 1 (allow read /usr/)".into()),
        "a trailing / covers the directory itself"
    );
    assert!(!allowed(&s, Kind::Read, "/usr/lib/secret"));
    assert!(!allowed(&s, Kind::Read, "/usr/lib/secret/a/b"));
    assert!(allowed(&s, Kind::Read, "/usr/lib/secret/ok"));
    assert!(
        !allowed(&s, Kind::Read, "/usr/lib/secret/ok/below"),
        "exact is exact"
    );
    assert!(!allowed(&s, Kind::Read, "/usr/share/a.key"));
    assert!(allowed(&s, Kind::Read, "/usr/share/a.key.txt"));
    assert!(
        allowed(&s, Kind::Read, "/usr/share/sub/a.key"),
        "* stays in its component"
    );
    assert!(allowed(&s, Kind::Read, "/usr/share/public.key"));
    assert_eq!(
        path(&s, Kind::Read, "/etc/passwd"),
        (Action::Deny, "default deny read".into())
    );
    assert_eq!(
        path(&s, Kind::Write, "/usr/bin/ls"),
        (Action::Deny, "default deny write".into()),
        "a missing default is deny"
    );
    // A path that only shares a prefix of bytes is not below.
    assert!(!allowed(&s, Kind::Read, "/usrx/y"));
}

#[test]
fn ties_go_to_the_denial() {
    let s = set(r#"{ { "allow", "read", "/a/" }, { "deny", "read", "/a/" },
                     { "allow", "connect", "10.0.0.0/8" }, { "deny", "connect", "10.0.0.0/8" } }"#);
    assert_eq!(
        path(&s, Kind::Read, "/a/b"),
        (Action::Deny, "rule 2 (deny read /a/)".into())
    );
    let v = s.addr(Kind::Connect, "10.1.1.1".parse().unwrap(), 80, &[]);
    assert_eq!(v.action, Action::Deny);
}

#[test]
fn globs() {
    let s = set(r#"{
        { "allow", "read", "/etc/*.conf" },
        { "allow", "read", "/srv/**/index.html" },
        { "allow", "read", "/home/*/.config/" },
        { "allow", "read", "/x/fil?" },
        { "allow", "read", "/y/a\\*b" },
        { "allow", "write", "pipe:*" },
        { "allow", "write", "/**" },
        { "deny",  "write", "/**/.git/" },
    }"#);
    assert!(allowed(&s, Kind::Read, "/etc/a.conf"));
    assert!(allowed(&s, Kind::Read, "/etc/.conf"));
    assert!(!allowed(&s, Kind::Read, "/etc/a.conf/x"));
    assert!(
        allowed(&s, Kind::Read, "/srv/index.html"),
        "** matches no component"
    );
    assert!(allowed(&s, Kind::Read, "/srv/a/b/c/index.html"));
    assert!(!allowed(&s, Kind::Read, "/srv/a/index.htm"));
    assert!(allowed(&s, Kind::Read, "/home/u/.config"));
    assert!(allowed(&s, Kind::Read, "/home/u/.config/x/y"));
    assert!(!allowed(&s, Kind::Read, "/home/u/v/.config"));
    assert!(allowed(&s, Kind::Read, "/x/file"));
    assert!(!allowed(&s, Kind::Read, "/x/files"));
    assert!(allowed(&s, Kind::Read, "/y/a*b"));
    assert!(!allowed(&s, Kind::Read, "/y/aXb"), "\\* is a literal *");
    assert!(allowed(&s, Kind::Write, "pipe:[1234]"));
    assert!(!allowed(&s, Kind::Write, "socket:[1234]"));
    assert!(allowed(&s, Kind::Write, "/a/b"));
    assert!(!allowed(&s, Kind::Write, "/a/.git/config"));
    assert!(!allowed(&s, Kind::Write, "/.git"));
}

#[test]
fn patterns_are_checked() {
    for (src, want) in [
        (r#"{ { "allow", "read", "usr/" } }"#, "must be absolute"),
        (r#"{ { "allow", "read", "/a/../b" } }"#, "no . or .."),
        (
            r#"{ { "allow", "read", "/a/b**/" } }"#,
            "** must be a whole component",
        ),
        (r#"{ { "allow", "raed", "/a" } }"#, "unknown kind \"raed\""),
        (r#"{ { "permit", "read", "/a" } }"#, "\"allow\" or \"deny\""),
        (
            r#"{ { "deny", "read", "/a", errno = "EWHAT" } }"#,
            "unknown errno name",
        ),
        (
            r#"{ { "deny", "read", "/a", errorno = "EIO" } }"#,
            "unknown field \"errorno\"",
        ),
        (r#"{ { "deny", "read", "/a", port = 80 } }"#, "take no port"),
        (
            r#"{ { "deny", "resolve", "a.example", errno = "EACCES" } }"#,
            "getaddrinfo error",
        ),
        (
            r#"{ { "allow", "bind", "name:a.example" } }"#,
            "for connect, not bind",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.0/33" } }"#,
            "bad prefix length",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = {90, 80} } }"#,
            "lo <= hi",
        ),
        (
            r#"{ { "allow", "connect", "example.org" } }"#,
            "not an address",
        ),
        (r#"{ { "allow", "resolve", "a.*.org" } }"#, "a name pattern"),
        (
            r#"{ { "allow", "read", "/a", how = "kernel" } }"#,
            "how must be",
        ),
        (
            r#"{ default = { raed = "allow" } }"#,
            "default: unknown kind",
        ),
        (r#"{ default = { read = "maybe" } }"#, "default.read"),
        (r#"{ errno = "ENOPE" }"#, "errno: unknown errno name"),
        (r#"{ defaults = {} }"#, "unknown field \"defaults\""),
        (r#"{ "allow" }"#, "rule 1: must be a table"),
        (
            r#"{ [1] = {"allow","read","/"}, [3] = {"allow","read","/"} }"#,
            "without holes",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_TEST_UNSET_VAR/x" } }"#,
            "is not set",
        ),
    ] {
        let e = try_load(src).expect_err(src);
        assert!(e.contains(want), "{src}: {e:?} does not say {want:?}");
    }
    assert!(try_load(r#"{ { "allow", "read", "/a/" } }"#).unwrap_err_or_ok());
}

trait OkCheck {
    fn unwrap_err_or_ok(self) -> bool;
}
impl OkCheck for Result<Ruleset, String> {
    fn unwrap_err_or_ok(self) -> bool {
        self.map_err(|e| panic!("{e}")).is_ok()
    }
}

#[test]
fn variables_are_expanded_and_must_be_set() {
    std::env::set_var("SUPERVISOR_RULES_TEST_DIR", "/opt/ws");
    std::env::set_var("SUPERVISOR_RULES_TEST_EMPTY", "");
    assert_eq!(
        expand("$SUPERVISOR_RULES_TEST_DIR/x/${SUPERVISOR_RULES_TEST_DIR}$$").unwrap(),
        "/opt/ws/x//opt/ws$"
    );
    assert!(expand("$SUPERVISOR_RULES_TEST_EMPTY/")
        .unwrap_err()
        .contains("is empty"));
    assert!(expand("${SUPERVISOR_RULES_TEST_DIR")
        .unwrap_err()
        .contains("unclosed"));
    assert!(expand("/a$/b").unwrap_err().contains("bad variable name"));
    let s = set(r#"{ { "allow", "write", "$SUPERVISOR_RULES_TEST_DIR/" } }"#);
    assert_eq!(
        path(&s, Kind::Write, "/opt/ws/a"),
        (Action::Allow, "rule 1 (allow write /opt/ws/)".into())
    );
}

#[test]
fn a_rule_on_a_symlinked_directory_also_covers_its_target() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().canonicalize().unwrap().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = d.path().canonicalize().unwrap().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let s = set(&format!(
        r#"{{ {{ "deny", "read", "{}/" }}, default = {{ read = "allow" }} }}"#,
        link.display()
    ));
    assert!(!allowed(
        &s,
        Kind::Read,
        &format!("{}/secret", real.display())
    ));
    assert!(!allowed(
        &s,
        Kind::Read,
        &format!("{}/secret", link.display())
    ));
    assert!(allowed(
        &s,
        Kind::Read,
        &format!("{}x/secret", real.display())
    ));
    // Missing components after an existing symlinked prefix too.
    let s = set(&format!(
        r#"{{ {{ "deny", "read", "{}/not/yet" }}, default = {{ read = "allow" }} }}"#,
        link.display()
    ));
    assert!(!allowed(
        &s,
        Kind::Read,
        &format!("{}/not/yet", real.display())
    ));
}

#[test]
fn addresses_longest_prefix_then_narrowest_ports() {
    let s = set(r#"{
        default = { connect = "deny", bind = "allow" },
        { "allow", "connect", "10.0.0.0/8" },
        { "deny",  "connect", "10.1.0.0/16" },
        { "allow", "connect", "10.1.0.0/16", port = 443 },
        { "allow", "connect", "10.1.2.3", port = {8000, 8999} },
        { "allow", "connect", "::1" },
        { "allow", "connect", "fd00::/8", port = 22 },
        { "deny",  "bind",    "*", port = {1, 1023} },
    }"#);
    let c = |a: &str, port| {
        let v = s.addr(Kind::Connect, a.parse::<IpAddr>().unwrap(), port, &[]);
        (v.action, s.describe(&v))
    };
    assert_eq!(
        c("10.9.9.9", 80),
        (Action::Allow, "rule 1 (allow connect 10.0.0.0/8)".into())
    );
    assert_eq!(c("10.1.9.9", 80).0, Action::Deny);
    assert_eq!(
        c("10.1.9.9", 443),
        (Action::Allow, "rule 3 (allow connect 10.1.0.0/16)".into())
    );
    assert_eq!(c("10.1.2.3", 8080).0, Action::Allow);
    assert_eq!(
        c("10.1.2.3", 9000).0,
        Action::Deny,
        "the /16 denial, out of the /32's ports"
    );
    assert_eq!(
        c("::ffff:10.9.9.9", 80).0,
        Action::Allow,
        "IPv4-mapped is IPv4"
    );
    assert_eq!(
        c("11.0.0.1", 80),
        (Action::Deny, "default deny connect".into())
    );
    assert_eq!(c("::1", 5).0, Action::Allow);
    assert_eq!(c("::2", 5).0, Action::Deny);
    assert_eq!(c("fd12::1", 22).0, Action::Allow);
    let s2 =
        set(r#"{ { "allow", "connect", "fe80::1%2" }, { "allow", "connect", "unix:\0abs" } }"#);
    let v = s2.addr(Kind::Connect, "fe80::1".parse().unwrap(), 1, &[]);
    assert_eq!(v.action, Action::Allow, "a scope is ignored");
    assert_eq!(
        s2.path(Kind::Connect, b"@abs").action,
        Action::Allow,
        "NUL: abstract"
    );
    assert_eq!(c("fd12::1", 23).0, Action::Deny);
    let b = |a: &str, port| {
        s.addr(Kind::Bind, a.parse::<IpAddr>().unwrap(), port, &[])
            .action
    };
    assert_eq!(b("0.0.0.0", 80), Action::Deny);
    assert_eq!(b("::", 80), Action::Deny, "* covers both families");
    assert_eq!(b("127.0.0.1", 8080), Action::Allow);
    assert_eq!(b("127.0.0.1", 0), Action::Allow);
}

#[test]
fn names_exact_suffix_and_any() {
    let s = set(r#"{
        { "allow", "resolve", "*.example.org" },
        { "deny",  "resolve", "ads.example.org", errno = "again" },
        { "allow", "resolve", "Example.COM." },
    }"#);
    let n = |x: &str| {
        let v = s.name(x);
        (v.action, v.refusal)
    };
    assert_eq!(n("www.example.org").0, Action::Allow);
    assert_eq!(n("a.b.example.org").0, Action::Allow);
    assert_eq!(
        n("example.org").0,
        Action::Deny,
        "*.suffix is below the suffix only"
    );
    assert_eq!(
        n("ads.example.org"),
        (Action::Deny, Refusal::Gai(crate::dns::GaiError::Again))
    );
    assert_eq!(n("x.ads.example.org").0, Action::Allow);
    assert_eq!(n("EXAMPLE.com.").0, Action::Allow);
    assert_eq!(
        n("notexample.org"),
        (Action::Deny, Refusal::Gai(crate::dns::GaiError::Noname))
    );
    let s = set(r#"{ { "allow", "resolve", "*" }, { "deny", "resolve", "*.bad" } }"#);
    assert_eq!(s.name("anything").action, Action::Allow);
    assert_eq!(s.name("x.bad").action, Action::Deny);
}

#[test]
fn learnt_names_are_as_specific_as_the_host_address() {
    let s = set(r#"{
        { "deny",  "connect", "10.0.0.0/8" },
        { "allow", "connect", "name:*.corp.example", port = 443 },
        { "deny",  "connect", "10.0.0.9" },
        { "deny",  "connect", "name:secret.corp.example" },
    }"#);
    let c = |a: &str, port, names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        s.addr(Kind::Connect, a.parse::<IpAddr>().unwrap(), port, &names)
    };
    let v = c("10.0.0.5", 443, &["git.corp.example"]);
    assert_eq!(
        (v.action, s.describe(&v)),
        (
            Action::Allow,
            "rule 2 (allow connect name:*.corp.example)".into()
        )
    );
    assert_eq!(
        c("10.0.0.5", 80, &["git.corp.example"]).action,
        Action::Deny,
        "port"
    );
    assert_eq!(
        c("10.0.0.5", 443, &[]).action,
        Action::Deny,
        "not learnt from a name"
    );
    assert_eq!(
        c("10.0.0.5", 443, &["git.other.example"]).action,
        Action::Deny
    );
    assert_eq!(
        c("10.0.0.9", 443, &["git.corp.example"]).action,
        Action::Deny,
        "tie: deny"
    );
    assert_eq!(
        c(
            "10.0.0.5",
            443,
            &["git.corp.example", "secret.corp.example"]
        )
        .action,
        Action::Deny,
        "the more specific name"
    );
}

#[test]
fn open_kinds_by_flags_and_existence() {
    use libc::*;
    let ex = Some(Last::Exists { mode: S_IFREG });
    let missing = Some(Last::Missing);
    assert_eq!(open_kinds(O_RDONLY, ex), [Kind::Read]);
    assert_eq!(open_kinds(O_WRONLY, ex), [Kind::Write]);
    assert_eq!(open_kinds(O_RDWR, ex), [Kind::Read, Kind::Write]);
    assert_eq!(
        open_kinds(O_RDONLY | O_TRUNC, ex),
        [Kind::Read, Kind::Write]
    );
    assert_eq!(open_kinds(O_WRONLY | O_CREAT, ex), [Kind::Write]);
    assert_eq!(open_kinds(O_WRONLY | O_CREAT, missing), [Kind::Create]);
    assert_eq!(open_kinds(O_WRONLY | O_CREAT | O_EXCL, ex), [Kind::Create]);
    assert_eq!(open_kinds(O_WRONLY | O_CREAT, None), [Kind::Create]);
    assert_eq!(open_kinds(O_PATH | O_WRONLY, ex), [Kind::Read]);
    assert_eq!(open_kinds(O_TMPFILE | O_RDWR, ex), [Kind::Create]);
}

#[test]
fn defaults_with_errno_and_how() {
    let s = set(r#"{
        errno = "EPERM",
        default = { read = { "allow", how = "slave" }, connect = { "deny", errno = "ENETUNREACH" },
                    resolve = { "deny", errno = "again" } },
        { "deny", "write", "/x/", errno = 30 },
    }"#);
    let v = s.path(Kind::Read, b"/a");
    assert_eq!((v.action, v.how), (Action::Allow, super::spec::How::Slave));
    assert_eq!(s.path(Kind::Write, b"/x/y").refusal, Refusal::Errno(30));
    assert_eq!(
        s.path(Kind::Write, b"/y").refusal,
        Refusal::Errno(libc::EPERM)
    );
    let v = s.addr(Kind::Connect, "1.2.3.4".parse().unwrap(), 1, &[]);
    assert_eq!(v.refusal, Refusal::Errno(libc::ENETUNREACH));
    assert_eq!(
        s.name("x").refusal,
        Refusal::Gai(crate::dns::GaiError::Again)
    );
    let s = set(r#"{ default = "allow" }"#);
    assert!(allowed(&s, Kind::Delete, "/anything"));
    let _ = Answer::Master;
}

#[test]
fn a_thousand_rules_still_decide_each_path() {
    // The right rule among a thousand.
    let mut src = String::from("{ default = { read = \"deny\" }, ");
    for i in 0..1000 {
        src.push_str(&format!("{{ \"allow\", \"read\", \"/opt/d{i}/\" }}, "));
    }
    src.push_str("{ \"deny\", \"read\", \"/opt/d7/secret\" } }");
    let s = set(&src);
    assert!(allowed(&s, Kind::Read, "/opt/d999/x"));
    assert!(!allowed(&s, Kind::Read, "/opt/d7/secret"));
    assert!(!allowed(&s, Kind::Read, "/opt/d1000/x"));
}

#[test]
fn glob_indexing_by_last_byte_misses_nothing() {
    use super::glob::{Glob, Seg};
    let g = |p: &str| Glob {
        segs: vec![Seg::Wild(p.as_bytes().into())],
        prefix: false,
    };
    assert_eq!(g("*.conf").last_byte(), Some(b'f'));
    assert_eq!(g("a*").last_byte(), None);
    assert_eq!(g("a?").last_byte(), None);
    assert_eq!(g("a\\*").last_byte(), Some(b'*'));
    assert_eq!(
        g("a\\\\*").last_byte(),
        None,
        "an escaped \\ then a wildcard"
    );
    assert_eq!(g("a\\").last_byte(), None);
    // Through the sets: every kind of glob still matches.
    let s = set(r#"{
        { "deny", "read", "/d/a\\\\*" },
        { "deny", "read", "/d/*.conf" },
        { "deny", "read", "/d/x\\*" },
        { "deny", "read", "/**/k?" },
        { "deny", "read", "/e/*/" },
        default = { read = "allow" },
    }"#);
    for p in [
        "/d/a\\zzz",
        "/d/b.conf",
        "/d/x*",
        "/q/r/ka",
        "/e/f",
        "/e/f/g",
    ] {
        assert!(!allowed(&s, Kind::Read, p), "{p}");
    }
    for p in ["/d/azzz", "/d/b.con", "/d/xy", "/q/r/k", "/e"] {
        assert!(allowed(&s, Kind::Read, p), "{p}");
    }
}
