//! Which names gave the program which addresses: every address of every
//! reply the stub sends is recorded under the name asked, before the
//! program receives it, so that a later connect to the address can be
//! decided by the name (`name:` rules, docs/rules.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Addresses remembered at most; past it new addresses are not recorded
/// (connects to them then match no `name:` rule: fail closed).
const MAX_ADDRS: usize = 65536;
/// Names remembered per address at most.
const MAX_NAMES: usize = 16;

#[derive(Default)]
pub struct Learned {
    map: Mutex<HashMap<IpAddr, Vec<String>>>,
}

impl Learned {
    /// Records that looking up `name` gave `addrs`.
    pub fn record(&self, name: &str, addrs: &[IpAddr]) {
        if addrs.is_empty() {
            return;
        }
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        for a in addrs {
            let a = a.to_canonical();
            if !m.contains_key(&a) && m.len() >= MAX_ADDRS {
                continue;
            }
            let names = m.entry(a).or_default();
            if names.len() < MAX_NAMES && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }

    /// The names `ip` was learnt from.
    pub fn names(&self, ip: IpAddr) -> Vec<String> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&ip.to_canonical()).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_per_address_mapped_addresses_are_ipv4() {
        let l = Learned::default();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        l.record("a.example", &[v4]);
        l.record("b.example", &[mapped]);
        l.record("a.example", &[v4]);
        assert_eq!(l.names(v4), ["a.example", "b.example"]);
        assert_eq!(l.names(mapped), ["a.example", "b.example"]);
        assert!(l.names("192.0.2.8".parse().unwrap()).is_empty());
    }
}
