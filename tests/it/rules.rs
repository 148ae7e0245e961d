//! Declarative rules (`require "rules"`, docs/rules.md) on real programs:
//! which rule wins, decisions on resolved paths (symlinks, `..`, files
//! that do not exist yet), the kinds of each call, failures that must not
//! reveal denied places, addresses, names and the addresses learnt from
//! them, `how = "slave"`, a hand-written loop with `decide`/`answer`,
//! load errors, and the example policies built on rules.
//!
//! Network tests reach loopback only, or addresses inside a network
//! namespace the test made itself ([`in_netns`]).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use crate::util::{busybox, canon, dns_server_with, tempdir, Cmd, Kind, Output, Policy};

/// `return rules.run { BODY }`.
pub fn rules(body: &str) -> Policy {
    Policy::inline(&format!(
        "local rules = require \"rules\"\nreturn rules.run {{\n{body}\n}}\n"
    ))
}

/// Makes the files (a path ending in `/`: a directory) of `entries`
/// (relative path, content) under `root`.
fn tree(root: &Path, entries: &[(&str, &str)]) {
    for (p, content) in entries {
        let path = root.join(p);
        if p.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
    }
}

/// A fresh temporary directory holding [`tree`] `entries`; the guard and
/// its canonical path.
fn new_tree(entries: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let t = tempdir();
    let r = canon(&t);
    tree(&r, entries);
    (t, r)
}

/// argv for the static probe with `args`.
fn probe(args: &[&str]) -> Vec<std::ffi::OsString> {
    Kind::Musl.probe_argv(args)
}

/// The static probe with `args` under `policy`, `$R` being `r`.
fn probe_in(r: &Path, policy: Policy, args: &[&str]) -> Cmd {
    Cmd::supervised(policy, &probe(args)).env("R", r)
}

/// [`probe_in`], run; a clean exit asserted.
#[track_caller]
fn run_in(r: &Path, policy: Policy, args: &[&str]) -> Output {
    let o = probe_in(r, policy, args).run();
    o.assert_clean();
    o
}

/// The probe's arguments to `cat` each of `paths` (relative to `r`).
fn cat_each(r: &Path, paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .flat_map(|p| ["cat".to_string(), r.join(p).display().to_string()])
        .collect()
}

/// The result part (after the last ": ") of each line of `o`'s stdout.
fn results(o: &Output) -> Vec<&str> {
    o.stdout
        .lines()
        .map(|l| l.rsplit(": ").next().unwrap_or(l))
        .collect()
}

/// A directory not under /tmp (policies/ci.lua gives the program a private
/// /tmp, where a directory of the test's /tmp does not exist).
pub fn dir_outside_tmp(name: &str) -> PathBuf {
    // The repository itself may be under /tmp (a CI checkout): then
    // /var/tmp, which is not /tmp either.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .canonicalize()
        .expect("CARGO_TARGET_TMPDIR exists");
    let base = if target.starts_with("/tmp") {
        Path::new("/var/tmp").to_path_buf()
    } else {
        target
    };
    let d = tempfile::Builder::new()
        .prefix(&format!("rules-{name}-"))
        .tempdir_in(base)
        .expect("create a directory in CARGO_TARGET_TMPDIR")
        .keep();
    d.canonicalize().unwrap()
}

/// Runs `f` on a new thread inside a new network namespace made for the
/// test, with `lo` up and `addrs` (CIDR notation) added to it: the sockets
/// `f` makes and the processes it starts (the supervisor and the program)
/// all live there, so nothing can leave the machine.
pub fn in_netns<T: Send + 'static>(addrs: &[&str], f: impl FnOnce() -> T + Send + 'static) -> T {
    let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        // SAFETY: unshare(CLONE_NEWNET) changes this thread's network
        // namespace only; no memory is involved.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(args)
                .output()
                .expect("run ip (iproute2)");
            assert!(o.status.success(), "ip {args:?}: {o:?}");
        };
        ip(&["link", "set", "lo", "up"]);
        for a in &addrs {
            ip(&["addr", "add", a, "dev", "lo"]);
        }
        f()
    })
    .join()
    .expect("the network namespace thread")
}

/// A TCP listener on `addr` (of the current network namespace) that says
/// "hello" to every connection, for a minute; its port.
pub fn greeter(addr: &str) -> u16 {
    let l = TcpListener::bind(addr).unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = std::io::Write::write_all(&mut s, b"hello\n");
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
    });
    port
}

/// A DNS server on 127.0.0.1 (of the current network namespace) answering
/// A queries from `table` (name → address) and NXDOMAIN otherwise.
pub fn dns_server(table: &[(&str, Ipv4Addr)]) -> u16 {
    let table: Vec<(String, Ipv4Addr)> = table.iter().map(|(n, a)| (n.to_string(), *a)).collect();
    dns_server_with(move |name| table.iter().find(|(n, _)| n == name).map(|(_, a)| *a))
}

#[test]
fn the_most_specific_rule_wins_with_its_errno() {
    let (_t, r) = new_tree(&[
        ("pub/a.txt", "a"),
        ("pub/secret/key", "k"),
        ("pub/secret/ok.txt", "ok"),
        ("etc/x.conf", "x"),
        ("etc/y.txt", "y"),
        ("other/f", "f"),
    ]);
    let policy = rules(
        r#"default = { read = "deny" },
           { "allow", "read", "$R/pub/" },
           { "deny",  "read", "$R/pub/secret/", errno = "ENOENT" },
           { "allow", "read", "$R/pub/secret/ok.txt" },
           { "allow", "read", "$R/etc/*.conf" },"#,
    );
    let files = [
        "pub/a.txt",
        "pub/secret/key",
        "pub/secret/ok.txt",
        "etc/x.conf",
        "etc/y.txt",
        "other/f",
    ];
    let args = cat_each(&r, &files);
    let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    let o = run_in(&r, policy, &args);
    let want: String = [
        ("pub/a.txt", "[a]"),
        ("pub/secret/key", "ENOENT"),
        ("pub/secret/ok.txt", "[ok]"),
        ("etc/x.conf", "[x]"),
        ("etc/y.txt", "EACCES"),
        ("other/f", "EACCES"),
    ]
    .iter()
    .map(|(p, w)| format!("cat {}: {w}\n", r.join(p).display()))
    .collect();
    assert_eq!(o.stdout, want, "{o}");
}

/// Rules decide on the path the supervisor acts on: symlinks and `..`
/// resolved as the call resolves them, relative paths from the program's
/// working directory, files that do not exist yet.
#[test]
fn decisions_are_on_the_resolved_path() {
    let (_t, r) = new_tree(&[("secret/key", "k"), ("ws/file", "f")]);
    std::os::unix::fs::symlink("../secret/key", r.join("ws/link")).unwrap();
    std::os::unix::fs::symlink("../secret/planted", r.join("ws/dangling")).unwrap();
    let policy = rules(
        r#"default = { read = "allow" },
           { "deny",  "read", "$R/secret/" },
           { "allow", { "write", "create", "delete" }, "$R/ws/" },"#,
    );
    let o = probe_in(
        &r,
        policy,
        &[
            "cat",
            "link",
            "cat",
            "../secret/key",
            "cat",
            "file",
            "write",
            "new",
            "n",
            "write",
            "dangling",
            "d",
            "write",
            "../ws/./new2",
            "n",
            "write",
            "../secret/new3",
            "n",
            "unlink",
            "link",
            "cat",
            "new",
        ],
    )
    .cwd(r.join("ws"))
    .run();
    o.assert_clean();
    assert_eq!(
        o.stdout,
        "cat link: EACCES\ncat ../secret/key: EACCES\ncat file: [f]\nwrite new: OK\n\
         write dangling: EACCES\nwrite ../ws/./new2: OK\nwrite ../secret/new3: EACCES\n\
         unlink link: OK\ncat new: [n]\n",
        "{o}"
    );
    assert!(
        !r.join("secret/planted").exists(),
        "a dangling symlink planted a file"
    );
    assert!(!r.join("secret/new3").exists());
    assert!(
        r.join("secret/key").exists(),
        "unlink of the link removed its target"
    );
}

/// A path that does not resolve fails with its errno where the rules allow
/// the call, and with the rule's errno where they deny it: a failure says
/// nothing about what lies in a denied place.
#[test]
fn failures_do_not_reveal_denied_places() {
    let (_t, r) = new_tree(&[("secret/exists", ""), ("ok/file", "")]);
    let policy = rules(
        r#"default = { read = "allow" },
           { "deny", "read", "$R/secret/" },"#,
    );
    let paths = [
        "ok/missing/x",     // ENOENT: allowed there
        "ok/file/x",        // ENOTDIR
        "secret/missing/x", // would be ENOENT
        "secret/exists/x",  // would be ENOTDIR
    ];
    let args = cat_each(&r, &paths);
    let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
    let o = run_in(&r, policy, &args);
    assert_eq!(
        results(&o),
        ["ENOENT", "ENOTDIR", "EACCES", "EACCES"],
        "{o}"
    );
}

/// read, write, create and delete are separate kinds; a rename is a delete
/// of its source and a create (and delete) of its destination.
#[test]
fn kinds_of_each_call() {
    let (_t, r) = new_tree(&[
        ("dropbox/existing", "old"),
        ("editable/existing", "old"),
        ("ws/a", "a"),
        ("protected/p", "p"),
        ("outside/", ""),
    ]);
    let policy = rules(
        r#"default = { read = "allow" },
           { "allow", "create", "$R/dropbox/" },
           { "allow", "write", "$R/editable/" },
           { "allow", { "write", "create", "delete" }, "$R/ws/" },"#,
    );
    let p = |s: &str| r.join(s).display().to_string();
    let o = run_in(
        &r,
        policy,
        &[
            "write",
            &p("dropbox/new"),
            "n",
            "write",
            &p("dropbox/existing"),
            "x",
            "unlink",
            &p("dropbox/existing"),
            "write",
            &p("editable/existing"),
            "e",
            "write",
            &p("editable/new"),
            "x",
            "mkdir",
            &p("ws/d"),
            "755",
            "mkdir",
            &p("outside/d"),
            "755",
            "rename",
            &p("ws/a"),
            &p("ws/b"),
            "rename",
            &p("ws/b"),
            &p("outside/b"),
            "rename",
            &p("protected/p"),
            &p("ws/p"),
            "rmdir",
            &p("ws/d"),
        ],
    );
    assert_eq!(
        results(&o),
        [
            "OK", "EACCES", "EACCES", "OK", "EACCES", "OK", "EACCES", "OK", "EACCES", "EACCES",
            "OK"
        ],
        "{o}"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("dropbox/existing")).unwrap(),
        "old"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("editable/existing")).unwrap(),
        "e"
    );
    assert!(!r.join("editable/new").exists() && !r.join("outside/d").exists());
    assert!(r.join("ws/b").exists() && r.join("protected/p").exists());
}

/// connect and bind by address, CIDR and port; unix socket paths.
#[test]
fn addresses_ports_and_unix_paths() {
    let (py, pn) = (greeter("127.0.0.1:0"), greeter("127.0.0.1:0"));
    let t = tempdir();
    let r = canon(&t);
    let ok = std::os::unix::net::UnixListener::bind(r.join("ok.sock")).unwrap();
    let _no = std::os::unix::net::UnixListener::bind(r.join("no.sock")).unwrap();
    std::thread::spawn(move || {
        for s in ok.incoming().take(2).flatten() {
            let _ = std::io::Write::write_all(&mut &s, b"hello\n");
        }
    });
    let policy = rules(&format!(
        r#"default = {{ read = "allow", connect = {{ "deny", errno = "ENETUNREACH" }} }},
           {{ "allow", "connect", "127.0.0.0/8", port = {py} }},
           {{ "allow", "bind", "127.0.0.1", port = 0 }},
           {{ "allow", "connect", "unix:$R/ok.sock" }},"#
    ));
    for kind in [Kind::Musl, Kind::Glibc] {
        let o = Cmd::supervised(
            policy.clone(),
            &kind.net_argv(&[
                "connect".to_string(),
                format!("tcp:127.0.0.1:{py}"),
                "connect".into(),
                format!("tcp:127.0.0.1:{pn}"),
                "bind".into(),
                "tcp:127.0.0.1:0".into(),
                "bind".into(),
                "tcp:127.0.0.1:8080".into(),
                "connect".into(),
                format!("unix:{}", r.join("ok.sock").display()),
                "connect".into(),
                format!("unix:{}", r.join("no.sock").display()),
            ]),
        )
        .env("R", &r)
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout,
            "connect: OK\nread: hello\nconnect: ENETUNREACH\nbind: OK\nbind: EACCES\n\
             connect: OK\nread: hello\nconnect: ENETUNREACH\n",
            "{kind:?}: {o}"
        );
    }
}

/// Names: the lookups the rules allow go to the supervisor's resolver, the
/// others fail; a connect to an address the program learnt from an allowed
/// name is allowed by that name, and only after the lookup.  In a network
/// namespace of the test's own, where 10.1.2.3 and 10.1.2.4 are local.
#[test]
fn names_and_the_addresses_learnt_from_them() {
    in_netns(&["10.1.2.3/32", "10.1.2.4/32"], || {
        let port = greeter("0.0.0.0:0");
        let dns = dns_server(&[
            ("svc.test", Ipv4Addr::new(10, 1, 2, 3)),
            ("other.test", Ipv4Addr::new(10, 1, 2, 4)),
        ]);
        let policy = rules(
            // (musl's resolver binds its socket to port 0 first.)
            r#"default = { read = "allow", bind = "allow", connect = "deny" },
               { "allow", "resolve", "*.test" },
               { "deny",  "resolve", "blocked.test", errno = "again" },
               { "allow", "connect", "name:svc.test" },"#,
        );
        let run = |args: Vec<String>, policy: &Policy| {
            Cmd::supervised(policy.clone(), &Kind::Musl.net_argv(&args))
                .option(format!("--dns-upstream=127.0.0.1:{dns}"))
                .run()
        };
        let a = |s: &str| s.to_string();
        let o = run(
            vec![
                a("resolve"),
                a("svc.test"),
                a("resolve"),
                a("other.test"),
                a("resolve"),
                a("blocked.test"),
                a("resolve"),
                a("elsewhere.example"),
                a("connect"),
                format!("tcp:10.1.2.3:{port}"),
                a("connect"),
                format!("tcp:10.1.2.4:{port}"),
            ],
            &policy,
        );
        o.assert_clean();
        assert_eq!(
            o.stdout,
            "addr: 10.1.2.3\naddr: 10.1.2.4\ngai: EAI_AGAIN\ngai: EAI_NONAME\nconnect: OK\n\
             read: hello\nconnect: EACCES\n",
            "{o}"
        );
        // Without the lookup, the address is nobody's.
        let o = run(vec![a("connect"), format!("tcp:10.1.2.3:{port}")], &policy);
        assert_eq!(o.stdout, "connect: EACCES\n", "{o}");
        // Both addresses are reachable: the denial is the rules'.
        let o = run(
            vec![a("connect"), format!("tcp:10.1.2.4:{port}")],
            &Policy::example("allow-all"),
        );
        assert_eq!(o.stdout, "connect: OK\nread: hello\n", "{o}");
    });
}

/// A policy's own loop: `p:decide()` says what the rules would do,
/// `p:answer()` does it and returns the decision's description (what the
/// audit log shows), and the loop answers some requests itself.
#[test]
fn a_hand_written_loop_with_decide_and_answer() {
    let t = tempdir();
    let r = canon(&t);
    std::fs::write(r.join("secret"), "s").unwrap();
    std::fs::write(r.join("public"), "p").unwrap();
    let log = r.join("decisions.log");
    let policy = Policy::inline(
        r#"
local rules = require "rules"
local master = require("libc_service").master
local R = os.getenv("R")
local p = rules.policy {
  default = { read = "allow" },
  { "deny", "read", "$R/secret" },
  { "allow", { "write", "create" }, "$R/out/" },
}
local log = assert(io.open(os.getenv("LOG"), "w"))
while true do
  master:receive()
  local path = master:resolved()
  if path == R .. "/fake" then
    master:send(-1, "EROFS")                 -- the policy's own answer
  else
    local action, err, desc, how = p:decide()
    local said = p:answer()
    assert(said == desc, said .. " ~= " .. desc)
    if path == nil or path:sub(1, #R) == R then
      log:write(action, " ", tostring(err), " ", tostring(how), " ", desc, "\n")
      log:flush()
    end
  end
end
"#,
    );
    let p = |s: &str| r.join(s).display().to_string();
    let o = probe_in(
        &r,
        policy,
        &[
            "cat",
            &p("secret"),
            "cat",
            &p("public"),
            "cat",
            &p("fake"),
            "write",
            &p("out/x"),
            "x",
            "write",
            &p("elsewhere"),
            "x",
        ],
    )
    .env("LOG", &log)
    .run();
    o.assert_clean();
    assert_eq!(
        results(&o),
        ["EACCES", "[p]", "EROFS", "ENOENT", "EACCES"],
        "{o}"
    );
    let want = format!(
        "deny EACCES nil rule 1 (deny read {r}/secret)\n\
         allow nil program default allow read\n\
         fail ENOENT nil rule 2 (allow create {r}/out/)\n\
         deny EACCES nil default deny create\n",
        r = r.display()
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), want);
}

#[test]
fn load_errors_name_the_rule_and_the_line() {
    for (body, want) in [
        (
            r#"{ "allow", "read", "/usr/" },
               { "allow", "raed", "/etc/" },"#,
            "policy.lua:2: rules: rule 2: unknown kind \"raed\"",
        ),
        (
            r#"{ "allow", "write", "$SUPERVISOR_NO_SUCH_VARIABLE/" },"#,
            "rules: rule 1: $SUPERVISOR_NO_SUCH_VARIABLE is not set",
        ),
        (
            r#"{ "allow", "read", "relative/" },"#,
            "rules: rule 1: \"relative/\": a path pattern must be absolute",
        ),
        (r#"defualt = {},"#, "rules: unknown field \"defualt\""),
    ] {
        let o = Cmd::supervised(rules(body), &busybox(&["true"])).run();
        o.assert_code(124);
        assert!(o.stderr.contains(want), "{want:?} not in {o}");
    }
}

/// `how = "slave"`: the kernel performs the call with the program's own
/// credentials, where the program's Landlock domain applies; the default
/// (the supervisor, race-free) is outside it.
#[test]
fn how_slave_is_the_programs_own_call() {
    let t = tempdir();
    let r = canon(&t);
    std::fs::create_dir_all(r.join("master")).unwrap();
    std::fs::create_dir_all(r.join("slave")).unwrap();
    let init = r#"
      local rs = C.landlock_create_ruleset({handled_access_fs = {"write_file", "make_reg"}})
      set_no_new_privs()
      C.landlock_restrict_self(rs)
    "#;
    let policy = rules(
        r#"default = { read = "allow" },
           { "allow", { "write", "create" }, "$R/master/" },
           { "allow", { "write", "create" }, "$R/slave/", how = "slave" },"#,
    );
    let o = probe_in(
        &r,
        policy,
        &[
            "write",
            &r.join("master/f").display().to_string(),
            "m",
            "write",
            &r.join("slave/f").display().to_string(),
            "s",
        ],
    )
    .init(init)
    .run();
    o.assert_clean();
    assert_eq!(results(&o), ["OK", "EACCES"], "{o}");
}

/// Opening another process's descriptors through /proc/<pid>/fd would
/// reach them with the supervisor's authority: refused, even by a policy
/// that allows everything; the program's own (/dev/stdin) still work.
#[test]
fn another_process_descriptors_are_not_reached() {
    let t = tempdir();
    std::fs::write(t.path().join("in"), "mine\n").unwrap();
    let stdin = t.path().join("in");
    let o = Cmd::supervised(
        Policy::example("allow-all-with-audit"),
        &busybox(&[
            "sh",
            "-c",
            "cat /proc/$PPID/fd/1 </dev/null; cat /proc/$PPID/cwd/x; cat /dev/stdin <\"$IN\"",
        ]),
    )
    .env("IN", &stdin)
    .run();
    assert!(o.stderr.contains("/fd/1': Permission denied"), "{o}");
    assert!(o.stderr.contains("/cwd/x': Permission denied"), "{o}");
    assert_eq!(o.stdout, "mine\n", "{o}");
}

#[test]
fn example_policy_allow_all_with_audit() {
    let port = greeter("127.0.0.1:0");
    let t = tempdir();
    let d = canon(&t);
    let o = Cmd::supervised(
        Policy::example("allow-all-with-audit"),
        &busybox(&[
            "sh",
            "-c",
            "echo hi > f && mkdir d && mv f d/g && cat d/g && rm -r d",
        ]),
    )
    .cwd(&d)
    .run();
    o.assert_clean();
    assert_eq!(o.stdout, "hi\n");
    let o = Cmd::supervised(
        Policy::example("allow-all-with-audit"),
        &Kind::Glibc.net_argv(&["connect".to_string(), format!("tcp:127.0.0.1:{port}")]),
    )
    .run();
    o.assert_clean();
    assert_eq!(o.stdout, "connect: OK\nread: hello\n");
}

#[test]
fn example_policy_read_only() {
    let t = tempdir();
    let d = canon(&t);
    let scratch = d.join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    std::fs::write(d.join("data"), "data\n").unwrap();
    let o = Cmd::supervised(
        Policy::example("read-only"),
        &busybox(&[
            "sh",
            "-c",
            "cat data; echo x > scratch/out && cat scratch/out; echo y > new; echo z >> data; \
             rm data; mkdir dir; echo quiet > /dev/null; echo done",
        ]),
    )
    .env("SCRATCH", &scratch)
    .cwd(&d)
    .run();
    assert_eq!(o.code, 0, "{o}");
    assert_eq!(o.stdout, "data\nx\ndone\n", "{o}");
    for what in [
        "can't create new: Read-only file system",
        "data: Read-only file system",
    ] {
        assert!(o.stderr.contains(what), "{what:?} not in {o}");
    }
    assert_eq!(std::fs::read_to_string(d.join("data")).unwrap(), "data\n");
    assert!(!d.join("new").exists() && !d.join("dir").exists());
}

/// The benchmark's rules policies (bench/policies/rules-*.lua) load and
/// decide alike: what they measure is the same work.
#[test]
fn the_benchmark_rules_policies_decide_alike() {
    let t = tempdir();
    let d = canon(&t);
    std::fs::write(d.join("target"), "bench target\n").unwrap();
    let target = d.join("target").display().to_string();
    for n in ["1", "1000"] {
        let p = Policy::file(crate::util::repo().join(format!("bench/policies/rules-{n}.lua")));
        let o = Cmd::supervised(p, &probe(&["cat", &target, "write", &target, "x"]))
            .env("BENCH_DIR", &d)
            .run();
        o.assert_clean();
        assert_eq!(
            o.stdout,
            format!("cat {target}: [bench target\n]\nwrite {target}: EACCES\n"),
            "rules-{n}: {o}"
        );
    }
}

/// `rules.literal`: a path from the environment as a pattern matching just
/// that path, whatever its characters.
#[test]
fn literal_paths_are_not_patterns() {
    let t = tempdir();
    let r = canon(&t);
    for d in ["a*b$c?", "aXb$c?", "a*b"] {
        std::fs::create_dir(r.join(d)).unwrap();
        std::fs::write(r.join(d).join("f"), d).unwrap();
    }
    let policy = Policy::inline(
        r#"local rules = require "rules"
           return rules.run {
             default = { read = "deny" },
             { "allow", "read", rules.literal(os.getenv("R") .. "/a*b$c?") .. "/" },
           }"#,
    );
    let p = |s: &str| r.join(s).join("f").display().to_string();
    let o = run_in(
        &r,
        policy,
        &["cat", &p("a*b$c?"), "cat", &p("aXb$c?"), "cat", &p("a*b")],
    );
    assert_eq!(results(&o), ["[a*b$c?]", "EACCES", "EACCES"], "{o}");
}
