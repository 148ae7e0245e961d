//! The stubs against the real API: every function a policy or init script
//! can call is defined, and nothing is defined that does not exist.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Lua, Table, Value};

use super::*;
use crate::policy::{new_state, Shared, State};
use crate::run::Run;

fn policy_state() -> Lua {
    let shared: Shared = Rc::new(RefCell::new(State::new(Run::default(), None)));
    new_state(&shared).expect("a policy state")
}

/// The keys of a table, sorted.
fn keys(t: &Table) -> Vec<String> {
    let mut k: Vec<String> = t
        .pairs::<String, Value>()
        .map(|p| p.expect("string keys").0)
        .collect();
    k.sort();
    k
}

fn module(lua: &Lua, name: &str) -> Table {
    lua.load(format!("return require {name:?}"))
        .eval()
        .expect("the module")
}

#[test]
fn host_and_rules_are_exactly_the_modules() {
    let lua = policy_state();
    assert_eq!(keys(&module(&lua, "host")), defined(HOST, "host", ""));
    assert_eq!(keys(&module(&lua, "rules")), defined(RULES, "rules", ""));
}

#[test]
fn libc_service_fields_exist() {
    let lua = policy_state();
    let svc = module(&lua, "libc_service");
    for f in defined(LIBC_SERVICE, "libc_service", "libc_service") {
        let v: Value = svc.get(f.as_str()).unwrap_or(Value::Nil);
        // init and families are nil until a policy sets them, container
        // outside `supervisor agent`; the others are there.
        assert!(
            f == "init" || f == "families" || f == "container" || !v.is_nil(),
            "libc_service.{f} is stubbed but missing"
        );
    }
    let mut real = keys(&svc);
    real.push("init".into());
    real.push("families".into());
    real.push("container".into());
    real.sort();
    real.dedup();
    assert_eq!(real, defined(LIBC_SERVICE, "libc_service", "libc_service"));
}

/// The methods of a userdata type, read from its source (userdata methods
/// cannot be listed from Lua).
fn methods_in_source(src: &str) -> Vec<String> {
    let mut names: Vec<String> = src
        .split("m.add_method")
        .skip(1)
        .filter_map(|s| s.split('"').nth(1).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn master_methods_and_fields_are_the_real_ones() {
    let src = include_str!("../policy/master.rs");
    let mut want = methods_in_source(src);
    for f in ["function_", "tid", "syscall"] {
        assert!(
            src.contains(&format!("add_field_method_get(\"{f}\"")),
            "{f}"
        );
        want.push(f.into());
    }
    want.sort();
    let mut got = defined(LIBC_SERVICE, "Master", "libc_service.Master");
    got.sort();
    assert_eq!(got, want);
    let lua = policy_state();
    for m in methods_in_source(src) {
        let exists: bool = lua
            .load(format!("return require('libc_service').master.{m} ~= nil"))
            .eval()
            .expect("indexing master");
        assert!(exists, "master:{m}");
    }
}

#[test]
fn descriptor_and_rules_policy_methods_are_the_real_ones() {
    assert_eq!(
        defined(HOST, "Descriptor", ""),
        methods_in_source(include_str!("../policy/host.rs"))
    );
    assert_eq!(
        defined(RULES, "Policy", ""),
        methods_in_source(include_str!("../policy/rules/mod.rs"))
    );
}

#[test]
fn slave_names_are_the_request_kinds() {
    let got = defined(LIBC_SERVICE, "", "libc_service.Slave");
    let mut want: Vec<String> = libc_service::Function::ALL
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn c_and_the_init_globals_are_exactly_the_init_scripts() {
    let lua = init_script::new_state(init_script::Options {
        arg: None,
        on_errexit: None,
    })
    .expect("an init-script state");
    let c: Table = lua.globals().get("C").expect("C");
    let mut real: Vec<String> = keys(&c)
        .into_iter()
        .filter(|k| !init_script::consts::CONSTANTS.iter().any(|(n, _)| n == k))
        .collect();
    real.push("dup2".into()); // slave filters' C (policy/slave/env.rs)
    real.sort();
    let text = init_script();
    let functions: Vec<String> = defined(&text, "C", "").into_iter().collect();
    assert_eq!(functions, real);
    // Every constant is a field.
    let fields = defined(&text, "", "C");
    for (n, _) in init_script::consts::CONSTANTS {
        assert!(fields.iter().any(|f| f == n), "C.{n}");
    }
    // The init script's globals beyond the standard library.
    let plain = Lua::new();
    let std_keys = keys(&plain.globals());
    let mut globals: Vec<String> = keys(&lua.globals())
        .into_iter()
        .filter(|k| !std_keys.contains(k) && k != "C")
        .collect();
    globals.sort();
    for g in &globals {
        let f = format!("function {g}(");
        let v = format!("\n{g} = ");
        assert!(
            text.contains(&f) || text.contains(&v),
            "global {g} is not stubbed"
        );
    }
}

#[test]
fn errno_lists_every_name() {
    let e = errno();
    for (n, _) in libc_service::errno::ERRNOS {
        assert!(e.contains(&format!("---@field {n} integer")), "{n}");
    }
}
