//! The posture's allow-list and socket families (issue 17 item 5, issue
//! 21): syscalls the allow-list does not know and `open_tree_attr` are
//! refused; sockets of families other than unix, inet, inet6 and netlink
//! are refused with EAFNOSUPPORT unless the policy names them, and every
//! refusal is in the log and the summary.  Netlink route dumps work;
//! changing routes needs CAP_NET_ADMIN, which ci.lua drops.

use serde_json::Value;

use crate::util::{outcome, posture, posture_probes, tempdir, Cmd, Output, Policy};

/// The JSON records of the log at `path`.
fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l}: {e}")))
        .collect()
}

/// The denial records of `function` in `recs`, as (refused, errno).
fn denials(recs: &[Value], function: &str) -> Vec<(String, String)> {
    recs.iter()
        .filter(|r| r["function"] == function && r["denied"] == true)
        .map(|r| {
            (
                r["arguments"]["refused"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
                r["errno"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

fn logged(cmd: Cmd) -> (Output, Vec<Value>) {
    let d = tempdir();
    let log = d.path().join("log.jsonl");
    let o = cmd.option("--log").option(&log).option("--summary").run();
    let recs = records(&log);
    (o, recs)
}

/// open_tree_attr (Linux 6.15) gave an O_PATH handle on any file without
/// a request; a syscall newer than the allow-list ran unseen.  Both are
/// refused now, and with --log both are recorded as denials.  Before
/// (502ea53): `open_tree_attr: OK`, `fstat: OK`, and no record of either.
#[test]
fn open_tree_attr_and_syscalls_outside_the_allow_list_are_refused_and_recorded() {
    let deny = || Policy::example("deny-path");
    let out = Cmd::supervised(deny(), &posture(&["open-tree-attr", "/etc/shadow"])).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "open_tree_attr"), "EPERM", "{out}");
    assert!(!out.stdout.contains("fstat"), "{out}");
    assert_eq!(outcome(&out, "open_tree"), "EPERM", "{out}");
    // With an audit trail the supervisor answers them, and records them.
    let (out, recs) = logged(Cmd::supervised(
        deny(),
        &posture(&["open-tree-attr", "/etc/shadow"]),
    ));
    assert_eq!(outcome(&out, "open_tree_attr"), "EPERM", "{out}");
    assert_eq!(
        denials(&recs, "open_tree_attr"),
        [("open_tree_attr".to_string(), "EPERM".to_string())],
        "{recs:?}"
    );
    // With the path it names (issues 15 and 22).
    assert!(
        recs.iter()
            .any(|r| r["function"] == "open_tree_attr" && r["arguments"]["path"] == "/etc/shadow"),
        "{recs:?}"
    );
    assert!(out.stderr.contains("open_tree_attr"), "{out}");
    for nr in ["470", "1000", "0x3fffffff"] {
        let (out, recs) = logged(Cmd::supervised(deny(), &posture(&["syscall", nr])));
        let n: i64 = if let Some(h) = nr.strip_prefix("0x") {
            i64::from_str_radix(h, 16).unwrap()
        } else {
            nr.parse().unwrap()
        };
        assert_eq!(outcome(&out, &format!("syscall {n}")), "ENOSYS", "{out}");
        assert_eq!(
            denials(&recs, "syscall"),
            [(format!("syscall {n}"), "ENOSYS".to_string())],
            "{nr}: {recs:?}"
        );
        assert!(
            out.stderr.contains(&format!("syscall {n}")) && out.stderr.contains("ENOSYS"),
            "the summary lists it: {out}"
        );
    }
    // --allow-unknown-syscalls lets an unknown number through (to the
    // kernel, which has no such syscall): nothing refused, nothing recorded.
    let (out, recs) = logged(
        Cmd::supervised(deny(), &posture(&["syscall", "470"])).option("--allow-unknown-syscalls"),
    );
    assert_eq!(outcome(&out, "syscall 470"), "ENOSYS", "{out}");
    assert!(denials(&recs, "syscall").is_empty(), "{recs:?}");
    // --allow-unmapped: open_tree_attr runs (the O_PATH handle is made).
    let out = Cmd::supervised(deny(), &posture(&["open-tree-attr", "/etc/shadow"]))
        .option("--allow-unmapped")
        .run();
    assert_eq!(outcome(&out, "open_tree_attr"), "OK", "{out}");
}

/// Families other than unix, inet, inet6 and netlink: socket and
/// socketpair fail with EAFNOSUPPORT (the kernel's answer for a family it
/// lacks), for the static musl and the dynamic glibc probe, and each is a
/// denial in the log and the summary.  Before (502ea53): AF_PACKET and
/// AF_ALG sockets were made (`socket 17: OK`, `socket 38: OK` as root),
/// and nothing was recorded.
#[test]
fn socket_families_are_refused_by_default_and_recorded() {
    // (family, its name, a type the kernel accepts for it)
    let families = [
        (40, "vsock", libc::SOCK_STREAM),
        (17, "packet", libc::SOCK_RAW),
        (30, "tipc", libc::SOCK_RDM),
        (38, "alg", libc::SOCK_SEQPACKET),
        (29, "can", libc::SOCK_RAW),
        (31, "bluetooth", libc::SOCK_STREAM),
        (21, "rds", libc::SOCK_SEQPACKET),
        (44, "xdp", libc::SOCK_RAW),
        (42, "qipcrtr", libc::SOCK_DGRAM),
        (15, "key", libc::SOCK_RAW),
        (45, "mctp", libc::SOCK_DGRAM),
        (63, "family 63", libc::SOCK_DGRAM),
    ];
    let (musl, glibc) = posture_probes();
    for probe in [musl, glibc] {
        for &(family, name, ty) in &families {
            let argv = [
                probe.as_os_str().to_owned(),
                "socket".into(),
                family.to_string().into(),
                ty.to_string().into(),
                "0".into(),
            ];
            let (out, recs) = logged(Cmd::supervised(Policy::example("allow-all"), &argv));
            out.assert_code(0);
            assert_eq!(
                outcome(&out, &format!("socket {family}")),
                "EAFNOSUPPORT",
                "{name}: {out}"
            );
            assert_eq!(
                outcome(&out, &format!("socketpair {family}")),
                "EAFNOSUPPORT",
                "{name}: {out}"
            );
            let want = vec![(name.to_string(), "EAFNOSUPPORT".to_string())];
            assert_eq!(denials(&recs, "socket"), want, "{name}: {recs:?}");
            assert_eq!(denials(&recs, "socketpair"), want, "{name}: {recs:?}");
            let den = out.stderr.split("denied:\n").nth(1).unwrap_or("");
            assert!(
                den.lines().any(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.first() == Some(&"socket") && w.contains(&"EAFNOSUPPORT")
                }),
                "{name}: the summary lists it: {out}"
            );
        }
    }
    // Without an audit trail the same (the filter still sends them to the
    // supervisor, which answers).
    let out = Cmd::supervised(
        Policy::example("no-network"),
        &posture(&["socket", "40", "1", "0"]),
    )
    .run();
    assert_eq!(outcome(&out, "socket 40"), "EAFNOSUPPORT", "{out}");
    // The allowed families are made as before.
    for (family, ty) in [
        (1, libc::SOCK_STREAM),
        (2, libc::SOCK_DGRAM),
        (10, libc::SOCK_DGRAM),
    ] {
        let out = Cmd::supervised(
            Policy::example("allow-all"),
            &posture(&["socket", &family.to_string(), &ty.to_string(), "0"]),
        )
        .run();
        assert_eq!(outcome(&out, &format!("socket {family}")), "OK", "{out}");
    }
    let out = Cmd::supervised(
        Policy::example("allow-all"),
        &posture(&["socket", "16", &libc::SOCK_RAW.to_string(), "0"]),
    )
    .run();
    assert_eq!(outcome(&out, "socket 16"), "OK", "netlink: {out}");
}

/// `libc_service.families = { "packet" }` lets the program make AF_PACKET
/// sockets (as root, in a network namespace this test made: nothing is
/// sent, the socket is only made); `{ "vsock" }` lets socket(AF_VSOCK)
/// reach the kernel (which answers ENODEV on a machine without a vsock
/// transport: the socket is never connected anywhere).  The families not
/// named stay refused.  A name it does not know, or setting it after the
/// program started, is a policy error.
#[test]
fn a_policy_allows_more_families_by_name() {
    let policy = |families: &str| {
        Policy::inline(&format!(
            r#"
local libc_service = require "libc_service"
libc_service.families = {families}
local master = libc_service.master
while true do
  master:receive()
  master:use_slave_credentials()
end
"#
        ))
    };
    let raw = libc::SOCK_RAW.to_string();
    let packet = ["socket", "17", raw.as_str(), "0"];
    let out = Cmd::supervised(policy(r#"{ "packet" }"#), &posture(&packet))
        .in_new_netns()
        .run();
    out.assert_clean();
    let made = outcome(&out, "socket 17");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(made, "OK", "{out}");
    } else {
        assert_ne!(made, "EAFNOSUPPORT", "{out}");
    }
    let vsock = ["socket", "40", "2", "0"];
    let out = Cmd::supervised(policy(r#"{ "AF_PACKET", "vsock" }"#), &posture(&vsock)).run();
    assert_ne!(
        outcome(&out, "socket 40"),
        "EAFNOSUPPORT",
        "vsock reaches the kernel: {out}"
    );
    let out = Cmd::supervised(
        policy(r#"{ "AF_PACKET", "vsock" }"#),
        &posture(&["socket", "30", "4", "0"]),
    )
    .run();
    assert_eq!(outcome(&out, "socket 30"), "EAFNOSUPPORT", "tipc: {out}");
    let out = Cmd::supervised(policy(r#"{ "vsock" }"#), &posture(&packet))
        .in_new_netns()
        .run();
    assert_eq!(outcome(&out, "socket 17"), "EAFNOSUPPORT", "{out}");
    let out = Cmd::supervised(policy(r#"{ "nosuchfamily" }"#), &posture(&packet)).run();
    out.assert_code(124);
    assert!(
        out.stderr
            .contains("unknown socket family \"nosuchfamily\""),
        "{out}"
    );
    let late = Policy::inline(
        r#"
local libc_service = require "libc_service"
local master = libc_service.master
master:receive()
libc_service.families = { "packet" }
"#,
    );
    // (A file call, for receive() to return.)
    let out = Cmd::supervised(late, &crate::util::busybox(&["cat", "/etc/hostname"])).run();
    out.assert_code(124);
    assert!(out.stderr.contains("already started"), "{out}");
}

/// NETLINK_ROUTE dumps work under the default posture (no-network.lua)
/// and ci.lua: getifaddrs (musl and glibc), glibc's AI_ADDRCONFIG, `ip
/// addr`.
#[test]
fn netlink_route_dumps_work() {
    let (musl, glibc) = posture_probes();
    for probe in [musl, glibc] {
        let argv = [probe.as_os_str().to_owned(), "getifaddrs".into()];
        let out = Cmd::supervised(Policy::example("no-network"), &argv).run();
        out.assert_clean();
        assert!(
            out.stdout.contains("getifaddrs: OK") && out.stdout.contains("lo=yes"),
            "{out}"
        );
        // glibc asks netlink (musl connects a UDP socket instead, which
        // no-network.lua decides).
        if probe == glibc {
            assert_eq!(outcome(&out, "addrconfig"), "OK", "{out}");
        }
    }
    let out = Cmd::supervised(Policy::example("no-network"), &["ip", "addr"]).run();
    out.assert_clean();
    assert!(out.stdout.contains("127.0.0.1"), "{out}");
    let cwd = crate::rules::dir_outside_tmp("netlink");
    let out = Cmd::supervised(Policy::example("ci"), &["ip", "addr"])
        .cwd(&cwd)
        .run();
    out.assert_clean();
    assert!(out.stdout.contains("127.0.0.1"), "{out}");
}

/// As root, in a network namespace this test made: `ip addr add` (a
/// NETLINK_ROUTE change) works natively and under allow-all, and fails
/// under ci.lua, which drops every capability (CAP_NET_ADMIN).
#[test]
fn a_netlink_route_change_as_root_under_ci_lua_fails() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the tests as root"
        );
        eprintln!("skipped: not root");
        return;
    }
    let add = ["ip", "addr", "add", "192.0.2.7/32", "dev", "lo"];
    let native = Cmd::native(&add).in_new_netns().run();
    assert_eq!(native.code, 0, "native, as root: {native}");
    let allowed = Cmd::supervised(Policy::example("allow-all"), &add)
        .in_new_netns()
        .run();
    assert_eq!(
        allowed.code, 0,
        "allow-all keeps the program's capabilities: {allowed}"
    );
    let cwd = crate::rules::dir_outside_tmp("netlink-change");
    let out = Cmd::supervised(Policy::example("ci"), &add)
        .in_new_netns()
        .cwd(&cwd)
        .run();
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "EPERM from the kernel (no CAP_NET_ADMIN): {out}"
    );
}
