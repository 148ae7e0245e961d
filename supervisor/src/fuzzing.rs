//! Fuzzing entry points: the decoders of untrusted input, driven by
//! arbitrary bytes.  No input may panic.
//!
//! * [`request`]: a seccomp notification (syscall, six argument
//!   registers) whose pointers lead into the fuzz input itself, to NULL,
//!   to unmapped memory or to the edge of a mapping, decoded as the
//!   supervisor decodes the program's calls (`request::decode`, which
//!   copies memory with `process_vm_readv` — here from this very process),
//!   then classified as the session does;
//! * [`reply`]: Lua values built from the bytes (nested tables, edge
//!   numbers, the stat fields), checked as a policy's `send` reply for
//!   every function, as a `getaddrinfo` reply, and as an address;
//! * [`dns`]: a DNS message from the program, parsed and answered as the
//!   stub does.
//!
//! Two harnesses drive them: the bounded random run in this module's
//! tests (stable Rust, part of `cargo test`, `FUZZ_SECONDS`/`FUZZ_SEED`),
//! and the cargo-fuzz targets in `fuzz/` (nightly, coverage-guided; see
//! docs/security.md).

use std::sync::OnceLock;

use bpf::{Sys, SyscallMap};

use crate::request::net::{classify, NetAddr};
use crate::request::{self, flags, Args, Decoded, Function};
use kernel::notify::sys::SeccompData;

/// Reads the fuzz input front to back; past its end every read is 0.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bytes { data, at: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }

    /// Up to `max` bytes (a length byte first).
    fn slice(&mut self, max: usize) -> &'a [u8] {
        let n = (self.byte() as usize).min(max);
        let start = self.at.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.at = start + n;
        &self.data[start..end]
    }
}

/// Two pages, the second unmapped: a pointer near the end of the first
/// reads up to the hole.
struct Edge {
    base: usize,
}

fn edge() -> Option<&'static Edge> {
    static EDGE: OnceLock<Option<Edge>> = OnceLock::new();
    EDGE.get_or_init(|| {
        // SAFETY: a fresh anonymous mapping of two pages; the second page is
        // unmapped right away, the first stays mapped (read-only) for the
        // life of the process and is never written after this.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return None;
            }
            std::ptr::write_bytes(p.cast::<u8>(), b'a', 4096);
            libc::munmap(p.cast::<u8>().add(4096).cast(), 4096);
            libc::mprotect(p, 4096, libc::PROT_READ);
            Some(Edge { base: p as usize })
        }
    })
    .as_ref()
}

/// One argument register: a pointer into `buf`, a raw value, NULL, a
/// wild pointer, or a pointer `k` bytes before the end of a mapping.
fn argument(b: &mut Bytes, buf: &[u8]) -> u64 {
    match b.byte() % 6 {
        0 => {
            let off = b.u16() as usize % buf.len().max(1);
            buf.as_ptr() as u64 + off as u64
        }
        1 => b.u64(),
        2 => 0,
        3 => [1u64, 8, 4095, u64::MAX, 0x8000_0000_0000][b.byte() as usize % 5],
        4 => edge().map_or(0, |e| e.base as u64 + 4096 - (b.byte() as u64 % 64)),
        // Small integers: flags, modes, lengths, descriptors (with junk in
        // the upper half now and then).
        _ => {
            let v = b.u16() as u64;
            if b.byte() & 1 == 0 {
                v
            } else {
                v | 0xdead_0000_0000
            }
        }
    }
}

/// Decodes a notification made from `data` (see the module doc).
pub fn request(data: &[u8]) {
    static MAP: OnceLock<SyscallMap> = OnceLock::new();
    let map = MAP.get_or_init(SyscallMap::native);
    let mut b = Bytes::new(data);
    let present = map.present();
    if present.is_empty() {
        return;
    }
    let (sys, nr) = present[b.byte() as usize % present.len()];
    // The memory the pointers lead to: the rest of the input, copied so
    // that it holds still (a NUL-less path runs into the copy's end).
    let buf: Vec<u8> = b.slice(255).to_vec();
    let mut d = SeccompData {
        nr,
        ..SeccompData::default()
    };
    for a in &mut d.args {
        *a = argument(&mut b, &buf);
    }
    let tid = std::process::id();
    match request::decode(sys, &d, tid) {
        Decoded::Policy(req) => check_request(&req),
        Decoded::Socket(call) => {
            for (domain, protocol) in [
                (libc::AF_UNIX, 0),
                (libc::AF_INET, libc::IPPROTO_UDP),
                (libc::AF_INET6, libc::IPPROTO_UDP),
                (libc::AF_INET6, libc::IPPROTO_RAW),
            ] {
                if let request::net::Class::Mapped(addr) = classify(&call, domain, protocol) {
                    let _ = crate::request::function_of_socket(call.op, &addr);
                    check_addr(&addr);
                }
            }
            if let Some(p) = &call.payload {
                let _ = p.total();
            }
        }
        Decoded::FdStat { .. }
        | Decoded::FdReadlink { .. }
        | Decoded::Unmediated
        | Decoded::Fail(_)
        | Decoded::Value(_)
        | Decoded::Listen { .. } => {}
    }
    let _: &str = Sys::name(sys);
}

/// What the policy would be shown of a decoded request: no panic, and
/// every path is a copy within PATH_MAX without a NUL.
fn check_request(req: &request::Request) {
    let _ = req.function.name();
    let _ = req.follows_last();
    for p in req.paths() {
        assert!(p.path.len() < kernel::memory::PATH_MAX, "over-long path");
        assert!(!p.path.contains(&0), "NUL in a path");
    }
    match &req.args {
        Args::Open {
            flags: f, resolve, ..
        } => {
            let _ = flags::open_flags(*f);
            let _ = flags::resolve_flags(*resolve);
        }
        Args::Rename { flags: f, .. } => {
            let _ = flags::rename_flags(*f);
        }
        Args::Access { mode, .. } => {
            let _ = flags::access_mode(*mode);
        }
        Args::Socket { addr, .. } => check_addr(addr),
        Args::Attr {
            flags: f, change, ..
        } => {
            let _ = crate::request::attr::flag_names(*f, change);
            let _ = change.fields();
        }
        Args::Link { flags: f, .. } => {
            let _ = crate::request::attr::link_flag_names(*f);
        }
        Args::Mknod { mode, .. } => {
            let _ = crate::request::attr::node_type(*mode);
        }
        Args::Exec { flags: f, argv, .. } => {
            let _ = crate::request::exec::flag_names(*f);
            assert!(
                argv.args.len() <= crate::request::exec::ARGV_MAX,
                "argv bound"
            );
            assert!(
                argv.args
                    .iter()
                    .all(|a| a.len() <= crate::request::exec::ARG_MAX && !a.contains(&0)),
                "argv string bound"
            );
        }
        Args::Unlink { .. } | Args::Stat { .. } | Args::Mkdir { .. } | Args::Symlink { .. } => {}
    }
}

/// An address round-trips through its raw form.
fn check_addr(addr: &NetAddr) {
    if let Ok(raw) = addr.to_raw() {
        assert_eq!(
            NetAddr::from_raw(&raw).as_ref(),
            Some(addr),
            "address round trip"
        );
    }
}

/// Keys a stat reply reads (and a few it does not).
const KEYS: [&str; 16] = [
    "dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atime",
    "mtime", "ctime", "type", "x", "",
];

const EDGES: [i64; 10] = [
    -1,
    0,
    1,
    4095,
    4096,
    65535,
    65536,
    i64::MIN,
    i64::MAX,
    -4096,
];

fn value(lua: &mlua::Lua, b: &mut Bytes, depth: u32) -> mlua::Result<mlua::Value> {
    use mlua::Value;
    Ok(match b.byte() % 9 {
        0 => Value::Nil,
        1 => Value::Boolean(b.byte() & 1 == 1),
        2 => Value::Integer(b.u64() as i64),
        3 => Value::Integer(EDGES[b.byte() as usize % EDGES.len()]),
        4 => Value::Number(match b.byte() % 6 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -0.5,
            3 => 1e300,
            4 => 12.75,
            _ => f64::from_bits(b.u64()),
        }),
        5 => {
            let s = match b.byte() % 4 {
                0 => [
                    "EACCES",
                    "noname",
                    "regular",
                    "127.0.0.1",
                    "::1",
                    "fe80::1%2",
                ][b.byte() as usize % 6]
                    .as_bytes()
                    .to_vec(),
                _ => b.slice(64).to_vec(),
            };
            Value::String(lua.create_string(&s)?)
        }
        6 | 7 if depth < 4 => {
            let t = lua.create_table()?;
            let n = b.byte() % 6;
            for i in 0..n {
                let v = value(lua, b, depth + 1)?;
                if b.byte() & 1 == 0 {
                    t.set(i64::from(i) + 1, v)?;
                } else {
                    t.set(KEYS[b.byte() as usize % KEYS.len()], v)?;
                }
            }
            Value::Table(t)
        }
        _ => Value::Integer(i64::from(b.u16())),
    })
}

/// Checks a Lua value made from `data` as every kind of reply.
pub fn reply(data: &[u8]) {
    thread_local! {
        static LUA: mlua::Lua = mlua::Lua::new();
    }
    LUA.with(|lua| {
        let mut b = Bytes::new(data);
        let Ok(result) = value(lua, &mut b, 0) else {
            return;
        };
        let Ok(errno_v) = value(lua, &mut b, 3) else {
            return;
        };
        let errno = crate::policy::errno_arg(lua, "send", Some(&errno_v)).unwrap_or(0);
        for f in Function::ALL {
            let _ = crate::policy::reply_outcome(lua, f, &result, errno);
        }
        if let mlua::Value::Table(t) = &result {
            let _ = crate::policy::fake_stat(lua, t);
        }
        let _ = crate::policy::lookup_answer(lua, &result);
        if let mlua::Value::String(s) = &result {
            let port = b.u16();
            let with_port = b.byte() & 1 == 0;
            if let Some(a) = NetAddr::parse(&s.as_bytes(), with_port.then_some(port)) {
                check_addr(&a);
            }
        }
    });
}

/// Parses a DNS message as the stub does, and answers it.
pub fn dns(data: &[u8]) {
    crate::dns::fuzz_wire(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small PRNG (xorshift64*): no dependency, reproducible by seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let n = (self.next() as usize) % (max + 1);
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                v.extend_from_slice(&self.next().to_le_bytes());
            }
            v.truncate(n);
            // Bias towards the bytes decoders care about.
            for x in v.iter_mut() {
                match self.next() % 16 {
                    0 => *x = 0,
                    1 => *x = b'/',
                    2 => *x = b'.',
                    3 => *x = 0xff,
                    _ => {}
                }
            }
            v
        }
    }

    /// How long each target runs: FUZZ_SECONDS (default 3).
    fn budget() -> std::time::Duration {
        let s = std::env::var("FUZZ_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(3.0);
        std::time::Duration::from_secs_f64(s)
    }

    fn seed() -> u64 {
        std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            })
    }

    /// Runs `target` on the fixed corpus, then on random inputs for the
    /// time budget; a panic names the seed and the input.
    fn run(name: &str, target: fn(&[u8]), corpus: &[&[u8]], max: usize) {
        for c in corpus {
            target(c);
        }
        let seed = seed();
        let mut rng = Rng(seed);
        let end = std::time::Instant::now() + budget();
        let mut n = 0u64;
        while std::time::Instant::now() < end {
            let input = rng.bytes(max);
            let r = std::panic::catch_unwind(|| target(&input));
            assert!(
                r.is_ok(),
                "{name}: input {n} of FUZZ_SEED={seed} panicked: {input:?}"
            );
            n += 1;
        }
        eprintln!("fuzz {name}: {n} inputs, FUZZ_SEED={seed}");
    }

    #[test]
    fn fuzz_request_decoder() {
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        // Every syscall with pointers into a path-like buffer, a NULL, an
        // unterminated edge, wild and raw values.
        for sys in 0u8..32 {
            for kind in 0u8..6 {
                let mut v = vec![sys, 40];
                v.extend_from_slice(b"/etc/../proc/self/fd/3\0/tmp/x\0\x01\x00\x02");
                v.extend(std::iter::repeat_n(b'a', 40 - 27));
                for _ in 0..6 {
                    v.extend_from_slice(&[kind, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
                }
                corpus.push(v);
            }
        }
        let refs: Vec<&[u8]> = corpus.iter().map(|v| v.as_slice()).collect();
        run("request", request, &refs, 400);
    }

    #[test]
    fn fuzz_reply_decoders() {
        run(
            "reply",
            reply,
            &[
                b"",
                b"\x06\x05\x01\x07\x0a",
                b"\x05\x00\x02",
                b"\x04\x00\x04\x01",
            ],
            200,
        );
    }

    #[test]
    fn fuzz_dns_messages() {
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        run("dns", dns, &[b"", &query[..], &query[..20]], 300);
    }
}
