//! One request's record: what is known when it arrives, and the JSON line
//! written when it is answered.  Arguments are the copies the supervisor
//! decided on (paths, flags, modes, addresses); never file contents nor
//! the data a send carries.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use super::json;
use super::Decision;
use crate::request::attr;
use crate::request::flags::{self, Amode};
use crate::request::net::NetAddr;
use crate::request::{Args, Dir, Function, PathArg, Request};

/// A request between its arrival and its answer.
pub struct Entry {
    pub time: SystemTime,
    pub start: Instant,
    pub tid: Option<u32>,
    pub pid: Option<u32>,
    pub exe: Option<std::sync::Arc<[u8]>>,
    /// The trapped syscall (none for a name lookup).
    pub syscall: Option<&'static str>,
    /// The libc_service function, else the syscall's name.
    pub function: &'static str,
    /// The arguments.
    pub args: Arguments,
    /// What the summary lists a denial under (a path, an address, a
    /// name), when the arguments do not say it: see [`Entry::target`].
    pub target: Option<String>,
    /// `resolved()` paths (`None`: did not resolve), if the policy asked
    /// for them.
    pub resolved: Option<Vec<Option<Box<[u8]>>>>,
    /// A description given for the answer to come (`master:describe`).
    pub label: Option<Box<str>>,
    pub decision: Option<Decision>,
    /// The container the request came from (`supervisor agent`).
    pub container: Option<std::sync::Arc<str>>,
}

impl Entry {
    pub fn new(tid: Option<u32>, syscall: Option<&'static str>) -> Entry {
        Entry {
            time: SystemTime::now(),
            start: Instant::now(),
            tid,
            pid: None,
            exe: None,
            syscall,
            function: syscall.unwrap_or("?"),
            args: Arguments::Json("{}".into()),
            target: None,
            resolved: None,
            label: None,
            decision: None,
            container: None,
        }
    }
}

/// A record's arguments: a copy of the request, turned into JSON by the
/// log's thread (off the request path), or the JSON object itself.
pub enum Arguments {
    Request(Box<Request>),
    Json(String),
}

impl Entry {
    /// What the summary lists a denial under: the first resolved path
    /// (but "from -> to" for a rename or a link), else the target given,
    /// else the arguments' (the path as given, the address).
    pub fn target(&self) -> Option<std::borrow::Cow<'_, str>> {
        if !matches!(self.function, "rename" | "link") {
            if let Some(Some(p)) = self.resolved.as_ref().and_then(|v| v.first()) {
                return Some(String::from_utf8_lossy(p));
            }
        }
        if let Some(t) = &self.target {
            return Some(t.as_str().into());
        }
        match &self.args {
            Arguments::Request(r) => arguments(r).1.map(Into::into),
            Arguments::Json(_) => None,
        }
    }
}

/// What the program got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The call returned this value (a descriptor number for an open).
    Value(i64),
    /// The call failed with this errno.
    Errno(i32),
    /// The kernel ran the call (CONTINUE): its result is not seen.
    Continue,
    /// An exec let through and verified at its exec event: the new image
    /// is the file decided on.
    Verified,
    /// An exec let through ran another file than the one decided on (a
    /// path swapped after the decision): killed before its first
    /// instruction.
    Killed,
    /// A signal interrupted the work done for the call: the kernel restarts
    /// it (a new request) or fails it with EINTR (`-ERESTARTSYS`).
    Interrupted,
    /// No answer reached the thread: it died or was interrupted, or the
    /// run ended first.
    Abandoned,
    /// A name lookup: these addresses.
    Addresses(Vec<IpAddr>),
    /// A name lookup failed with this getaddrinfo error (`noname`, …).
    Gai(&'static str),
    /// A name lookup forwarded to the upstream name server.
    Upstream,
}

impl Answered {
    /// The `outcome` field.
    pub fn outcome(&self) -> &'static str {
        match self {
            Answered::Value(_) | Answered::Addresses(_) => "value",
            Answered::Errno(_) | Answered::Gai(_) => "error",
            Answered::Continue => "continue",
            Answered::Verified => "verified",
            Answered::Killed => "killed",
            Answered::Interrupted => "interrupted",
            Answered::Abandoned => "abandoned",
            Answered::Upstream => "upstream",
        }
    }

    /// The errno (or getaddrinfo error) name, if the call failed.
    pub fn error_name(&self) -> Option<String> {
        match self {
            Answered::Errno(e) => Some(
                libc_service::errno::name(*e)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("errno {e}")),
            ),
            Answered::Gai(g) => Some((*g).to_owned()),
            Answered::Killed => Some("SIGKILL".to_owned()),
            _ => None,
        }
    }
}

/// The JSON line of a finished record (with its newline).
pub fn line(e: &Entry, d: Option<&Decision>, a: &Answered, denied: bool) -> String {
    let mut o = String::with_capacity(512);
    o.push('{');
    json::key(&mut o, "time");
    json::str(&mut o, &json::time(e.time));
    if let Some(c) = &e.container {
        json::key(&mut o, "container");
        json::str(&mut o, c);
    }
    json::key(&mut o, "pid");
    opt_num(&mut o, e.pid.map(i64::from));
    json::key(&mut o, "tid");
    opt_num(&mut o, e.tid.map(i64::from));
    json::key(&mut o, "executable");
    match &e.exe {
        Some(x) => json::bytes(&mut o, x),
        None => o.push_str("null"),
    }
    json::key(&mut o, "function");
    json::str(&mut o, e.function);
    json::key(&mut o, "syscall");
    match e.syscall {
        Some(s) => json::str(&mut o, s),
        None => o.push_str("null"),
    }
    json::key(&mut o, "arguments");
    match &e.args {
        Arguments::Request(r) => o.push_str(&arguments(r).0),
        Arguments::Json(j) => o.push_str(j),
    }
    if let Some(r) = &e.resolved {
        json::key(&mut o, "resolved");
        o.push_str(&resolved(r.iter().map(Option::as_deref)));
    }
    json::key(&mut o, "decision");
    match d {
        Some(d) => json::str(&mut o, &d.to_string()),
        None => o.push_str("null"),
    }
    json::key(&mut o, "answer");
    json::str(&mut o, d.map_or("none", Decision::answer));
    json::key(&mut o, "outcome");
    json::str(&mut o, a.outcome());
    json::key(&mut o, "result");
    match a {
        Answered::Value(v) => {
            let _ = write!(o, "{v}");
        }
        Answered::Addresses(v) => {
            o.push('[');
            for (i, ip) in v.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json::str(&mut o, &ip.to_string());
            }
            o.push(']');
        }
        _ => o.push_str("null"),
    }
    json::key(&mut o, "errno");
    match a.error_name() {
        Some(n) => json::str(&mut o, &n),
        None => o.push_str("null"),
    }
    json::key(&mut o, "denied");
    o.push_str(if denied { "true" } else { "false" });
    json::key(&mut o, "duration_us");
    let _ = write!(o, "{}", e.start.elapsed().as_micros());
    o.push_str("}\n");
    o
}

fn opt_num(o: &mut String, v: Option<i64>) {
    match v {
        Some(v) => {
            let _ = write!(o, "{v}");
        }
        None => o.push_str("null"),
    }
}

fn path_field(o: &mut String, k: &str, p: &PathArg) {
    json::key(o, k);
    json::bytes(o, &p.path);
    if let Dir::Fd(fd) = p.dir {
        json::key(o, &format!("{k}_dirfd"));
        let _ = write!(o, "{fd}");
    }
}

fn names(o: &mut String, k: &str, v: &[&str]) {
    json::key(o, k);
    o.push('[');
    for (i, n) in v.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        json::str(o, n);
    }
    o.push(']');
}

fn mode(o: &mut String, m: u32) {
    json::key(o, "mode");
    let _ = write!(o, "\"{m:04o}\"");
}

/// The arguments of `req` as a JSON object, and the summary's target.
pub fn arguments(req: &Request) -> (String, Option<String>) {
    let mut o = String::from("{");
    let lossy = |p: &PathArg| String::from_utf8_lossy(&p.path).into_owned();
    let target = match &req.args {
        Args::Open {
            at,
            flags: fl,
            mode: m,
            resolve,
        } => {
            path_field(&mut o, "path", at);
            let mut v = flags::open_flags(*fl);
            if req.function == Function::Openat {
                v.extend(flags::resolve_flags(*resolve));
            }
            names(&mut o, "flags", &v);
            if v.contains(&"create") || v.contains(&"temporary") {
                mode(&mut o, *m);
            }
            Some(lossy(at))
        }
        Args::Unlink { at } | Args::Stat { at, .. } => {
            path_field(&mut o, "path", at);
            Some(lossy(at))
        }
        Args::Rename {
            from,
            to,
            flags: fl,
        } => {
            path_field(&mut o, "from", from);
            path_field(&mut o, "to", to);
            names(&mut o, "flags", &flags::rename_flags(*fl));
            Some(format!("{} -> {}", lossy(from), lossy(to)))
        }
        Args::Access { at, mode: m, .. } => {
            path_field(&mut o, "path", at);
            match flags::access_mode(*m) {
                Amode::Exists => {
                    json::key(&mut o, "mode");
                    json::str(&mut o, "f");
                }
                Amode::Modes(v) => names(&mut o, "mode", &v),
            }
            Some(lossy(at))
        }
        Args::Mkdir { at, mode: m } => {
            path_field(&mut o, "path", at);
            mode(&mut o, *m);
            Some(lossy(at))
        }
        Args::Attr {
            at,
            flags: fl,
            change,
        } => {
            path_field(&mut o, "path", at);
            for (k, f) in change.fields() {
                match f {
                    attr::Field::Int(n) => {
                        json::key(&mut o, k);
                        let _ = write!(o, "{n}");
                    }
                    attr::Field::Mode(m) => mode(&mut o, m),
                    attr::Field::Word(w) => {
                        json::key(&mut o, k);
                        json::str(&mut o, w);
                    }
                    attr::Field::Bytes(b) => {
                        json::key(&mut o, k);
                        json::bytes(&mut o, &b);
                    }
                    attr::Field::Time(t) => {
                        json::key(&mut o, k);
                        match t {
                            attr::Time::Now => json::str(&mut o, "now"),
                            attr::Time::Omit => json::str(&mut o, "omit"),
                            attr::Time::At(s, ns) => json::str(&mut o, &format!("{s}.{ns:09}")),
                        }
                    }
                }
            }
            names(&mut o, "flags", &attr::flag_names(*fl, change));
            Some(lossy(at))
        }
        Args::Symlink { target, at } => {
            json::key(&mut o, "target");
            json::bytes(&mut o, target);
            path_field(&mut o, "path", at);
            Some(lossy(at))
        }
        Args::Link {
            from,
            to,
            flags: fl,
        } => {
            path_field(&mut o, "from", from);
            path_field(&mut o, "to", to);
            names(&mut o, "flags", &attr::link_flag_names(*fl));
            Some(format!("{} -> {}", lossy(from), lossy(to)))
        }
        Args::Mknod { at, mode: m } => {
            path_field(&mut o, "path", at);
            mode(&mut o, m & 0o7777);
            json::key(&mut o, "type");
            json::str(&mut o, attr::node_type(*m));
            Some(lossy(at))
        }
        Args::Exec {
            at,
            flags: fl,
            argv,
        } => {
            path_field(&mut o, "path", at);
            json::key(&mut o, "argv");
            o.push('[');
            for (i, a) in argv.args.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                json::bytes(&mut o, a);
            }
            o.push(']');
            if argv.truncated {
                json::key(&mut o, "argv_truncated");
                o.push_str("true");
            }
            names(&mut o, "flags", &crate::request::exec::flag_names(*fl));
            Some(lossy(at))
        }
        Args::Socket { addr, .. } => Some(address(&mut o, addr)),
    };
    o.push('}');
    (o, target)
}

/// Writes the fields of a socket address; returns its text.
fn address(o: &mut String, addr: &NetAddr) -> String {
    match addr {
        NetAddr::Unix(p) => {
            json::key(o, "path");
            json::bytes(o, p);
            match p.strip_prefix(b"\0") {
                Some(name) => format!("@{}", String::from_utf8_lossy(name)),
                None => format!("unix:{}", String::from_utf8_lossy(p)),
            }
        }
        NetAddr::Inet(a) => {
            json::key(o, "address");
            json::str(o, &a.ip().to_string());
            json::key(o, "port");
            let _ = write!(o, "{}", a.port());
            a.to_string()
        }
        NetAddr::Inet6(a) => {
            let ip = match a.scope_id() {
                0 => a.ip().to_string(),
                s => format!("{}%{s}", a.ip()),
            };
            json::key(o, "address");
            json::str(o, &ip);
            json::key(o, "port");
            let _ = write!(o, "{}", a.port());
            format!("[{ip}]:{}", a.port())
        }
    }
}

/// The `resolved` array: a path, or null for one that did not resolve.
pub fn resolved<'a>(paths: impl Iterator<Item = Option<&'a [u8]>>) -> String {
    let mut o = String::from("[");
    for (i, p) in paths.enumerate() {
        if i > 0 {
            o.push(',');
        }
        match p {
            Some(p) => json::bytes(&mut o, p),
            None => o.push_str("null"),
        }
    }
    o.push(']');
    o
}

#[cfg(test)]
mod tests {
    use super::super::How;
    use super::*;

    fn open_req(path: &[u8], fl: i32) -> Request {
        Request {
            function: Function::Open,
            sys: bpf::Sys::Openat,
            args: Args::Open {
                at: PathArg {
                    dir: Dir::Cwd,
                    path: path.to_vec(),
                },
                flags: fl,
                mode: 0o644,
                resolve: 0,
            },
        }
    }

    #[test]
    fn open_arguments() {
        let (a, t) = arguments(&open_req(b"/etc/x", libc::O_WRONLY | libc::O_CREAT));
        assert_eq!(
            a,
            r#"{"path":"/etc/x","flags":["write_only","create"],"mode":"0644"}"#
        );
        assert_eq!(t.as_deref(), Some("/etc/x"));
    }

    #[test]
    fn a_whole_line() {
        let (args, target) = arguments(&open_req(b"/etc/\"q\"", libc::O_RDONLY));
        let mut e = Entry::new(Some(7), Some("openat"));
        e.pid = Some(5);
        e.exe = Some(b"/bin/cat".as_slice().into());
        e.function = "open";
        e.args = Arguments::Json(args);
        e.target = target;
        let d = Decision::Policy {
            at: "p.lua:3".into(),
            how: How::Send,
        };
        let l = line(&e, Some(&d), &Answered::Errno(libc::EACCES), true);
        assert!(l.ends_with("}\n"), "{l}");
        for part in [
            r#""pid":5,"tid":7,"executable":"/bin/cat","function":"open","syscall":"openat""#,
            r#""arguments":{"path":"/etc/\"q\"","flags":["read_only"]}"#,
            r#""decision":"policy p.lua:3","answer":"send","outcome":"error","result":null,"errno":"EACCES","denied":true,"duration_us":"#,
        ] {
            assert!(l.contains(part), "{part} not in {l}");
        }
    }

    #[test]
    fn socket_targets() {
        let mut o = String::from("{");
        let t = address(&mut o, &NetAddr::Inet("10.1.2.3:80".parse().unwrap()));
        assert_eq!(t, "10.1.2.3:80");
        assert_eq!(o, r#"{"address":"10.1.2.3","port":80"#);
        let mut o = String::from("{");
        assert_eq!(address(&mut o, &NetAddr::Unix(b"\0abs".to_vec())), "@abs");
        assert_eq!(o, r#"{"path":"\u0000abs""#);
    }
}
