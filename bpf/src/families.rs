//! Socket families: which ones `socket(2)` and `socketpair(2)` may create.
//!
//! The family is the first argument of both calls, a register, so the
//! filter decides on it in the kernel, race-free.  By default only the
//! families of [`DEFAULT`] are created; the others go to the supervisor,
//! which answers EAFNOSUPPORT (as a kernel without the family would) and
//! records the refusal in `--log` and `--summary`.  A policy allows more by
//! name before the program starts (`libc_service.families = { "vsock" }`,
//! docs/policy.md); the filter is built with them.

/// A socket family the posture knows by name.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The name a policy gives (`AF_` dropped, lower case).
    pub name: &'static str,
    /// `AF_*`.
    pub number: i32,
    /// What a program reaches with it (for docs/security.md).
    pub reach: &'static str,
}

const fn f(name: &'static str, number: i32, reach: &'static str) -> Family {
    Family {
        name,
        number,
        reach,
    }
}

/// The families created by default, and why.
pub const DEFAULT: &[Family] = &[
    f(
        "unix",
        1,
        "local sockets: connect, bind and sends to a path are requests the policy decides",
    ),
    f(
        "inet",
        2,
        "IPv4: connect, bind and addressed sends are requests the policy decides",
    ),
    f("inet6", 10, "IPv6: as inet"),
    f(
        "netlink",
        16,
        "the kernel's own interfaces: reading them (getifaddrs, `ip addr`, glibc's AI_ADDRCONFIG) \
         needs no privilege; changing routes, addresses, firewall rules needs CAP_NET_ADMIN, which \
         ci.lua and the no-privilege policies drop",
    ),
];

/// Every other family a Linux 6.18 kernel may have, by name, with what it
/// reaches: refused unless the policy names it.
pub const OTHERS: &[Family] = &[
    f("ax25", 3, "amateur radio"),
    f("ipx", 4, "IPX networks"),
    f("appletalk", 5, "AppleTalk networks"),
    f("netrom", 6, "amateur radio"),
    f("bridge", 7, "multiprotocol bridge"),
    f("atmpvc", 8, "ATM"),
    f("x25", 9, "X.25 networks"),
    f("rose", 11, "amateur radio"),
    f("decnet", 12, "DECnet networks"),
    f("netbeui", 13, "NetBEUI"),
    f("security", 14, "security callbacks"),
    f("key", 15, "IPsec keys and policies (PF_KEY)"),
    f(
        "packet",
        17,
        "raw frames on any interface (CAP_NET_RAW): bypasses every address decision",
    ),
    f("ash", 18, "Ash"),
    f("econet", 19, "Acorn Econet"),
    f("atmsvc", 20, "ATM"),
    f("rds", 21, "Reliable Datagram Sockets: a network of its own"),
    f("sna", 22, "IBM SNA"),
    f("irda", 23, "infrared"),
    f("pppox", 24, "PPP over Ethernet/L2TP tunnels"),
    f("wanpipe", 25, "WAN cards"),
    f("llc", 26, "802.2 LLC frames"),
    f("ib", 27, "InfiniBand"),
    f("mpls", 28, "MPLS"),
    f("can", 29, "CAN buses (vehicles, machines)"),
    f("tipc", 30, "TIPC clusters: a network of its own"),
    f("bluetooth", 31, "Bluetooth devices"),
    f("iucv", 32, "z/VM"),
    f(
        "rxrpc",
        33,
        "RxRPC (AFS) over UDP, without a bind or connect request",
    ),
    f("isdn", 34, "ISDN"),
    f("phonet", 35, "Nokia modems"),
    f("ieee802154", 36, "low-power radio"),
    f("caif", 37, "modems"),
    f(
        "alg",
        38,
        "the kernel's crypto API: a large attack surface of the kernel",
    ),
    f("nfc", 39, "NFC devices"),
    f(
        "vsock",
        40,
        "the hypervisor host and other VMs (host services listen there)",
    ),
    f("kcm", 41, "kernel connection multiplexor"),
    f("qipcrtr", 42, "Qualcomm IPC router (modems, DSPs)"),
    f(
        "smc",
        43,
        "SMC-R/SMC-D (RDMA) connections, outside the inet calls",
    ),
    f(
        "xdp",
        44,
        "raw frames of an interface's queues (CAP_NET_RAW)",
    ),
    f("mctp", 45, "MCTP (management controllers)"),
];

/// The family named `name` (`"vsock"`, `"AF_VSOCK"`, `"PF_VSOCK"`, any case).
pub fn by_name(name: &str) -> Option<&'static Family> {
    let lower = name.to_ascii_lowercase();
    let bare = lower
        .strip_prefix("af_")
        .or_else(|| lower.strip_prefix("pf_"))
        .unwrap_or(&lower);
    DEFAULT.iter().chain(OTHERS).find(|f| f.name == bare)
}

/// The family numbered `number`, if it has a name.
pub fn by_number(number: i32) -> Option<&'static Family> {
    DEFAULT.iter().chain(OTHERS).find(|f| f.number == number)
}

/// A set of families (numbers below 64; `AF_MAX` is 46 in Linux 6.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Families(u64);

impl Families {
    /// No family.
    pub const NONE: Families = Families(0);

    /// The set with `number` added (a number of 64 or more is ignored: no
    /// kernel has such a family).
    pub fn with(self, number: i32) -> Families {
        match u32::try_from(number) {
            Ok(n) if n < 64 => Families(self.0 | 1 << n),
            _ => self,
        }
    }

    /// Is `number` in the set?
    pub fn contains(self, number: i32) -> bool {
        u32::try_from(number).is_ok_and(|n| n < 64 && self.0 & (1 << n) != 0)
    }

    /// The numbers in the set, ascending.
    pub fn numbers(self) -> impl Iterator<Item = i32> {
        (0..64).filter(move |&n| self.0 & (1u64 << n) != 0)
    }

    /// The default families plus these.
    pub fn with_defaults(self) -> Families {
        DEFAULT.iter().fold(self, |s, f| s.with(f.number))
    }
}

/// The name of family `number` for a record: `vsock`, else `family 99`.
pub fn describe(number: i32) -> String {
    match by_number(number) {
        Some(f) => f.name.to_owned(),
        None => format!("family {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(by_name("vsock").unwrap().number, 40);
        assert_eq!(by_name("AF_PACKET").unwrap().number, 17);
        assert_eq!(by_name("pf_alg").unwrap().number, 38);
        assert!(by_name("nonsense").is_none());
        assert_eq!(describe(30), "tipc");
        assert_eq!(describe(99), "family 99");
        let mut seen = std::collections::HashSet::new();
        for f in DEFAULT.iter().chain(OTHERS) {
            assert!(seen.insert(f.number), "{} twice", f.number);
            assert!((1..64).contains(&f.number), "{}", f.name);
        }
    }

    #[test]
    fn sets() {
        let s = Families::NONE.with(40).with(200).with(-1);
        assert!(s.contains(40));
        assert!(!s.contains(1));
        assert_eq!(s.numbers().collect::<Vec<_>>(), vec![libc::AF_VSOCK]);
        let d = Families::NONE.with_defaults();
        assert_eq!(d.numbers().collect::<Vec<_>>(), vec![1, 2, 10, 16]);
    }
}
