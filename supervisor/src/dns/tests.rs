//! Tests of the DNS stub on the real kernel: a private network namespace
//! per test, real sockets, and (for the upstream path) a tiny DNS server
//! the test runs on 127.0.0.1.  Nothing leaves loopback or the private
//! namespaces.

use super::*;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use simple_dns::rdata::{RData, A};
use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QTYPE, RCODE, TYPE};

const NAME: &str = "anonymous.invalid";

/// A running stub, or `None` (with a message) where namespaces cannot be
/// made: not root, no unprivileged user namespaces, and not under CI.
fn start(upstream: SocketAddr) -> Option<Dns> {
    match Dns::start(Config {
        upstream: Some(upstream),
    }) {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") || nix::unistd::geteuid().is_root() {
                panic!("the DNS stub cannot start: {e}");
            }
            eprintln!("skipping: the DNS stub cannot start here: {e}");
            None
        }
    }
}

/// An upstream nobody listens on (a port just freed).
fn nowhere() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn query(id: u16, name: &str, t: TYPE) -> Vec<u8> {
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(t),
        CLASS::IN.into(),
        false,
    ));
    p.build_bytes_vec().unwrap()
}

fn udp(dns: &Dns, server: &str) -> UdpSocket {
    let server: SocketAddr = server.parse().unwrap();
    let s = UdpSocket::from(dns.client_socket(server, false, 4242).unwrap());
    assert_eq!(s.peer_addr().unwrap(), server);
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s
}

fn tcp(dns: &Dns, server: &str) -> TcpStream {
    let server: SocketAddr = server.parse().unwrap();
    let s = TcpStream::from(dns.client_socket(server, true, 4343).unwrap());
    assert_eq!(s.peer_addr().unwrap(), server);
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s
}

/// One reply on `s`, checked to come from its server.
fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let (n, from) = s.recv_from(&mut buf).expect("a reply");
    assert_eq!(from, s.peer_addr().unwrap(), "reply source");
    buf.truncate(n);
    buf
}

fn tcp_send(s: &mut TcpStream, m: &[u8]) {
    let mut out = (m.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(m);
    s.write_all(&out).unwrap();
}

fn tcp_recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut m = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut m).unwrap();
    m
}

/// The next Query, as the main loop gets it (poll on wake_fd).
fn next_query(dns: &Dns) -> Query {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if let Some(q) = dns.try_recv() {
            return q;
        }
        assert!(Instant::now() < deadline, "no query reached the policy");
        let mut fds = [PollFd::new(dns.wake_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(200u16));
    }
}

fn no_more_queries(dns: &Dns) {
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        dns.try_recv().is_none(),
        "an extra query reached the policy"
    );
}

/// (id, rcode, addresses) of a reply.
fn decode(m: &[u8]) -> (u16, RCODE, Vec<IpAddr>) {
    let p = Packet::parse(m).expect("a well-formed reply");
    assert!(p.has_flags(PacketFlag::RESPONSE));
    let addrs = p
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::from(Ipv4Addr::from(a.address))),
            RData::AAAA(a) => Some(IpAddr::from(Ipv6Addr::from(a.address))),
            _ => None,
        })
        .collect();
    (p.id(), p.rcode(), addrs)
}

fn ttls(m: &[u8]) -> Vec<u32> {
    Packet::parse(m)
        .unwrap()
        .answers
        .iter()
        .map(|rr| rr.ttl)
        .collect()
}

fn pinned() -> Vec<IpAddr> {
    vec!["127.0.1.1".parse().unwrap(), "::1".parse().unwrap()]
}

/// A and AAAA for NAME on one UDP socket to `server`: one Query, answered
/// with 127.0.1.1 and ::1.
fn pinned_lookup(server: &str) {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, server);
    s.send(&query(0x1111, NAME, TYPE::A)).unwrap();
    s.send(&query(0x2222, NAME, TYPE::AAAA)).unwrap();
    let q = next_query(&dns);
    assert_eq!(q.name, NAME);
    assert_eq!(q.tid, Some(4242));
    assert_eq!(q.server, canonical(server.parse::<SocketAddr>().unwrap()));
    q.answer(Answer::Addresses(pinned()));
    let replies = [recv(&s), recv(&s)];
    for r in &replies {
        assert_eq!(ttls(r), vec![0]);
    }
    let mut got = replies.map(|m| decode(&m));
    got.sort_by_key(|g| g.0);
    assert_eq!(
        got[0],
        (0x1111, RCODE::NoError, vec!["127.0.1.1".parse().unwrap()])
    );
    assert_eq!(
        got[1],
        (0x2222, RCODE::NoError, vec!["::1".parse().unwrap()])
    );
    no_more_queries(&dns);
}

#[test]
fn udp_to_10_0_2_3_is_one_query_for_a_and_aaaa() {
    pinned_lookup("10.0.2.3:53");
}

#[test]
fn udp_to_127_0_0_53_is_one_query_for_a_and_aaaa() {
    pinned_lookup("127.0.0.53:53");
}

#[test]
fn udp_to_ipv6_loopback_is_one_query_for_a_and_aaaa() {
    pinned_lookup("[::1]:53");
}

#[test]
fn udp_to_other_ipv6_and_port_is_served() {
    pinned_lookup("[fd00::53]:5353");
}

#[test]
fn udp_to_an_ipv4_mapped_server_is_served() {
    // An AF_INET6 program socket sending to ::ffff:a.b.c.d.
    pinned_lookup("[::ffff:10.0.2.3]:53");
}

#[test]
fn an_unconnected_socket_reaches_several_servers() {
    // musl: one unconnected dual-stack socket, sendto every name server
    // (IPv4 ones as mapped addresses), first answer wins.
    let Some(dns) = start(nowhere()) else { return };
    let s = UdpSocket::from(dns.unconnected_socket(true, 77).unwrap());
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let servers: Vec<SocketAddr> = ["[::ffff:10.0.2.3]:53", "[::ffff:10.0.2.4]:53", "[::1]:53"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    for &server in &servers {
        dns.listen(server).unwrap();
    }
    // The same query (same id) to every server.
    for &server in &servers {
        s.send_to(&query(0x3333, NAME, TYPE::A), server).unwrap();
    }
    let q = next_query(&dns);
    assert_eq!(q.tid, Some(77));
    q.answer(Answer::Addresses(pinned()));
    let mut buf = [0u8; 512];
    let mut from = Vec::new();
    for _ in &servers {
        let (n, src) = s.recv_from(&mut buf).unwrap();
        let r = decode(&buf[..n]);
        assert_eq!(r, (0x3333, RCODE::NoError, vec![pinned()[0]]));
        from.push(src);
    }
    from.sort();
    let mut want = servers.clone();
    want.sort();
    assert_eq!(from, want, "each reply from the server asked");
    no_more_queries(&dns);
}

#[test]
fn a_and_aaaa_on_two_sockets_are_one_query() {
    // Go's resolver: one socket per query type, in parallel.
    let Some(dns) = start(nowhere()) else { return };
    let (a, b) = (udp(&dns, "10.0.2.3:53"), udp(&dns, "10.0.2.3:53"));
    a.send(&query(1, NAME, TYPE::A)).unwrap();
    b.send(&query(2, NAME, TYPE::AAAA)).unwrap();
    next_query(&dns).answer(Answer::Addresses(pinned()));
    assert_eq!(
        decode(&recv(&a)).2,
        vec!["127.0.1.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(decode(&recv(&b)).2, vec!["::1".parse::<IpAddr>().unwrap()]);
    no_more_queries(&dns);
}

#[test]
fn a_second_lookup_is_a_new_query() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    for id in [1, 2] {
        s.send(&query(id, NAME, TYPE::A)).unwrap();
        next_query(&dns).answer(Answer::Addresses(pinned()));
        assert_eq!(decode(&recv(&s)).0, id);
    }
    no_more_queries(&dns);
}

#[test]
fn errors_map_to_response_codes() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    let cases = [
        (Answer::Error(GaiError::Noname), RCODE::NameError),
        (Answer::Error(GaiError::Again), RCODE::ServerFailure),
        (Answer::Error(GaiError::System), RCODE::ServerFailure),
        (Answer::Error(GaiError::Fail), RCODE::Refused),
        (Answer::Addresses(vec![]), RCODE::NoError),
    ];
    for (i, (answer, rcode)) in cases.into_iter().enumerate() {
        let name = format!("n{i}.invalid");
        s.send(&query(i as u16, &name, TYPE::AAAA)).unwrap();
        let q = next_query(&dns);
        assert_eq!(q.name, name);
        q.answer(answer);
        assert_eq!(decode(&recv(&s)), (i as u16, rcode, vec![]));
    }
}

#[test]
fn a_dropped_query_is_servfail() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    s.send(&query(7, NAME, TYPE::A)).unwrap();
    drop(next_query(&dns));
    assert_eq!(decode(&recv(&s)), (7, RCODE::ServerFailure, vec![]));
}

#[test]
fn tcp_queries_are_served() {
    let Some(dns) = start(nowhere()) else { return };
    let mut s = tcp(&dns, "10.0.2.3:53");
    // Both queries on one connection, as glibc does with use-vc.
    tcp_send(&mut s, &query(0x0a0a, NAME, TYPE::A));
    tcp_send(&mut s, &query(0x0b0b, NAME, TYPE::AAAA));
    let q = next_query(&dns);
    assert_eq!(q.tid, Some(4343));
    q.answer(Answer::Addresses(pinned()));
    let mut got = [tcp_recv(&mut s), tcp_recv(&mut s)].map(|m| decode(&m));
    got.sort_by_key(|g| g.0);
    assert_eq!(got[0].2, vec!["127.0.1.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(got[1].2, vec!["::1".parse::<IpAddr>().unwrap()]);
    no_more_queries(&dns);
}

#[test]
fn a_long_udp_answer_is_truncated_and_the_tcp_retry_reuses_the_decision() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    let many: Vec<IpAddr> = (0..60u8).map(|i| IpAddr::from([10, 9, 8, i])).collect();
    s.send(&query(5, NAME, TYPE::A)).unwrap();
    next_query(&dns).answer(Answer::Addresses(many.clone()));
    let r = recv(&s);
    assert!(r.len() <= 512);
    assert!(Packet::parse(&r).unwrap().has_flags(PacketFlag::TRUNCATION));
    let mut t = tcp(&dns, "127.0.0.53:53");
    tcp_send(&mut t, &query(5, NAME, TYPE::A));
    assert_eq!(decode(&tcp_recv(&mut t)), (5, RCODE::NoError, many));
    no_more_queries(&dns);
}

#[test]
fn other_query_types_are_refused_without_asking_the_policy() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    for (id, t) in [
        (1, TYPE::MX),
        (2, TYPE::TXT),
        (3, TYPE::PTR),
        (4, TYPE::SRV),
    ] {
        s.send(&query(id, NAME, t)).unwrap();
        assert_eq!(decode(&recv(&s)), (id, RCODE::Refused, vec![]));
    }
    no_more_queries(&dns);
}

#[test]
fn malformed_messages_do_not_stop_the_stub() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    let good = query(9, NAME, TYPE::A);
    let mut two_questions = good.clone();
    two_questions[5] = 2;
    let mut looping = good[..12].to_vec();
    looping.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // name points at itself
    let mut response = good.clone();
    response[2] |= 0x80;
    let mut long_label = good[..12].to_vec();
    long_label.push(200);
    long_label.extend(std::iter::repeat_n(b'a', 300));
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff; 11],
        good[..20].to_vec(),
        two_questions,
        looping,
        response,
        long_label,
        (0..=255u8).collect(),
    ];
    for m in &bad {
        s.send(m).unwrap();
    }
    // Replies to the bad messages (FORMERR) or none; then a good query
    // still works.
    s.send(&good).unwrap();
    next_query(&dns).answer(Answer::Addresses(pinned()));
    loop {
        let r = recv(&s);
        let p = Packet::parse(&r).unwrap();
        if p.id() == 9 && p.rcode() == RCODE::NoError {
            break;
        }
        assert_eq!(p.rcode(), RCODE::FormatError);
    }
    // Garbage over TCP too.
    let mut t = tcp(&dns, "127.0.0.53:53");
    tcp_send(&mut t, &[1, 2, 3]);
    tcp_send(&mut t, &query(10, NAME, TYPE::AAAA));
    assert_eq!(decode(&tcp_recv(&mut t)).0, 10);
}

#[test]
fn parsing_never_panics_on_mutated_queries() {
    // A bounded, deterministic fuzz of the parser and reply builder.
    let base = query(3, NAME, TYPE::AAAA);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut m = base.clone();
        let n = (x % 4 + 1) as usize;
        for k in 0..n {
            let at = ((x >> (8 * k)) as usize) % m.len();
            m[at] = (x >> (16 + k)) as u8;
        }
        if x % 8 == 3 {
            m.truncate((x >> 40) as usize % m.len());
        }
        if let wire::Parsed::Ask { .. } = wire::parse_query(&m) {
            let _ = wire::reply(&m, RCODE::NoError, &pinned(), 512);
            let _ = wire::udp_limit(&m);
        }
    }
}

#[test]
fn names_are_lower_case_and_escaped() {
    let mut m = query(1, "WWW.Example.COM", TYPE::A);
    match wire::parse_query(&m) {
        wire::Parsed::Ask { name, qtype } => {
            assert_eq!(name, "www.example.com");
            assert_eq!(qtype, RecordType::A);
        }
        other => panic!("{other:?}"),
    }
    // A label "a.b\x01" (bytes inside a label) must not read as two labels.
    m = Vec::from(&query(1, "x", TYPE::A)[..12]);
    m.extend_from_slice(b"\x04a.b\x01\x00\x00\x01\x00\x01");
    match wire::parse_query(&m) {
        wire::Parsed::Ask { name, .. } => assert_eq!(name, "a\\.b\\001"),
        other => panic!("{other:?}"),
    }
}

/// A one-shot DNS server on 127.0.0.1 (UDP and TCP on one port): checks
/// the forwarded query is byte for byte the program's, and answers A
/// 192.0.2.7 with the same id.
fn tiny_upstream(expect: Vec<u8>, tcp: bool) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let answer = |q: &[u8]| {
        let p = Packet::parse(q).unwrap();
        let mut r = Packet::new_reply(p.id());
        let question = p.questions[0].clone();
        r.answers.push(ResourceRecord::new(
            question.qname.clone(),
            CLASS::IN,
            60,
            RData::A(A {
                address: u32::from(Ipv4Addr::new(192, 0, 2, 7)),
            }),
        ));
        r.questions.push(question);
        r.build_bytes_vec().unwrap()
    };
    if tcp {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            let q = tcp_recv(&mut c);
            assert_eq!(q, expect);
            tcp_send(&mut c, &answer(&q));
        });
        (addr, h)
    } else {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        let addr = u.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let (n, from) = u.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &expect[..]);
            u.send_to(&answer(&buf[..n]), from).unwrap();
        });
        (addr, h)
    }
}

#[test]
fn upstream_forwards_over_udp_and_relays_with_the_original_id() {
    let q = query(0xbeef, "example.test", TYPE::A);
    let (up, server) = tiny_upstream(q.clone(), false);
    let Some(dns) = start(up) else { return };
    let s = udp(&dns, "10.0.2.3:53");
    s.send(&q).unwrap();
    next_query(&dns).answer(Answer::Upstream);
    let r = recv(&s);
    assert_eq!(
        decode(&r),
        (0xbeef, RCODE::NoError, vec![IpAddr::from([192, 0, 2, 7])])
    );
    assert_eq!(ttls(&r), vec![60], "the upstream's answer, unchanged");
    server.join().unwrap();
}

#[test]
fn upstream_forwards_over_tcp() {
    let q = query(0xcafe, "example.test", TYPE::A);
    let (up, server) = tiny_upstream(q.clone(), true);
    let Some(dns) = start(up) else { return };
    let mut s = tcp(&dns, "127.0.0.53:53");
    tcp_send(&mut s, &q);
    next_query(&dns).answer(Answer::Upstream);
    let r = tcp_recv(&mut s);
    assert_eq!(decode(&r).0, 0xcafe);
    server.join().unwrap();
}

#[test]
fn an_unreachable_upstream_is_servfail() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    s.send(&query(4, NAME, TYPE::A)).unwrap();
    next_query(&dns).answer(Answer::Upstream);
    assert_eq!(decode(&recv(&s)), (4, RCODE::ServerFailure, vec![]));
}

#[test]
fn client_sockets_are_stub_sockets() {
    let Some(dns) = start(nowhere()) else { return };
    let s = udp(&dns, "127.0.0.53:53");
    let t = tcp(&dns, "[::1]:53");
    assert!(dns.is_stub_socket(s.as_fd()));
    assert!(dns.is_stub_socket(t.as_fd()));
    let mine = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(!dns.is_stub_socket(mine.as_fd()));
    assert!(!dns.is_stub_socket(dns.wake_fd()));
}

#[test]
fn unsupported_servers_are_errors() {
    let Some(dns) = start(nowhere()) else { return };
    for a in [
        "0.0.0.0:53",
        "224.0.0.251:53",
        "[fe80::1]:53",
        "127.0.0.53:0",
    ] {
        let e = dns.client_socket(a.parse().unwrap(), false, 1).unwrap_err();
        assert!(matches!(e, DnsError::Unsupported(_)), "{a}: {e}");
    }
}

#[test]
fn the_namespace_child_is_reaped_on_drop() {
    let Some(dns) = start(nowhere()) else { return };
    let pid = dns.netns.as_ref().unwrap().pid();
    drop(dns);
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
        "the namespace child {pid} outlived its Dns"
    );
}

#[test]
fn resolv_conf_gives_the_first_nameserver() {
    let t = "# c\nsearch x\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\n";
    assert_eq!(first_nameserver(t), Some("[fe80::1]:53".parse().unwrap()));
    assert_eq!(
        first_nameserver("nameserver 10.0.0.1"),
        Some("10.0.0.1:53".parse().unwrap())
    );
    assert_eq!(first_nameserver("options ndots:1\n"), None);
}

#[test]
fn gai_errors_parse_from_the_spec_strings() {
    for (s, e) in [
        ("again", GaiError::Again),
        ("badflags", GaiError::Badflags),
        ("fail", GaiError::Fail),
        ("family", GaiError::Family),
        ("memory", GaiError::Memory),
        ("noname", GaiError::Noname),
        ("service", GaiError::Service),
        ("socktype", GaiError::Socktype),
        ("system", GaiError::System),
    ] {
        assert_eq!(s.parse::<GaiError>().unwrap(), e);
    }
    assert!("nope".parse::<GaiError>().is_err());
}
