//! The matchers and the builder, without Lua and without a program (the
//! supervisor's policy/rules/tests.rs checks reading Lua tables; the
//! integration tests in tests/it/rules.rs run real programs under rules
//! policies).

use std::net::IpAddr;

use libc_service::GaiError;

use super::glob::{Glob, Seg};
use super::*;

/// A rule on `kinds` with nothing but its action and pattern.
fn rule(action: Action, kinds: &[Kind], pattern: &str) -> RuleSpec {
    RuleSpec {
        action,
        kinds: kinds.to_vec(),
        pattern: pattern.to_owned(),
        refusal: None,
        how: How::Master,
        ports: None,
        exact: false,
    }
}

fn allow(kind: Kind, pattern: &str) -> RuleSpec {
    rule(Action::Allow, &[kind], pattern)
}

fn deny(kind: Kind, pattern: &str) -> RuleSpec {
    rule(Action::Deny, &[kind], pattern)
}

/// `port = {lo, hi}` (`port = p`: `ports(p, p)`).
fn ports(mut r: RuleSpec, lo: u16, hi: u16) -> RuleSpec {
    r.ports = Some(port_range(lo, hi).unwrap());
    r
}

fn refusal(mut r: RuleSpec, refusal: Refusal) -> RuleSpec {
    r.refusal = Some(refusal);
    r
}

fn fallback(action: Action) -> Fallback {
    Fallback {
        action,
        refusal: None,
        how: How::Master,
    }
}

fn try_build(defaults: &[(Kind, Action)], rules: Vec<RuleSpec>) -> Result<Ruleset, Error> {
    let mut b = RulesetBuilder::new();
    for &(k, a) in defaults {
        b.default_for(k, fallback(a))?;
    }
    for r in rules {
        b.rule(r)?;
    }
    Ok(b.build())
}

fn set(defaults: &[(Kind, Action)], rules: Vec<RuleSpec>) -> Ruleset {
    try_build(defaults, rules).unwrap_or_else(|e| panic!("{e}"))
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
    let s = set(
        &[(Kind::Read, Action::Deny)],
        vec![
            allow(Kind::Read, "/usr/"),
            deny(Kind::Read, "/usr/lib/secret/"),
            allow(Kind::Read, "/usr/lib/secret/ok"),
            deny(Kind::Read, "/usr/share/*.key"),
            allow(Kind::Read, "/usr/share/public.key"),
        ],
    );
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
    let s = set(
        &[],
        vec![
            allow(Kind::Read, "/a/"),
            deny(Kind::Read, "/a/"),
            allow(Kind::Connect, "10.0.0.0/8"),
            deny(Kind::Connect, "10.0.0.0/8"),
        ],
    );
    assert_eq!(
        path(&s, Kind::Read, "/a/b"),
        (Action::Deny, "rule 2 (deny read /a/)".into())
    );
    let v = s.addr(Kind::Connect, "10.1.1.1".parse().unwrap(), 80, &[]);
    assert_eq!(v.action, Action::Deny);
}

#[test]
fn globs() {
    let s = set(
        &[],
        vec![
            allow(Kind::Read, "/etc/*.conf"),
            allow(Kind::Read, "/srv/**/index.html"),
            allow(Kind::Read, "/home/*/.config/"),
            allow(Kind::Read, "/x/fil?"),
            allow(Kind::Read, "/y/a\\*b"),
            allow(Kind::Write, "pipe:*"),
            allow(Kind::Write, "/**"),
            deny(Kind::Write, "/**/.git/"),
        ],
    );
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
    let c = Kind::Connect;
    for (r, want) in [
        (allow(Kind::Read, "usr/"), "must be absolute"),
        (allow(Kind::Read, "/a/../b"), "no . or .."),
        (allow(Kind::Read, "/a/b**/"), "** must be a whole component"),
        (ports(deny(Kind::Read, "/a"), 80, 80), "take no port"),
        (
            refusal(deny(Kind::Resolve, "a.example"), Refusal::Errno(1)),
            "getaddrinfo error",
        ),
        (
            refusal(deny(Kind::Read, "/a"), Refusal::Gai(GaiError::Again)),
            "errno: a read rule takes an errno",
        ),
        (
            refusal(
                rule(Action::Deny, &[Kind::Read, Kind::Resolve], "/a"),
                Refusal::Errno(1),
            ),
            "errno: resolve takes a getaddrinfo error",
        ),
        (rule(Action::Allow, &[], "/a"), "an empty list of kinds"),
        (allow(Kind::Bind, "name:a.example"), "for connect, not bind"),
        (allow(c, "10.0.0.0/33"), "bad prefix length"),
        (allow(c, "::ffff:10.0.0.0/80"), "/96 or longer"),
        (allow(c, "example.org"), "not an address"),
        (allow(Kind::Resolve, "a.*.org"), "a name pattern"),
    ] {
        let what = format!("{r:?}");
        let e = try_build(&[], vec![r]).expect_err(&what).to_string();
        assert!(e.contains(want), "{what}: {e:?} does not say {want:?}");
    }
    assert_eq!(port_range(90, 80), Err(Error::PortRange));
    assert_eq!(
        Error::PortRange.to_string(),
        "port = {lo, hi} with lo <= hi"
    );
    let e = RulesetBuilder::new()
        .default_for(
            Kind::Resolve,
            Fallback {
                action: Action::Deny,
                refusal: Some(Refusal::Errno(1)),
                how: How::Master,
            },
        )
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "errno: a resolve rule takes a getaddrinfo error"
    );
    assert!(try_build(&[], vec![allow(Kind::Read, "/a/")]).is_ok());
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
        .to_string()
        .contains("is empty"));
    assert!(expand("${SUPERVISOR_RULES_TEST_DIR")
        .unwrap_err()
        .to_string()
        .contains("unclosed"));
    assert!(expand("/a$/b")
        .unwrap_err()
        .to_string()
        .contains("bad variable name"));
    assert!(expand("$SUPERVISOR_TEST_UNSET_VAR/x")
        .unwrap_err()
        .to_string()
        .contains("is not set"));
    let s = set(
        &[],
        vec![allow(
            Kind::Write,
            &expand("$SUPERVISOR_RULES_TEST_DIR/").unwrap(),
        )],
    );
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
    let read_allowed = [(Kind::Read, Action::Allow)];
    let s = set(
        &read_allowed,
        vec![deny(Kind::Read, &format!("{}/", link.display()))],
    );
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
    let s = set(
        &read_allowed,
        vec![deny(Kind::Read, &format!("{}/not/yet", link.display()))],
    );
    assert!(!allowed(
        &s,
        Kind::Read,
        &format!("{}/not/yet", real.display())
    ));
}

#[test]
fn addresses_longest_prefix_then_narrowest_ports() {
    let (c, b) = (Kind::Connect, Kind::Bind);
    let s = set(
        &[(c, Action::Deny), (b, Action::Allow)],
        vec![
            allow(c, "10.0.0.0/8"),
            deny(c, "10.1.0.0/16"),
            ports(allow(c, "10.1.0.0/16"), 443, 443),
            ports(allow(c, "10.1.2.3"), 8000, 8999),
            allow(c, "::1"),
            ports(allow(c, "fd00::/8"), 22, 22),
            ports(deny(b, "*"), 1, 1023),
        ],
    );
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
    let s2 = set(
        &[],
        vec![
            allow(Kind::Connect, "fe80::1%2"),
            allow(Kind::Connect, "unix:\0abs"),
        ],
    );
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
    let r = Kind::Resolve;
    let s = set(
        &[],
        vec![
            allow(r, "*.example.org"),
            refusal(deny(r, "ads.example.org"), Refusal::Gai(GaiError::Again)),
            allow(r, "Example.COM."),
        ],
    );
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
        (Action::Deny, Refusal::Gai(GaiError::Again))
    );
    assert_eq!(n("x.ads.example.org").0, Action::Allow);
    assert_eq!(n("EXAMPLE.com.").0, Action::Allow);
    assert_eq!(
        n("notexample.org"),
        (Action::Deny, Refusal::Gai(GaiError::Noname))
    );
    let s = set(&[], vec![allow(r, "*"), deny(r, "*.bad")]);
    assert_eq!(s.name("anything").action, Action::Allow);
    assert_eq!(s.name("x.bad").action, Action::Deny);
}

#[test]
fn learnt_names_are_as_specific_as_the_host_address() {
    let k = Kind::Connect;
    let s = set(
        &[],
        vec![
            deny(k, "10.0.0.0/8"),
            ports(allow(k, "name:*.corp.example"), 443, 443),
            deny(k, "10.0.0.9"),
            deny(k, "name:secret.corp.example"),
        ],
    );
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
fn defaults_with_errno_and_how() {
    let mut b = RulesetBuilder::new();
    b.errno(libc::EPERM);
    b.default_for(
        Kind::Read,
        Fallback {
            action: Action::Allow,
            refusal: None,
            how: How::Slave,
        },
    )
    .unwrap();
    b.default_for(
        Kind::Connect,
        Fallback {
            action: Action::Deny,
            refusal: Some(Refusal::Errno(libc::ENETUNREACH)),
            how: How::Master,
        },
    )
    .unwrap();
    b.default_for(
        Kind::Resolve,
        Fallback {
            action: Action::Deny,
            refusal: Some(Refusal::Gai(GaiError::Again)),
            how: How::Master,
        },
    )
    .unwrap();
    b.rule(refusal(deny(Kind::Write, "/x/"), Refusal::Errno(30)))
        .unwrap();
    let s = b.build();
    let v = s.path(Kind::Read, b"/a");
    assert_eq!((v.action, v.how), (Action::Allow, How::Slave));
    assert_eq!(s.path(Kind::Write, b"/x/y").refusal, Refusal::Errno(30));
    assert_eq!(
        s.path(Kind::Write, b"/y").refusal,
        Refusal::Errno(libc::EPERM)
    );
    let v = s.addr(Kind::Connect, "1.2.3.4".parse().unwrap(), 1, &[]);
    assert_eq!(v.refusal, Refusal::Errno(libc::ENETUNREACH));
    assert_eq!(s.name("x").refusal, Refusal::Gai(GaiError::Again));
    let every: Vec<(Kind, Action)> = KINDS.iter().map(|&k| (k, Action::Allow)).collect();
    let s = set(&every, vec![]);
    assert!(allowed(&s, Kind::Delete, "/anything"));
}

#[test]
fn a_thousand_rules_still_decide_each_path() {
    // The right rule among a thousand.
    let mut rules: Vec<RuleSpec> = (0..1000)
        .map(|i| allow(Kind::Read, &format!("/opt/d{i}/")))
        .collect();
    rules.push(deny(Kind::Read, "/opt/d7/secret"));
    let s = set(&[(Kind::Read, Action::Deny)], rules);
    assert!(allowed(&s, Kind::Read, "/opt/d999/x"));
    assert!(!allowed(&s, Kind::Read, "/opt/d7/secret"));
    assert!(!allowed(&s, Kind::Read, "/opt/d1000/x"));
}

#[test]
fn glob_indexing_by_last_byte_misses_nothing() {
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
    let r = Kind::Read;
    let s = set(
        &[(r, Action::Allow)],
        vec![
            deny(r, "/d/a\\\\*"),
            deny(r, "/d/*.conf"),
            deny(r, "/d/x\\*"),
            deny(r, "/**/k?"),
            deny(r, "/e/*/"),
        ],
    );
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

/// What lies below a directory (a rename moves it all): rules below it,
/// prefix rules on it, globs that may reach below it, and what covers the
/// rest (an ancestor's prefix rule or the default).
#[test]
fn what_lies_below_a_directory() {
    let s = set(
        &[(Kind::Read, Action::Allow)],
        vec![
            deny(Kind::Read, "/x/secret"),
            deny(Kind::Read, "/home/*/.ssh/"),
            deny(Kind::Read, "/d/"),
            deny(Kind::Read, "/g/**/key"),
            allow(Kind::Read, "/d/pub/"),
        ],
    );
    let below = |p: &str, a| s.below(Kind::Read, p.as_bytes(), a).map(|v| s.describe(&v));
    assert_eq!(
        below("/x", Action::Deny).as_deref(),
        Some("rule 1 (deny read /x/secret)")
    );
    assert!(below("/", Action::Deny).is_some());
    assert_eq!(
        below("/x/secret", Action::Deny),
        None,
        "a file has nothing below"
    );
    assert_eq!(below("/y", Action::Deny), None);
    assert_eq!(
        below("/y", Action::Allow).as_deref(),
        Some("default allow read")
    );
    // A glob anchored above reaches below.
    assert!(below("/home/alice", Action::Deny).is_some());
    assert!(below("/home", Action::Deny).is_some());
    assert!(below("/g/a/b", Action::Deny).is_some());
    // A prefix rule on an ancestor covers what no rule below names.
    assert_eq!(
        below("/d/a", Action::Deny).as_deref(),
        Some("rule 3 (deny read /d/)")
    );
    assert_eq!(below("/d/a", Action::Allow), None);
    assert_eq!(
        below("/d", Action::Allow).as_deref(),
        Some("rule 5 (allow read /d/pub/)")
    );
    // Kinds without paths have nothing below.
    assert_eq!(
        s.below(Kind::Resolve, b"/x", Action::Deny).map(|v| v.kind),
        None
    );
}

#[test]
fn exact_directory_patterns_match_the_directory_alone() {
    let mut root = allow(Kind::Read, "/");
    root.exact = true;
    let mut usr = allow(Kind::Read, "/usr/");
    usr.exact = true;
    let s = set(&[], vec![root, usr]);
    assert!(allowed(&s, Kind::Read, "/"));
    assert!(allowed(&s, Kind::Read, "/usr"));
    for p in ["/etc/passwd", "/home", "/usr/bin", "/usr/lib/x"] {
        assert!(!allowed(&s, Kind::Read, p), "{p}");
    }
    let mut file = allow(Kind::Read, "/etc/passwd");
    file.exact = true;
    assert!(try_build(&[], vec![file]).is_err());
}

#[test]
fn a_fallback_decides_only_where_no_rule_does() {
    let mut base = set(
        &[],
        vec![
            allow(Kind::Read, "/"),
            deny(Kind::Read, "/home/u/.ssh/"),
            allow(Kind::Write, "/w/"),
        ],
    );
    let extra = set(
        &[],
        vec![
            allow(Kind::Read, "/home/u/.ssh/"),
            allow(Kind::Write, "/opt/out/"),
            allow(Kind::Resolve, "example.org"),
        ],
    );
    base.fallback = Some(std::sync::Arc::new(extra));
    // A rule of the base wins, however specific the fallback's.
    assert_eq!(
        path(&base, Kind::Read, "/home/u/.ssh/id_rsa"),
        (Action::Deny, "rule 2 (deny read /home/u/.ssh/)".into())
    );
    // Where the base has only its default, the fallback's rule decides.
    assert_eq!(
        path(&base, Kind::Write, "/opt/out/x"),
        (
            Action::Allow,
            "learnt rule 2 (allow write /opt/out/)".into()
        )
    );
    assert!(!allowed(&base, Kind::Write, "/etc/x"));
    assert_eq!(base.name("example.org").action, Action::Allow);
    assert_eq!(base.name("other.org").action, Action::Deny);
}

/// A default of `action` for every kind, performed `how`.
fn defaults_how(b: &mut RulesetBuilder, action: Action, how: How) {
    for k in KINDS {
        b.default_for(
            k,
            Fallback {
                action,
                refusal: None,
                how,
            },
        )
        .unwrap();
    }
}

#[test]
fn a_kind_is_allowed_everywhere_only_without_a_denial_or_the_supervisors_authority() {
    // bench/policies/rules-secret.lua: everything but reading one file.
    let mut b = RulesetBuilder::new();
    defaults_how(&mut b, Action::Allow, How::Program);
    b.rule(RuleSpec {
        how: How::Program,
        ..deny(Kind::Read, "/root/secret")
    })
    .unwrap();
    let s = b.build();
    assert!(!s.allowed_everywhere(Kind::Read));
    for k in [Kind::Write, Kind::Create, Kind::Delete, Kind::Device] {
        assert!(s.allowed_everywhere(k), "{k:?}");
    }
    // A rule on several kinds counts for each.
    let mut b = RulesetBuilder::new();
    defaults_how(&mut b, Action::Allow, How::Slave);
    b.rule(rule(Action::Deny, &[Kind::Write, Kind::Delete], "/etc/"))
        .unwrap();
    let s = b.build();
    assert!(s.allowed_everywhere(Kind::Read) && s.allowed_everywhere(Kind::Create));
    assert!(!s.allowed_everywhere(Kind::Write) && !s.allowed_everywhere(Kind::Delete));
    // An allow with the supervisor's authority acts otherwise than the
    // program would: not "as the program everywhere".
    let mut b = RulesetBuilder::new();
    defaults_how(&mut b, Action::Allow, How::Program);
    b.rule(allow(Kind::Write, "/etc/")).unwrap(); // how = master here
    assert!(!b.build().allowed_everywhere(Kind::Write));
    let mut b = RulesetBuilder::new();
    defaults_how(&mut b, Action::Allow, How::Master);
    assert!(!b.build().allowed_everywhere(Kind::Create));
    // A default deny, or a kind left out, is not allowed everywhere.
    let s = set(&[(Kind::Read, Action::Allow)], vec![]);
    assert!(!s.allowed_everywhere(Kind::Write));
    // An extension's denial (rules.extend) counts too.
    let mut b = RulesetBuilder::new();
    defaults_how(&mut b, Action::Allow, How::Program);
    let mut s = b.build();
    assert!(s.allowed_everywhere(Kind::Delete));
    s.fallback = Some(std::sync::Arc::new(set(
        &[],
        vec![deny(Kind::Delete, "/srv/")],
    )));
    assert!(!s.allowed_everywhere(Kind::Delete));
    assert!(s.allowed_everywhere(Kind::Create));
}
