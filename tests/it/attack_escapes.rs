//! Security suite, issue 17 (items 2, 3, 6, 7, 8): escapes found by an
//! outside review.  Each test makes the attack with tests/probes/escape.c
//! and asserts the outcome where it would land: a receiver counting
//! datagrams, a listener counting accepts, a file never read, no socket
//! file planted.  docs/security.md maps them.

use std::ffi::OsString;
use std::net::UdpSocket;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::{canon, compile, outcome, repo, tempdir, Cmd, Policy};

/// tests/probes/escape.c, static musl, built once.
fn escape<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<OsString> {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join("escape-musl-static");
        compile(
            "musl-gcc",
            &["-static"],
            &repo().join("tests/probes/escape.c"),
            &out,
        );
        out
    });
    let mut v = vec![bin.as_os_str().to_os_string()];
    v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
    v
}

/// A UDP receiver on loopback; `count` drains it and says how many
/// datagrams arrived.
struct Receiver(UdpSocket);

impl Receiver {
    fn new() -> Receiver {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP receiver on loopback");
        s.set_nonblocking(true).unwrap();
        Receiver(s)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn count(&self) -> usize {
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 64];
        let mut n = 0;
        while self.0.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    }
}

/// A rules policy: no connects, files and unix sockets allowed.
const RULES_NO_CONNECT: &str = r#"
local rules = require "rules"
return rules.run {
  default = { read = "allow", write = "allow", create = "allow", delete = "allow",
              connect = "deny", bind = "allow", resolve = "deny" },
}
"#;

// ---------------------------------------------------------------------
// 17.2: AF_UNSPEC destinations on inet sockets.

/// `sendto`/`sendmsg` on an IPv4 UDP socket to an address whose family is
/// AF_UNSPEC: the kernel's udp_sendmsg reads it as AF_INET.  Before, the
/// supervisor saw "no address" and sent the datagram itself.  Now it is a
/// `connect_inet` request, refused by the policy and logged with its
/// destination; nothing arrives.
#[test]
fn an_unspec_udp_destination_is_decided_as_inet() {
    for policy in [
        Policy::example("no-network"),
        Policy::inline(RULES_NO_CONNECT),
    ] {
        let r = Receiver::new();
        let dir = tempdir();
        let log = dir.path().join("log.jsonl");
        let out = Cmd::supervised(
            policy.clone(),
            &escape(&["unspec-udp", "127.0.0.1", &r.port().to_string()]),
        )
        .option("--log")
        .option(&log)
        .run();
        out.assert_code(0);
        for call in ["sendto", "sendmsg"] {
            assert_ne!(outcome(&out, call), "OK", "{policy:?} {call}: {out}");
        }
        assert_eq!(r.count(), 0, "{policy:?}: datagrams delivered: {out}");
        let text = std::fs::read_to_string(&log).unwrap();
        let denied = text
            .lines()
            .filter(|l| {
                l.contains("\"connect_inet\"")
                    && l.contains("\"127.0.0.1\"")
                    && l.contains(&format!("\"port\":{}", r.port()))
            })
            .count();
        assert_eq!(
            denied, 2,
            "{policy:?}: the log records both destinations:\n{text}"
        );
    }
}

/// The same address family on a send to port 53 is a name lookup: it is
/// captured by the DNS stub (a `getaddrinfo` request the policy answers)
/// even in an empty network namespace.  Before, it was sent as "no
/// address" and never reached the stub.
#[test]
fn an_unspec_dns_query_is_captured() {
    let policy = Policy::inline(
        r#"
local master = require("libc_service").master
while true do
  local f = master:receive()
  if f == "getaddrinfo" then
    master:send({ "192.0.2.9", 0 })
  elseif f:match("^connect_") then
    master:send(-1, "ENETUNREACH")
  else
    master:use_master_credentials()
  end
end
"#,
    );
    let dir = tempdir();
    let log = dir.path().join("log.jsonl");
    let out = Cmd::supervised(policy, &escape(&["unspec-dns", "198.51.100.1"]))
        .in_new_netns()
        .option("--log")
        .option(&log)
        .run();
    out.assert_code(0);
    assert_eq!(outcome(&out, "send"), "OK", "{out}");
    assert_eq!(outcome(&out, "answer"), "rcode=0 answers=1", "{out}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("\"getaddrinfo\"") && l.contains("example.test")),
        "the lookup is a request:\n{text}"
    );
}

// ---------------------------------------------------------------------
// 17.3: a descriptor swapped behind a socket call.

const SWAP_MS: &str = "1500";

/// A thread keeps dup2-ing a netlink socket and a unix socket onto the
/// number the main thread connects to a denied socket path.  Before, the
/// supervisor looked at the netlink socket, answered CONTINUE, and the
/// kernel connected the unix socket it then found (dozens of times a
/// second).  Now the supervisor connects its own copy: never the denied
/// socket.
#[test]
fn a_swapped_descriptor_never_connects_to_a_denied_unix_socket() {
    let dir = tempdir();
    let path = canon(&dir).join("denied.sock");
    let l = UnixListener::bind(&path).unwrap();
    l.set_nonblocking(true).unwrap();
    let out = Cmd::supervised(
        Policy::example("deny-path"),
        &escape(&["swap-unix", path.to_str().unwrap(), SWAP_MS]),
    )
    .env("DENY", &path)
    .run();
    out.assert_clean();
    let mut accepted = 0;
    while l.accept().is_ok() {
        accepted += 1;
    }
    let c = crate::util::counters(&out, "swap-unix:");
    assert!(c["tries"] >= 100, "too few tries to mean anything: {out}");
    assert_eq!((accepted, c["connected"]), (0, 0), "{out}");
}

/// The same with a UDP socket and a denied inet address (no-network).
#[test]
fn a_swapped_descriptor_never_sends_to_a_denied_address() {
    let r = Receiver::new();
    let out = Cmd::supervised(
        Policy::example("no-network"),
        &escape(&["swap-udp", "127.0.0.1", &r.port().to_string(), SWAP_MS]),
    )
    .run();
    out.assert_clean();
    let c = crate::util::counters(&out, "swap-udp:");
    assert!(c["tries"] >= 100, "too few tries to mean anything: {out}");
    assert_eq!((r.count(), c["sent"]), (0, 0), "{out}");
}

/// An unaddressed send on a unix stream socket (which ignores
/// destinations) while the number flips to a UDP socket and msg_name to a
/// denied address.  Before, the supervisor answered CONTINUE for the stream
/// socket and the kernel sent a datagram to the address it then read.
#[test]
fn a_swapped_descriptor_never_turns_a_stream_send_into_a_datagram() {
    let r = Receiver::new();
    let out = Cmd::supervised(
        Policy::example("no-network"),
        &escape(&["swap-stream", "127.0.0.1", &r.port().to_string(), SWAP_MS]),
    )
    .run();
    out.assert_clean();
    let c = crate::util::counters(&out, "swap-stream:");
    assert!(c["tries"] >= 100, "too few tries to mean anything: {out}");
    assert_eq!(r.count(), 0, "{out}");
}

// ---------------------------------------------------------------------
// 17.8: a unix bind creates a file.

/// read-only.lua lets the program create nothing outside $SCRATCH; a unix
/// `bind` creates the socket file, so it is `create` on its path as well as
/// `bind`.  Before, it was only `bind` (allowed) and the socket was
/// planted.
#[test]
fn a_unix_bind_outside_the_writable_places_plants_nothing() {
    let scratch = tempdir();
    let elsewhere = tempdir();
    let planted = canon(&elsewhere).join("planted.sock");
    let out = Cmd::supervised(
        Policy::example("read-only"),
        &escape(&["bind-unix", planted.to_str().unwrap()]),
    )
    .env("SCRATCH", canon(&scratch))
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "bind"), "EROFS", "{out}");
    assert!(
        std::fs::symlink_metadata(&planted).is_err(),
        "a socket was planted: {out}"
    );
    // In the scratch directory it is made.
    let ok = canon(&scratch).join("ok.sock");
    let out = Cmd::supervised(
        Policy::example("read-only"),
        &escape(&["bind-unix", ok.to_str().unwrap()]),
    )
    .env("SCRATCH", canon(&scratch))
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "bind"), "OK", "{out}");
    assert!(ok.exists(), "{out}");
}

// ---------------------------------------------------------------------
// 17.6: raw devices.

/// A loop device over an image file the test made, detached on drop.
struct Loop {
    dev: String,
}

impl Loop {
    /// `None` (after saying why) when loop devices cannot be made here;
    /// under CI=true that fails the test instead.
    fn new(image: &Path) -> Option<Loop> {
        let o = std::process::Command::new("losetup")
            .args(["-f", "--show", "-r"])
            .arg(image)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Loop {
                dev: String::from_utf8_lossy(&o.stdout).trim().to_string(),
            }),
            other => {
                let why = format!("cannot make a loop device (losetup, root needed): {other:?}");
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("skipped: {why}");
                None
            }
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.dev])
            .status();
    }
}

/// `{ allow read "/" }` (ci.lua, read-only.lua) reads files by path; a raw
/// device gives every file's content at once.  Opening a loop device is
/// the `device` kind, denied by both; /dev/null still opens.  Before, the
/// device was opened and read.
#[test]
fn a_raw_device_is_not_read_under_ci_and_read_only() {
    let dir = tempdir();
    let image = canon(&dir).join("disk.img");
    let mut content = b"DEVICE-SECRET".to_vec();
    content.resize(1 << 20, 0);
    std::fs::write(&image, &content).unwrap();
    let Some(lp) = Loop::new(&image) else {
        return;
    };
    let ws = tempdir();
    for policy in ["read-only", "ci"] {
        let out = Cmd::supervised(Policy::example(policy), &escape(&["read", &lp.dev]))
            .cwd(canon(&ws))
            .env("SCRATCH", canon(&ws))
            .run();
        out.assert_clean();
        let errno = if policy == "ci" { "EACCES" } else { "EROFS" };
        assert_eq!(outcome(&out, "open"), errno, "{policy}: {out}");
        assert!(!out.stdout.contains("DEVICE-SECRET"), "{policy}: {out}");
        let out = Cmd::supervised(Policy::example(policy), &escape(&["read", "/dev/null"]))
            .cwd(canon(&ws))
            .env("SCRATCH", canon(&ws))
            .run();
        out.assert_clean();
        assert_eq!(outcome(&out, "open"), "OK", "{policy}: {out}");
    }
    // A policy of its own tells a device open with master:device().
    let policy = Policy::inline(
        r#"
local master = require("libc_service").master
while true do
  master:receive()
  local d = master:device()
  if d then master:send(-1, "EPERM") else master:use_master_credentials() end
end
"#,
    );
    for (path, want) in [(lp.dev.as_str(), "EPERM"), ("/dev/null", "OK")] {
        let out = Cmd::supervised(policy.clone(), &escape(&["read", path])).run();
        out.assert_clean();
        assert_eq!(outcome(&out, "open"), want, "{path}: {out}");
    }
}

// ---------------------------------------------------------------------
// 17.7: renaming what holds a denied path.

/// `default = "allow"` with `read` denied on DIR/x/secret (and deny-path
/// with DENY=DIR/x/secret): renaming DIR/x to DIR/x.moved would make
/// DIR/x.moved/secret readable; renaming the file itself would too.  Both
/// renames are refused (the rules of everything below a moved directory
/// are checked), the file is never read, and a directory holding nothing
/// denied still renames.  Before, both renames succeeded and the file was
/// read.
#[test]
fn renaming_what_holds_a_denied_path_is_refused() {
    for policy in ["rules", "deny-path"] {
        let dir = tempdir();
        let root = canon(&dir);
        let x = root.join("x");
        let secret = x.join("secret");
        std::fs::create_dir(&x).unwrap();
        std::fs::write(&secret, "RENAMED-SECRET").unwrap();
        std::fs::create_dir(root.join("y")).unwrap();
        std::fs::write(root.join("y/public"), "PUBLIC").unwrap();
        let p = match policy {
            "rules" => Policy::inline(&format!(
                "local rules = require \"rules\"\n\
                 return rules.run {{ default = \"allow\", {{ \"deny\", \"read\", {:?} }} }}\n",
                secret.to_str().unwrap()
            )),
            _ => Policy::example("deny-path"),
        };
        let run = |args: &[&str]| {
            let out = Cmd::supervised(p.clone(), &escape(args))
                .env("DENY", &secret)
                .run();
            out.assert_clean();
            out
        };
        let s = |p: &Path| p.to_str().unwrap().to_string();
        // The directory holding it.
        let out = run(&["rename-read", &s(&x), &s(&root.join("x.moved")), "secret"]);
        assert_eq!(outcome(&out, "rename"), "EACCES", "{policy}: {out}");
        assert!(!out.stdout.contains("RENAMED-SECRET"), "{policy}: {out}");
        // The file itself.
        let out = run(&["mv-read", &s(&secret), &s(&root.join("elsewhere"))]);
        assert_eq!(outcome(&out, "rename"), "EACCES", "{policy}: {out}");
        assert!(!out.stdout.contains("RENAMED-SECRET"), "{policy}: {out}");
        assert!(secret.exists(), "{policy}: {out}");
        // A directory holding nothing denied.
        let out = run(&[
            "rename-read",
            &s(&root.join("y")),
            &s(&root.join("y2")),
            "public",
        ]);
        assert_eq!(outcome(&out, "rename"), "OK", "{policy}: {out}");
        assert_eq!(outcome(&out, "read"), "PUBLIC", "{policy}: {out}");
    }
    // A kind's default is not a rule: a build renaming out.tmp/ to out/
    // where only out/ may be read is not refused.
    let dir = tempdir();
    let root = canon(&dir);
    std::fs::create_dir(root.join("out.tmp")).unwrap();
    std::fs::write(root.join("out.tmp/a.o"), "OBJECT").unwrap();
    let p = Policy::inline(&format!(
        "local rules = require \"rules\"\n\
         return rules.run {{ default = {{ read = \"deny\" }},\n\
           {{ \"allow\", {{ \"write\", \"create\", \"delete\" }}, {r:?} }},\n\
           {{ \"allow\", \"read\", {o:?} }} }}\n",
        r = format!("{}/", root.display()),
        o = format!("{}/out/", root.display()),
    ));
    let out = Cmd::supervised(
        p,
        &escape(&[
            "rename-read",
            root.join("out.tmp").to_str().unwrap(),
            root.join("out").to_str().unwrap(),
            "a.o",
        ]),
    )
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "rename"), "OK", "{out}");
    assert_eq!(outcome(&out, "read"), "OBJECT", "{out}");
}

/// Doing a call of an unmapped family for the program must not lend it the
/// supervisor's capabilities: a netlink socket joining a multicast group
/// that needs CAP_NET_ADMIN or CAP_AUDIT_READ (audit, xfrm, netfilter) is
/// refused to a program running as nobody under a root supervisor, as it
/// is natively.  (Without the lowering, the supervisor's copy joined it.)
#[test]
fn an_unmapped_family_call_gets_no_capability_the_program_lacks() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "this test needs root (a root supervisor, a program as nobody)"
        );
        eprintln!("skipped: not root");
        return;
    }
    let nobody = |family: &str| -> Vec<OsString> {
        let mut v: Vec<OsString> = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        v.extend(escape(&["nl-group", family]));
        v
    };
    let mut refused = 0;
    for family in ["9", "6", "12"] {
        let native = Cmd::native(&nobody(family)).run();
        native.assert_clean();
        if native.stdout.starts_with("socket:") {
            continue; // the kernel has no such netlink family
        }
        let out = Cmd::supervised(Policy::example("no-network"), &nobody(family)).run();
        out.assert_clean();
        assert_eq!(out.stdout, native.stdout, "netlink family {family}: {out}");
        if native.stdout == "bind: EPERM\n" {
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "no netlink family needing a capability to test"
    );
}
