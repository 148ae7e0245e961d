//! The socket calls: connect, bind, sendto, sendmsg, sendmmsg.
//!
//! `decode` copies the address (and a send's msghdr, iovecs, control) as
//! the kernel does; which request the call is depends on the socket's
//! family, so each address is then classified as the session does
//! (`net::classify`, `function_of_socket`) for the function the policy
//! would see.

use std::net::{Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bpf::Sys;
use nix::errno::Errno;

use super::{errno, run, Edge, JUNK, WILD};
use crate::request::function_of_socket;
use crate::request::net::{classify, Class, NetAddr, Payload, SockCall, SockOp, SOCKADDR_MAX};
use crate::request::{Decoded, Function};

fn family(f: i32) -> Vec<u8> {
    (f as u16).to_ne_bytes().to_vec()
}

/// A `sockaddr_un` naming a path (with its NUL).
fn sun_path(path: &[u8]) -> Vec<u8> {
    let mut v = family(libc::AF_UNIX);
    v.extend_from_slice(path);
    v.push(0);
    v
}

/// A `sockaddr_un` of an abstract name.
fn sun_abstract(name: &[u8]) -> Vec<u8> {
    let mut v = family(libc::AF_UNIX);
    v.push(0);
    v.extend_from_slice(name);
    v
}

/// A `sockaddr_in`.
pub(super) fn sin(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = family(libc::AF_INET);
    v.extend(port.to_be_bytes());
    v.extend(ip);
    v.extend([0u8; 8]);
    v
}

/// A `sockaddr_in6`.
fn sin6(ip: &str, port: u16, flow: u32, scope: u32) -> Vec<u8> {
    let ip: Ipv6Addr = ip.parse().expect("IPv6 address");
    let mut v = family(libc::AF_INET6);
    v.extend(port.to_be_bytes());
    v.extend(flow.to_be_bytes());
    v.extend(ip.octets());
    v.extend(scope.to_ne_bytes());
    v
}

/// A 64-bit `struct msghdr` (56 bytes), `msg_flags` 0.
pub(super) fn msghdr(
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
) -> Vec<u8> {
    let mut v = vec![0u8; 56];
    v[0..8].copy_from_slice(&name.to_ne_bytes());
    v[8..12].copy_from_slice(&namelen.to_ne_bytes());
    v[16..24].copy_from_slice(&iov.to_ne_bytes());
    v[24..32].copy_from_slice(&iovlen.to_ne_bytes());
    v[32..40].copy_from_slice(&control.to_ne_bytes());
    v[40..48].copy_from_slice(&controllen.to_ne_bytes());
    v
}

/// An array of `struct iovec`.
fn iovecs(v: &[(u64, u64)]) -> Vec<u8> {
    v.iter()
        .flat_map(|&(base, len)| base.to_ne_bytes().into_iter().chain(len.to_ne_bytes()))
        .collect()
}

fn addr_of(v: &[u8]) -> u64 {
    v.as_ptr() as u64
}

#[track_caller]
fn socket_call(sys: Sys, args: [u64; 6]) -> SockCall {
    match run(sys, args) {
        Decoded::Socket(c) => c,
        other => panic!("{}: expected a socket call, got {other:?}", sys.name()),
    }
}

/// The request `call` is on a socket of `domain`: its function and address.
#[track_caller]
fn mapped(call: &SockCall, domain: i32) -> (Function, NetAddr) {
    match classify(call, domain, 0) {
        Class::Mapped(a) => (function_of_socket(call.op, &a), a),
        Class::Plain => panic!("{call:?} on domain {domain}: not mapped"),
    }
}

fn v4(s: &str) -> NetAddr {
    NetAddr::Inet(s.parse::<SocketAddrV4>().expect("v4 socket address"))
}

// ---------------------------------------------------------------------
// connect and bind: unix, inet, inet6.

#[test]
fn connect_to_a_unix_path() {
    let raw = sun_path(b"/run/x.sock");
    let c = socket_call(
        Sys::Connect,
        [JUNK | 7, addr_of(&raw), raw.len() as u64, 0, 0, 0],
    );
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Connect,
            fd: 7,
            addr: Some(raw.clone()),
            payload: None,
        }
    );
    assert_eq!(
        mapped(&c, libc::AF_UNIX),
        (
            Function::ConnectUnix,
            NetAddr::Unix(b"/run/x.sock".to_vec())
        )
    );
    // A whole sockaddr_un (110 bytes): the path stops at its NUL, the
    // rest is copied but not part of the name.
    let mut full = sun_path(b"/run/y");
    full.extend(b"garbage");
    full.resize(110, b'#');
    let c = socket_call(Sys::Connect, [3, addr_of(&full), 110, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&full[..]));
    assert_eq!(
        mapped(&c, libc::AF_UNIX),
        (Function::ConnectUnix, NetAddr::Unix(b"/run/y".to_vec()))
    );
    // A path without NUL filling the length: every byte is the name.
    let mut bare = family(libc::AF_UNIX);
    bare.extend(b"/s");
    let c = socket_call(Sys::Connect, [3, addr_of(&bare), 4, 0, 0, 0]);
    assert_eq!(mapped(&c, libc::AF_UNIX).1, NetAddr::Unix(b"/s".to_vec()));
}

#[test]
fn bind_to_an_abstract_unix_name() {
    let raw = sun_abstract(b"name\0x");
    let c = socket_call(Sys::Bind, [4, addr_of(&raw), raw.len() as u64, 0, 0, 0]);
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Bind,
            fd: 4,
            addr: Some(raw.clone()),
            payload: None,
        }
    );
    // Every byte after the family, NULs included.
    let (f, a) = mapped(&c, libc::AF_UNIX);
    assert_eq!(f, Function::BindUnix);
    assert_eq!(a, NetAddr::Unix(b"\0name\0x".to_vec()));
    assert!(a.is_abstract());
    let c = socket_call(Sys::Connect, [4, addr_of(&raw), raw.len() as u64, 0, 0, 0]);
    assert_eq!(mapped(&c, libc::AF_UNIX).0, Function::ConnectUnix);
}

#[test]
fn unnamed_unix_addresses_are_plain() {
    // The family alone (autobind): no name for the policy.
    let raw = family(libc::AF_UNIX);
    let c = socket_call(Sys::Bind, [4, addr_of(&raw), 2, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&raw[..]));
    assert_eq!(classify(&c, libc::AF_UNIX, 0), Class::Plain);
    // A zero length: nothing is read, not even a NULL pointer (as the
    // kernel's move_addr_to_kernel).
    for p in [0, 8, addr_of(&raw)] {
        let c = socket_call(Sys::Connect, [4, p, 0, 0, 0, 0]);
        assert_eq!(c.addr, Some(Vec::new()));
        assert_eq!(classify(&c, libc::AF_UNIX, 0), Class::Plain);
        assert_eq!(classify(&c, libc::AF_INET, 0), Class::Plain);
    }
    // One byte: no family.
    let c = socket_call(Sys::Bind, [4, addr_of(&raw), 1, 0, 0, 0]);
    assert_eq!(c.addr, Some(raw[..1].to_vec()));
    assert_eq!(classify(&c, libc::AF_UNIX, 0), Class::Plain);
}

#[test]
fn inet_addresses() {
    let raw = sin([127, 0, 0, 1], 80);
    let c = socket_call(Sys::Connect, [5, addr_of(&raw), 16, 0, 0, 0]);
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Connect,
            fd: 5,
            addr: Some(raw.clone()),
            payload: None,
        }
    );
    assert_eq!(
        mapped(&c, libc::AF_INET),
        (Function::ConnectInet, v4("127.0.0.1:80"))
    );
    // An AF_INET address on an AF_INET6 socket is the IPv4 request too.
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (Function::ConnectInet, v4("127.0.0.1:80"))
    );
    let raw = sin([0, 0, 0, 0], 8080);
    let c = socket_call(Sys::Bind, [JUNK | 5, addr_of(&raw), JUNK | 16, 0, 0, 0]);
    assert_eq!(c.fd, 5);
    assert_eq!(c.addr.as_deref(), Some(&raw[..]));
    assert_eq!(
        mapped(&c, libc::AF_INET),
        (Function::BindInet, v4("0.0.0.0:8080"))
    );
}

#[test]
fn inet6_addresses() {
    let raw = sin6("fe80::1", 53, 0x12345, 2);
    let c = socket_call(Sys::Connect, [6, addr_of(&raw), 28, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&raw[..]));
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (
            Function::ConnectInet6,
            NetAddr::Inet6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                53,
                0x12345,
                2
            ))
        )
    );
    let raw = sin6("::", 443, 0, 0);
    let c = socket_call(Sys::Bind, [6, addr_of(&raw), 28, 0, 0, 0]);
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (
            Function::BindInet6,
            NetAddr::Inet6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 443, 0, 0))
        )
    );
    // The RFC 2133 length (24, no scope id): scope 0.
    let raw = sin6("2001:db8::7", 1, 0, 9);
    let c = socket_call(Sys::Connect, [6, addr_of(&raw), 24, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&raw[..24]));
    assert_eq!(
        mapped(&c, libc::AF_INET6).1,
        NetAddr::Inet6(SocketAddrV6::new("2001:db8::7".parse().unwrap(), 1, 0, 0))
    );
}

#[test]
fn v4_mapped_v6_is_an_ipv4_request() {
    let raw = sin6("::ffff:10.1.2.3", 443, 0, 0);
    let c = socket_call(Sys::Connect, [6, addr_of(&raw), 28, 0, 0, 0]);
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (Function::ConnectInet, v4("10.1.2.3:443"))
    );
    let c = socket_call(Sys::Bind, [6, addr_of(&raw), 28, 0, 0, 0]);
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (Function::BindInet, v4("10.1.2.3:443"))
    );
}

#[test]
fn address_length_and_pointer() {
    let mut big = sin([1, 2, 3, 4], 5);
    big.resize(SOCKADDR_MAX + 8, 0xaa);
    let p = addr_of(&big);
    for sys in [Sys::Connect, Sys::Bind] {
        // Up to sizeof(sockaddr_storage), copied exactly.
        let c = socket_call(sys, [3, p, SOCKADDR_MAX as u64, 0, 0, 0]);
        assert_eq!(c.addr.as_deref(), Some(&big[..SOCKADDR_MAX]));
        // The length is an `int`: junk above is dropped.
        let c = socket_call(sys, [3, p, JUNK | 16, 0, 0, 0]);
        assert_eq!(c.addr.as_deref(), Some(&big[..16]));
        // Longer, or negative: EINVAL, before the pointer is read.
        for len in [SOCKADDR_MAX as u64 + 1, u32::MAX as u64, 0x8000_0000] {
            assert_eq!(errno(sys, [3, p, len, 0, 0, 0]), Errno::EINVAL);
            assert_eq!(errno(sys, [3, 0, len, 0, 0, 0]), Errno::EINVAL);
        }
        // NULL or unreadable: EFAULT.
        assert_eq!(errno(sys, [3, 0, 16, 0, 0, 0]), Errno::EFAULT);
        for w in WILD {
            assert_eq!(errno(sys, [3, w, 16, 0, 0, 0]), Errno::EFAULT);
        }
    }
    // An address ending at an unmapped page: read whole; one byte more
    // runs into the hole: EFAULT.
    let mut e = Edge::new(0);
    let raw = sin([9, 9, 9, 9], 9);
    let at = e.put(&raw, 0);
    let c = socket_call(Sys::Connect, [3, at, 16, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&raw[..]));
    assert_eq!(errno(Sys::Connect, [3, at, 17, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(
        errno(Sys::Bind, [3, e.before_hole(8), 16, 0, 0, 0]),
        Errno::EFAULT
    );
}

// ---------------------------------------------------------------------
// sendto.

#[test]
fn sendto_with_a_destination() {
    let data = *b"hello";
    let raw = sin6("2001:db8::1", 53, 0, 0);
    let c = socket_call(
        Sys::Sendto,
        [
            JUNK | 8,
            addr_of(&data),
            5,
            JUNK | libc::MSG_DONTWAIT as u64,
            addr_of(&raw),
            28,
        ],
    );
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Send,
            fd: 8,
            addr: Some(raw.clone()),
            payload: Some(Payload {
                iov: vec![(addr_of(&data), 5)],
                control: Vec::new(),
                flags: libc::MSG_DONTWAIT,
                mmsg_len_at: None,
            }),
        }
    );
    // A send naming a destination is a connect to it.
    assert_eq!(
        mapped(&c, libc::AF_INET6),
        (
            Function::ConnectInet6,
            NetAddr::Inet6(SocketAddrV6::new("2001:db8::1".parse().unwrap(), 53, 0, 0))
        )
    );
    for (raw, domain, want) in [
        (
            sun_path(b"/dev/log"),
            libc::AF_UNIX,
            (Function::ConnectUnix, NetAddr::Unix(b"/dev/log".to_vec())),
        ),
        (
            sun_abstract(b"a"),
            libc::AF_UNIX,
            (Function::ConnectUnix, NetAddr::Unix(b"\0a".to_vec())),
        ),
        (
            sin([10, 0, 0, 1], 514),
            libc::AF_INET,
            (Function::ConnectInet, v4("10.0.0.1:514")),
        ),
        (
            sin6("::ffff:192.0.2.1", 7, 0, 0),
            libc::AF_INET6,
            (Function::ConnectInet, v4("192.0.2.1:7")),
        ),
    ] {
        let c = socket_call(
            Sys::Sendto,
            [3, addr_of(&data), 5, 0, addr_of(&raw), raw.len() as u64],
        );
        assert_eq!(c.addr.as_deref(), Some(&raw[..]));
        assert_eq!(mapped(&c, domain), want);
    }
}

#[test]
fn sendto_payload_and_errors() {
    // The payload is not read at decode time: any pointer, any length up
    // to isize::MAX.
    let raw = sin([127, 0, 0, 1], 9);
    for (buf, len) in [(0u64, 0u64), (8, 100), (0x1000, isize::MAX as u64)] {
        let c = socket_call(Sys::Sendto, [3, buf, len, 0, addr_of(&raw), 16]);
        assert_eq!(c.payload.unwrap().iov, vec![(buf, len as usize)]);
    }
    // No destination pointer (the filter does not trap those): no address,
    // whatever the length register says.
    let c = socket_call(Sys::Sendto, [3, 0x1000, 4, 0, 0, 99]);
    assert_eq!(c.addr, None);
    assert_eq!(classify(&c, libc::AF_INET, 0), Class::Plain);
    // Destination errors, as for connect.
    assert_eq!(errno(Sys::Sendto, [3, 0x1000, 4, 0, 8, 16]), Errno::EFAULT);
    assert_eq!(
        errno(Sys::Sendto, [3, 0x1000, 4, 0, addr_of(&raw), 129]),
        Errno::EINVAL
    );
    // Today: a length beyond isize::MAX is EINVAL.  The kernel clamps it
    // to MAX_RW_COUNT instead (import_ubuf): a UDP sendto answers
    // EMSGSIZE, a stream socket sends what it can.
    assert_eq!(
        errno(Sys::Sendto, [3, 0x1000, 1 << 63, 0, addr_of(&raw), 16]),
        Errno::EINVAL
    );
}

// ---------------------------------------------------------------------
// sendmsg.

#[test]
fn sendmsg_copies_name_iovecs_and_control() {
    let name = sun_path(b"/tmp/s");
    let (a, b) = (*b"abc", *b"defgh");
    let iov = iovecs(&[(addr_of(&a), 3), (addr_of(&b), 5)]);
    let control: Vec<u8> = (0..24).collect();
    let msg = msghdr(
        addr_of(&name),
        name.len() as u32,
        addr_of(&iov),
        2,
        addr_of(&control),
        24,
    );
    let c = socket_call(
        Sys::Sendmsg,
        [
            JUNK | 9,
            addr_of(&msg),
            JUNK | libc::MSG_NOSIGNAL as u64,
            0,
            0,
            0,
        ],
    );
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Send,
            fd: 9,
            addr: Some(name.clone()),
            payload: Some(Payload {
                iov: vec![(addr_of(&a), 3), (addr_of(&b), 5)],
                control: control.clone(),
                flags: libc::MSG_NOSIGNAL,
                mmsg_len_at: None,
            }),
        }
    );
    assert_eq!(c.payload.as_ref().unwrap().total(), 8);
    assert_eq!(
        mapped(&c, libc::AF_UNIX),
        (Function::ConnectUnix, NetAddr::Unix(b"/tmp/s".to_vec()))
    );
    for (raw, domain, want) in [
        (
            sun_abstract(b"bus"),
            libc::AF_UNIX,
            (Function::ConnectUnix, NetAddr::Unix(b"\0bus".to_vec())),
        ),
        (
            sin([8, 8, 8, 8], 53),
            libc::AF_INET,
            (Function::ConnectInet, v4("8.8.8.8:53")),
        ),
        (
            sin6("::1", 53, 0, 0),
            libc::AF_INET6,
            (
                Function::ConnectInet6,
                NetAddr::Inet6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 53, 0, 0)),
            ),
        ),
        (
            sin6("::ffff:127.0.0.1", 53, 0, 0),
            libc::AF_INET6,
            (Function::ConnectInet, v4("127.0.0.1:53")),
        ),
    ] {
        let msg = msghdr(addr_of(&raw), raw.len() as u32, 0, 0, 0, 0);
        let c = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]);
        assert_eq!(c.addr.as_deref(), Some(&raw[..]));
        assert_eq!(mapped(&c, domain), want);
    }
}

#[test]
fn sendmsg_without_a_name() {
    let name = sin([1, 1, 1, 1], 1);
    // A NULL name, or a zero length: no address (a connected send).
    for msg in [
        msghdr(0, 16, 0, 0, 0, 0),
        msghdr(addr_of(&name), 0, 0, 0, 0, 0),
    ] {
        let c = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]);
        assert_eq!(
            c,
            SockCall {
                op: SockOp::Send,
                fd: 3,
                addr: None,
                payload: Some(Payload {
                    iov: Vec::new(),
                    control: Vec::new(),
                    flags: 0,
                    mmsg_len_at: None,
                }),
            }
        );
        assert_eq!(classify(&c, libc::AF_INET, 0), Class::Plain);
    }
}

#[test]
fn sendmsg_name_length() {
    // Over sizeof(sockaddr_storage): truncated, not an error (sendmsg's
    // own rule, unlike connect).
    let mut big = sin([1, 2, 3, 4], 5);
    big.resize(300, 0xbb);
    let msg = msghdr(addr_of(&big), 300, 0, 0, 0, 0);
    let c = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]);
    assert_eq!(c.addr.as_deref(), Some(&big[..SOCKADDR_MAX]));
    // A negative length: EINVAL.
    let msg = msghdr(addr_of(&big), u32::MAX, 0, 0, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EINVAL
    );
    // Today also with a NULL name; the kernel's __copy_msghdr zeroes the
    // length of a NULL name first and sends (a connected UDP socket sends
    // the datagram).
    let msg = msghdr(0, u32::MAX, 0, 0, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EINVAL
    );
    // An unreadable name: EFAULT.
    for p in WILD {
        let msg = msghdr(p, 16, 0, 0, 0, 0);
        assert_eq!(
            errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
            Errno::EFAULT
        );
    }
}

#[test]
fn sendmsg_iovecs() {
    // UIO_MAXIOV iovecs are fine; one more is EMSGSIZE, before the array is
    // read.
    let many = iovecs(&vec![(0x1000, 1); 1024]);
    let msg = msghdr(0, 0, addr_of(&many), 1024, 0, 0);
    let c = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]);
    let p = c.payload.unwrap();
    assert_eq!(p.iov.len(), 1024);
    assert_eq!(p.total(), 1024);
    let msg = msghdr(0, 0, 0, 1025, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EMSGSIZE
    );
    // An unreadable array: EFAULT; none (0 entries) is not read.
    let msg = msghdr(0, 0, 0, 1, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EFAULT
    );
    let msg = msghdr(0, 0, 8, 0, 0, 0);
    assert!(socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0])
        .payload
        .unwrap()
        .iov
        .is_empty());
    // An array running into an unmapped page: EFAULT.
    let mut e = Edge::new(0);
    let one = iovecs(&[(0x1000, 1)]);
    let at = e.put(&one, 0);
    let msg = msghdr(0, 0, at, 1, 0, 0);
    assert_eq!(
        socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0])
            .payload
            .unwrap()
            .iov,
        vec![(0x1000, 1)]
    );
    let msg = msghdr(0, 0, at, 2, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EFAULT
    );
    // A length that is negative as ssize_t: EINVAL (as the kernel).
    let bad = iovecs(&[(0x1000, 1 << 63)]);
    let msg = msghdr(0, 0, addr_of(&bad), 1, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EINVAL
    );
    // The largest single length is kept as given.
    let max = iovecs(&[(0x1000, isize::MAX as u64)]);
    let msg = msghdr(0, 0, addr_of(&max), 1, 0, 0);
    let p = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0])
        .payload
        .unwrap();
    assert_eq!(p.iov, vec![(0x1000, isize::MAX as usize)]);
    // Today: lengths whose sum exceeds isize::MAX are EINVAL.  The kernel
    // checks each iovec with access_ok first (EFAULT for these lengths)
    // and clamps the total to MAX_RW_COUNT.
    let two = iovecs(&[(0x1000, 1 << 62), (0x1000, 1 << 62)]);
    let msg = msghdr(0, 0, addr_of(&two), 2, 0, 0);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EINVAL
    );
}

#[test]
fn sendmsg_control_and_header() {
    // Up to 64 KiB of control is copied; more is ENOBUFS.
    let control = vec![7u8; 64 * 1024];
    let msg = msghdr(0, 0, 0, 0, addr_of(&control), control.len() as u64);
    let c = socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]);
    assert_eq!(c.payload.unwrap().control, control);
    let msg = msghdr(0, 0, 0, 0, addr_of(&control), 64 * 1024 + 1);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::ENOBUFS
    );
    // An unreadable control buffer: EFAULT; a zero length is not read.
    let msg = msghdr(0, 0, 0, 0, 0, 16);
    assert_eq!(
        errno(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0]),
        Errno::EFAULT
    );
    let msg = msghdr(0, 0, 0, 0, 8, 0);
    assert!(socket_call(Sys::Sendmsg, [3, addr_of(&msg), 0, 0, 0, 0])
        .payload
        .unwrap()
        .control
        .is_empty());
    // The msghdr itself: NULL, wild, or running into a hole: EFAULT.
    assert_eq!(errno(Sys::Sendmsg, [3, 0, 0, 0, 0, 0]), Errno::EFAULT);
    for w in WILD {
        assert_eq!(errno(Sys::Sendmsg, [3, w, 0, 0, 0, 0]), Errno::EFAULT);
    }
    let mut e = Edge::new(0);
    let hdr = msghdr(0, 0, 0, 0, 0, 0);
    let at = e.put(&hdr[..48], 0);
    assert_eq!(errno(Sys::Sendmsg, [3, at, 0, 0, 0, 0]), Errno::EFAULT);
    let at = e.put(&hdr, 0);
    assert!(matches!(
        run(Sys::Sendmsg, [3, at, 0, 0, 0, 0]),
        Decoded::Socket(_)
    ));
}

// ---------------------------------------------------------------------
// sendmmsg.

#[test]
fn sendmmsg_sends_the_first_message() {
    let raw = sin([192, 0, 2, 9], 4000);
    let data = *b"ping";
    let iov = iovecs(&[(addr_of(&data), 4)]);
    // Two `struct mmsghdr` (msghdr + msg_len, 64 bytes each); the second
    // is garbage and never read.
    let mut vec = msghdr(addr_of(&raw), 16, addr_of(&iov), 1, 0, 0);
    vec.resize(64, 0);
    vec.extend([0xffu8; 64]);
    let c = socket_call(
        Sys::Sendmmsg,
        [
            JUNK | 3,
            addr_of(&vec),
            2,
            JUNK | libc::MSG_DONTWAIT as u64,
            0,
            0,
        ],
    );
    assert_eq!(
        c,
        SockCall {
            op: SockOp::Send,
            fd: 3,
            addr: Some(raw.clone()),
            payload: Some(Payload {
                iov: vec![(addr_of(&data), 4)],
                control: Vec::new(),
                flags: libc::MSG_DONTWAIT,
                // msg_len of message 0, right after its msghdr.
                mmsg_len_at: Some(addr_of(&vec) + 56),
            }),
        }
    );
    assert_eq!(
        mapped(&c, libc::AF_INET),
        (Function::ConnectInet, v4("192.0.2.9:4000"))
    );
    // Errors of the first message are the call's.
    assert_eq!(errno(Sys::Sendmmsg, [3, 0, 1, 0, 0, 0]), Errno::EFAULT);
    let bad = msghdr(0, 0, 0, 1025, 0, 0);
    assert_eq!(
        errno(Sys::Sendmmsg, [3, addr_of(&bad), 5, 0, 0, 0]),
        Errno::EMSGSIZE
    );
}

#[test]
fn sendmmsg_of_no_message_is_zero() {
    // vlen is `unsigned int`: junk above is ignored.  Nothing is read.
    // Today this holds whatever the descriptor: the kernel looks the
    // socket up first (EBADF for -1, ENOTSOCK for a file).
    for (fd, vlen) in [(3, 0), (3, JUNK), (u64::MAX, 0)] {
        match run(Sys::Sendmmsg, [fd, 0, vlen, 0, 0, 0]) {
            Decoded::Value(0) => {}
            other => panic!("sendmmsg vlen {vlen:#x}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------
// Before the descriptor.

/// Today decode answers an address error without knowing the descriptor;
/// the kernel looks the socket up first (`connect(-1, NULL, 16)` is
/// EBADF there, EFAULT here).
#[test]
fn address_errors_come_before_the_descriptor() {
    assert_eq!(
        errno(Sys::Connect, [u64::MAX, 0, 16, 0, 0, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        errno(Sys::Bind, [u64::MAX, 0x1000, 200, 0, 0, 0]),
        Errno::EINVAL
    );
}
