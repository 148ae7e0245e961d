//! Name lookups: the program's DNS traffic goes to the supervisor's stub.
//!
//! A connect or an addressed send of an inet socket to port 53 is not a
//! connect request: the program's socket is replaced, at the same number,
//! by a socket of the stub's private network namespace where the stub
//! listens on exactly the address the program asked (see docs/dns.md).
//! The program's resolver then talks to the stub, whose queries reach the
//! policy as `getaddrinfo` requests.  Nothing the program sends to port 53
//! leaves through its own network access.

use std::net::SocketAddr;
use std::os::fd::AsFd;

use nix::errno::Errno;

use super::net::{self, Socket};
use crate::answer::{Job, Outcome};
use crate::dns::Dns;
use crate::request::net::{NetAddr, SockCall, SockOp};
use kernel::sys;
use kernel::task::Task;

/// The DNS port.
pub const PORT: u16 = 53;

/// Is `call` (mapped to `addr`) a name lookup to capture?
pub fn is_lookup(call: &SockCall, addr: &NetAddr, sock: &Socket) -> bool {
    let port = match addr {
        NetAddr::Inet(a) => a.port(),
        NetAddr::Inet6(a) => a.port(),
        NetAddr::Unix(_) => return false,
    };
    port == PORT
        && call.op != SockOp::Bind
        && matches!(sock.ty, libc::SOCK_DGRAM | libc::SOCK_STREAM)
}

/// The server address exactly as the program wrote it (an IPv4-mapped
/// address stays IPv6 on an IPv6 socket); an `AF_UNSPEC` address, which
/// the kernel reads as its socket's family, is the address it was
/// classified as (`addr`).
fn server_of(call: &SockCall, addr: &NetAddr) -> Option<SocketAddr> {
    let written = NetAddr::from_raw(call.addr.as_deref()?);
    match written.as_ref().unwrap_or(addr) {
        NetAddr::Inet(a) => Some((*a).into()),
        NetAddr::Inet6(a) => Some((*a).into()),
        NetAddr::Unix(_) => None,
    }
}

/// Sends the lookup of `call` (classified as `addr`) to the stub; answers
/// the notification.
pub fn capture(
    dns: &Dns,
    task: &mut Task,
    sock: Socket,
    call: &SockCall,
    addr: &NetAddr,
) -> Outcome {
    let Some(server) = server_of(call, addr) else {
        return Outcome::Fail(Errno::EINVAL);
    };
    if dns.is_stub_socket(sock.fd.as_fd()) {
        // Already the stub's: its namespace holds nothing but stubs.  Make
        // sure one listens on this server too, then do the call as asked.
        if let Err(e) = dns.listen(server) {
            return failed(&e, server);
        }
        return net::plain(task, sock, call);
    }
    let stream = sock.ty == libc::SOCK_STREAM;
    let fresh = match (call.op, stream) {
        // An unconnected datagram socket may send to several servers
        // (musl asks all of them at once).
        (SockOp::Send, false) => dns
            .listen(server)
            .and_then(|_| dns.unconnected_socket(sock.domain == libc::AF_INET6, task.tid)),
        _ => dns.client_socket(server, stream, task.tid),
    };
    let fresh = match fresh {
        Ok(f) => f,
        Err(e) => return failed(&e, server),
    };
    if sock.nonblocking {
        let r = sys::file_flags(fresh.as_fd())
            .and_then(|fl| sys::set_file_flags(fresh.as_fd(), fl | libc::O_NONBLOCK));
        if let Err(e) = r {
            return Outcome::Fail(e);
        }
    }
    let cloexec = match task
        .fd_cloexec(call.fd)
        .and_then(|c| task.settle().map(|_| c))
    {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e).normalize(),
    };
    // Installed at the program's fd, with its O_NONBLOCK and close-on-exec;
    // then the call goes on on it.
    let then: Job = match (call.op, &call.payload) {
        (SockOp::Send, Some(p)) => {
            let to = if stream { None } else { call.addr.clone() };
            net::then_send(task, fresh.as_fd(), to, p)
        }
        (SockOp::Send, None) => Box::new(|| Outcome::Fail(Errno::EINVAL)),
        // Already connected to the stub.
        _ => Box::new(|| Outcome::Value(0)),
    };
    Outcome::Install {
        fds: vec![(fresh, Some(call.fd))],
        cloexec,
        then: Some(then),
    }
}

fn failed(e: &crate::dns::DnsError, server: SocketAddr) -> Outcome {
    eprintln!("supervisor: name lookup to {server} not served: {e}");
    // What a resolver sees from a server that is not there.
    Outcome::Fail(Errno::ECONNREFUSED)
}
