//! The network-namespace child: forked by `Dns::start`, it moves into a
//! new network namespace (and user namespace when not root), brings `lo`
//! up, then serves socket requests from the supervisor over a
//! `SOCK_SEQPACKET` socketpair until that socket closes.
//!
//! INVARIANT: the child runs in a copy of a possibly multithreaded process
//! (another thread may have held the allocator's or stdio's lock at the
//! fork), so everything reachable from [`run`] uses only the
//! async-signal-safe functions of `sys.rs` (raw syscalls), stack memory,
//! and plain arithmetic: no allocation, no locks, no Rust std I/O, no
//! formatting, no panics on any input (every index below is in bounds by
//! construction).
//!
//! Protocol (native byte order, one message per request, answered in
//! order): a request is [`REQ_LEN`] bytes `op u32 | family i32 | port u16 |
//! stream u16 | ip [u8; 16]`; a reply is `errno i32 | step u32` plus the
//! descriptors as `SCM_RIGHTS`.  The first reply, unasked, reports the
//! namespace set-up (`step` names the failing step).

use std::os::fd::RawFd;

use super::sys::{self, Addr, Errno};

pub(super) const REQ_LEN: usize = 28;
pub(super) const REPLY_LEN: usize = 8;

/// A UDP socket bound to the address, and a TCP listener on it.
pub(super) const OP_STUB: u32 = 1;
/// Add the address to `lo` (/32 or /128).
pub(super) const OP_ADDR: u32 = 2;
/// A socket of the family and type, connected to the address.
pub(super) const OP_CLIENT: u32 = 3;
/// An unconnected UDP socket of the family bound to the wildcard address
/// and port 0 (so its port is known), dual-stack for IPv6.
pub(super) const OP_SOCKET: u32 = 4;

/// Set-up steps reported in the first reply.
pub(super) const STEPS: [&str; 5] = [
    "ready",
    "unshare(CLONE_NEWUSER|CLONE_NEWNET)",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map or gid_map",
    "bring lo up",
];

pub(super) fn encode(op: u32, a: &Addr, stream: bool) -> [u8; REQ_LEN] {
    let mut b = [0u8; REQ_LEN];
    b[0..4].copy_from_slice(&op.to_ne_bytes());
    b[4..8].copy_from_slice(&a.family.to_ne_bytes());
    b[8..10].copy_from_slice(&a.port.to_ne_bytes());
    b[10..12].copy_from_slice(&(stream as u16).to_ne_bytes());
    b[12..28].copy_from_slice(&a.ip);
    b
}

fn decode(b: &[u8; REQ_LEN]) -> (u32, Addr, bool) {
    let op = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let family = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    let port = u16::from_ne_bytes([b[8], b[9]]);
    let stream = u16::from_ne_bytes([b[10], b[11]]) != 0;
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&b[12..28]);
    (op, Addr { family, port, ip }, stream)
}

fn reply(sock: RawFd, err: Errno, step: u32, fds: &[RawFd]) {
    let mut body = [0u8; REPLY_LEN];
    body[0..4].copy_from_slice(&err.to_ne_bytes());
    body[4..8].copy_from_slice(&step.to_ne_bytes());
    // A lost reply means the supervisor is gone: the next recv ends us.
    let _ = sys::send_with_fds(sock, &body, fds);
}

/// Runs in the child; never returns.
pub(super) fn run(sock: RawFd, parent: i32) -> ! {
    // Dies with the supervisor thread that forked it, SIGKILL included.
    if !sys::die_with_parent(parent) {
        sys::exit(1);
    }
    // Holds none of the supervisor's descriptors (pipes would stay open).
    sys::close_all_but(sock);
    if let Err((step, e)) = setup() {
        reply(sock, e, step, &[]);
        sys::exit(1);
    }
    reply(sock, 0, 0, &[]);
    serve(sock)
}

/// Writes `"0 <id> 1\n"` into `buf`; returns its length.
fn id_map(buf: &mut [u8; 32], id: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = id;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf[0] = b'0';
    buf[1] = b' ';
    let mut len = 2;
    while n > 0 {
        n -= 1;
        buf[len] = digits[n];
        len += 1;
    }
    buf[len] = b' ';
    buf[len + 1] = b'1';
    buf[len + 2] = b'\n';
    len + 3
}

fn setup() -> Result<(), (u32, Errno)> {
    let (uid, gid) = sys::ids();
    let plain = uid == 0 && sys::unshare(libc::CLONE_NEWNET).is_ok();
    if !plain {
        // Not root, or root without CAP_SYS_ADMIN: a user namespace of our
        // own, in which we hold the capabilities the network needs.
        sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET).map_err(|e| (1, e))?;
        sys::write_file(c"/proc/self/setgroups", b"deny").map_err(|e| (2, e))?;
        let mut buf = [0u8; 32];
        let n = id_map(&mut buf, uid);
        sys::write_file(c"/proc/self/uid_map", &buf[..n]).map_err(|e| (3, e))?;
        let n = id_map(&mut buf, gid);
        sys::write_file(c"/proc/self/gid_map", &buf[..n]).map_err(|e| (3, e))?;
    }
    sys::lo_up().map_err(|e| (4, e))
}

fn serve(sock: RawFd) -> ! {
    loop {
        // One byte more than a request, to notice oversized ones.
        let mut buf = [0u8; REQ_LEN + 1];
        let n = match sys::recv(sock, &mut buf) {
            Ok(0) | Err(_) => sys::exit(0),
            Ok(n) => n,
        };
        let mut req = [0u8; REQ_LEN];
        if n != REQ_LEN {
            reply(sock, libc::EINVAL, 0, &[]);
            continue;
        }
        req.copy_from_slice(&buf[..REQ_LEN]);
        let (op, a, stream) = decode(&req);
        if a.family != libc::AF_INET && a.family != libc::AF_INET6 {
            reply(sock, libc::EAFNOSUPPORT, 0, &[]);
            continue;
        }
        match op {
            OP_STUB => match stub(&a) {
                Ok((udp, tcp)) => {
                    reply(sock, 0, 0, &[udp, tcp]);
                    sys::close(udp);
                    sys::close(tcp);
                }
                Err(e) => reply(sock, e, 0, &[]),
            },
            OP_ADDR => match add_addr(&a) {
                Ok(()) => reply(sock, 0, 0, &[]),
                Err(e) => reply(sock, e, 0, &[]),
            },
            OP_CLIENT => match client(&a, stream) {
                Ok(fd) => {
                    reply(sock, 0, 0, &[fd]);
                    sys::close(fd);
                }
                Err(e) => reply(sock, e, 0, &[]),
            },
            OP_SOCKET => match unconnected(a.family) {
                Ok(fd) => {
                    reply(sock, 0, 0, &[fd]);
                    sys::close(fd);
                }
                Err(e) => reply(sock, e, 0, &[]),
            },
            _ => reply(sock, libc::EINVAL, 0, &[]),
        }
    }
}

/// A socket of `ty`, IPv6-only for IPv6, bound to `a`.
fn bound(a: &Addr, ty: i32) -> Result<RawFd, Errno> {
    let fd = sys::socket(a.family, ty)?;
    let r = (|| {
        if a.family == libc::AF_INET6 {
            sys::set_int_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        }
        if ty == libc::SOCK_STREAM {
            sys::set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        sys::bind(fd, a)?;
        if ty == libc::SOCK_STREAM {
            sys::listen(fd, 4096)?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(fd),
        Err(e) => {
            sys::close(fd);
            Err(e)
        }
    }
}

fn stub(a: &Addr) -> Result<(RawFd, RawFd), Errno> {
    let udp = bound(a, libc::SOCK_DGRAM)?;
    match bound(a, libc::SOCK_STREAM) {
        Ok(tcp) => Ok((udp, tcp)),
        Err(e) => {
            sys::close(udp);
            Err(e)
        }
    }
}

fn unconnected(family: i32) -> Result<RawFd, Errno> {
    let fd = sys::socket(family, libc::SOCK_DGRAM)?;
    let r = (|| {
        if family == libc::AF_INET6 {
            sys::set_int_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
        }
        let any = Addr {
            family,
            port: 0,
            ip: [0; 16],
        };
        sys::bind(fd, &any)
    })();
    match r {
        Ok(()) => Ok(fd),
        Err(e) => {
            sys::close(fd);
            Err(e)
        }
    }
}

fn client(a: &Addr, stream: bool) -> Result<RawFd, Errno> {
    let ty = if stream {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    let fd = sys::socket(a.family, ty)?;
    match sys::connect(fd, a) {
        Ok(()) => Ok(fd),
        Err(e) => {
            sys::close(fd);
            Err(e)
        }
    }
}

/// `RTM_NEWADDR` of `a.ip` /32 or /128 on `lo` (ifindex 1 in every network
/// namespace); an address already there is success.
fn add_addr(a: &Addr) -> Result<(), Errno> {
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_EXCL: u16 = 0x200;
    const NLM_F_CREATE: u16 = 0x400;
    const RTM_NEWADDR: u16 = 20;
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_F_NODAD: u8 = 0x02;
    const IFA_F_PERMANENT: u8 = 0x80;
    const LOOPBACK_IFINDEX: u32 = 1;

    let (alen, prefix) = if a.family == libc::AF_INET {
        (4usize, 32u8)
    } else {
        (16, 128)
    };
    let total = 16 + 8 + 2 * (4 + alen);
    let mut m = [0u8; 64];
    // nlmsghdr
    m[0..4].copy_from_slice(&(total as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_NEWADDR.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes()); // seq; pid 0 = kernel
                                                   // ifaddrmsg
    m[16] = a.family as u8;
    m[17] = prefix;
    m[18] = IFA_F_NODAD | IFA_F_PERMANENT;
    m[19] = 0; // RT_SCOPE_UNIVERSE
    m[20..24].copy_from_slice(&LOOPBACK_IFINDEX.to_ne_bytes());
    // IFA_LOCAL and IFA_ADDRESS, both the address (4-byte aligned already).
    let mut off = 24;
    for ty in [IFA_LOCAL, IFA_ADDRESS] {
        m[off..off + 2].copy_from_slice(&((4 + alen) as u16).to_ne_bytes());
        m[off + 2..off + 4].copy_from_slice(&ty.to_ne_bytes());
        m[off + 4..off + 4 + alen].copy_from_slice(&a.ip[..alen]);
        off += 4 + alen;
    }
    match sys::netlink_call(&m[..total]) {
        Err(libc::EEXIST) | Ok(()) => {}
        Err(e) => return Err(e),
    }
    // Usable only once the kernel has installed its local route (done
    // asynchronously for IPv6): wait for a datagram to itself, up to 1 s.
    for _ in 0..100 {
        if sys::echo_once(a, 10) {
            return Ok(());
        }
    }
    Err(libc::EADDRNOTAVAIL)
}

#[cfg(test)]
mod tests {
    #[test]
    fn id_map_formats_numbers_by_hand() {
        let mut b = [0u8; 32];
        let n = super::id_map(&mut b, 0);
        assert_eq!(&b[..n], b"0 0 1\n");
        let n = super::id_map(&mut b, 4294967295);
        assert_eq!(&b[..n], b"0 4294967295 1\n");
        let n = super::id_map(&mut b, 1000);
        assert_eq!(&b[..n], b"0 1000 1\n");
    }
}
