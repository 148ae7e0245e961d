//! Raw syscalls of the DNS stub.  All `unsafe` of `dns/` lives here.
//!
//! Everything above the "supervisor side" line is async-signal-safe: raw
//! syscalls on caller-provided stack memory, no allocation, no locks, no
//! formatting.  The network-namespace child (`child.rs`) runs between
//! `fork` and `_exit` in a copy of a possibly multithreaded process and may
//! call only those functions.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// An errno value.
pub type Errno = i32;

/// `SO_NETNS_COOKIE` (Linux 5.14; 71 on every architecture this builds for).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// A socket address in plain data: `family` is `AF_INET` (first 4 bytes of
/// `ip` used) or `AF_INET6`.
#[derive(Clone, Copy)]
pub struct Addr {
    pub family: i32,
    pub port: u16,
    pub ip: [u8; 16],
}

fn errno() -> Errno {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn check(r: libc::c_long) -> Result<libc::c_long, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// `fork()`: `Ok(0)` in the child, the child's pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: the child side only calls the async-signal-safe functions of
    // this file (see the module comment and child.rs).
    check(unsafe { libc::fork() } as libc::c_long).map(|p| p as i32)
}

/// `_exit(code)`.
pub fn exit(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// `PR_SET_PDEATHSIG(SIGKILL)`, then false if the parent is already gone
/// (is not `parent` any more).
pub fn die_with_parent(parent: i32) -> bool {
    // SAFETY: integer-argument prctl and getppid.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::getppid() == parent
    }
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::getpid() }
}

/// `(geteuid(), getegid())`.
pub fn ids() -> (u32, u32) {
    // SAFETY: no arguments.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// `unshare(flags)`.
pub fn unshare(flags: i32) -> Result<(), Errno> {
    // SAFETY: integer argument only.
    check(unsafe { libc::unshare(flags) } as libc::c_long).map(drop)
}

/// Closes every descriptor but `keep` (`close_range` twice).
pub fn close_all_but(keep: RawFd) {
    let keep = keep as libc::c_uint;
    // SAFETY: integer arguments only; no descriptor other than `keep` is
    // used by the caller afterwards.
    unsafe {
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0 as libc::c_uint, keep - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0);
    }
}

/// `close(fd)`.
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns fd and does not use it afterwards.
    unsafe { libc::close(fd) };
}

/// Opens `path` for writing, writes `data` in one call, closes it.
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    // SAFETY: path is NUL-terminated; integer flags.
    let fd = check(
        unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) } as libc::c_long,
    )? as RawFd;
    // SAFETY: data is a valid readable buffer of data.len() bytes.
    let r = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let res = if r < 0 {
        Err(errno())
    } else if r as usize != data.len() {
        Err(libc::EIO)
    } else {
        Ok(())
    };
    close(fd);
    res
}

/// Sets `IFF_UP` on `lo` (`SIOCGIFFLAGS` / `SIOCSIFFLAGS`).
pub fn lo_up() -> Result<(), Errno> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM)?;
    // SAFETY: an all-zero ifreq is a valid value of this plain C struct.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: ifr is a valid ifreq on this stack frame for both ioctls; the
    // flags member of the union is the one SIOC[GS]IFFLAGS use.
    let res = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            Err(errno())
        } else {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) < 0 {
                Err(errno())
            } else {
                Ok(())
            }
        }
    };
    close(fd);
    res
}

/// `socket(family, ty | SOCK_CLOEXEC, 0)`.
pub fn socket(family: i32, ty: i32) -> Result<RawFd, Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, 0) } as libc::c_long)
        .map(|fd| fd as RawFd)
}

/// `setsockopt(fd, level, name, &value, sizeof(int))`.
pub fn set_int_opt(fd: RawFd, level: i32, name: i32, value: i32) -> Result<(), Errno> {
    // SAFETY: value lives on this stack frame for the call; its size is given.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    } as libc::c_long)
    .map(drop)
}

/// Calls `f` with `a` as a `sockaddr` pointer and length.
fn with_sockaddr<R>(a: &Addr, f: impl FnOnce(*const libc::sockaddr, libc::socklen_t) -> R) -> R {
    if a.family == libc::AF_INET {
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: a.port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([a.ip[0], a.ip[1], a.ip[2], a.ip[3]]),
            },
            sin_zero: [0; 8],
        };
        f(
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    } else {
        let sin6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: a.port.to_be(),
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: a.ip },
            sin6_scope_id: 0,
        };
        f(
            (&sin6 as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        )
    }
}

/// `bind(fd, a)`.
pub fn bind(fd: RawFd, a: &Addr) -> Result<(), Errno> {
    with_sockaddr(a, |p, l| {
        // SAFETY: with_sockaddr passes a valid sockaddr of the given length
        // that lives for the call.
        check(unsafe { libc::bind(fd, p, l) } as libc::c_long)
    })
    .map(drop)
}

/// `connect(fd, a)`, retried on EINTR.
pub fn connect(fd: RawFd, a: &Addr) -> Result<(), Errno> {
    loop {
        let r = with_sockaddr(a, |p, l| {
            // SAFETY: as in bind.
            check(unsafe { libc::connect(fd, p, l) } as libc::c_long)
        });
        match r {
            Err(libc::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// Does a datagram sent from `a` to itself arrive within `ms`?  An IPv6
/// address just added becomes deliverable only when the kernel's address
/// work has installed its local route, shortly after `RTM_NEWADDR` returns:
/// until then a datagram to it is dropped.
pub fn echo_once(a: &Addr, ms: i32) -> bool {
    let Ok(fd) = socket(a.family, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK) else {
        return false;
    };
    let ok = (|| {
        bind(fd, &Addr { port: 0, ..*a }).ok()?;
        let mut ss: libc::sockaddr_storage = unsafe_zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: ss is a writable sockaddr_storage of the given length.
        check(unsafe {
            libc::getsockname(
                fd,
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        } as libc::c_long)
        .ok()?;
        // SAFETY: the buffer and the address (getsockname's own result,
        // `len` bytes) live for the call.
        check(unsafe {
            libc::sendto(
                fd,
                b"?".as_ptr().cast(),
                1,
                0,
                (&ss as *const libc::sockaddr_storage).cast(),
                len,
            )
        } as libc::c_long)
        .ok()?;
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd on this stack frame.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        (r == 1).then_some(())
    })()
    .is_some();
    close(fd);
    ok
}

fn unsafe_zeroed() -> libc::sockaddr_storage {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    unsafe { std::mem::zeroed() }
}

/// `listen(fd, backlog)`.
pub fn listen(fd: RawFd, backlog: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::listen(fd, backlog) } as libc::c_long).map(drop)
}

/// Receives one message into `buf` (retried on EINTR); `Ok(0)` at EOF.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let r = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Sends `body` with up to two descriptors as `SCM_RIGHTS`.
pub fn send_with_fds(sock: RawFd, body: &[u8], fds: &[RawFd]) -> Result<(), Errno> {
    let n = fds.len().min(2);
    let mut iov = libc::iovec {
        iov_base: body.as_ptr() as *mut libc::c_void,
        iov_len: body.len(),
    };
    // Room for one cmsghdr carrying two ints, aligned as cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr is plain data; every pointer set below points into this
    // stack frame (iov, cbuf) or into `body`, which outlive the sendmsg call;
    // CMSG_SPACE(2 * 4) = 24 bytes fit in cbuf.
    let r = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if n > 0 {
            let bytes = (n * std::mem::size_of::<RawFd>()) as u32;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(bytes) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            let data = libc::CMSG_DATA(c) as *mut RawFd;
            for (i, fd) in fds[..n].iter().enumerate() {
                std::ptr::write_unaligned(data.add(i), *fd);
            }
        }
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL)
    };
    check(r as libc::c_long).map(drop)
}

/// Sends the netlink request `req` to the kernel (NETLINK_ROUTE) and waits
/// for its acknowledgement; returns the errno it carries (0 = success).
pub fn netlink_call(req: &[u8]) -> Result<(), Errno> {
    let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW)?;
    // SAFETY: sockaddr_nl is plain data; the pointer and length describe it
    // for the call; req is a readable buffer of req.len() bytes.
    let sent = unsafe {
        let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::sendto(
            fd,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        let e = errno();
        close(fd);
        return Err(e);
    }
    let mut ack = [0u8; 256];
    let res = match recv(fd, &mut ack) {
        // nlmsghdr (16 bytes) then nlmsgerr.error (i32, negative errno).
        Ok(n) if n >= 20 => {
            let e = i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]);
            if e == 0 {
                Ok(())
            } else {
                Err(-e)
            }
        }
        Ok(_) => Err(libc::EPROTO),
        Err(e) => Err(e),
    };
    close(fd);
    res
}

// ---------------------------------------------------------------------
// Supervisor side (ordinary threads; may allocate).

/// Takes ownership of descriptors just received over `SCM_RIGHTS`.
pub fn take_fds(raw: &[RawFd]) -> Vec<OwnedFd> {
    raw.iter()
        // SAFETY: the kernel just installed these descriptors in this process
        // (recvmsg SCM_RIGHTS); nothing else owns them.
        .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect()
}

/// The `SO_NETNS_COOKIE` of socket `fd`: equal cookies, same network
/// namespace.
pub fn netns_cookie(fd: BorrowedFd) -> Result<u64, Errno> {
    let mut v = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: v and len are valid writable locations of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut v as *mut u64).cast(),
            &mut len,
        )
    };
    check(r as libc::c_long).map(|_| v)
}
