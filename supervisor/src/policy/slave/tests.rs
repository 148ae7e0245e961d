//! Unit tests of what needs no program: names, argument checks, the
//! conversions of return values.  The behaviour with programs is in
//! tests/it/slave.rs.

use std::net::IpAddr;
use std::rc::Rc;

use mlua::{Lua, MultiValue, Value};

use super::filter::{slot, GETADDRINFO};
use super::*;
use crate::dns::{Answer, GaiError};

#[test]
fn slots_follow_the_functions() {
    for f in Call::ALL {
        assert_eq!(name_of(slot(f)), f.name());
    }
    assert_eq!(name_of(GETADDRINFO), "getaddrinfo");
}

#[test]
fn real_function_names_are_the_specs() {
    let name = |n: &str| drive::real_name(Call::by_name(n).unwrap().slot());
    assert_eq!(name("open"), "real_open");
    assert_eq!(name("connect_inet6"), "real_connect");
    assert_eq!(name("bind_unix"), "real_bind");
    assert_eq!(name("getaddrinfo"), "real_getaddrinfo");
}

#[test]
fn types_with_articles() {
    assert_eq!(a_type(&Value::Integer(1)), "an integer");
    assert_eq!(a_type(&Value::Boolean(true)), "a boolean");
    assert_eq!(a_type(&Value::Nil), "a nil");
}

fn filter(lua: &Lua, slot: usize) -> Rc<Filter> {
    let func: mlua::Function = lua.load("return function() end").eval().unwrap();
    Rc::new(Filter {
        slot,
        real: func.clone(),
        func,
    })
}

fn vals(lua: &Lua, src: &str) -> MultiValue {
    lua.load(src).eval::<MultiValue>().unwrap()
}

#[test]
fn getaddrinfo_returns() {
    let lua = Lua::new();
    let f = filter(&lua, GETADDRINFO);
    let r = |src: &str| values::lookup_result(&f, vals(&lua, src));
    assert_eq!(r("return 'noname'"), Ok(Answer::Error(GaiError::Noname)));
    assert_eq!(r("return -3"), Ok(Answer::Error(GaiError::Again)));
    assert_eq!(r("return 'system', 5"), Ok(Answer::Error(GaiError::System)));
    assert_eq!(r("return nil"), Ok(Answer::Addresses(vec![])));
    assert_eq!(r("return"), Ok(Answer::Addresses(vec![])));
    let v4: IpAddr = "10.0.0.1".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    assert_eq!(
        r("return nil, {10, 0, 0, 1}, 80"),
        Ok(Answer::Addresses(vec![v4]))
    );
    assert_eq!(
        r("return nil, {10, 0, 0, 1}, 80, {0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,1, 0}, 0"),
        Ok(Answer::Addresses(vec![v4, v6]))
    );
    for (src, msg) in [
        ("return 'nope'", "the unknown error \"nope\""),
        ("return 99", "the unknown error code 99"),
        ("return true", "a boolean; expected"),
        ("return nil, {10, 0, 0}, 80", "an address of 3 values"),
        ("return nil, {10, 0, 0, 256}, 80", "an address byte 256"),
        (
            "return nil, {0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,1, 2}, 0",
            "the scope id 2: a DNS answer cannot carry one",
        ),
        ("return nil, {10, 0, 0, 1}, 70000", "the port 70000"),
    ] {
        let e = r(src).unwrap_err();
        assert!(e.contains(msg), "{src}: {e}");
        assert!(e.contains("slave.getaddrinfo returned"), "{src}: {e}");
    }
}

#[test]
fn real_function_argument_types() {
    let lua = Lua::new();
    let err = |m: String| mlua::Error::RuntimeError(m);
    let slot_of = |n: &str| Call::by_name(n).unwrap().slot();
    let given = |n: &str, src: &str| args::given(slot_of(n), vals(&lua, src), &err);
    assert!(given("open", "return '/x', 0").is_ok());
    assert!(given("open", "return '/x', 0.0, nil").is_ok());
    for (n, src, msg) in [
        (
            "open",
            "return 1, 0",
            "argument #1 (path) must be a string, not an integer",
        ),
        (
            "open",
            "return '/x', 'r'",
            "argument #2 (flags) must be an integer, not a string",
        ),
        (
            "open",
            "return '/x\\0y', 0",
            "argument #1 (path) contains a NUL byte",
        ),
        (
            "mkdir",
            "return '/x'",
            "argument #2 (mode) must be an integer, not nil",
        ),
        (
            "connect_inet",
            "return 3, {127, 0, 0}, 80",
            "argument #2 (address) must be a list of 4 integers 0-255, not 3 values",
        ),
        (
            "connect_inet",
            "return 3, {127, 0, 0, 1}, 65536",
            "argument #3 (port) 65536",
        ),
        (
            "connect_unix",
            "return 3, '/x\\0y'",
            "argument #2 (path) contains a NUL byte",
        ),
        (
            "getaddrinfo",
            "return 'x', nil, 'sctp'",
            "argument #3 (protocol) must be \"tcp\", \"udp\" or nil",
        ),
    ] {
        let e = match given(n, src) {
            Ok(_) => panic!("{n} {src}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(msg), "{n} {src}: {e}");
    }
    // An abstract unix name starts with NUL and may hold more.
    assert!(given("bind_unix", "return 3, '\\0a\\0b'").is_ok());
    // Unknown resolve names are the call's EINVAL, not a Lua error.
    match given("openat", "return 3, 'x', 0, 0, {'beneath', 'sideways'}") {
        Ok(args::Given::Openat { resolve, .. }) => {
            assert_eq!(resolve, Err(nix::errno::Errno::EINVAL))
        }
        _ => panic!("openat"),
    }
}

#[test]
fn kernel_is_recognized() {
    let lua = Lua::new();
    let k = lua.create_table().unwrap();
    let other = lua.create_table().unwrap();
    let mv = |v: Vec<Value>| MultiValue::from_vec(v);
    let kv = Value::Table(k.clone());
    assert_eq!(
        values::is_kernel(&mv(vec![kv.clone()]), Some(&k)),
        Some(None)
    );
    assert_eq!(
        values::is_kernel(&mv(vec![kv.clone(), Value::Integer(0)]), Some(&k)),
        Some(None)
    );
    assert!(matches!(
        values::is_kernel(&mv(vec![kv, Value::Integer(13)]), Some(&k)),
        Some(Some(_))
    ));
    assert_eq!(
        values::is_kernel(&mv(vec![Value::Table(other)]), Some(&k)),
        None
    );
    assert_eq!(values::is_kernel(&mv(vec![]), Some(&k)), None);
}
