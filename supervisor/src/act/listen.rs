//! `listen(2)`, trapped by the default posture: the kernel would bind an
//! unbound inet socket to a port of its choosing on the wildcard address
//! (autobind), a bind no policy saw.  The supervisor refuses that case
//! with EDESTADDRREQ (POSIX's errno for listening on an unbound socket)
//! and performs every other listen itself, on the program's socket (a
//! duplicate of the same open file description: checked and acted on
//! are one object).

use std::os::fd::AsFd;

use nix::errno::Errno;

use super::net::Socket;
use crate::answer::Outcome;
use kernel::task::Task;

pub fn listen(task: &mut Task, fd: i32, backlog: i32) -> Outcome {
    let sock = match Socket::of(task, fd) {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(e).normalize(),
    };
    if matches!(sock.domain, libc::AF_INET | libc::AF_INET6) && !bound(&sock) {
        return Outcome::Fail(Errno::EDESTADDRREQ);
    }
    kernel::sys::listen(sock.fd.as_fd(), backlog).into()
}

/// Has the socket a local port?  (Unknown counts as no: fail closed.)
fn bound(sock: &Socket) -> bool {
    match kernel::sys::getsockname(sock.fd.as_fd()) {
        // sockaddr_in and sockaddr_in6 both keep the port at bytes 2..4.
        Ok(raw) if raw.len() >= 4 => raw[2..4] != [0, 0],
        _ => false,
    }
}
