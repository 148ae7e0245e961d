//! DNS wire format: what a query asks, and the replies the stub builds
//! (with the `simple-dns` crate).  Every input is the program's: nothing
//! here may panic on any bytes.

use std::fmt::Write as _;
use std::net::IpAddr;

use simple_dns::rdata::{RData, A, AAAA};
use simple_dns::{Packet, PacketFlag, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE};

/// The two query types that become lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
}

impl RecordType {
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// What to do with one message from the program.
#[derive(Debug)]
pub(super) enum Parsed {
    /// A lookup of `name` (lower-case, escaped, no trailing dot).
    Ask { name: String, qtype: RecordType },
    /// Answer at once with these bytes (FORMERR, NOTIMP, REFUSED).
    Reply(Vec<u8>),
    /// Not a query (too short, or a response): ignore.
    Drop,
}

fn be16(m: &[u8], at: usize) -> u16 {
    match m.get(at..at + 2) {
        Some(b) => u16::from_be_bytes([b[0], b[1]]),
        None => 0,
    }
}

/// A reply of `rcode` with no question, for messages we cannot parse.
fn bare(id: u16, rd: bool, rcode: RCODE) -> Parsed {
    let mut r = Packet::new_reply(id);
    if rd {
        r.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    r.set_flags(PacketFlag::RECURSION_AVAILABLE);
    *r.rcode_mut() = rcode;
    match r.build_bytes_vec() {
        Ok(b) => Parsed::Reply(b),
        Err(_) => Parsed::Drop,
    }
}

/// Classifies one DNS message sent by the program.
pub(super) fn parse_query(msg: &[u8]) -> Parsed {
    if msg.len() < 12 {
        return Parsed::Drop;
    }
    let id = be16(msg, 0);
    let flags = be16(msg, 2);
    if flags & 0x8000 != 0 {
        return Parsed::Drop; // a response: never answer one
    }
    let rd = flags & 0x0100 != 0;
    if (flags >> 11) & 0xf != 0 {
        return bare(id, rd, RCODE::NotImplemented);
    }
    // Exactly one question, nothing else but an optional OPT record.
    if be16(msg, 4) != 1 || be16(msg, 6) != 0 || be16(msg, 8) != 0 || be16(msg, 10) > 1 {
        return bare(id, rd, RCODE::FormatError);
    }
    let Ok(p) = Packet::parse(msg) else {
        return bare(id, rd, RCODE::FormatError);
    };
    let Some(q) = p.questions.first() else {
        return bare(id, rd, RCODE::FormatError);
    };
    let qtype = match q.qtype {
        QTYPE::TYPE(TYPE::A) => RecordType::A,
        QTYPE::TYPE(TYPE::AAAA) => RecordType::Aaaa,
        _ => return refused(msg),
    };
    if q.qclass != QCLASS::CLASS(CLASS::IN) || q.unicast_response {
        return refused(msg);
    }
    let mut name = String::new();
    for (i, label) in q.qname.as_bytes().enumerate() {
        if i > 0 {
            name.push('.');
        }
        for &b in label {
            match b {
                b'A'..=b'Z' => name.push(b.to_ascii_lowercase() as char),
                b'.' | b'\\' => {
                    name.push('\\');
                    name.push(b as char);
                }
                0x21..=0x7e => name.push(b as char),
                _ => {
                    let _ = write!(name, "\\{b:03}");
                }
            }
        }
    }
    Parsed::Ask { name, qtype }
}

fn refused(msg: &[u8]) -> Parsed {
    match reply(msg, RCODE::Refused, &[], usize::MAX) {
        Some(b) => Parsed::Reply(b),
        None => bare(be16(msg, 0), be16(msg, 2) & 0x0100 != 0, RCODE::FormatError),
    }
}

/// The largest UDP reply the program accepts: 512 bytes, or its EDNS
/// payload size (capped at 1232, the usual safe size).
pub(super) fn udp_limit(msg: &[u8]) -> usize {
    match Packet::parse(msg) {
        Ok(p) => match p.opt() {
            Some(o) => (o.udp_packet_size as usize).clamp(512, 1232),
            None => 512,
        },
        Err(_) => 512,
    }
}

/// The reply to query `msg` (already accepted by [`parse_query`]) with
/// `rcode` and, for its type, the addresses of `addrs` (an IPv4-mapped
/// IPv6 address counts as IPv4), TTL 0.  Longer than `limit`: the
/// question alone with TC set, so the program retries over TCP.
pub(super) fn reply(msg: &[u8], rcode: RCODE, addrs: &[IpAddr], limit: usize) -> Option<Vec<u8>> {
    let q = Packet::parse(msg).ok()?;
    let question = q.questions.first()?.clone();
    let mut r = Packet::new_reply(q.id());
    if q.has_flags(PacketFlag::RECURSION_DESIRED) {
        r.set_flags(PacketFlag::RECURSION_DESIRED);
    }
    r.set_flags(PacketFlag::RECURSION_AVAILABLE);
    *r.rcode_mut() = rcode;
    let mut seen = Vec::new();
    for a in addrs {
        let a = a.to_canonical();
        if seen.contains(&a) {
            continue;
        }
        seen.push(a);
        let rdata = match (question.qtype, a) {
            (QTYPE::TYPE(TYPE::A), IpAddr::V4(v4)) => RData::A(A {
                address: u32::from(v4),
            }),
            (QTYPE::TYPE(TYPE::AAAA), IpAddr::V6(v6)) => RData::AAAA(AAAA {
                address: u128::from(v6),
            }),
            _ => continue,
        };
        r.answers.push(ResourceRecord::new(
            question.qname.clone(),
            CLASS::IN,
            0,
            rdata,
        ));
    }
    r.questions.push(question);
    let bytes = r.build_bytes_vec_compressed().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    r.answers.clear();
    r.set_flags(PacketFlag::TRUNCATION);
    r.build_bytes_vec_compressed().ok()
}

/// True if `m` is a reply to query id `id` (QR set).
pub(super) fn is_reply_to(m: &[u8], id: u16) -> bool {
    m.len() >= 12 && be16(m, 0) == id && m[2] & 0x80 != 0
}

/// True if reply `m` has TC set.
pub(super) fn truncated(m: &[u8]) -> bool {
    m.len() >= 12 && m[2] & 0x02 != 0
}

/// The id of message `m`.
pub(super) fn id(m: &[u8]) -> u16 {
    be16(m, 0)
}

/// The addresses in the answer section of reply `m` (A and AAAA records,
/// whatever their owner name: a CNAME chain ends on another name), as
/// the program will see them; none if `m` does not parse.
pub(super) fn answer_addresses(m: &[u8]) -> Vec<IpAddr> {
    let Ok(p) = Packet::parse(m) else {
        return Vec::new();
    };
    p.answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::from(std::net::Ipv4Addr::from(a.address))),
            RData::AAAA(a) => {
                Some(IpAddr::from(std::net::Ipv6Addr::from(a.address)).to_canonical())
            }
            _ => None,
        })
        .collect()
}
