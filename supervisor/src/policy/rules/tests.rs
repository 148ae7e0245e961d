//! Reading rules tables (`load.rs`) and the kinds of a request
//! (`decide.rs`), without a program.  The matchers and the builder are
//! tested in the `rules` crate (rules/src/tests.rs); the integration tests
//! in tests/it/rules.rs run real programs under rules policies.

use mlua::{Lua, Value};

use super::decide::open_kinds_for_test as open_kinds;
use super::load;
use crate::resolve::Last;
use ::rules::{Action, How, Kind, Refusal, Ruleset};

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

fn allowed(s: &Ruleset, kind: Kind, p: &str) -> bool {
    s.path(kind, p.as_bytes()).action == Action::Allow
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

/// Every message of the loader, whole (policies' authors read them, tests
/// quote them); with two mistakes in a rule, the one told first.
#[test]
fn every_message_is_told_whole_and_in_order() {
    std::env::set_var("SUPERVISOR_MSG_EMPTY", "");
    for (src, want) in [
        (
            r#"{ { "allow", "read", "usr/" } }"#,
            "rule 1: \"usr/\": a path pattern must be absolute (or name an object such as \"pipe:*\" or an abstract socket \"@name\")",
        ),
        (
            r#"{ { "allow", "read", "a:b/c" } }"#,
            "rule 1: \"a:b/c\": a path pattern must be absolute (or name an object such as \"pipe:*\" or an abstract socket \"@name\")",
        ),
        (
            r#"{ { "allow", "read", "plain" } }"#,
            "rule 1: \"plain\": a path pattern must be absolute (or name an object such as \"pipe:*\" or an abstract socket \"@name\")",
        ),
        (
            r#"{ { "allow", "read", "/a/../b" } }"#,
            "rule 1: \"/a/../b\": no . or .. in a path pattern",
        ),
        (
            r#"{ { "allow", "read", "/a/./b" } }"#,
            "rule 1: \"/a/./b\": no . or .. in a path pattern",
        ),
        (
            r#"{ { "allow", "read", "/a/b**/" } }"#,
            "rule 1: \"/a/b**/\": ** must be a whole component",
        ),
        (
            r#"{ { "allow", "raed", "/a" } }"#,
            "rule 1: unknown kind \"raed\" (read, write, create, delete, connect, bind, resolve, device)",
        ),
        (
            r#"{ { "allow", 5, "/a" } }"#,
            "rule 1: unknown kind 5 (read, write, create, delete, connect, bind, resolve, device)",
        ),
        (
            r#"{ { "allow", {}, "/a" } }"#,
            "rule 1: an empty list of kinds",
        ),
        (
            r#"{ { "allow", {"read", "bogus"}, "/a" } }"#,
            "rule 1: unknown kind \"bogus\" (read, write, create, delete, connect, bind, resolve, device)",
        ),
        (
            r#"{ { "permit", "read", "/a" } }"#,
            "rule 1: the action must be \"allow\" or \"deny\", not \"permit\"",
        ),
        (
            r#"{ { 1.5, "read", "/a" } }"#,
            "rule 1: the action must be \"allow\" or \"deny\", not 1.5",
        ),
        (
            r#"{ { "allow", "read", 7 } }"#,
            "rule 1: the pattern must be a string, not 7",
        ),
        (
            r#"{ { "allow", "read", {} } }"#,
            "rule 1: the pattern must be a string, not table",
        ),
        (
            r#"{ { "deny", "read", "/a", errno = "EWHAT" } }"#,
            "rule 1: unknown errno name \"EWHAT\"",
        ),
        (
            r#"{ { "deny", "read", "/a", errno = 5000 } }"#,
            "rule 1: errno must be a name such as \"EACCES\" or a number, not 5000",
        ),
        (
            r#"{ { "deny", "read", "/a", errno = 0 } }"#,
            "rule 1: errno must be a name such as \"EACCES\" or a number, not 0",
        ),
        (
            r#"{ { "deny", "read", "/a", errno = true } }"#,
            "rule 1: errno must be a name such as \"EACCES\" or a number, not true",
        ),
        (
            r#"{ { "deny", "read", "/a", errno = 2.5 } }"#,
            "rule 1: errno must be a name such as \"EACCES\" or a number, not 2.5",
        ),
        (
            r#"{ { "deny", "read", "/a", errorno = "EIO" } }"#,
            "rule 1: unknown field \"errorno\" (a rule is {action, kind, pattern} with errno, port, how, exact)",
        ),
        (
            r#"{ { "deny", "read", "/a", [4] = "x" } }"#,
            "rule 1: unknown field 4 (a rule is {action, kind, pattern} with errno, port, how, exact)",
        ),
        (
            r#"{ { "allow", "read", "/", exact = "yes" } }"#,
            "rule 1: exact must be true or false, not \"yes\"",
        ),
        (
            r#"{ { "allow", "read", "/a", exact = true } }"#,
            "rule 1: \"/a\": exact = true is for a directory pattern ending in /",
        ),
        (
            r#"{ { "deny", "read", "/a", port = 80 } }"#,
            "rule 1: port: read rules on \"/a\" take no port",
        ),
        (
            r#"{ { "deny", "resolve", "a.example", port = 80 } }"#,
            "rule 1: port: resolve rules on \"a.example\" take no port",
        ),
        (
            r#"{ { "deny", "connect", "unix:/a", port = 80 } }"#,
            "rule 1: port: connect rules on \"unix:/a\" take no port",
        ),
        (
            r#"{ { "deny", "resolve", "a.example", errno = "EACCES" } }"#,
            "rule 1: errno of a resolve rule must be a getaddrinfo error (noname, again, fail, …), not \"EACCES\"",
        ),
        (
            r#"{ { "deny", "resolve", "a.example", errno = 5 } }"#,
            "rule 1: errno of a resolve rule must be a getaddrinfo error (noname, again, fail, …), not 5",
        ),
        (
            r#"{ { "deny", "resolve", "a.example", errno = true } }"#,
            "rule 1: errno of a resolve rule must be a getaddrinfo error (noname, again, fail, …), not true",
        ),
        (
            r#"{ { "deny", {"resolve", "read"}, "a.example", errno = "again" } }"#,
            "rule 1: errno: resolve takes a getaddrinfo error, the other kinds an errno: write them as separate rules",
        ),
        (
            r#"{ { "allow", "bind", "name:a.example" } }"#,
            "rule 1: name: patterns are for connect, not bind",
        ),
        (
            r#"{ { "allow", "connect", "name:a..example" } }"#,
            "rule 1: \"a..example\": a name pattern is a name, \"*.suffix\" or \"*\"",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.0/33" } }"#,
            "rule 1: \"10.0.0.0/33\": bad prefix length",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.0/x" } }"#,
            "rule 1: \"10.0.0.0/x\": bad prefix length",
        ),
        (
            r#"{ { "allow", "connect", "::ffff:10.0.0.0/80" } }"#,
            "rule 1: \"::ffff:10.0.0.0/80\": an IPv4-mapped prefix must be /96 or longer",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = {90, 80} } }"#,
            "rule 1: port = {lo, hi} with lo <= hi",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = {80, 90, 100} } }"#,
            "rule 1: port = {lo, hi} with lo <= hi",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = {80} } }"#,
            "rule 1: a port must be 0-65535, not nil",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = 70000 } }"#,
            "rule 1: a port must be 0-65535, not 70000",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = "http" } }"#,
            "rule 1: a port must be 0-65535, not \"http\"",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.1", port = {1, "x"} } }"#,
            "rule 1: a port must be 0-65535, not \"x\"",
        ),
        (
            r#"{ { "allow", "connect", "example.org" } }"#,
            "rule 1: \"example.org\": not an address or CIDR (\"10.0.0.0/8\", \"::1\", \"*\")",
        ),
        (
            r#"{ { "allow", "resolve", "a.*.org" } }"#,
            "rule 1: \"a.*.org\": a name pattern is a name, \"*.suffix\" or \"*\"",
        ),
        (
            r#"{ { "allow", "resolve", ".a.org" } }"#,
            "rule 1: \".a.org\": a name pattern is a name, \"*.suffix\" or \"*\"",
        ),
        (
            r#"{ { "allow", "resolve", "" } }"#,
            "rule 1: \"\": a name pattern is a name, \"*.suffix\" or \"*\"",
        ),
        (
            r#"{ { "allow", "read", "/a", how = "kernel" } }"#,
            "rule 1: how must be \"program\", \"master\" or \"slave\", not \"kernel\"",
        ),
        (
            r#"{ { "allow", "read", "/a", how = 3 } }"#,
            "rule 1: how must be \"program\", \"master\" or \"slave\", not 3",
        ),
        (
            r#"{ default = { raed = "allow" } }"#,
            "default: unknown kind \"raed\" (read, write, create, delete, connect, bind, resolve, device)",
        ),
        (
            r#"{ default = { [1] = "allow" } }"#,
            "default: unknown kind 1 (read, write, create, delete, connect, bind, resolve, device)",
        ),
        (
            r#"{ default = { read = "maybe" } }"#,
            "default.read: the action must be \"allow\" or \"deny\", not \"maybe\"",
        ),
        (
            r#"{ default = { read = { "allow", how = "x" } } }"#,
            "default.read: how must be \"program\", \"master\" or \"slave\", not \"x\"",
        ),
        (
            r#"{ default = { read = { "deny", errno = "EX" } } }"#,
            "default.read: unknown errno name \"EX\"",
        ),
        (
            r#"{ default = { resolve = { "deny", errno = "EACCES" } } }"#,
            "default.resolve: errno of a resolve rule must be a getaddrinfo error (noname, again, fail, …), not \"EACCES\"",
        ),
        (
            r#"{ default = { read = { "deny", what = 1 } } }"#,
            "default.read: unknown field \"what\"",
        ),
        (
            r#"{ default = { read = { "deny", [2] = 1 } } }"#,
            "default.read: unknown field 2",
        ),
        (
            r#"{ default = "maybe" }"#,
            "default.read: the action must be \"allow\" or \"deny\", not \"maybe\"",
        ),
        (
            r#"{ default = 3 }"#,
            "default.read: the action must be \"allow\" or \"deny\", not 3",
        ),
        (
            r#"{ errno = "ENOPE" }"#,
            "errno: unknown errno name \"ENOPE\"",
        ),
        (
            r#"{ errno = 99999 }"#,
            "errno: errno must be a name such as \"EACCES\" or a number, not 99999",
        ),
        (
            r#"{ defaults = {} }"#,
            "unknown field \"defaults\" (errno, default, untrapped, and the rules as a list)",
        ),
        (
            r#"{ [true] = 1 }"#,
            "unexpected key true (the rules must be a list without holes)",
        ),
        (
            r#"{ "allow" }"#,
            "rule 1: must be a table {action, kind, pattern, …}, not \"allow\"",
        ),
        (
            r#"{ [1] = {"allow","read","/"}, [3] = {"allow","read","/"} }"#,
            "unexpected key 3 (the rules must be a list without holes)",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_TEST_UNSET_VAR/x" } }"#,
            "rule 1: $SUPERVISOR_TEST_UNSET_VAR is not set (in \"$SUPERVISOR_TEST_UNSET_VAR/x\")",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_MSG_EMPTY/x" } }"#,
            "rule 1: $SUPERVISOR_MSG_EMPTY is empty (in \"$SUPERVISOR_MSG_EMPTY/x\")",
        ),
        (
            r#"{ { "allow", "read", "${SUPERVISOR_MSG_EMPTY" } }"#,
            "rule 1: unclosed ${ in \"${SUPERVISOR_MSG_EMPTY\"",
        ),
        (
            r#"{ { "allow", "read", "/a$/b" } }"#,
            "rule 1: bad variable name after $ in \"/a$/b\" (write $$ for a $)",
        ),
        (
            r#"{ { "allow", "read", "/a${1X}/b" } }"#,
            "rule 1: bad variable name after $ in \"/a${1X}/b\" (write $$ for a $)",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_TEST_UNSET_VAR/x", how = "kernel" } }"#,
            "rule 1: $SUPERVISOR_TEST_UNSET_VAR is not set (in \"$SUPERVISOR_TEST_UNSET_VAR/x\")",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_TEST_UNSET_VAR/x", errno = "EX" } }"#,
            "rule 1: $SUPERVISOR_TEST_UNSET_VAR is not set (in \"$SUPERVISOR_TEST_UNSET_VAR/x\")",
        ),
        (
            r#"{ { "allow", "read", "$SUPERVISOR_TEST_UNSET_VAR/x", port = {2, 1} } }"#,
            "rule 1: $SUPERVISOR_TEST_UNSET_VAR is not set (in \"$SUPERVISOR_TEST_UNSET_VAR/x\")",
        ),
        (
            r#"{ { "allow", "read", "relative", how = "kernel" } }"#,
            "rule 1: how must be \"program\", \"master\" or \"slave\", not \"kernel\"",
        ),
        (
            r#"{ { "allow", "read", "relative", port = {2, 1} } }"#,
            "rule 1: port = {lo, hi} with lo <= hi",
        ),
        (
            r#"{ { "allow", "read", "relative", port = "x" } }"#,
            "rule 1: a port must be 0-65535, not \"x\"",
        ),
        (
            r#"{ { "allow", "read", "/a", errno = "EX", how = "kernel" } }"#,
            "rule 1: unknown errno name \"EX\"",
        ),
        (
            r#"{ { "allow", {"read","resolve"}, "/a", errno = "EX", how = "kernel" } }"#,
            "rule 1: errno: resolve takes a getaddrinfo error, the other kinds an errno: write them as separate rules",
        ),
        (
            r#"{ { "allow", "connect", "10.0.0.0/33", port = {2, 1} } }"#,
            "rule 1: port = {lo, hi} with lo <= hi",
        ),
        (
            r#"{ { "allow", {"read", "connect"}, "/a", port = 1 } }"#,
            "rule 1: port: read rules on \"/a\" take no port",
        ),
        (
            r#"{ { "allow", {"connect", "read"}, "/a", port = 1 } }"#,
            "rule 1: \"/a\": not an address or CIDR (\"10.0.0.0/8\", \"::1\", \"*\")",
        ),
        (
            r#"{ { "allow", {"connect", "bind"}, "name:x", port = 1 } }"#,
            "rule 1: name: patterns are for connect, not bind",
        ),
        (
            r#"{ { "allow", "read", "/a" }, { "allow", "raed", "/a" }, { "allow", "read", "b" } }"#,
            "rule 2: unknown kind \"raed\" (read, write, create, delete, connect, bind, resolve, device)",
        ),
    ] {
        let e = try_load(src).expect_err(src);
        assert_eq!(e, want, "{src}");
    }
}

#[test]
fn fields_are_read_and_variables_expanded() {
    std::env::set_var("SUPERVISOR_RULES_LOAD_TEST_DIR", "/opt/ws");
    let s = set(r#"{
        { "allow", "write", "$SUPERVISOR_RULES_LOAD_TEST_DIR/" },
        { "allow", { "connect", "connect" }, "10.0.0.0/8", port = {80, 90} },
        { "allow", "connect", "10.0.0.1", port = 22, how = "slave" },
        { "allow", "connect", "unix:\0abs" },
    }"#);
    let v = s.path(Kind::Write, b"/opt/ws/a");
    assert_eq!(
        (v.action, s.describe(&v)),
        (Action::Allow, "rule 1 (allow write /opt/ws/)".into())
    );
    let c = |a: &str, port| s.addr(Kind::Connect, a.parse().unwrap(), port, &[]);
    assert_eq!(c("10.1.1.1", 85).action, Action::Allow);
    assert_eq!(c("10.1.1.1", 91).action, Action::Deny);
    assert_eq!(
        (c("10.0.0.1", 22).action, c("10.0.0.1", 22).how),
        (Action::Allow, How::Slave)
    );
    assert_eq!(c("10.0.0.1", 23).action, Action::Deny);
    assert_eq!(s.path(Kind::Connect, b"@abs").action, Action::Allow);
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
    assert_eq!((v.action, v.how), (Action::Allow, How::Slave));
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
}

#[test]
fn untrapped_is_read_and_checked() {
    assert!(!set(r#"{ default = "allow" }"#).untrapped);
    assert!(!set(r#"{ untrapped = false }"#).untrapped);
    assert!(set(r#"{ untrapped = "allowed everywhere" }"#).untrapped);
    for bad in [r#"{ untrapped = true }"#, r#"{ untrapped = "yes" }"#] {
        let e = try_load(bad).unwrap_err();
        assert!(
            e.contains("untrapped must be \"allowed everywhere\""),
            "{e}"
        );
    }
}

#[test]
fn the_calls_left_untrapped_are_those_no_path_could_refuse() {
    use super::untrap::{calls, open_needs};
    use bpf::{Sys, Untrap};
    let flags_of = |u: &bpf::Untrapped, sys| match u.of(sys) {
        Some(Untrap::Masked { values, .. }) => Some(values.clone()),
        _ => None,
    };
    // bench/policies/rules-secret.lua.
    let s = set(r#"{ untrapped = "allowed everywhere", default = "allow",
                     { "deny", "read", "/root/secret" } }"#);
    let (kinds, u) = calls(&s);
    assert_eq!(
        kinds,
        [
            Kind::Write,
            Kind::Create,
            Kind::Delete,
            Kind::Connect,
            Kind::Bind,
            Kind::Resolve,
            Kind::Device
        ]
    );
    for sys in [
        Sys::Mkdirat,
        Sys::Unlinkat,
        Sys::Fchmodat,
        Sys::Utimensat,
        Sys::Creat,
    ] {
        assert_eq!(u.of(sys), Some(&Untrap::Always), "{sys:?}");
    }
    // Reads, and what moves or names again what a rule denies, stay.
    for sys in [
        Sys::Stat,
        Sys::Newfstatat,
        Sys::Statx,
        Sys::Access,
        Sys::Renameat2,
        Sys::Linkat,
        Sys::Execve,
        Sys::Openat2,
        Sys::Connect,
    ] {
        assert_eq!(u.of(sys), None, "{sys:?}");
    }
    let open = flags_of(&u, Sys::Openat).expect("openat on its flags");
    let has = |f: i32| open.contains(&(f as u32));
    assert!(has(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC));
    assert!(has(libc::O_WRONLY));
    // O_CREAT|O_EXCL is create only, whatever the access mode (git's locks).
    assert!(has(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL));
    assert!(has(libc::O_TMPFILE | libc::O_RDWR));
    assert!(!has(libc::O_RDONLY));
    assert!(!has(libc::O_RDWR));
    assert!(!has(libc::O_RDWR | libc::O_CREAT));
    assert!(!has(libc::O_RDONLY | libc::O_TRUNC));
    assert!(!has(libc::O_PATH));
    assert!(!has(libc::O_WRONLY | libc::O_PATH));
    assert_eq!(flags_of(&u, Sys::Open), Some(open.clone()));
    // Each value allowed needs only kinds allowed everywhere (checked on
    // every value, the mask's bits).
    for &v in &open {
        assert!(
            open_needs(v as i32).iter().all(|k| kinds.contains(k)),
            "{v:#o}"
        );
    }
    // Everything allowed: every file call but those other machinery needs.
    let (_, u) = calls(&set(r#"{ default = "allow" }"#));
    for sys in [
        Sys::Openat,
        Sys::Renameat2,
        Sys::Linkat,
        Sys::Stat,
        Sys::Mknodat,
    ] {
        assert_eq!(u.of(sys), Some(&Untrap::Always), "{sys:?}");
    }
    for sys in [Sys::Openat2, Sys::Execve, Sys::Readlinkat, Sys::Bind] {
        assert_eq!(u.of(sys), None, "{sys:?}");
    }
    assert!(flags_of(&u, Sys::Newfstatat).is_some());
    // A kind allowed somewhere with the supervisor's authority stays.
    let (kinds, u) = calls(&set(r#"{ default = "allow",
        { "allow", "create", "/srv/", how = "master" } }"#));
    assert!(!kinds.contains(&Kind::Create));
    assert_eq!(u.of(Sys::Mkdirat), None);
    assert_eq!(u.of(Sys::Unlinkat), Some(&Untrap::Always));
    // A kind denied by default, or left out: nothing of it.
    let (kinds, u) = calls(&set(r#"{ default = { read = "allow", write = "allow" } }"#));
    assert_eq!(kinds, [Kind::Read, Kind::Write]);
    assert_eq!(u.of(Sys::Fchmodat), Some(&Untrap::Always));
    assert_eq!(u.of(Sys::Stat), Some(&Untrap::Always));
    // Without device, no open but O_PATH (read, whatever else) is left out.
    let open = flags_of(&u, Sys::Openat).unwrap();
    assert_eq!(open.len(), 128);
    assert!(open.iter().all(|&v| v & libc::O_PATH as u32 != 0));
}
