//! The supervisor's handle on the network-namespace child (`child.rs`):
//! fixed-size requests over a `SOCK_SEQPACKET` socketpair, one at a time,
//! answered with an errno and descriptors.

use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::child::{self, REPLY_LEN, REQ_LEN};
use super::sys::{self, Addr};
use super::DnsError;

pub(super) struct Netns {
    /// `None` once dropped.
    sock: Mutex<Option<OwnedFd>>,
    pid: i32,
    /// `SO_NETNS_COOKIE` of the namespace.
    pub cookie: u64,
}

fn addr(a: SocketAddr) -> Addr {
    let mut ip = [0u8; 16];
    match a.ip() {
        IpAddr::V4(v4) => {
            ip[..4].copy_from_slice(&v4.octets());
            Addr {
                family: libc::AF_INET,
                port: a.port(),
                ip,
            }
        }
        IpAddr::V6(v6) => Addr {
            family: libc::AF_INET6,
            port: a.port(),
            ip: v6.octets(),
        },
    }
}

/// One reply: errno, step, descriptors.
fn receive(sock: RawFd) -> Result<(i32, u32, Vec<OwnedFd>), Errno> {
    let mut body = [0u8; REPLY_LEN];
    let mut cmsg = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(&mut body)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            fds.extend(sys::take_fds(&raw));
        }
    }
    if msg.bytes != REPLY_LEN {
        // EOF (0 bytes): the child is gone.
        return Err(Errno::EPIPE);
    }
    let err = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
    let step = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
    Ok((err, step, fds))
}

impl Netns {
    /// Forks the child from the calling thread: it is SIGKILLed when this
    /// thread ends (`PR_SET_PDEATHSIG`), and exits when the returned handle
    /// is dropped.
    pub fn spawn() -> Result<Netns, DnsError> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(DnsError::Socketpair)?;
        let parent = sys::getpid();
        let pid = sys::fork().map_err(|e| DnsError::Fork(Errno::from_raw(e)))?;
        if pid == 0 {
            child::run(theirs.as_raw_fd(), parent);
        }
        drop(theirs);
        crate::own::register(pid);
        let mut ns = Netns {
            sock: Mutex::new(Some(mine)),
            pid,
            cookie: 0,
        };
        let fd = match ns.sock.get_mut() {
            Ok(Some(fd)) => fd.as_raw_fd(),
            _ => return Err(DnsError::ChildGone(Errno::EIO)),
        };
        match receive(fd) {
            Ok((0, _, _)) => {}
            Ok((e, step, _)) => {
                return Err(DnsError::Namespace {
                    step: child::STEPS.get(step as usize).copied().unwrap_or("set-up"),
                    errno: Errno::from_raw(e),
                })
            }
            Err(e) => return Err(DnsError::ChildGone(e)),
        }
        let probe = ns
            .call(child::OP_SOCKET, SocketAddr::from(([0, 0, 0, 0], 0)), false)
            .map_err(DnsError::ChildGone)?;
        let first = probe.first().ok_or(DnsError::ChildGone(Errno::EPROTO))?;
        ns.cookie = sys::netns_cookie(std::os::fd::AsFd::as_fd(first))
            .map_err(|e| DnsError::Cookie(Errno::from_raw(e)))?;
        Ok(ns)
    }

    /// The child's pid.
    #[cfg(test)]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// One request, one reply.
    fn call(&self, op: u32, a: SocketAddr, stream: bool) -> Result<Vec<OwnedFd>, Errno> {
        let req = child::encode(op, &addr(a), stream);
        let sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        let fd = sock.as_ref().ok_or(Errno::EPIPE)?.as_raw_fd();
        let n = sendmsg::<()>(fd, &[IoSlice::new(&req)], &[], MsgFlags::MSG_NOSIGNAL, None)?;
        if n != REQ_LEN {
            return Err(Errno::EPROTO);
        }
        let (err, _, fds) = receive(fd)?;
        if err != 0 {
            return Err(Errno::from_raw(err));
        }
        Ok(fds)
    }

    /// A UDP socket bound to `server` and a TCP listener on it.
    pub fn stub(&self, server: SocketAddr) -> Result<(OwnedFd, OwnedFd), Errno> {
        let mut fds = self.call(child::OP_STUB, server, false)?;
        let tcp = fds.pop().ok_or(Errno::EPROTO)?;
        let udp = fds.pop().ok_or(Errno::EPROTO)?;
        Ok((udp, tcp))
    }

    /// Adds `ip` to `lo` (/32 or /128).
    pub fn add_addr(&self, ip: IpAddr) -> Result<(), Errno> {
        self.call(child::OP_ADDR, SocketAddr::new(ip, 0), false)
            .map(drop)
    }

    /// An unconnected UDP socket bound to the wildcard address of its
    /// family, port 0 (dual-stack for IPv6).
    pub fn unconnected(&self, ipv6: bool) -> Result<OwnedFd, Errno> {
        let any = if ipv6 {
            SocketAddr::from(([0u16; 8], 0))
        } else {
            SocketAddr::from(([0u8; 4], 0))
        };
        self.call(child::OP_SOCKET, any, false)?
            .pop()
            .ok_or(Errno::EPROTO)
    }

    /// A socket connected to `server`.
    pub fn client(&self, server: SocketAddr, stream: bool) -> Result<OwnedFd, Errno> {
        self.call(child::OP_CLIENT, server, stream)?
            .pop()
            .ok_or(Errno::EPROTO)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Closing our end ends the child (its recv sees EOF).
        drop(
            self.sock
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        // The supervisor's own reaper (reap::reap_all) may have reaped it
        // already: ECHILD is fine.
        let _ = waitpid(Pid::from_raw(self.pid), None);
    }
}
