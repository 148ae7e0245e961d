//! connect, bind and the addressed sends under Lua policies, for the
//! network probe built static with musl and dynamic with glibc.
//!
//! Every socket reached is on loopback, or the run happens in a new network
//! namespace made for the test (`Cmd::in_new_netns`), so nothing can leave
//! the machine even if a check failed.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::time::Duration;

use crate::util::{tempdir, Cmd, Kind, Policy};

const KINDS: [Kind; 2] = [Kind::Musl, Kind::Glibc];

/// A policy: socket requests go to `on_socket` (Lua statements with the
/// request's function in `f` and its arguments in `a, b`); every other
/// request is brokered.
fn policy(on_socket: &str) -> Policy {
    Policy::inline(&format!(
        r#"
local svc = require("libc_service")
local host = require("host")
local master = svc.master
while true do
  local f = master:receive()
  if f:match("^connect_") or f:match("^bind_") then
    local a, b = master:arguments()
    {on_socket}
  else
    master:use_master_credentials()
  end
end
"#
    ))
}

/// A TCP listener on loopback that greets each connection with `greeting`.
fn greeter(greeting: &'static str) -> (u16, std::thread::JoinHandle<usize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let mut n = 0;
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < end {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(greeting.as_bytes());
                    n += 1;
                    if n == 2 {
                        break;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        n
    });
    (port, h)
}

#[test]
fn connect_denied_with_the_policy_errno() {
    for kind in KINDS {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let p = policy(
            r#"if b == tonumber(os.getenv("REFUSE")) then master:send(-1, "ECONNREFUSED")
               else master:send(-1, "EACCES") end"#,
        );
        let o = Cmd::supervised(
            p,
            &kind.net_argv(&[
                "connect".to_string(),
                format!("tcp:127.0.0.1:{port}"),
                "connect".into(),
                "tcp:127.0.0.1:9".into(),
            ]),
        )
        .env("REFUSE", "9")
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: EACCES\nconnect: ECONNREFUSED\n",
            "{kind:?}: {o}"
        );
        // The denied connect never reached the listener.
        assert!(
            l.accept().is_err(),
            "{kind:?}: a denied connect got through"
        );
    }
}

#[test]
fn connect_allowed_with_either_credentials() {
    for kind in KINDS {
        for how in [
            "master:use_master_credentials()",
            "master:use_slave_credentials()",
        ] {
            let (port, h) = greeter("hello from the test\n");
            let o = Cmd::supervised(
                policy(how),
                &kind.net_argv(&["connect".to_string(), format!("tcp:127.0.0.1:{port}")]),
            )
            .run();
            o.assert_clean();
            assert_eq!(
                o.stdout, "connect: OK\nread: hello from the test\n",
                "{kind:?} {how}: {o}"
            );
            drop(h);
        }
    }
}

#[test]
fn connect_redirected_to_a_socketpair() {
    for kind in KINDS {
        let p = policy(
            r#"local mine, theirs = host.socketpair("stream")
               mine:write("we lied to connect\n")
               master:send_with_fds(0, {theirs})"#,
        );
        // Port 9 on loopback: nothing listens, the redirect is all there is.
        let o = Cmd::supervised(p, &kind.net_argv(&["connect", "tcp:127.0.0.1:9"])).run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nread: we lied to connect\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn the_policy_sees_the_address_as_the_spec_says() {
    for kind in KINDS {
        let p = policy(
            r#"io.stderr:write(string.format("%s %q %s\n", f, a, tostring(b)))
               master:send(-1, "EACCES")"#,
        );
        let o = Cmd::supervised(
            p,
            &kind.net_argv(&[
                "connect",
                "tcp:127.0.0.1:80",
                "connect",
                "tcp:[::1%1]:443",
                "connect",
                "tcp:[::ffff:127.0.0.2]:22",
                "bind",
                "udp:[::]:53",
                "connect",
                "unix:/run/some.sock",
                "connect",
                "unix:@abstract-name",
                "bind",
                "unixdg:rel.sock",
            ]),
        )
        .run();
        assert_eq!(o.code, 0, "{o}");
        assert_eq!(
            o.stderr,
            "connect_inet \"127.0.0.1\" 80\n\
             connect_inet6 \"::1%1\" 443\n\
             connect_inet \"127.0.0.2\" 22\n\
             bind_inet6 \"::\" 53\n\
             connect_unix \"/run/some.sock\" nil\n\
             connect_unix \"\\0abstract-name\" nil\n\
             bind_unix \"rel.sock\" nil\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn unix_connect_brokered_through_a_relative_symlink() {
    for kind in KINDS {
        let dir = tempdir();
        let sock = dir.path().join("real.sock");
        let l = UnixListener::bind(&sock).unwrap();
        std::os::unix::fs::symlink("real.sock", dir.path().join("link.sock")).unwrap();
        let h = std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let _ = s.write_all(b"hello over unix\n");
            }
        });
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&["connect", "unix:link.sock"]),
        )
        .cwd(dir.path())
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nread: hello over unix\n",
            "{kind:?}: {o}"
        );
        h.join().unwrap();
    }
}

#[test]
fn bind_unix_datagram_denied_allowed_and_redirected() {
    for kind in KINDS {
        let dir = tempdir();
        let deny = policy(r#"master:send(-1, "EACCES")"#);
        let o = Cmd::supervised(deny, &kind.net_argv(&["bind", "unixdg:d.sock"]))
            .cwd(dir.path())
            .run();
        o.assert_clean();
        assert_eq!(o.stdout, "bind: EACCES\n", "{kind:?}: {o}");
        assert!(!dir.path().join("d.sock").exists());

        // Allowed: the supervisor binds the program's socket; the file has
        // the mode the program's umask (077) gives.
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&["bind-mode", "unixdg:a.sock"]),
        )
        .cwd(dir.path())
        .run();
        o.assert_clean();
        assert_eq!(o.stdout, "bind: OK\nmode: 700\n", "{kind:?}: {o}");
        let native = Cmd::native(&kind.net_argv(&["bind-mode", "unixdg:n.sock"]))
            .cwd(dir.path())
            .run();
        assert_eq!(native.stdout, o.stdout, "{kind:?}: differs from native");

        let redirect = policy(
            r#"local mine, theirs = host.socketpair("dgram")
               mine:write("we lied to bind\n")
               master:send_with_fds(0, {theirs})"#,
        );
        let o = Cmd::supervised(redirect, &kind.net_argv(&["bind-recv", "unixdg:r.sock"]))
            .cwd(dir.path())
            .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "bind: OK\nrecv: we lied to bind\n",
            "{kind:?}: {o}"
        );
        assert!(!dir.path().join("r.sock").exists());
    }
}

#[test]
fn bind_udp_denied_allowed_and_redirected() {
    for kind in KINDS {
        let o = Cmd::supervised(
            policy(r#"master:send(-1, "EACCES")"#),
            &kind.net_argv(&["bind", "udp:127.0.0.1:0"]),
        )
        .run();
        o.assert_clean();
        assert_eq!(o.stdout, "bind: EACCES\n", "{kind:?}: {o}");

        // Allowed with the supervisor's authority, then used: the test
        // sends a datagram to the port the program bound.
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let sender = std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(100));
                let _ = s.send_to(b"ping over udp\n", ("127.0.0.1", port));
            }
        });
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&["bind-recv".to_string(), format!("udp:127.0.0.1:{port}")]),
        )
        .run();
        sender.join().unwrap();
        o.assert_clean();
        assert_eq!(o.stdout, "bind: OK\nrecv: ping over udp\n", "{kind:?}: {o}");

        let redirect = policy(
            r#"local mine, theirs = host.socketpair("dgram")
               mine:write("we lied to bind\n")
               master:send_with_fds(0, {theirs})"#,
        );
        let o = Cmd::supervised(redirect, &kind.net_argv(&["bind-recv", "udp:0.0.0.0:7"])).run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "bind: OK\nrecv: we lied to bind\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn the_policy_binds_the_programs_socket_through_descriptors() {
    for kind in KINDS {
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        // The program asks for port 7; the policy binds its socket to the
        // test's port itself (host.bind on the descriptor) and says yes.
        let p = policy(&format!(
            r#"local s = master:descriptors()
               assert(host.bind(s, "127.0.0.1", {port}))
               master:send(0)"#
        ));
        let sender = std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(100));
                let _ = s.send_to(b"to the policy's port\n", ("127.0.0.1", port));
            }
        });
        let o = Cmd::supervised(p, &kind.net_argv(&["bind-recv", "udp:127.0.0.1:7"])).run();
        sender.join().unwrap();
        o.assert_clean();
        assert_eq!(
            o.stdout, "bind: OK\nrecv: to the policy's port\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn addressed_sends_are_connect_requests() {
    for kind in KINDS {
        // Denied: in a namespace of its own, so nothing leaves even if the
        // check failed.
        let deny = policy(
            r#"io.stderr:write(f .. " " .. a .. " " .. b .. "\n")
               master:send(-1, "EACCES")"#,
        );
        let o = Cmd::supervised(
            deny,
            &kind.net_argv(&[
                "sendto",
                "udp:10.1.2.3:9",
                "x",
                "sendmsg",
                "udp:10.1.2.3:9",
                "x",
                "sendmmsg",
                "udp:10.1.2.3:9",
                "x",
            ]),
        )
        .in_new_netns()
        .run();
        assert_eq!(o.code, 0, "{o}");
        assert_eq!(
            o.stdout, "sendto: EACCES\nsendmsg: EACCES\nsendmmsg: EACCES\n",
            "{kind:?}: {o}"
        );
        assert_eq!(
            o.stderr,
            "connect_inet 10.1.2.3 9\n".repeat(3),
            "{kind:?}: {o}"
        );

        // Allowed: the supervisor sends the program's datagram.
        let r = UdpSocket::bind("127.0.0.1:0").unwrap();
        r.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let to = format!("udp:127.0.0.1:{}", r.local_addr().unwrap().port());
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&[
                "sendto", &to, "one", "sendmsg", &to, "two", "sendmmsg", &to, "three",
            ]),
        )
        .run();
        o.assert_clean();
        // glibc issues sendmmsg, of which the supervisor sends the first
        // message (a partial send, as the call allows); musl emulates
        // sendmmsg with one sendmsg per message.
        let sent = if kind == Kind::Musl { 2 } else { 1 };
        assert_eq!(
            o.stdout,
            format!("sendto: 3\nsendmsg: 3\nsendmmsg: {sent} (first 5 bytes)\n"),
            "{kind:?}: {o}"
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut buf = [0u8; 64];
            let n = r.recv(&mut buf).expect("a datagram from the program");
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(got, ["one", "two", "three"], "{kind:?}");
    }
}

#[test]
fn sends_on_a_connected_datagram_socket_reach_its_peer() {
    for kind in KINDS {
        let r = UdpSocket::bind("127.0.0.1:0").unwrap();
        r.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let to = format!("udp:127.0.0.1:{}", r.local_addr().unwrap().port());
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&["connected-send", &to, "data"]),
        )
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nsend: 4\nsendmsg: 4\n",
            "{kind:?}: {o}"
        );
        let mut buf = [0u8; 16];
        for _ in 0..2 {
            let n = r.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"data");
        }
    }
}

#[test]
fn a_denied_non_loopback_connect_in_a_namespace_of_its_own() {
    for kind in KINDS {
        let p = policy(
            r#"if f == "connect_inet" and a:match("^127%.") then master:use_master_credentials()
               else master:send(-1, "EACCES") end"#,
        );
        let o = Cmd::supervised(
            p,
            &kind.net_argv(&[
                "connect",
                "tcp:10.1.2.3:80",
                "connect",
                "tcp:[2001:db8::1]:80",
            ]),
        )
        .in_new_netns()
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: EACCES\nconnect: EACCES\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn a_non_blocking_connect_keeps_einprogress() {
    for kind in KINDS {
        let (port, h) = greeter("x");
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&[
                "connect-nonblock".to_string(),
                format!("tcp:127.0.0.1:{port}"),
            ]),
        )
        .run();
        o.assert_clean();
        // Loopback may complete at once; either way the socket ends connected.
        assert!(
            o.stdout == "connect: EINPROGRESS\nso_error: OK\n" || o.stdout == "connect: OK\n",
            "{kind:?}: {o}"
        );
        drop(h);
    }
}

#[test]
fn a_blocked_connect_does_not_delay_other_threads() {
    for kind in KINDS {
        let dir = tempdir();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&["connect-stall", f.to_str().unwrap(), "200"]),
        )
        .run();
        o.assert_clean();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{kind:?}: {o}");
        assert_eq!(lines[1], "connect pending: yes", "{kind:?}: {o}");
        let ms: u64 = lines[0]
            .strip_prefix("opens: 200 in ")
            .and_then(|s| s.strip_suffix(" ms"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{kind:?}: {o}"));
        // 200 brokered opens take a few ms; a stalled loop would take
        // the connect's whole time-out (minutes).  Generous bound.
        assert!(
            ms < 5000,
            "{kind:?}: opens took {ms} ms while a connect was blocked: {o}"
        );
    }
}

#[test]
fn a_signal_interrupts_a_brokered_connect_as_it_would_a_native_one() {
    // The connect waits on a peer that never answers; a handled signal
    // arrives after 0.7 s.  Natively: EINTR without SA_RESTART, a restarted
    // (and here completed) connect with it; the handler runs once either
    // way.  Under the supervisor the connect is done by a supervisor
    // thread, for both a thread-directed signal and a single-threaded
    // program's alarm.
    let cases = [
        ("eintr", "connect: EINTR handled: 1 in time: yes\n"),
        ("restart", "connect: OK handled: 1 in time: yes\n"),
        ("alarm", "connect: EINTR handled: 1 in time: yes\n"),
    ];
    for kind in KINDS {
        for (mode, want) in cases {
            let argv = kind.net_argv(&["connect-signal", mode]);
            let native = Cmd::native(&argv).run();
            native.assert_clean();
            assert_eq!(native.stdout, want, "{kind:?} {mode} native: {native}");
            let o = Cmd::supervised(policy("master:use_master_credentials()"), &argv).run();
            o.assert_clean();
            assert_eq!(o.stdout, want, "{kind:?} {mode} supervised: {o}");
        }
    }
}

#[test]
fn a_connect_abandoned_by_a_killed_thread_is_released() {
    // A child blocked in a brokered connect is killed: the supervisor's
    // copy of its socket must not keep connecting.
    for kind in KINDS {
        let argv = kind.net_argv(&["connect-abandon", "-"]);
        let o = Cmd::supervised(policy("master:use_master_credentials()"), &argv).run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connecting: 1, with the child: 2, after it was killed: 1\n",
            "{kind:?}: {o}"
        );
    }
}

#[test]
fn a_privileged_port_is_bound_for_an_unprivileged_program() {
    // The init script makes the program nobody: port 80 is refused to it
    // (use_slave_credentials: the kernel decides with the program's
    // credentials), and bound for it by the supervisor
    // (use_master_credentials).  In a namespace of the test's own, so that
    // nothing on the machine holds port 80.
    let drop = "assert(C.setresgid(65534, 65534, 65534) == 0)\n\
                assert(C.setresuid(65534, 65534, 65534) == 0)";
    for kind in KINDS {
        let argv = kind.net_argv(&["bind", "tcp:0.0.0.0:80"]);
        for (answer, want) in [
            ("master:use_slave_credentials()", "bind: EACCES\n"),
            ("master:use_master_credentials()", "bind: OK\n"),
        ] {
            let o = Cmd::supervised(policy(answer), &argv)
                .init(drop)
                .in_new_netns()
                .run();
            o.assert_clean();
            assert_eq!(o.stdout, want, "{kind:?} {answer}: {o}");
        }
    }
}

#[test]
fn other_families_and_unaddressed_sends_pass() {
    // A netlink socket is not the policy's business; a TCP stream send
    // names no destination.  Here: `ip`-less check with a connected TCP
    // socket whose sends go out untouched.
    for kind in KINDS {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut v = String::new();
            s.read_to_string(&mut v).unwrap();
            v
        });
        let o = Cmd::supervised(
            policy("master:use_master_credentials()"),
            &kind.net_argv(&[
                "connected-send".to_string(),
                format!("tcp:127.0.0.1:{port}"),
                "ab".into(),
            ]),
        )
        .run();
        o.assert_clean();
        assert_eq!(
            o.stdout, "connect: OK\nsend: 2\nsendmsg: 2\n",
            "{kind:?}: {o}"
        );
        assert_eq!(h.join().unwrap(), "abab");
    }
}
