//! The stub thread: a tokio current-thread runtime serving every stub
//! socket (UDP and TCP), turning lookups into [`Query`]s for the main loop
//! and writing the replies; one task per message, so a slow decision
//! never holds up another query.
//!
//! Coalescing rule.  Decisions are kept per name (as [`Query::name`]).  An
//! A or AAAA query for a name
//! - whose decision is still pending joins it (whatever its type: a
//!   lookup's other query, a retransmission, or a parallel lookup of the
//!   same name by another thread);
//! - whose decision was made less than [`WINDOW`] ago and has not yet
//!   served a query of this type, or has served this very query already
//!   (same type, DNS id and client port: a retransmission, or musl
//!   sending one query to every name server at once), uses it;
//! - otherwise starts a new lookup: a new [`Query`] for the policy.
//!
//! So one `getaddrinfo` (A + AAAA, on one socket or two, in parallel or
//! not) is one Query, and a second `getaddrinfo` of the name is a new
//! Query.  A UDP reply that had to be truncated (TC) gives its use back,
//! so the program's retry over TCP reuses the decision.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use simple_dns::RCODE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};

use super::wire::{self, Parsed, RecordType};
use super::{Answer, DnsError, Query};

/// How long a decision serves the other query type of its lookup.
pub(super) const WINDOW: Duration = Duration::from_secs(2);
/// How long the upstream server has to answer a forwarded query.
pub(super) const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);
/// Attributions kept at most (one per client socket made); past it the
/// table starts over (queries then have no `tid`).
const MAX_CLIENTS: usize = 65536;

/// Commands from [`super::Dns`] to the stub thread.
pub(super) enum Cmd {
    /// Serve this UDP socket and TCP listener, both bound to `server`.
    Serve {
        server: SocketAddr,
        udp: OwnedFd,
        tcp: OwnedFd,
    },
}

/// (TCP?, client address, server address) → program thread; an
/// unconnected client socket is registered with its wildcard address and
/// an unspecified server.
type ClientKey = (bool, SocketAddr, SocketAddr);

/// What the main loop and the stub thread share.
pub(super) struct Shared {
    queue: Mutex<VecDeque<Query>>,
    /// Readable exactly while `queue` is not empty.
    pub wake: EventFd,
    clients: Mutex<HashMap<ClientKey, u32>>,
    /// The addresses each name gave the program.
    pub learned: super::learned::Learned,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn new() -> Result<Shared, DnsError> {
        Ok(Shared {
            queue: Mutex::new(VecDeque::new()),
            wake: EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(DnsError::EventFd)?,
            clients: Mutex::new(HashMap::new()),
            learned: Default::default(),
        })
    }

    pub fn register(&self, stream: bool, client: SocketAddr, server: SocketAddr, tid: u32) {
        let mut c = lock(&self.clients);
        if c.len() >= MAX_CLIENTS {
            c.clear();
        }
        c.insert((stream, client, server), tid);
    }

    fn tid(&self, stream: bool, client: SocketAddr, server: SocketAddr) -> Option<u32> {
        let c = lock(&self.clients);
        let client = super::canonical(client);
        let port = client.port();
        let (v4, v6) = (
            SocketAddr::from(([0u8; 4], port)),
            SocketAddr::from(([0u16; 8], port)),
        );
        let nowhere = SocketAddr::from(([0u8; 4], 0));
        c.get(&(stream, client, server))
            .or_else(|| c.get(&(stream, v4, nowhere)))
            .or_else(|| c.get(&(stream, v6, nowhere)))
            .copied()
    }

    fn push(&self, q: Query) {
        let mut queue = lock(&self.queue);
        queue.push_back(q);
        let _ = self.wake.write(1);
    }

    pub fn pop(&self) -> Option<Query> {
        let mut queue = lock(&self.queue);
        let _ = self.wake.read(); // EAGAIN when already empty
        let q = queue.pop_front();
        if !queue.is_empty() {
            let _ = self.wake.write(1);
        }
        q
    }
}

#[derive(Clone)]
enum Outcome {
    Answer(Answer),
    /// The Query was dropped unanswered.
    Dropped,
}

struct Entry {
    rx: watch::Receiver<Option<Outcome>>,
    decided: Option<Instant>,
    /// Served a query of type A, AAAA.
    used: [bool; 2],
    /// (type, DNS id, client port) of the queries it served.
    copies: Vec<(RecordType, u16, u16)>,
    generation: u64,
}

#[derive(Default)]
struct Table {
    names: HashMap<String, Entry>,
    generation: u64,
}

struct Ctx {
    shared: Arc<Shared>,
    upstream: SocketAddr,
    table: Mutex<Table>,
}

/// Runs the stub until the command channel closes.
pub(super) async fn serve(
    shared: Arc<Shared>,
    upstream: SocketAddr,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
) {
    let ctx = Arc::new(Ctx {
        shared,
        upstream,
        table: Mutex::new(Table::default()),
    });
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            Cmd::Serve { server, udp, tcp } => {
                let udp = std::net::UdpSocket::from(udp);
                let tcp = std::net::TcpListener::from(tcp);
                if udp.set_nonblocking(true).is_err() || tcp.set_nonblocking(true).is_err() {
                    continue;
                }
                if let Ok(udp) = UdpSocket::from_std(udp) {
                    tokio::spawn(serve_udp(ctx.clone(), server, Arc::new(udp)));
                }
                if let Ok(tcp) = TcpListener::from_std(tcp) {
                    tokio::spawn(serve_tcp(ctx.clone(), server, tcp));
                }
            }
        }
    }
}

async fn serve_udp(ctx: Arc<Ctx>, server: SocketAddr, sock: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, client) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(_) => {
                // Nothing is expected here; do not spin if it persists.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let msg = buf[..n].to_vec();
        let (ctx, sock) = (ctx.clone(), sock.clone());
        tokio::spawn(async move {
            if let Some(r) = handle(&ctx, &msg, false, client, server).await {
                let _ = sock.send_to(&r, client).await;
            }
        });
    }
}

async fn serve_tcp(ctx: Arc<Ctx>, server: SocketAddr, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, client)) => {
                tokio::spawn(serve_conn(ctx.clone(), server, stream, client));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One TCP connection: length-prefixed queries, answered as they are
/// decided (possibly out of order, RFC 7766).
async fn serve_conn(ctx: Arc<Ctx>, server: SocketAddr, stream: TcpStream, client: SocketAddr) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let Ok(len) = u16::try_from(m.len()) else {
                continue;
            };
            let mut out = Vec::with_capacity(m.len() + 2);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&m);
            if wr.write_all(&out).await.is_err() {
                break;
            }
        }
    });
    loop {
        let mut len = [0u8; 2];
        if rd.read_exact(&mut len).await.is_err() {
            break;
        }
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        if rd.read_exact(&mut msg).await.is_err() {
            break;
        }
        let (ctx, tx) = (ctx.clone(), tx.clone());
        tokio::spawn(async move {
            if let Some(r) = handle(&ctx, &msg, true, client, server).await {
                let _ = tx.send(r);
            }
        });
    }
    // The writer ends once the queries still in flight are answered.
}

/// The reply to one message of the program, if any.
async fn handle(
    ctx: &Arc<Ctx>,
    msg: &[u8],
    tcp: bool,
    client: SocketAddr,
    server: SocketAddr,
) -> Option<Vec<u8>> {
    let (name, qtype) = match wire::parse_query(msg) {
        Parsed::Ask { name, qtype } => (name, qtype),
        Parsed::Reply(r) => return Some(r),
        Parsed::Drop => return None,
    };
    let tid = ctx.shared.tid(tcp, client, server);
    let copy = (qtype, wire::id(msg), client.port());
    let (mut rx, generation) = join(ctx, &name, copy, tid, server);
    let outcome = match rx.wait_for(|o| o.is_some()).await {
        Ok(o) => o.clone().unwrap_or(Outcome::Dropped),
        Err(_) => Outcome::Dropped,
    };
    let limit = if tcp {
        usize::from(u16::MAX)
    } else {
        wire::udp_limit(msg)
    };
    let out = match outcome {
        Outcome::Dropped => wire::reply(msg, RCODE::ServerFailure, &[], limit),
        Outcome::Answer(Answer::Error(e)) => wire::reply(msg, super::rcode(e), &[], limit),
        Outcome::Answer(Answer::Addresses(a)) => wire::reply(msg, RCODE::NoError, &a, limit),
        Outcome::Answer(Answer::Upstream) => match forward(ctx.upstream, msg, tcp).await {
            Some(r) => Some(r),
            None => wire::reply(msg, RCODE::ServerFailure, &[], limit),
        },
    };
    if let Some(r) = &out {
        if !tcp && wire::truncated(r) {
            give_back(ctx, &name, qtype, generation);
        }
        // Before the program can read the reply (and connect).
        ctx.shared.learned.record(&name, &wire::answer_addresses(r));
    }
    out
}

/// The decision for `name`, by the coalescing rule (module comment); a
/// new lookup queues a [`Query`].
fn join(
    ctx: &Arc<Ctx>,
    name: &str,
    copy: (RecordType, u16, u16),
    tid: Option<u32>,
    server: SocketAddr,
) -> (watch::Receiver<Option<Outcome>>, u64) {
    let qtype = copy.0;
    let i = qtype.index();
    let mut t = lock(&ctx.table);
    let now = Instant::now();
    t.names
        .retain(|_, e| e.decided.is_none_or(|d| now.duration_since(d) < WINDOW));
    if let Some(e) = t.names.get_mut(name) {
        if e.decided.is_none() || !e.used[i] || e.copies.contains(&copy) {
            e.used[i] = true;
            if e.copies.len() < 64 && !e.copies.contains(&copy) {
                e.copies.push(copy);
            }
            return (e.rx.clone(), e.generation);
        }
    }
    t.generation += 1;
    let generation = t.generation;
    let (wtx, wrx) = watch::channel(None);
    let mut used = [false; 2];
    used[i] = true;
    t.names.insert(
        name.to_owned(),
        Entry {
            rx: wrx.clone(),
            decided: None,
            used,
            copies: vec![copy],
            generation,
        },
    );
    drop(t);
    let (otx, orx) = oneshot::channel();
    ctx.shared.push(Query {
        name: name.to_owned(),
        tid,
        qtype,
        server,
        reply: otx,
    });
    let (ctx, name) = (ctx.clone(), name.to_owned());
    tokio::spawn(async move {
        let o = match orx.await {
            Ok(a) => Outcome::Answer(a),
            Err(_) => Outcome::Dropped,
        };
        if let Some(e) = lock(&ctx.table).names.get_mut(&name) {
            if e.generation == generation {
                e.decided = Some(Instant::now());
            }
        }
        let _ = wtx.send(Some(o));
    });
    (wrx, generation)
}

/// Lets the next query of `qtype` for `name` reuse the decision again.
fn give_back(ctx: &Ctx, name: &str, qtype: RecordType, generation: u64) {
    if let Some(e) = lock(&ctx.table).names.get_mut(name) {
        if e.generation == generation {
            e.used[qtype.index()] = false;
        }
    }
}

/// Sends the program's query `msg` unchanged to `upstream` over the same
/// transport, from the supervisor's own network namespace; the reply with
/// the same id, or `None` after [`UPSTREAM_TIMEOUT`] or an error.
async fn forward(upstream: SocketAddr, msg: &[u8], tcp: bool) -> Option<Vec<u8>> {
    let id = wire::id(msg);
    let exchange = async {
        if tcp {
            let mut s = TcpStream::connect(upstream).await.ok()?;
            let len = u16::try_from(msg.len()).ok()?;
            let mut out = Vec::with_capacity(msg.len() + 2);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(msg);
            s.write_all(&out).await.ok()?;
            loop {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.ok()?;
                let mut r = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut r).await.ok()?;
                if wire::is_reply_to(&r, id) {
                    return Some(r);
                }
            }
        } else {
            let local: SocketAddr = if upstream.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0u16; 8], 0))
            };
            let s = UdpSocket::bind(local).await.ok()?;
            s.connect(upstream).await.ok()?;
            s.send(msg).await.ok()?;
            let mut buf = vec![0u8; 65536];
            loop {
                let n = s.recv(&mut buf).await.ok()?;
                if wire::is_reply_to(&buf[..n], id) {
                    return Some(buf[..n].to_vec());
                }
            }
        }
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
}
