//! Slave filters (`libc_service.slave`): per-function Lua filters in front
//! of the master, for the probes built static with musl and dynamic with
//! glibc (docs/slave.md).
//!
//! The master loops of these tests log what they see to a file (`LOG`), so
//! that a test can assert what reached the master and what did not.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::util::{
    canon, dns_server_with, go_probe, probes, tempdir, with_slave_filters, Cmd, Kind, Output,
    Policy,
};

const KINDS: [Kind; 2] = [Kind::Musl, Kind::Glibc];

/// Lua: `log(...)` appends its arguments, tab-separated, as one line to
/// the file `LOG`.
const LOG: &str = r##"
local function log(...)
  local f = assert(io.open(os.getenv("LOG"), "a"))
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  f:write(table.concat(t, "\t"), "\n")
  f:close()
end
"##;

/// A policy: `filters` (Lua statements with `slave`, `host`, `C` in
/// scope), then a master loop that logs each request (function and
/// arguments) and runs `on_request` (statements with the function in `f`
/// and the first argument in `a`); requests it leaves alone are brokered.
fn policy(filters: &str, on_request: &str) -> Policy {
    Policy::inline(&format!(
        r#"
local svc = require("libc_service")
local host = require("host")
local master, slave = svc.master, svc.slave
{LOG}
{filters}
while true do
  local f = master:receive()
  local a, b = master:arguments()
  log(f, a, b)
  {on_request}
  if master.function_ then master:use_master_credentials() end
end
"#
    ))
}

/// The lines of the master's log.
fn logged(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn run_logged(p: Policy, argv: &[std::ffi::OsString], log: &Path) -> Output {
    let _ = std::fs::remove_file(log);
    Cmd::supervised(p, argv).env("LOG", log).run()
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn stat_filter_adds_a_link_and_lstat_filter_one_to_mode() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let p = policy(
        r#"
slave.stat = function(real_stat, path)
  local st, err = real_stat(path)
  st.nlink = st.nlink + 1
  return st, err
end
slave.lstat = function(real_lstat, path)
  local st, err = real_lstat(path)
  st.mode = st.mode + 1
  return st, err
end
"#,
        r#"if f == "stat" or f == "lstat" then
             master:send({ dev = 0x0801, ino = 77, mode = 420, type = "regular", nlink = 3,
                           uid = 5, gid = 6, size = 42, mtime = {1000, 5}, blocks = 8 })
           end"#,
    );
    let target = "/nonexistent/faked";
    for kind in KINDS {
        let o = run_logged(p.clone(), &kind.probe_argv(&["stat", target]), &log);
        o.assert_clean();
        let common = "uid=5 gid=6 mtime=1000.000000005";
        let want = [
            format!("stat {target}: size=42 nlink=4 mode=100644 {common} ino=77 dev=801 blocks=8"),
            format!("lstat {target}: size=42 nlink=3 mode=100645 {common} ino=77 dev=801 blocks=8"),
            format!(
                "statx {target}: mask=7ff size=42 nlink=4 mode=100644 {common} ino=77 dev=8:1 blocks=8"
            ),
            format!(
                "statx-nofollow {target}: mask=7ff size=42 nlink=3 mode=100645 {common} ino=77 \
                 dev=8:1 blocks=8"
            ),
        ];
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(&lines[..4], &want, "{kind:?}: {o}");
        // Each stat went through its filter to the master.
        let seen = logged(&log);
        assert!(
            seen.contains(&format!("stat\t{target}\tnil"))
                && seen.contains(&format!("lstat\t{target}\tnil")),
            "{kind:?}: the master saw {seen:?}"
        );
    }
}

#[test]
fn open_filter_returns_the_masters_memfd() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let real = canon(&dir).join("real.txt");
    std::fs::write(&real, "real content\n").unwrap();
    let p = policy(
        r#"
slave.open = function(real_open, path, flags, mode)
  local r, err, fd = real_open(path, flags, mode)
  if fd then return fd end
  return r, err
end
"#,
        r#"if f == "open" and a == "/nonexistent/fake" then
             local m = host.memfd("served by the master\n")
             master:send_with_fds(0, {m})
             m:close()
           end"#,
    );
    for kind in KINDS {
        let argv = kind.probe_argv(&strings(&[
            "cat",
            "/nonexistent/fake",
            "cat",
            &path_str(&real),
        ]));
        let o = run_logged(p.clone(), &argv, &log);
        o.assert_clean();
        assert_eq!(
            o.stdout,
            format!(
                "cat /nonexistent/fake: [served by the master\n]\ncat {}: [real content\n]\n",
                real.display()
            ),
            "{kind:?}: {o}"
        );
    }
}

/// A DNS server on loopback answering A queries with 192.0.2.9 (AAAA with
/// no address); records the names asked.
fn upstream() -> (u16, Arc<Mutex<Vec<String>>>) {
    let names = Arc::new(Mutex::new(Vec::new()));
    let n = names.clone();
    let port = dns_server_with(move |name| {
        n.lock().unwrap().push(name.to_string());
        Some(std::net::Ipv4Addr::new(192, 0, 2, 9))
    });
    (port, names)
}

const RENAME: &str = r#"
slave.getaddrinfo = function(real_getaddrinfo, node, service, protocol)
  if node == "anonymous2.invalid" then node = "anonymous.invalid" end
  return real_getaddrinfo(node, service, protocol)
end
"#;

#[test]
fn getaddrinfo_filter_renames_before_the_master_pins() {
    let dir = tempdir();
    let log = dir.path().join("log");
    // The first lookup is pinned to an IPv4 address, the next ones to an
    // IPv6 address.
    let p = policy(
        &format!("{RENAME}\nlocal lookups = 0\n"),
        r#"if f == "getaddrinfo" then
             lookups = lookups + 1
             if a ~= "anonymous.invalid" then master:send("noname")
             elseif lookups == 1 then master:send({"127.0.1.1", 80})
             else master:send({"::1"}) end
           end"#,
    );
    for kind in KINDS {
        let argv = kind.net_argv(&[
            "resolve",
            "anonymous2.invalid",
            "resolve",
            "anonymous2.invalid",
        ]);
        let o = run_logged(p.clone(), &argv, &log);
        o.assert_clean();
        assert_eq!(o.stdout, "addr: 127.0.1.1\naddr: ::1\n", "{kind:?}: {o}");
        let seen: Vec<String> = logged(&log)
            .into_iter()
            .filter(|l| l.starts_with("getaddrinfo"))
            .collect();
        assert_eq!(
            seen, ["getaddrinfo\tanonymous.invalid\tnil"; 2],
            "{kind:?}: the master saw {seen:?}"
        );
    }
    // Static glibc and Go's own resolver: one lookup each.
    for argv in [
        vec![
            probes().net_glibc_static.clone().into_os_string(),
            "resolve".into(),
            "anonymous2.invalid".into(),
        ],
        vec![go_probe().into(), "anonymous2.invalid".into()],
    ] {
        let o = run_logged(p.clone(), &argv, &log);
        o.assert_clean();
        assert_eq!(o.stdout, "addr: 127.0.1.1\n", "{o}");
        let seen: Vec<String> = logged(&log)
            .into_iter()
            .filter(|l| l.starts_with("getaddrinfo"))
            .collect();
        assert_eq!(seen, ["getaddrinfo\tanonymous.invalid\tnil"], "{o}");
    }
}

#[test]
fn getaddrinfo_filter_with_the_supervisors_resolver() {
    // use_master_credentials on a renamed lookup: the supervisor's resolver
    // asks the upstream server for the new name, the filter gets the address.
    let (port, names) = upstream();
    let dir = tempdir();
    let log = dir.path().join("log");
    let p = policy(
        r#"
slave.getaddrinfo = function(real_getaddrinfo, node, service, protocol)
  if node == "anonymous2.invalid" then node = "renamed.example" end
  local r, addr, port = real_getaddrinfo(node, service, protocol)
  log("filter", r, addr and table.concat(addr, "."), port)
  return r, addr, port
end
"#,
        "",
    );
    for kind in KINDS {
        names.lock().unwrap().clear();
        let o = Cmd::supervised(
            p.clone(),
            &kind.net_argv(&["resolve", "anonymous2.invalid"]),
        )
        .env("LOG", &log)
        .option(format!("--dns-upstream=127.0.0.1:{port}"))
        .run();
        o.assert_clean();
        assert_eq!(o.stdout, "addr: 192.0.2.9\n", "{kind:?}: {o}");
        let asked = names.lock().unwrap().clone();
        assert!(
            !asked.is_empty() && asked.iter().all(|n| n == "renamed.example"),
            "{kind:?}: upstream was asked {asked:?}"
        );
        // The filter got nil, the 4 bytes of the address, the port.
        assert!(
            logged(&log).contains(&"filter\tnil\t192.0.2.9\t0".to_string()),
            "{kind:?}: {:?}",
            logged(&log)
        );
        let _ = std::fs::remove_file(&log);
    }
}

#[test]
fn connect_filter_installs_the_masters_socket_with_dup2() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let p = policy(
        r#"
slave.connect_inet = function(real_connect, fd, addr, port)
  local r, err, sock = real_connect(fd, addr, port)
  if not sock then return r, err end
  local n, e = C.dup2(sock, fd)
  if n ~= fd then return -1, e end
  return 0
end
"#,
        r#"if f == "connect_inet" then
             local mine, theirs = host.socketpair("stream")
             mine:write("we lied to connect\n")
             master:send_with_fds(0, {theirs})
           end"#,
    );
    for kind in KINDS {
        // Port 9 on loopback: nothing listens, the socket swap is all there is.
        let o = run_logged(
            p.clone(),
            &kind.net_argv(&["connect", "tcp:127.0.0.1:9"]),
            &log,
        );
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nread: we lied to connect\n",
            "{kind:?}: {o}"
        );
        let seen: Vec<String> = logged(&log)
            .into_iter()
            .filter(|l| l.starts_with("connect"))
            .collect();
        assert_eq!(seen, ["connect_inet\t127.0.0.1\t9"], "{kind:?}");
    }
}

#[test]
fn a_filter_that_never_calls_real_open_denies_alone() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let base = canon(&dir);
    let secret = base.join("secret");
    let public = base.join("public");
    std::fs::write(&secret, "secret\n").unwrap();
    std::fs::write(&public, "public\n").unwrap();
    let p = policy(
        r#"
slave.open = function(real_open, path, flags, mode)
  if path:match("/secret$") then return -1, C.EACCES end
  return real_open(path, flags, mode)
end
"#,
        "",
    );
    for kind in KINDS {
        let argv = kind.probe_argv(&strings(&[
            "cat",
            &path_str(&secret),
            "cat",
            &path_str(&public),
        ]));
        let o = run_logged(p.clone(), &argv, &log);
        o.assert_clean();
        assert_eq!(
            o.stdout,
            format!(
                "cat {}: EACCES\ncat {}: [public\n]\n",
                secret.display(),
                public.display()
            ),
            "{kind:?}: {o}"
        );
        let seen = logged(&log);
        assert!(
            seen.iter()
                .any(|l| l.starts_with(&format!("open\t{}", public.display()))),
            "{kind:?}: the master did not see the open it was given: {seen:?}"
        );
        assert!(
            !seen.iter().any(|l| l.contains("secret")),
            "{kind:?}: the master saw the open the filter denied: {seen:?}"
        );
    }
}

/// One filter's code, given as a function and as a string chunk: opens
/// that create fail with EROFS, opens under /virtual/ are rewritten into
/// `base`, and the master brokers the rewritten call.
fn open_filter_body(base: &Path) -> String {
    format!(
        r#"local real_open, path, flags, mode = ...
if flags & C.O_CREAT ~= 0 then return -1, C.EROFS end
if path:sub(1, 9) == "/virtual/" then path = "{}/" .. path:sub(10) end
return real_open(path, flags, mode)"#,
        base.display()
    )
}

#[test]
fn string_chunk_and_function_filters_behave_the_same() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let base = canon(&dir);
    std::fs::write(base.join("hello"), "hello from base\n").unwrap();
    let body = open_filter_body(&base);
    let as_function = policy(&format!("slave.open = function(...)\n{body}\nend"), "");
    let as_chunk = policy(&format!("slave.open = [==[\n{body}\n]==]"), "");
    let made = base.join("made");
    let argv = |kind: Kind| {
        kind.probe_argv(&strings(&[
            "cat",
            "/virtual/hello",
            "creat",
            &path_str(&made),
        ]))
    };
    for kind in KINDS {
        let mut outs = Vec::new();
        for p in [&as_function, &as_chunk] {
            let o = run_logged(p.clone(), &argv(kind), &log);
            o.assert_clean();
            assert!(
                !made.exists(),
                "{kind:?}: an EROFS creat created the file: {o}"
            );
            // The master acted on the rewritten path, and saw it.
            let seen = logged(&log);
            assert!(
                seen.iter()
                    .any(|l| l.starts_with(&format!("open\t{}/hello", base.display()))),
                "{kind:?}: the master saw {seen:?}"
            );
            outs.push(o.stdout);
        }
        assert_eq!(outs[0], outs[1], "{kind:?}: function and chunk differ");
        assert_eq!(
            outs[0],
            format!(
                "cat /virtual/hello: [hello from base\n]\ncreat {}: EROFS\n",
                made.display()
            ),
            "{kind:?}"
        );
    }
}

#[test]
fn rewritten_arguments_are_checked_like_the_programs() {
    let dir = tempdir();
    let log = dir.path().join("log");
    let base = canon(&dir);
    // Rewritten to an empty path, an over-long one, an unknown resolve
    // name: the kernel's errno at once, the master never sees them.
    let p = policy(
        r#"
slave.open = function(real_open, path, flags, mode)
  if path:match("empty$") then return real_open("", flags, mode) end
  if path:match("long$") then return real_open(("x/"):rep(2048), flags, mode) end
  return real_open(path, flags, mode)
end
slave.mkdir = function(real_mkdir, path, mode)
  return real_mkdir(path .. ".rewritten", mode)
end
"#,
        "",
    );
    let d = base.join("d");
    for kind in KINDS {
        let argv = kind.probe_argv(&strings(&[
            "cat",
            "/x/empty",
            "cat",
            "/x/long",
            "mkdir",
            &path_str(&d),
            "755",
        ]));
        let o = run_logged(p.clone(), &argv, &log);
        o.assert_clean();
        assert_eq!(
            o.stdout,
            format!(
                "cat /x/empty: ENOENT\ncat /x/long: ENAMETOOLONG\nmkdir {} 755: OK\n",
                d.display()
            ),
            "{kind:?}: {o}"
        );
        // The master acted on exactly the rewritten mkdir.
        assert!(!d.exists(), "{kind:?}");
        let rewritten = base.join("d.rewritten");
        assert!(rewritten.is_dir(), "{kind:?}");
        std::fs::remove_dir(&rewritten).unwrap();
        let seen = logged(&log);
        let mkdirs: Vec<&String> = seen.iter().filter(|l| l.starts_with("mkdir")).collect();
        assert_eq!(
            mkdirs,
            [&format!("mkdir\t{}\t493", rewritten.display())],
            "{kind:?}"
        );
        assert!(
            !seen.iter().any(|l| l.contains("/x/") || l.contains("x/x/")),
            "{kind:?}: the master saw a call the kernel would refuse: {seen:?}"
        );
    }
}

#[test]
fn kernel_stands_for_the_kernels_result() {
    // real_open returns `kernel` when the call goes on to the kernel
    // (use_slave_credentials, or no master loop): returned, the program
    // gets the kernel's result; the filter may still answer otherwise.
    let dir = tempdir();
    let log = dir.path().join("log");
    let base = canon(&dir);
    let file = base.join("file");
    std::fs::write(&file, "the kernel's file\n").unwrap();
    let filters = r#"
slave.open = function(real_open, path, flags, mode)
  local r, e = real_open(path, flags, mode)
  log("filter", path, tostring(r), e)
  if path:match("/overridden$") then return -1, C.EACCES end
  return r, e
end
"#;
    for master in [true, false] {
        let p = if master {
            policy(
                filters,
                "if f == 'open' then master:use_slave_credentials() end",
            )
        } else {
            Policy::inline(&format!(
                "local slave = require('libc_service').slave\n{LOG}\n{filters}"
            ))
        };
        for kind in KINDS {
            let argv = kind.probe_argv(&strings(&[
                "cat",
                &path_str(&file),
                "cat",
                &path_str(&base.join("overridden")),
            ]));
            let o = run_logged(p.clone(), &argv, &log);
            o.assert_clean();
            assert_eq!(
                o.stdout,
                format!(
                    "cat {}: [the kernel's file\n]\ncat {}/overridden: EACCES\n",
                    file.display(),
                    base.display()
                ),
                "{kind:?} (master loop: {master}): {o}"
            );
            assert!(
                logged(&log).contains(&format!("filter\t{}\tkernel\tnil", file.display())),
                "{kind:?} (master loop: {master}): {:?}",
                logged(&log)
            );
        }
    }
}

#[test]
fn a_blocking_call_done_for_a_filter_does_not_stall_the_run() {
    // use_master_credentials on a blocking connect: done on a helper
    // thread, the filter resumed with its result.
    for kind in KINDS {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"hello through the filter\n").unwrap();
        });
        let p = with_slave_filters(
            r#"
svc.slave.connect_inet = function(real_connect, fd, addr, port)
  local r, err = real_connect(fd, addr, port)
  return r, err
end
"#,
        );
        let o = Cmd::supervised(
            p,
            &kind.net_argv(&["connect".into(), format!("tcp:127.0.0.1:{port}")]),
        )
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nread: hello through the filter\n",
            "{kind:?}: {o}"
        );
        h.join().unwrap();
    }
}

#[test]
fn example_policy_read_only_filters() {
    let dir = tempdir();
    let base = canon(&dir);
    let hidden = base.join("hidden");
    let visible = base.join("visible");
    std::fs::write(&hidden, "hidden\n").unwrap();
    std::fs::write(&visible, "visible\n").unwrap();
    for kind in KINDS {
        let argv = kind.probe_argv(&strings(&[
            "cat",
            &path_str(&hidden),
            "cat",
            &path_str(&visible),
            "creat",
            &path_str(&base.join("new")),
            "mkdir",
            &path_str(&base.join("d")),
            "755",
            "unlink",
            &path_str(&visible),
            "rename",
            &path_str(&visible),
            &path_str(&base.join("moved")),
        ]));
        let o = Cmd::supervised(Policy::example("read-only-filters"), &argv)
            .env("HIDE", &hidden)
            .run();
        o.assert_clean();
        let (h, v) = (hidden.display(), visible.display());
        assert_eq!(
            o.stdout,
            format!(
                "cat {h}: ENOENT\ncat {v}: [visible\n]\ncreat {b}/new: EROFS\n\
                 mkdir {b}/d 755: EROFS\nunlink {v}: EROFS\nrename {v} {b}/moved: EROFS\n",
                b = base.display()
            ),
            "{kind:?}: {o}"
        );
        let mut left: Vec<_> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["hidden", "visible"], "{kind:?}");
    }
    // busybox, a static program, through the same filters.
    let o = Cmd::supervised(
        Policy::example("read-only-filters"),
        &crate::util::busybox(&["cat", &path_str(&hidden), &path_str(&visible)]),
    )
    .env("HIDE", &hidden)
    .run();
    assert_eq!(o.code, 1, "{o}");
    assert_eq!(o.stdout, "visible\n", "{o}");
    assert!(o.stderr.contains("No such file or directory"), "{o}");
}

// ------------------------------------------------------------ bad filters

/// `o.stderr` with the policy file's directory left out ("policy.lua:3").
fn stderr(o: &Output) -> String {
    let mut s = o.stderr.clone();
    while let Some(i) = s.find("/policy.lua") {
        let start = s[..i].rfind([' ', '\n', '\t', '<']).map_or(0, |j| j + 1);
        s.replace_range(start..i + 1, "");
    }
    s
}

/// Runs `mkdir D` under `src`; asserts D was not created (the failing
/// filter let nothing through) and returns the output.
fn run_mkdir(src: &str) -> Output {
    let (o, made) = run_mkdir_unchecked(src);
    assert!(!made, "the call went through: {o}");
    o
}

/// Runs `mkdir D` under `src`: the output, and whether D was made.
fn run_mkdir_unchecked(src: &str) -> (Output, bool) {
    let dir = tempdir();
    let d = canon(&dir).join("d");
    let o = Cmd::supervised(
        Policy::inline(src),
        &Kind::Musl.probe_argv(&strings(&["mkdir", &path_str(&d), "755"])),
    )
    .env("LOG", dir.path().join("log"))
    .run();
    let made = d.exists();
    (o, made)
}

#[test]
fn bad_filter_names_and_values_fail_at_assignment() {
    let o = run_mkdir("local s = require('libc_service').slave\ns.mkdri = function() end\n");
    o.assert_code(124);
    assert!(
        stderr(&o).starts_with(
            "supervisor: policy error: policy.lua:2: libc_service.slave: unknown function \"mkdri\" (known: open, openat,"
        ),
        "{o}"
    );
    let o = run_mkdir("local s = require('libc_service').slave\ns.mkdir = 42\n");
    o.assert_code(124);
    assert!(
        stderr(&o).starts_with(
            "supervisor: policy error: policy.lua:2: libc_service.slave.mkdir must be a function or a string holding a Lua chunk, not an integer"
        ),
        "{o}"
    );
    let o = run_mkdir("local s = require('libc_service').slave\ns.mkdir = 'return ('\n");
    o.assert_code(124);
    assert!(
        stderr(&o).starts_with(
            "supervisor: policy error: policy.lua:2: libc_service.slave.mkdir: the chunk does not compile: [slave.mkdir]:1:"
        ),
        "{o}"
    );
    // After the program started.
    let o = run_mkdir(
        "local svc = require('libc_service')\nsvc.master:receive()\nsvc.slave.mkdir = function() end\n",
    );
    o.assert_code(124);
    assert!(
        stderr(&o).contains(
            "policy.lua:3: libc_service.slave.mkdir: the program has already started; set filters before the first master:receive()"
        ),
        "{o}"
    );
}

#[test]
fn a_filter_error_ends_the_run_with_a_traceback() {
    for with_master in [false, true] {
        let master = if with_master {
            "local m = require('libc_service').master\nwhile true do m:receive() m:use_master_credentials() end\n"
        } else {
            ""
        };
        let o = run_mkdir(&format!(
            "local s = require('libc_service').slave\ns.mkdir = function(real_mkdir, path, mode)\n  local t = nil\n  return t.x\nend\n{master}"
        ));
        o.assert_code(122);
        assert!(
            stderr(&o).starts_with(
                "supervisor: slave filter error: policy.lua:4: attempt to index a nil value (local 't')\nstack traceback:\n"
            ),
            "{o}"
        );
        // In the filter (run directly without a master loop, resumed in a
        // coroutine with one).
        assert!(stderr(&o).contains("\n\tpolicy.lua:4: in "), "{o}");
        // The same error in a string chunk.
        let o = run_mkdir(&format!(
            "local s = require('libc_service').slave\ns.mkdir = [[\nlocal real_mkdir, path = ...\nerror('no ' .. path:match('[^/]*$'))]]\n{master}"
        ));
        o.assert_code(122);
        assert!(
            stderr(&o).starts_with(
                "supervisor: slave filter error: [slave.mkdir]:2: no d\nstack traceback:\n"
            ),
            "{o}"
        );
    }
}

#[test]
fn a_wrong_return_ends_the_run() {
    for (ret, msg) in [
        (
            "'fine'",
            "slave.mkdir returned a string; expected an integer (or -1 and an errno)",
        ),
        ("-1", "slave.mkdir returned -1 without an errno"),
        (
            "0, 'ENOPE'",
            "slave.mkdir returned an unknown errno name \"ENOPE\"",
        ),
        (
            "{}",
            "slave.mkdir returned a table; expected an integer (or -1 and an errno)",
        ),
    ] {
        let o = run_mkdir(&format!(
            "local s = require('libc_service').slave\ns.mkdir = function()\n  return {ret}\nend\n"
        ));
        o.assert_code(122);
        assert_eq!(
            stderr(&o),
            format!("supervisor: slave filter error: policy.lua:2: {msg}\n"),
            "{o}"
        );
    }
    // A stat filter must return a table.
    let o = Cmd::supervised(
        Policy::inline("require('libc_service').slave.stat = function() return 0 end\n"),
        &Kind::Musl.probe_argv(&["stat", "/"]),
    )
    .run();
    o.assert_code(122);
    assert!(
        stderr(&o).starts_with(
            "supervisor: slave filter error: policy.lua:1: slave.stat returned 0; expected a table (or -1 and an errno)"
        ),
        "{o}"
    );
}

#[test]
fn misused_real_functions_and_yields_end_the_run() {
    let cases = [
        // A wrong argument type.
        (
            "s.mkdir = function(real_mkdir, path, mode)\n  local r = real_mkdir(path, 'rwx')\n  return r\nend",
            122,
            "policy.lua:3: real_mkdir: argument #2 (mode) must be an integer, not a string",
        ),
        // A NUL byte in a path.
        (
            "s.mkdir = function(real_mkdir, path, mode)\n  local r = real_mkdir(path .. '\\0x', mode)\n  return r\nend",
            122,
            "policy.lua:3: real_mkdir: argument #1 (path) contains a NUL byte",
        ),
        // Changed arguments without a master loop.
        (
            "s.mkdir = function(real_mkdir, path, mode)\n  local r, e = real_mkdir(path .. 'x', mode)\n  return r, e\nend",
            122,
            "policy.lua:3: real_mkdir: the filter changed the call's arguments, but with no master loop",
        ),
        // A yield of its own: run directly without a master loop, in a
        // coroutine with one.
        (
            "s.mkdir = function()\n  coroutine.yield()\nend",
            122,
            "attempt to yield from outside a coroutine",
        ),
        (
            "s.mkdir = function()\n  coroutine.yield()\nend\n\
             local m = require('libc_service').master\n\
             while true do m:receive() m:use_master_credentials() end",
            122,
            "policy.lua:2: slave.mkdir yielded outside its real function",
        ),

        // Not a descriptor for C.dup2.
        (
            "s.mkdir = 'return C.dup2(3, 3)'",
            122,
            "[slave.mkdir]:1: C.dup2: argument #1 must be a descriptor",
        ),
        // errexit on a failing C.dup2.
        (
            "errexit = true\ns.mkdir = function()\n  local r, w = require('host').pipe()\n  C.dup2(r, -1)\nend",
            122,
            "policy.lua:5: errexit: C.dup2 failed: EBADF",
        ),
    ];
    for (filters, code, msg) in cases {
        let o = run_mkdir(&format!(
            "local s = require('libc_service').slave\n{filters}\n"
        ));
        o.assert_code(code);
        assert!(
            stderr(&o).starts_with("supervisor: slave filter error: "),
            "{o}"
        );
        assert!(stderr(&o).contains(msg), "{o}");
    }
    // `kernel`, the result of a call left to the kernel: looked into, it
    // ends the run (the call never went on); returned with an errno too.
    for (ret, msg) in [
        (
            "r + 1",
            "policy.lua:4: the result of a call left to the kernel (use_slave_credentials, or no master loop) is not the filter's to see",
        ),
        (
            "r, C.EPERM",
            "policy.lua:2: slave.mkdir returned kernel with the errno 1: the kernel's result goes to the program as it is",
        ),
    ] {
        let o = run_mkdir(&format!(
            "local s = require('libc_service').slave\n\
             s.mkdir = function(real_mkdir, path, mode)\n  local r = real_mkdir(path, mode)\n  return {ret}\nend\n"
        ));
        o.assert_code(122);
        assert!(stderr(&o).starts_with(&format!("supervisor: slave filter error: {msg}")), "{o}");
    }
    // The master answers a changed call with use_slave_credentials: the
    // kernel would do the program's own call, so it is the master's error.
    let o = run_mkdir(
        "local svc = require('libc_service')\n\
         svc.slave.mkdir = function(real_mkdir, path, mode) return real_mkdir(path .. 'x', mode) end\n\
         while true do svc.master:receive() svc.master:use_slave_credentials() end\n",
    );
    o.assert_code(124);
    assert!(
        stderr(&o).contains(
            "policy.lua:3: use_slave_credentials: the slave filter changed the arguments of this mkdir"
        ),
        "{o}"
    );
    // A real function kept and called outside its filter (by the master
    // loop, on the next request).
    let o = Cmd::supervised(
        Policy::inline(
            "local svc = require('libc_service')\nlocal kept\n\
             svc.slave.mkdir = function(real_mkdir, path, mode) kept = real_mkdir return -1, C.EPERM end\n\
             while true do svc.master:receive() if kept then kept('/x', 0) end svc.master:use_master_credentials() end\n",
        ),
        &Kind::Musl.probe_argv(&["mkdir", "/nonexistent/d", "755", "cat", "/etc/hostname"]),
    )
    .run();
    o.assert_code(124);
    assert!(
        stderr(&o).contains("policy.lua:4: real_mkdir: called outside its filter"),
        "{o}"
    );
    assert!(!o.stdout.contains("cat /etc/hostname: ["), "{o}");
}

#[test]
fn the_filters_see_the_init_script_constants() {
    // C holds init.script's constants; errexit is false.
    let o = Cmd::supervised(
        Policy::inline(
            r#"
local slave = require("libc_service").slave
slave.open = function(real_open, path, flags)
  assert(C.O_CREAT == 64 and C.O_RDONLY == 0 and C.EACCES == 13 and C.ENOENT == 2)
  assert(C.O_RESOLVE_BENEATH == nil, "FreeBSD only")
  assert(errexit == false)
  -- A failing C.dup2 returns -1 and the errno.
  local h = require("host")
  local r, w = h.pipe()
  local n, e = C.dup2(r, -1)
  assert(n == -1 and e == C.EBADF, tostring(n) .. " " .. tostring(e))
  return -1, C.EACCES
end
slave.stat = [[
  assert(C.O_CREAT == 64 and C.EACCES == 13 and errexit == false)
  assert(io == nil and os == nil and require == nil, "a chunk gets no io, os, require")
  return -1, C.ENOENT
]]
"#,
        ),
        &Kind::Musl.probe_argv(&["cat", "/etc/hostname", "stat", "/"]),
    )
    .run();
    o.assert_clean();
    assert!(
        o.stdout
            .starts_with("cat /etc/hostname: EACCES\nstat /: ENOENT\nlstat /: size="),
        "{o}"
    );
}
