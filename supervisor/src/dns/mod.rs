//! The DNS stub: the program's name lookups become `getaddrinfo` requests
//! for the policy (see docs/dns.md).
//!
//! A program socket that sends to port 53 is replaced (by the caller) with
//! a [`Dns::client_socket`]: a socket in a private network namespace where
//! the stub listens on exactly the address the program wanted, so replies
//! come from that address.  The stub thread parses each query, coalesces
//! the A and AAAA queries of one lookup into one [`Query`] (the rule is in
//! `stub.rs`), hands it to the main loop ([`Dns::wake_fd`],
//! [`Dns::try_recv`]), and answers from the policy's [`Answer`].
//!
//! Files: `child.rs` the namespace child (raw syscalls only), `netns.rs`
//! its supervisor-side handle, `stub.rs` the stub thread, `wire.rs` the
//! DNS wire format, `sys.rs` every `unsafe`.

mod child;
mod learned;
mod netns;
pub mod resolve;
mod stub;
mod sys;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::errno::Errno;
use tokio::sync::{mpsc, oneshot};

pub use wire::RecordType;

use netns::Netns;
use stub::{Cmd, Shared};

/// Where the stub sends what the policy hands to [`Answer::Upstream`].
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `None`: the first `nameserver` of the host's `/etc/resolv.conf`,
    /// read at [`Dns::start`] (127.0.0.1:53 if there is none, as glibc).
    pub upstream: Option<SocketAddr>,
}

/// A failing step of the DNS stub, with what it failed on.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("cannot make the socketpair to the DNS namespace process: {0}")]
    Socketpair(Errno),
    #[error("cannot fork the DNS namespace process: {0}")]
    Fork(Errno),
    #[error("cannot create the DNS network namespace: {step}: {errno}")]
    Namespace { step: &'static str, errno: Errno },
    #[error("the DNS namespace process is gone: {0}")]
    ChildGone(Errno),
    #[error("cannot read the network namespace cookie of a DNS socket: {0}")]
    Cookie(Errno),
    #[error("cannot make the wake-up eventfd of the DNS stub: {0}")]
    EventFd(Errno),
    #[error("cannot start the DNS stub thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot start the DNS stub runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the DNS stub thread has stopped")]
    StubGone,
    #[error("{0}: not an address the DNS stub can serve (unspecified, multicast, broadcast, link-local or port 0)")]
    Unsupported(SocketAddr),
    #[error("cannot add {ip} to lo in the DNS namespace: {errno}")]
    AddAddress { ip: IpAddr, errno: Errno },
    #[error("cannot listen on {server} (UDP and TCP) in the DNS namespace: {errno}")]
    Listen { server: SocketAddr, errno: Errno },
    #[error("cannot make a {} client socket to {server} in the DNS namespace: {errno}", if *.stream { "TCP" } else { "UDP" })]
    Client {
        server: SocketAddr,
        stream: bool,
        errno: Errno,
    },
    #[error("cannot make an unconnected {} UDP socket in the DNS namespace: {errno}", if *.ipv6 { "IPv6" } else { "IPv4" })]
    Unconnected { ipv6: bool, errno: Errno },
    #[error("cannot read the address of the DNS client socket to {server}: {errno}")]
    ClientAddress { server: SocketAddr, errno: Errno },
}

pub use libc_service::GaiError;

/// The DNS response code the program gets for a `getaddrinfo` error
/// (docs/dns.md has the table).
pub(crate) fn rcode(e: GaiError) -> simple_dns::RCODE {
    use simple_dns::RCODE;
    match e {
        GaiError::Noname => RCODE::NameError,
        GaiError::Again | GaiError::Memory | GaiError::System => RCODE::ServerFailure,
        GaiError::Fail
        | GaiError::Badflags
        | GaiError::Family
        | GaiError::Service
        | GaiError::Socktype => RCODE::Refused,
    }
}

/// The policy's decision on a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A `getaddrinfo` error.
    Error(GaiError),
    /// These addresses (IPv4 for A, IPv6 for AAAA; empty: no address).
    Addresses(Vec<IpAddr>),
    /// Forward the program's own queries to the upstream server, from the
    /// supervisor's network namespace, and relay its answers.
    Upstream,
}

/// One name lookup waiting for the policy.  Dropping it unanswered answers
/// SERVFAIL (fail closed).
pub struct Query {
    /// The name asked, lower-case, no trailing dot; bytes outside printable
    /// ASCII, `.` and `\` inside a label are escaped as in zone files
    /// (`\DDD`, `\.`, `\\`).
    pub name: String,
    /// The program thread the asking socket was made for, if known.
    pub tid: Option<u32>,
    /// The type of the query that started this lookup (the other type of
    /// the same lookup shares the answer).
    pub qtype: RecordType,
    /// The name server the program asked (IPv4 for an IPv4-mapped one).
    pub server: SocketAddr,
    reply: oneshot::Sender<Answer>,
}

impl Query {
    /// Answers the lookup.
    pub fn answer(self, a: Answer) {
        let _ = self.reply.send(a);
    }
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("name", &self.name)
            .field("tid", &self.tid)
            .field("qtype", &self.qtype)
            .field("server", &self.server)
            .finish()
    }
}

/// The running stub: its namespace process and its thread.
pub struct Dns {
    shared: Arc<Shared>,
    netns: Option<Netns>,
    cmd: Option<mpsc::UnboundedSender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    /// Addresses the stub listens on.
    servers: Mutex<HashSet<SocketAddr>>,
    upstream: SocketAddr,
}

/// The first `nameserver` of resolv.conf text.
fn first_nameserver(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        if w.next() != Some("nameserver") {
            return None;
        }
        let a = w.next()?;
        let a = a.split('%').next()?;
        a.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
    })
}

/// The address the stub listens on for `server`: an IPv4-mapped IPv6
/// server is served by an IPv4 socket.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// The local address of client socket `fd` (through the std socket types,
/// which only wrap the descriptor).
fn local_addr(fd: OwnedFd, stream: bool) -> (OwnedFd, std::io::Result<SocketAddr>) {
    if stream {
        let s = std::net::TcpStream::from(fd);
        let a = s.local_addr();
        (OwnedFd::from(s), a)
    } else {
        let s = std::net::UdpSocket::from(fd);
        let a = s.local_addr();
        (OwnedFd::from(s), a)
    }
}

fn servable(server: SocketAddr) -> bool {
    if server.port() == 0 {
        return false;
    }
    match server.ip().to_canonical() {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::UNSPECIFIED)
        }
    }
}

impl Dns {
    /// Creates the private network namespace (a forked child process) and
    /// starts the stub on its own thread.
    pub fn start(cfg: Config) -> Result<Dns, DnsError> {
        let upstream = cfg.upstream.unwrap_or_else(|| {
            std::fs::read_to_string("/etc/resolv.conf")
                .ok()
                .and_then(|t| first_nameserver(&t))
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)))
        });
        let shared = Arc::new(Shared::new()?);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("dns-stub".into())
            .spawn(move || {
                // Forked from this thread, the child dies when it ends.
                let ns = match Netns::spawn() {
                    Ok(ns) => ns,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(DnsError::Runtime(e)));
                        return;
                    }
                };
                if ready_tx.send(Ok(ns)).is_err() {
                    return;
                }
                rt.block_on(stub::serve(sh, upstream, cmd_rx));
            })
            .map_err(DnsError::Thread)?;
        let netns = match ready_rx.recv() {
            Ok(Ok(ns)) => ns,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(DnsError::StubGone);
            }
        };
        Ok(Dns {
            shared,
            netns: Some(netns),
            cmd: Some(cmd_tx),
            thread: Some(thread),
            servers: Mutex::new(HashSet::new()),
            upstream,
        })
    }

    /// The upstream server of [`Answer::Upstream`].
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    fn netns(&self) -> Result<&Netns, DnsError> {
        self.netns.as_ref().ok_or(DnsError::StubGone)
    }

    /// A new socket in the stub namespace, of `server`'s family, TCP if
    /// `stream` else UDP, connected to `server`: its `getpeername()` and
    /// the source of what it receives are `server` exactly.  Makes the stub
    /// listen on `server` first (UDP and TCP), adding the address to `lo`
    /// in the namespace if needed.  Queries arriving on it are attributed
    /// to program thread `tid`.  The socket is blocking and close-on-exec:
    /// the caller sets `O_NONBLOCK` to match the program's socket.
    pub fn client_socket(
        &self,
        server: SocketAddr,
        stream: bool,
        tid: u32,
    ) -> Result<OwnedFd, DnsError> {
        let listen = self.listen(server)?;
        let ns = self.netns()?;
        let fd = ns
            .client(server, stream)
            .map_err(|errno| DnsError::Client {
                server,
                stream,
                errno,
            })?;
        let (fd, local) = local_addr(fd, stream);
        let local = local.map_err(|e| DnsError::ClientAddress {
            server,
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL)),
        })?;
        self.shared.register(stream, canonical(local), listen, tid);
        Ok(fd)
    }

    /// Makes the stub listen on `server` (UDP socket and TCP listener),
    /// adding the address to `lo` in the namespace if needed; returns the
    /// address listened on (an IPv4-mapped `server` is served on its IPv4
    /// address).  For a program that sends with `sendto` on an
    /// [`Dns::unconnected_socket`]: call it before letting each send go.
    pub fn listen(&self, server: SocketAddr) -> Result<SocketAddr, DnsError> {
        if !servable(server) {
            return Err(DnsError::Unsupported(server));
        }
        let ns = self.netns()?;
        let listen = canonical(server);
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        if servers.contains(&listen) {
            return Ok(listen);
        }
        let (udp, tcp) = match ns.stub(listen) {
            Err(Errno::EADDRNOTAVAIL) => {
                ns.add_addr(listen.ip())
                    .map_err(|errno| DnsError::AddAddress {
                        ip: listen.ip(),
                        errno,
                    })?;
                ns.stub(listen)
            }
            r => r,
        }
        .map_err(|errno| DnsError::Listen {
            server: listen,
            errno,
        })?;
        self.cmd
            .as_ref()
            .ok_or(DnsError::StubGone)?
            .send(Cmd::Serve {
                server: listen,
                udp,
                tcp,
            })
            .map_err(|_| DnsError::StubGone)?;
        servers.insert(listen);
        Ok(listen)
    }

    /// A new UDP socket in the stub namespace, not connected, bound to the
    /// wildcard address of its family (IPv6: dual-stack, for programs such
    /// as musl that send to IPv4-mapped addresses) and an ephemeral port:
    /// the replacement for a program's socket that sends with `sendto` to
    /// one or more name servers.  The stub listens nowhere new: call
    /// [`Dns::listen`] for each destination.  Queries arriving on it are
    /// attributed to program thread `tid`.
    pub fn unconnected_socket(&self, ipv6: bool, tid: u32) -> Result<OwnedFd, DnsError> {
        let fd = self
            .netns()?
            .unconnected(ipv6)
            .map_err(|errno| DnsError::Unconnected { ipv6, errno })?;
        let (fd, local) = local_addr(fd, false);
        let local = local.map_err(|e| DnsError::ClientAddress {
            server: SocketAddr::from(([0u8; 4], 0)),
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EINVAL)),
        })?;
        self.shared
            .register(false, local, SocketAddr::from(([0u8; 4], 0)), tid);
        Ok(fd)
    }

    /// True if `fd` is a socket in the stub namespace.
    pub fn is_stub_socket(&self, fd: BorrowedFd) -> bool {
        match (&self.netns, sys::netns_cookie(fd)) {
            (Some(ns), Ok(c)) => c == ns.cookie,
            _ => false,
        }
    }

    /// Readable (POLLIN) while lookups wait in [`Dns::try_recv`].
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.shared.wake.as_fd()
    }

    /// The names whose lookups gave the program `ip` (docs/rules.md, `name:`).
    pub fn names_of(&self, ip: IpAddr) -> Vec<String> {
        self.shared.learned.names(ip)
    }

    /// The next lookup waiting for the policy, if any.
    pub fn try_recv(&self) -> Option<Query> {
        self.shared.pop()
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        // Closing the command channel ends the stub thread (pending lookups
        // are dropped: their programs get SERVFAIL or nothing); the
        // namespace child is SIGKILLed as that thread ends, and reaped when
        // the handle drops.
        self.cmd.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.netns.take();
    }
}

/// A message from the program, parsed and answered as the stub does (the
/// entry point of the fuzzing module).
pub(crate) fn fuzz_wire(msg: &[u8]) {
    use simple_dns::RCODE;
    if let wire::Parsed::Ask { .. } = wire::parse_query(msg) {
        let limit = wire::udp_limit(msg);
        let addrs: [std::net::IpAddr; 3] = [
            std::net::Ipv4Addr::new(10, 0, 0, 1).into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
            std::net::Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped().into(),
        ];
        for rcode in [RCODE::NoError, RCODE::NameError] {
            let _ = wire::reply(msg, rcode, &addrs, limit);
            let _ = wire::reply(msg, rcode, &addrs[..0], 12);
        }
    }
    let _ = (
        wire::truncated(msg),
        wire::id(msg),
        wire::is_reply_to(msg, 0),
    );
}
