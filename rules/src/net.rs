//! Address rules (CIDR sets with ports) and name rules (exact names and
//! suffixes).  An address is looked up once per prefix length present in
//! the set, longest first: the cost depends on how many different prefix
//! lengths the rules use (at most 33 or 129), not on how many rules there
//! are.  A name is looked up once per label.

use std::collections::HashMap;
use std::net::IpAddr;

use super::spec::{best, Action, Hit, PortHit, Ports};

/// One family's CIDR rules.
#[derive(Default, Debug)]
struct Cidrs {
    /// Prefix lengths in use, longest first.
    lens: Vec<u8>,
    /// (length, masked address) → rules.
    map: HashMap<(u8, u128), Vec<PortHit>>,
}

fn mask(addr: u128, len: u8, bits: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u128::MAX << (bits - len);
    let keep = if bits == 32 { keep & 0xffff_ffff } else { keep };
    addr & keep
}

impl Cidrs {
    fn insert(&mut self, addr: u128, len: u8, bits: u8, ph: PortHit) {
        if !self.lens.contains(&len) {
            self.lens.push(len);
            self.lens.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.map
            .entry((len, mask(addr, len, bits)))
            .or_default()
            .push(ph);
    }

    fn lookup(&self, addr: u128, bits: u8, port: u16) -> Option<Hit> {
        for &len in &self.lens {
            let Some(v) = self.map.get(&(len, mask(addr, len, bits))) else {
                continue;
            };
            let mut found = None;
            for ph in v.iter().filter(|ph| ph.ports.contains(port)) {
                found = best(found, Some(ph.hit));
            }
            // A longer prefix always wins over a shorter one.
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// The address rules of one kind (connect or bind).
#[derive(Default, Debug)]
pub struct AddrSet {
    v4: Cidrs,
    v6: Cidrs,
}

/// An IP address as (bits, value); IPv4-mapped IPv6 addresses are IPv4.
fn key(ip: IpAddr) -> (u8, u128) {
    match ip.to_canonical() {
        IpAddr::V4(a) => (32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (128, u128::from(a)),
    }
}

impl AddrSet {
    /// Adds `ip/len` (len within the family's bits, checked by the loader).
    pub fn insert(&mut self, ip: IpAddr, len: u8, ports: Ports, rule: u32, action: Action) {
        let (bits, v) = key(ip);
        let len = if bits == 32 && ip.is_ipv6() {
            // ::ffff:a.b.c.d/n written as IPv6: the IPv4 prefix length.
            len.saturating_sub(96)
        } else {
            len
        };
        let hit = Hit {
            rule,
            action,
            spec: [u32::from(len), ports.narrowness(), 0],
        };
        let ph = PortHit { ports, hit };
        if bits == 32 {
            self.v4.insert(v, len, 32, ph);
        } else {
            self.v6.insert(v, len, 128, ph);
        }
    }

    pub fn lookup(&self, ip: IpAddr, port: u16) -> Option<Hit> {
        match key(ip) {
            (32, v) => self.v4.lookup(v, 32, port),
            (_, v) => self.v6.lookup(v, 128, port),
        }
    }

    /// The prefix length of a host address of `ip`'s family.
    pub fn host_len(ip: IpAddr) -> u32 {
        u32::from(key(ip).0)
    }
}

/// Name rules: exact names, suffixes (`*.example.org`), and `*`.
#[derive(Default, Debug)]
pub struct NameSet {
    exact: HashMap<String, Vec<PortHit>>,
    suffix: HashMap<String, Vec<PortHit>>,
    any: Vec<PortHit>,
}

const ANY: u32 = 0;
const SUFFIX: u32 = 1;
const EXACT: u32 = 2;

impl NameSet {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.suffix.is_empty() && self.any.is_empty()
    }

    /// Adds a name pattern checked by the loader (lower-case, no trailing
    /// dot): `*`, `*.suffix` or an exact name.
    pub fn insert(&mut self, pattern: &str, ports: Ports, rule: u32, action: Action) {
        let (slot, class, len) = if pattern == "*" {
            (&mut self.any, ANY, 0)
        } else if let Some(s) = pattern.strip_prefix("*.") {
            (
                self.suffix.entry(s.to_owned()).or_default(),
                SUFFIX,
                s.len(),
            )
        } else {
            (
                self.exact.entry(pattern.to_owned()).or_default(),
                EXACT,
                pattern.len(),
            )
        };
        slot.push(PortHit {
            ports,
            hit: Hit {
                rule,
                action,
                spec: [class, len as u32, ports.narrowness()],
            },
        });
    }

    /// The most specific rule for `name` (lower-case, no trailing dot);
    /// `port` None for rules without ports (resolve).
    pub fn lookup(&self, name: &str, port: Option<u16>) -> Option<Hit> {
        let pick = |v: &[PortHit], found: Option<Hit>| {
            v.iter()
                .filter(|ph| port.is_none_or(|p| ph.ports.contains(p)))
                .fold(found, |f, ph| best(f, Some(ph.hit)))
        };
        let mut found = self.exact.get(name).and_then(|v| pick(v, None));
        // Suffixes: every proper suffix after a dot, longest first.
        let mut rest = name;
        while let Some(i) = rest.find('.') {
            rest = &rest[i + 1..];
            if let Some(v) = self.suffix.get(rest) {
                found = pick(v, found);
            }
        }
        pick(&self.any, found)
    }
}
