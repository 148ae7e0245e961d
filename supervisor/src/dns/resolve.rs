//! The supervisor's own lookup of a name, for a slave filter whose
//! `real_getaddrinfo` the master answers with `use_*_credentials` (or that
//! runs without a master loop): an A and an AAAA query to the upstream
//! server, from the supervisor's network namespace, and the addresses
//! found.  Unlike [`Answer::Upstream`](super::Answer::Upstream), which
//! relays the program's own queries, this resolves the name the filter
//! gave, which may not be the one the program asked.
//!
//! Blocking: it runs on a job thread (see jobs.rs).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, RCODE, TYPE};

use super::GaiError;

/// How long one query may take, all tries included (as the stub's
/// forwarding).
const TIMEOUT: Duration = Duration::from_secs(5);
/// UDP tries within [`TIMEOUT`].
const TRIES: u32 = 2;

/// How one query ended.
enum Reply {
    Addresses(Vec<IpAddr>),
    Code(RCODE),
    Nothing,
}

/// A random query id (the hasher's keys come from the OS's randomness).
fn query_id() -> u16 {
    RandomState::new().build_hasher().finish() as u16
}

/// Is `name` something this resolver asks about: labels of letters,
/// digits, `-` and `_`, 1 to 63 bytes each, 253 bytes in all?  (Names the
/// stub escaped, `\DDD`, are not.)
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn query(name: &str, ty: TYPE, id: u16) -> Option<Vec<u8>> {
    let mut p = Packet::new_query(id);
    p.set_flags(PacketFlag::RECURSION_DESIRED);
    p.questions.push(Question::new(
        Name::new(name).ok()?,
        QTYPE::TYPE(ty),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    p.build_bytes_vec().ok()
}

fn is_reply_to(m: &[u8], id: u16) -> bool {
    m.len() >= 12 && u16::from_be_bytes([m[0], m[1]]) == id && m[2] & 0x80 != 0
}

fn parse(m: &[u8]) -> Reply {
    let Ok(p) = Packet::parse(m) else {
        return Reply::Nothing;
    };
    if p.rcode() != RCODE::NoError {
        return Reply::Code(p.rcode());
    }
    let addrs = p
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::V4(Ipv4Addr::from(a.address))),
            RData::AAAA(a) => Some(IpAddr::V6(Ipv6Addr::from(a.address))),
            _ => None,
        })
        .collect();
    Reply::Addresses(addrs)
}

fn over_tcp(upstream: SocketAddr, msg: &[u8], id: u16, deadline: Instant) -> Option<Vec<u8>> {
    let left = deadline.checked_duration_since(Instant::now())?;
    let mut s = TcpStream::connect_timeout(&upstream, left).ok()?;
    s.set_read_timeout(Some(left)).ok()?;
    s.set_write_timeout(Some(left)).ok()?;
    let len = u16::try_from(msg.len()).ok()?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    s.write_all(&out).ok()?;
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut r).ok()?;
        if is_reply_to(&r, id) {
            return Some(r);
        }
    }
}

fn ask(upstream: SocketAddr, name: &str, ty: TYPE) -> Reply {
    let id = query_id();
    let Some(msg) = query(name, ty, id) else {
        return Reply::Code(RCODE::NameError);
    };
    let deadline = Instant::now() + TIMEOUT;
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => SocketAddr::from(([0u8; 4], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let Ok(sock) = UdpSocket::bind(local) else {
        return Reply::Nothing;
    };
    if sock.connect(upstream).is_err() {
        return Reply::Nothing;
    }
    let mut buf = vec![0u8; 65536];
    for _ in 0..TRIES {
        if sock.send(&msg).is_err() {
            return Reply::Nothing;
        }
        let until = Instant::now() + TIMEOUT / TRIES;
        loop {
            let now = Instant::now();
            let Some(left) = until.min(deadline).checked_duration_since(now) else {
                break;
            };
            if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
                break;
            }
            let Ok(n) = sock.recv(&mut buf) else {
                break;
            };
            let m = &buf[..n];
            if !is_reply_to(m, id) {
                continue;
            }
            if m[2] & 0x02 != 0 {
                // Truncated: ask again over TCP.
                return over_tcp(upstream, &msg, id, deadline)
                    .map_or(Reply::Nothing, |r| parse(&r));
            }
            return parse(m);
        }
    }
    Reply::Nothing
}

/// Looks `name` up (A and AAAA) at `upstream`: its addresses (possibly
/// none), or the error a resolver would report.
pub fn lookup(upstream: SocketAddr, name: &str) -> Result<Vec<IpAddr>, GaiError> {
    if !plain(name) {
        return Err(GaiError::Noname);
    }
    let (a, aaaa) = std::thread::scope(|s| {
        let a = s.spawn(|| ask(upstream, name, TYPE::A));
        let aaaa = ask(upstream, name, TYPE::AAAA);
        (a.join().unwrap_or(Reply::Nothing), aaaa)
    });
    let mut found = None::<Vec<IpAddr>>;
    let mut codes = Vec::new();
    for r in [a, aaaa] {
        match r {
            Reply::Addresses(v) => found.get_or_insert_with(Vec::new).extend(v),
            Reply::Code(c) => codes.push(Some(c)),
            Reply::Nothing => codes.push(None),
        }
    }
    if let Some(v) = found {
        return Ok(v);
    }
    Err(if codes.contains(&Some(RCODE::NameError)) {
        GaiError::Noname
    } else if codes.contains(&Some(RCODE::Refused)) {
        GaiError::Fail
    } else {
        GaiError::Again
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        assert!(plain("anonymous.invalid"));
        assert!(plain("a-b_c.example"));
        assert!(!plain(""));
        assert!(!plain("a..b"));
        assert!(!plain("a\\046b"));
        assert!(!plain(&"x".repeat(64)));
        assert!(!plain(&["abc"; 70].join(".")));
    }

    /// A loopback server: NXDOMAIN for "missing.test", else A 192.0.2.1
    /// and AAAA 2001:db8::1.
    #[test]
    fn asks_a_and_aaaa() {
        let srv = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = srv.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = srv.recv_from(&mut buf) {
                let q = Packet::parse(&buf[..n]).unwrap();
                let question = q.questions[0].clone();
                let mut r = Packet::new_reply(q.id());
                if question.qname.to_string() == "missing.test" {
                    *r.rcode_mut() = RCODE::NameError;
                } else {
                    let rdata = if question.qtype == QTYPE::TYPE(TYPE::A) {
                        RData::A(simple_dns::rdata::A {
                            address: u32::from(Ipv4Addr::new(192, 0, 2, 1)),
                        })
                    } else {
                        RData::AAAA(simple_dns::rdata::AAAA {
                            address: u128::from("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
                        })
                    };
                    r.answers.push(simple_dns::ResourceRecord::new(
                        question.qname.clone(),
                        CLASS::IN,
                        60,
                        rdata,
                    ));
                }
                r.questions.push(question);
                srv.send_to(&r.build_bytes_vec().unwrap(), from).unwrap();
            }
        });
        let mut got = lookup(at, "found.test").unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8::1".parse().unwrap()
            ]
        );
        assert_eq!(lookup(at, "missing.test"), Err(GaiError::Noname));
        assert_eq!(lookup(at, "bad\\046name"), Err(GaiError::Noname));
    }
}
