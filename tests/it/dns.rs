//! Name lookups under the policy: glibc (getent, the dynamic and the
//! static probe), musl
//! (the static probe), Go (a static binary with Go's own resolver) and
//! busybox nslookup all reach the policy as `getaddrinfo` requests.
//!
//! No test sends a query to the machine's configured name server: the
//! lookups end at the supervisor's stub, and the upstream path goes to a
//! DNS server the test runs on loopback (`--dns-upstream`).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::util::{busybox, dns_server_with, go_probe, tempdir, Cmd, Kind, Policy};

/// Pins anonymous.invalid to 127.0.1.1 and ::1, says "noname" for
/// blocked.invalid; everything else is brokered.
const PIN: &str = r#"
local master = require("libc_service").master
while true do
  local f = master:receive()
  if f == "getaddrinfo" then
    local name = master:arguments()
    if name == "anonymous.invalid" then
      master:send({{"127.0.1.1", 80}, {"::1"}})
    else
      master:send("noname")
    end
  else
    master:use_master_credentials()
  end
end
"#;

fn resolvers(name: &str) -> Vec<(&'static str, Vec<std::ffi::OsString>)> {
    vec![
        ("musl", Kind::Musl.net_argv(&["resolve", name])),
        ("glibc", Kind::Glibc.net_argv(&["resolve", name])),
        (
            "glibc-static",
            vec![
                crate::util::probes().net_glibc_static.clone().into(),
                "resolve".into(),
                name.into(),
            ],
        ),
        ("go", vec![go_probe().into(), name.into()]),
    ]
}

fn pinned(stdout: &str) -> bool {
    stdout == "addr: 127.0.1.1\naddr: ::1\n" || stdout == "addr: ::1\naddr: 127.0.1.1\n"
}

#[test]
fn a_pinned_name_as_every_resolver_sees_it() {
    for netns in [false, true] {
        for (who, argv) in resolvers("anonymous.invalid") {
            let mut c = Cmd::supervised(Policy::inline(PIN), &argv);
            if netns {
                // Its own empty network namespace: only the stub answers.
                c = c.in_new_netns();
            }
            let o = c.run();
            o.assert_clean();
            assert!(pinned(&o.stdout), "{who} (netns {netns}): {o}");
        }
    }
    let o = Cmd::supervised(
        Policy::inline(PIN),
        &["getent", "ahosts", "anonymous.invalid"],
    )
    .run();
    o.assert_clean();
    let mut addrs: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("STREAM"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    addrs.sort();
    assert_eq!(addrs, ["127.0.1.1", "::1"], "getent: {o}");

    let o = Cmd::supervised(
        Policy::inline(PIN),
        &busybox(&["nslookup", "anonymous.invalid"]),
    )
    .run();
    o.assert_clean();
    assert!(
        o.stdout.contains("Address: 127.0.1.1") && o.stdout.contains("Address: ::1"),
        "nslookup: {o}"
    );
}

/// What resolver `who` prints for a name that is not found.
fn not_found(who: &str) -> &'static str {
    if who == "go" {
        "error: not found\n"
    } else {
        "gai: EAI_NONAME\n"
    }
}

#[test]
fn noname_is_each_resolvers_native_not_found() {
    for (who, argv) in resolvers("blocked.invalid") {
        let o = Cmd::supervised(Policy::inline(PIN), &argv).run();
        o.assert_clean();
        assert_eq!(o.stdout, not_found(who), "{who}: {o}");
    }
    // getent: exit status 2, "key not found".
    let o = Cmd::supervised(
        Policy::inline(PIN),
        &["getent", "ahosts", "blocked.invalid"],
    )
    .run();
    assert_eq!((o.code, o.stdout.as_str()), (2, ""), "getent: {o}");
    let o = Cmd::supervised(
        Policy::inline(PIN),
        &busybox(&["nslookup", "blocked.invalid"]),
    )
    .run();
    assert_eq!(o.code, 1, "nslookup: {o}");
    assert!(o.stdout.contains("NXDOMAIN"), "nslookup: {o}");
}

/// A DNS server on loopback answering every A query with 192.0.2.7 (and
/// AAAA with no address); counts the queries it got.
fn upstream() -> (u16, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let port = dns_server_with(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Some(Ipv4Addr::new(192, 0, 2, 7))
    });
    (port, count)
}

#[test]
fn forwarded_lookups_go_to_the_supervisors_resolver() {
    // "no loop": a policy that returns without receiving leaves every
    // request to use_slave_credentials, lookups included.
    for how in ["use_master_credentials", "use_slave_credentials", "no loop"] {
        let (port, count) = upstream();
        let p = match how {
            "no loop" => r#"local _ = require("libc_service").master"#.to_string(),
            _ => format!(
                r#"local master = require("libc_service").master
               while true do
                 local f = master:receive()
                 if f == "getaddrinfo" then master:{how}() else master:use_master_credentials() end
               end"#
            ),
        };
        for (who, argv) in resolvers("upstream.example") {
            let before = count.load(Ordering::SeqCst);
            let o = Cmd::supervised(Policy::inline(&p), &argv)
                .option(format!("--dns-upstream=127.0.0.1:{port}"))
                .run();
            o.assert_clean();
            assert_eq!(o.stdout, "addr: 192.0.2.7\n", "{how} {who}: {o}");
            assert!(
                count.load(Ordering::SeqCst) > before,
                "{how} {who}: the upstream server got no query"
            );
        }
    }
}

#[test]
fn example_policy_dns_blocklist() {
    let (port, _) = upstream();
    for (who, argv) in resolvers("ads.example") {
        let o = Cmd::supervised(Policy::example("dns-blocklist"), &argv)
            .option(format!("--dns-upstream=127.0.0.1:{port}"))
            .run();
        o.assert_clean();
        assert_eq!(o.stdout, not_found(who), "{who}: {o}");
    }
    for (who, argv) in resolvers("cdn.tracker.example") {
        let o = Cmd::supervised(Policy::example("dns-blocklist"), &argv)
            .option(format!("--dns-upstream=127.0.0.1:{port}"))
            .run();
        o.assert_clean();
        assert!(
            o.stdout.starts_with("gai: EAI_NONAME") || o.stdout == "error: not found\n",
            "{who}: {o}"
        );
    }
    for (who, argv) in resolvers("fine.example") {
        let o = Cmd::supervised(Policy::example("dns-blocklist"), &argv)
            .option(format!("--dns-upstream=127.0.0.1:{port}"))
            .run();
        o.assert_clean();
        assert_eq!(o.stdout, "addr: 192.0.2.7\n", "{who}: {o}");
    }
}

#[test]
fn example_policy_no_network() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let dir = tempdir();
    std::fs::write(dir.path().join("f"), "local file\n").unwrap();
    for kind in [Kind::Musl, Kind::Glibc] {
        let o = Cmd::supervised(
            Policy::example("no-network"),
            &kind.net_argv(&[
                "connect".to_string(),
                format!("tcp:127.0.0.1:{port}"),
                "sendto".into(),
                "udp:127.0.0.1:9".into(),
                "x".into(),
                "bind".into(),
                "tcp:127.0.0.1:8080".into(),
                "bind".into(),
                "tcp:0.0.0.0:0".into(),
                "resolve".into(),
                "anything.example".into(),
            ]),
        )
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout,
            "connect: ENETUNREACH\nsendto: ENETUNREACH\nbind: EACCES\nbind: OK\ngai: EAI_AGAIN\n",
            "{kind:?}: {o}"
        );
        assert!(l.accept().is_err(), "a connect got through no-network");
        // Files still work.
        let o = Cmd::supervised(Policy::example("no-network"), &busybox(&["cat", "f"]))
            .cwd(dir.path())
            .run();
        o.assert_clean();
        assert_eq!(o.stdout, "local file\n");
    }
    let o = Cmd::supervised(
        Policy::example("no-network"),
        &[go_probe().as_os_str(), "anything.example".as_ref()],
    )
    .run();
    o.assert_clean();
    assert_eq!(o.stdout, "error: temporary\n", "go: {o}");
}
