//! Decoding the socket calls that name an address: connect, bind, and the
//! sends that carry a destination (sendto with an address, sendmsg and
//! sendmmsg).
//!
//! As for the file calls, every pointer argument is copied once here: the
//! address, the `msghdr`, its iovec array and its control buffer.  The
//! payload itself is read only when the supervisor sends it (it is not
//! something the policy decides on).  Which request a call becomes depends
//! on the family of the socket, known only once the socket is duplicated
//! (see [`classify`]).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bpf::Sys;
use nix::errno::Errno;

use kernel::memory;
use kernel::notify::sys::SeccompData;

/// `sizeof(struct sockaddr_storage)`: the kernel's bound on an address.
pub const SOCKADDR_MAX: usize = 128;
/// `UIO_MAXIOV`.
const IOV_MAX: u64 = 1024;
/// The largest control buffer copied (the kernel's own bound is the
/// `optmem_max` sysctl, 20 KiB by default).
const CONTROL_MAX: u64 = 64 * 1024;
/// `sizeof(struct msghdr)` on 64-bit Linux.
const MSGHDR: usize = 56;

/// What the call does with its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOp {
    Connect,
    Bind,
    /// A send (sendto, sendmsg, first message of sendmmsg).
    Send,
}

/// What a send sends: the program's buffers, read when sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// (address, length) in the program.
    pub iov: Vec<(u64, usize)>,
    /// The control messages, copied.
    pub control: Vec<u8>,
    /// The `send*` flags argument.
    pub flags: i32,
    /// sendmmsg: where the sent length of message 0 goes (`msg_len`).
    pub mmsg_len_at: Option<u64>,
}

impl Payload {
    /// The total length of the iovecs.
    pub fn total(&self) -> usize {
        self.iov
            .iter()
            .fold(0usize, |a, &(_, l)| a.saturating_add(l))
    }
}

/// A socket call, copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockCall {
    pub op: SockOp,
    /// The program's socket descriptor.
    pub fd: i32,
    /// The address exactly as copied (`addrlen` bytes); `None` when the call
    /// names none (a send on a connected socket).
    pub addr: Option<Vec<u8>>,
    /// For sends.
    pub payload: Option<Payload>,
}

/// A mapped address: what the policy sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetAddr {
    /// A unix path; an abstract name keeps its leading NUL byte.
    Unix(Vec<u8>),
    Inet(SocketAddrV4),
    Inet6(SocketAddrV6),
}

impl NetAddr {
    pub fn is_abstract(&self) -> bool {
        matches!(self, NetAddr::Unix(p) if p.first() == Some(&0))
    }

    /// The `sockaddr` bytes of this address.
    pub fn to_raw(&self) -> Result<Vec<u8>, Errno> {
        let mut v = Vec::with_capacity(28);
        match self {
            NetAddr::Unix(p) => {
                // sun_path holds 108 bytes; a path needs its NUL.
                if p.len() > 108 || (!self.is_abstract() && p.len() >= 108) {
                    return Err(Errno::ENAMETOOLONG);
                }
                v.extend((libc::AF_UNIX as u16).to_ne_bytes());
                v.extend_from_slice(p);
                if !self.is_abstract() {
                    v.push(0);
                }
            }
            NetAddr::Inet(a) => {
                v.extend((libc::AF_INET as u16).to_ne_bytes());
                v.extend(a.port().to_be_bytes());
                v.extend(a.ip().octets());
                v.extend([0u8; 8]);
            }
            NetAddr::Inet6(a) => {
                v.extend((libc::AF_INET6 as u16).to_ne_bytes());
                v.extend(a.port().to_be_bytes());
                v.extend(a.flowinfo().to_be_bytes());
                v.extend(a.ip().octets());
                v.extend(a.scope_id().to_ne_bytes());
            }
        }
        Ok(v)
    }

    /// The address in raw `sockaddr` bytes of its own family, if mapped.
    pub fn from_raw(raw: &[u8]) -> Option<NetAddr> {
        if raw.len() < 2 {
            return None;
        }
        match u16::from_ne_bytes([raw[0], raw[1]]) as i32 {
            libc::AF_UNIX => unix_addr(raw),
            libc::AF_INET if raw.len() >= 16 => Some(NetAddr::Inet(v4(raw))),
            libc::AF_INET6 if raw.len() >= 24 => Some(NetAddr::Inet6(v6(raw))),
            _ => None,
        }
    }

    /// Parses a policy's address: an IP address (`"10.0.0.1"`, `"::1"`,
    /// `"fe80::1%2"`) with a port, or without a port a unix path (an
    /// abstract name starts with a NUL byte).
    pub fn parse(text: &[u8], port: Option<u16>) -> Option<NetAddr> {
        let Some(port) = port else {
            // A path stops at its first NUL for the kernel: one inside the
            // text would name another file than the policy wrote.
            let path_with_nul = text.first() != Some(&0) && text.contains(&0);
            return (!text.is_empty() && !path_with_nul).then(|| NetAddr::Unix(text.to_vec()));
        };
        let s = std::str::from_utf8(text).ok()?;
        let (ip, scope) = match s.split_once('%') {
            Some((ip, scope)) => (ip, scope.parse::<u32>().ok()?),
            None => (s, 0),
        };
        match ip.parse::<std::net::IpAddr>().ok()? {
            std::net::IpAddr::V4(a) if scope == 0 => {
                Some(NetAddr::Inet(SocketAddrV4::new(a, port)))
            }
            std::net::IpAddr::V4(_) => None,
            std::net::IpAddr::V6(a) => Some(NetAddr::Inet6(SocketAddrV6::new(a, port, 0, scope))),
        }
    }
}

fn word(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn int(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Copies an address argument as the kernel's `move_addr_to_kernel`.
fn read_addr(tid: u32, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = len as u32 as i32;
    if len < 0 || len as usize > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; len as usize];
    memory::read_exact(tid, addr, &mut buf)?;
    Ok(buf)
}

/// Copies a `struct msghdr` at `at`: its name (if any), iovecs, control.
fn read_msghdr(tid: u32, at: u64, flags: i32) -> Result<(Option<Vec<u8>>, Payload), Errno> {
    let mut h = [0u8; MSGHDR];
    memory::read_exact(tid, at, &mut h)?;
    let (name, namelen) = (word(&h, 0), int(&h, 8) as i32);
    let (iov, iovlen) = (word(&h, 16), word(&h, 24));
    let (control, controllen) = (word(&h, 32), word(&h, 40));
    if namelen < 0 {
        return Err(Errno::EINVAL);
    }
    let addr = if name != 0 && namelen != 0 {
        // sendmsg truncates an over-long name instead of failing.
        let len = (namelen as usize).min(SOCKADDR_MAX);
        let mut buf = vec![0u8; len];
        memory::read_exact(tid, name, &mut buf)?;
        Some(buf)
    } else {
        None
    };
    if iovlen > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    let mut raw = vec![0u8; iovlen as usize * 16];
    memory::read_exact(tid, iov, &mut raw)?;
    let mut iovs = Vec::with_capacity(iovlen as usize);
    let mut total: usize = 0;
    for c in raw.chunks_exact(16) {
        let (base, len) = (word(c, 0), word(c, 8));
        if len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        total = total.saturating_add(len as usize);
        if total > isize::MAX as usize {
            return Err(Errno::EINVAL);
        }
        iovs.push((base, len as usize));
    }
    if controllen > CONTROL_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut ctl = vec![0u8; controllen as usize];
    if !ctl.is_empty() {
        memory::read_exact(tid, control, &mut ctl)?;
    }
    Ok((
        addr,
        Payload {
            iov: iovs,
            control: ctl,
            flags,
            mmsg_len_at: None,
        },
    ))
}

/// Decodes a socket call.  `Ok(None)`: nothing to do (sendmmsg of no
/// message), the call returns 0.
pub fn decode(sys: Sys, d: &SeccompData, tid: u32) -> Result<Option<SockCall>, Errno> {
    let a = &d.args;
    let fd = a[0] as u32 as i32;
    let call = match sys {
        Sys::Connect | Sys::Bind => SockCall {
            op: if sys == Sys::Connect {
                SockOp::Connect
            } else {
                SockOp::Bind
            },
            fd,
            addr: Some(read_addr(tid, a[1], a[2])?),
            payload: None,
        },
        Sys::Sendto => {
            let len = a[2];
            if len > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            // The filter only traps a sendto with a destination pointer.
            let addr = if a[4] != 0 {
                Some(read_addr(tid, a[4], a[5])?)
            } else {
                None
            };
            SockCall {
                op: SockOp::Send,
                fd,
                addr,
                payload: Some(Payload {
                    iov: vec![(a[1], len as usize)],
                    control: Vec::new(),
                    flags: a[3] as i32,
                    mmsg_len_at: None,
                }),
            }
        }
        Sys::Sendmsg => {
            let (addr, payload) = read_msghdr(tid, a[1], a[2] as i32)?;
            SockCall {
                op: SockOp::Send,
                fd,
                addr,
                payload: Some(payload),
            }
        }
        Sys::Sendmmsg => {
            if a[2] as u32 == 0 {
                return Ok(None);
            }
            // Only the first message is sent: sendmmsg may send fewer
            // messages than asked, and callers handle it.
            let (addr, mut payload) = read_msghdr(tid, a[1], a[3] as i32)?;
            payload.mmsg_len_at = Some(a[1] + MSGHDR as u64);
            SockCall {
                op: SockOp::Send,
                fd,
                addr,
                payload: Some(payload),
            }
        }
        _ => return Err(Errno::ENOSYS),
    };
    Ok(Some(call))
}

/// What a socket call is, given the socket's family (`SO_DOMAIN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// A request for the policy.
    Mapped(NetAddr),
    /// A call the kernel would never treat as reaching an inet or unix
    /// address of the program's choosing: done by the supervisor on the
    /// copy (a send on a connected socket, an unnamed unix address, an
    /// `AF_UNSPEC` disconnect, a malformed address the kernel rejects).
    Plain,
}

/// Classifies a call on a socket of family `domain` and protocol
/// `protocol` (`SO_DOMAIN`, `SO_PROTOCOL`; only `AF_UNIX`, `AF_INET`,
/// `AF_INET6` are asked about).
///
/// The address family is read as the kernel reads it for each pair, so
/// that no address the kernel would use escapes the policy:
///
/// | socket | address family | the kernel | here |
/// |---|---|---|---|
/// | unix | `AF_UNIX` | a path or an abstract name (none: autobind) | mapped (none: plain) |
/// | unix | other | `EINVAL`; `AF_UNSPEC` connect disconnects a datagram socket | plain |
/// | inet, inet6 | `AF_INET` (≥ 16 bytes) | an IPv4 address (inet6: through the IPv4 code) | mapped |
/// | inet6 | `AF_INET6` (≥ 24 bytes) | an IPv6 address; `::ffff:a.b.c.d` is IPv4 | mapped (v4-mapped as inet) |
/// | inet, inet6 | `AF_UNSPEC` connect | disconnect (`inet_dgram_connect`, `__inet_stream_connect`) | plain |
/// | inet | `AF_UNSPEC` bind | `AF_INET` if the address is `INADDR_ANY` (`__inet_bind`), else `EAFNOSUPPORT` | mapped if any, else plain |
/// | inet | `AF_UNSPEC` send (≥ 16 bytes) | `AF_INET` (`udp_sendmsg`, `raw_sendmsg`, `l2tp_ip_sendmsg`); others refuse it | mapped as inet |
/// | inet6 | `AF_UNSPEC` send, UDP | no address: the connected peer (`udpv6_sendmsg`) | plain |
/// | inet6 | `AF_UNSPEC` send, other (≥ 24 bytes) | `AF_INET6` (`rawv6_sendmsg`); others refuse it | mapped as inet6 |
/// | any | shorter than the family needs, or another family | `EINVAL` / `EAFNOSUPPORT` | plain |
///
/// Where a protocol might refuse an address that is mapped here, the
/// policy sees it anyway: the supervisor then does the call and the kernel
/// refuses it as it would the program's.  A plain call is done by the
/// supervisor on its copy of the socket with the copied bytes, so the
/// kernel answers exactly as for the program.
pub fn classify(call: &SockCall, domain: i32, protocol: i32) -> Class {
    let Some(raw) = &call.addr else {
        return Class::Plain;
    };
    if raw.len() < 2 {
        return Class::Plain;
    }
    let family = u16::from_ne_bytes([raw[0], raw[1]]) as i32;
    let inet6 = |raw: &[u8]| {
        let sa = v6(raw);
        match sa.ip().to_ipv4_mapped() {
            // ::ffff:a.b.c.d reaches a.b.c.d: it is an IPv4 request.
            Some(ip) => Class::Mapped(NetAddr::Inet(SocketAddrV4::new(ip, sa.port()))),
            None => Class::Mapped(NetAddr::Inet6(sa)),
        }
    };
    let udp = matches!(protocol, libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE);
    match (domain, family) {
        (libc::AF_UNIX, libc::AF_UNIX) => unix_addr(raw).map_or(Class::Plain, Class::Mapped),
        (libc::AF_INET | libc::AF_INET6, libc::AF_INET) if raw.len() >= 16 => {
            Class::Mapped(NetAddr::Inet(v4(raw)))
        }
        (libc::AF_INET6, libc::AF_INET6) if raw.len() >= 24 => inet6(raw),
        // bind(AF_UNSPEC) on an IPv4 socket is bind(AF_INET) when the
        // address is INADDR_ANY (the kernel's compatibility rule).
        (libc::AF_INET, libc::AF_UNSPEC)
            if call.op == SockOp::Bind && raw.len() >= 16 && v4(raw).ip().is_unspecified() =>
        {
            Class::Mapped(NetAddr::Inet(v4(raw)))
        }
        // A send to AF_UNSPEC on an IPv4 socket is a send to AF_INET.
        (libc::AF_INET, libc::AF_UNSPEC) if call.op == SockOp::Send && raw.len() >= 16 => {
            Class::Mapped(NetAddr::Inet(v4(raw)))
        }
        // … and on a raw IPv6 socket a send to AF_INET6 (UDP ignores it).
        (libc::AF_INET6, libc::AF_UNSPEC) if call.op == SockOp::Send && !udp && raw.len() >= 24 => {
            inet6(raw)
        }
        _ => Class::Plain,
    }
}

fn v4(raw: &[u8]) -> SocketAddrV4 {
    let port = u16::from_be_bytes([raw[2], raw[3]]);
    SocketAddrV4::new(Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]), port)
}

fn v6(raw: &[u8]) -> SocketAddrV6 {
    let port = u16::from_be_bytes([raw[2], raw[3]]);
    let flow = u32::from_be_bytes(raw[4..8].try_into().expect("4"));
    let ip: [u8; 16] = raw[8..24].try_into().expect("16");
    let scope = if raw.len() >= 28 {
        u32::from_ne_bytes(raw[24..28].try_into().expect("4"))
    } else {
        0
    };
    SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope)
}

/// The name of a unix address, as the kernel reads it: a path stops at
/// the first NUL; an abstract name is every byte after the family.  `None`
/// for an unnamed address.
fn unix_addr(raw: &[u8]) -> Option<NetAddr> {
    let name = &raw[2..];
    if name.is_empty() {
        return None;
    }
    if name[0] == 0 {
        return Some(NetAddr::Unix(name.to_vec()));
    }
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some(NetAddr::Unix(name[..end].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: SockOp, raw: Vec<u8>) -> SockCall {
        SockCall {
            op,
            fd: 3,
            addr: Some(raw),
            payload: None,
        }
    }

    fn sin(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut v = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        v.extend(port.to_be_bytes());
        v.extend(ip);
        v.extend([0u8; 8]);
        v
    }

    fn sin6(ip: Ipv6Addr, port: u16, scope: u32) -> Vec<u8> {
        let mut v = (libc::AF_INET6 as u16).to_ne_bytes().to_vec();
        v.extend(port.to_be_bytes());
        v.extend([0u8; 4]);
        v.extend(ip.octets());
        v.extend(scope.to_ne_bytes());
        v
    }

    #[test]
    fn inet_addresses_are_mapped() {
        let c = call(SockOp::Connect, sin([127, 0, 0, 1], 80));
        assert_eq!(
            classify(&c, libc::AF_INET, 0),
            Class::Mapped(NetAddr::Inet("127.0.0.1:80".parse().unwrap()))
        );
        let c = call(SockOp::Connect, sin6("::1".parse().unwrap(), 53, 2));
        assert_eq!(
            classify(&c, libc::AF_INET6, 0),
            Class::Mapped(NetAddr::Inet6(SocketAddrV6::new(
                "::1".parse().unwrap(),
                53,
                0,
                2
            )))
        );
    }

    #[test]
    fn v4_mapped_v6_is_an_inet_request() {
        let c = call(
            SockOp::Connect,
            sin6("::ffff:10.1.2.3".parse().unwrap(), 443, 0),
        );
        assert_eq!(
            classify(&c, libc::AF_INET6, 0),
            Class::Mapped(NetAddr::Inet("10.1.2.3:443".parse().unwrap()))
        );
    }

    #[test]
    fn short_or_foreign_addresses_are_plain() {
        let mut short = sin([1, 2, 3, 4], 1);
        short.truncate(8);
        assert_eq!(
            classify(&call(SockOp::Connect, short), libc::AF_INET, 0),
            Class::Plain
        );
        let unspec = {
            let mut v = sin([1, 2, 3, 4], 1);
            v[..2].copy_from_slice(&0u16.to_ne_bytes());
            v
        };
        assert_eq!(
            classify(&call(SockOp::Connect, unspec.clone()), libc::AF_INET, 0),
            Class::Plain
        );
        // AF_UNSPEC bind is AF_INET only for INADDR_ANY.
        assert_eq!(
            classify(&call(SockOp::Bind, unspec), libc::AF_INET, 0),
            Class::Plain
        );
        let mut any = sin([0, 0, 0, 0], 8080);
        any[..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(
            classify(&call(SockOp::Bind, any), libc::AF_INET, 0),
            Class::Mapped(NetAddr::Inet("0.0.0.0:8080".parse().unwrap()))
        );
        // An inet address on a unix socket is the kernel's to reject.
        assert_eq!(
            classify(
                &call(SockOp::Connect, sin([1, 2, 3, 4], 1)),
                libc::AF_UNIX,
                0
            ),
            Class::Plain
        );
    }

    /// 17.2: the kernel's UDP, raw and L2TP sends take an AF_UNSPEC
    /// address on an IPv4 socket as AF_INET; raw IPv6 takes it as AF_INET6;
    /// UDP on IPv6 ignores it (the connected peer).
    #[test]
    fn unspec_sends_are_read_as_the_kernel_reads_them() {
        let unspec = |mut v: Vec<u8>| {
            v[..2].copy_from_slice(&0u16.to_ne_bytes());
            v
        };
        let send4 = call(SockOp::Send, unspec(sin([10, 9, 8, 7], 53)));
        for proto in [libc::IPPROTO_UDP, libc::IPPROTO_RAW, libc::IPPROTO_ICMP, 0] {
            assert_eq!(
                classify(&send4, libc::AF_INET, proto),
                Class::Mapped(NetAddr::Inet("10.9.8.7:53".parse().unwrap())),
                "protocol {proto}"
            );
        }
        // Too short for a sockaddr_in: the kernel's EINVAL, done as plain.
        let mut short = send4.clone();
        short.addr.as_mut().unwrap().truncate(15);
        assert_eq!(
            classify(&short, libc::AF_INET, libc::IPPROTO_UDP),
            Class::Plain
        );
        let send6 = call(
            SockOp::Send,
            unspec(sin6("2001:db8::1".parse().unwrap(), 7, 0)),
        );
        assert_eq!(
            classify(&send6, libc::AF_INET6, libc::IPPROTO_RAW),
            Class::Mapped(NetAddr::Inet6("[2001:db8::1]:7".parse().unwrap()))
        );
        assert_eq!(
            classify(&send6, libc::AF_INET6, libc::IPPROTO_UDP),
            Class::Plain
        );
        assert_eq!(
            classify(&send6, libc::AF_INET6, libc::IPPROTO_UDPLITE),
            Class::Plain
        );
        let mapped = call(
            SockOp::Send,
            unspec(sin6("::ffff:10.1.2.3".parse().unwrap(), 9, 0)),
        );
        assert_eq!(
            classify(&mapped, libc::AF_INET6, libc::IPPROTO_RAW),
            Class::Mapped(NetAddr::Inet("10.1.2.3:9".parse().unwrap()))
        );
        // Connect with AF_UNSPEC disconnects, whatever follows.
        let c = call(SockOp::Connect, unspec(sin([10, 9, 8, 7], 53)));
        for d in [libc::AF_INET, libc::AF_INET6, libc::AF_UNIX] {
            assert_eq!(classify(&c, d, libc::IPPROTO_UDP), Class::Plain);
        }
        // A unix socket never takes AF_UNSPEC as an address.
        assert_eq!(classify(&send4, libc::AF_UNIX, 0), Class::Plain);
    }

    #[test]
    fn unix_names() {
        let mut path = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        path.extend(b"/run/x.sock\0garbage");
        assert_eq!(
            classify(&call(SockOp::Connect, path), libc::AF_UNIX, 0),
            Class::Mapped(NetAddr::Unix(b"/run/x.sock".to_vec()))
        );
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend(b"\0name");
        let c = classify(&call(SockOp::Bind, abs), libc::AF_UNIX, 0);
        assert_eq!(c, Class::Mapped(NetAddr::Unix(b"\0name".to_vec())));
        let unnamed = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        assert_eq!(
            classify(&call(SockOp::Bind, unnamed), libc::AF_UNIX, 0),
            Class::Plain
        );
    }
}
