//! `supervisor learn -o p.lua [--base NAME] -- cmd …`: runs the program
//! and writes a rules policy that allows what it did (see [`generate`] for
//! what is generalised and what is never learnt, docs/audit.md for the
//! rest).
//!
//! Without a base, every request is performed by the supervisor, as
//! `use_program_credentials` — what the learnt rules do by default — so the
//! program takes the same paths under the learnt policy as while learning
//! (`access` answers, file ownership, …).  Name lookups go to the
//! supervisor's resolver.  No Lua runs.
//!
//! With a base (`--base ci`), the base policy runs as under `run` (its
//! init script, private /tmp, Landlock), except that what its rules deny
//! only by a kind's default is allowed (as the program) and noted
//! (`policy::run_learning`); what its rules deny by a rule stays denied and
//! is never learnt.  The learnt policy is `rules.extend(base, {…})`: the
//! base, its rules completed by the learnt ones where it has none.

pub mod generate;
mod names;
mod seen;

use std::path::Path;

use generate::{Context, Kind, Seen};
use nix::errno::Errno;

use crate::act;
use crate::answer::Outcome;
use crate::audit::{Decision, How, Key};
use crate::launch::Prepared;
use crate::policy::rules::{Learnt, Subject};
use crate::request::net::NetAddr;
use crate::request::{Args, Function, Request};
use crate::run::{Run, Stop};
use crate::session::{self, Event, Flow, Session, Strategy};

const DECISION: &str = "learn (allow all)";

/// The request loop's strategy while learning: perform everything, note
/// what was done.
#[derive(Default)]
struct Learn {
    seen: Seen,
}

impl Strategy for Learn {
    type Out = std::convert::Infallible;
    fn event(&mut self, ev: Event) -> Result<Flow<Self::Out>, Stop> {
        match ev {
            Event::Request(mut p) => {
                // A path that did not resolve counts where it failed: the
                // rules decide it there (docs/rules.md), so the learnt
                // policy must allow the probe of a missing directory to
                // fail as it did (ENOENT), not be denied.
                let n = p.resolve().map_or(0, |rs| rs.len());
                let traces: Vec<Vec<u8>> = (0..n).map(|i| p.failure_text(i).to_vec()).collect();
                let paths: Vec<Option<Vec<u8>>> = match p.resolve() {
                    Ok(rs) => rs
                        .iter()
                        .zip(traces)
                        .map(|(r, t)| match r {
                            Ok(r) => Some(r.path.clone()),
                            Err(_) => (!t.is_empty()).then_some(t),
                        })
                        .collect(),
                    Err(_) => Vec::new(),
                };
                // An open of a device other than the harmless ones is the
                // `device` kind too (docs/rules.md, "Devices").
                let opens =
                    matches!(&p.req.args, Args::Open { flags, .. } if flags & libc::O_PATH == 0);
                let device = opens
                    && p.resolve().is_ok_and(|rs| {
                        rs.first()
                            .and_then(|r| r.as_ref().ok())
                            .and_then(crate::policy::device::kind_of)
                            .is_some()
                    });
                p.audit().decide(
                    Key::Notif(p.id),
                    Decision::Rule {
                        text: DECISION.into(),
                        how: How::Program,
                    },
                );
                let o = act::perform_as_program(&mut p);
                let done = Done {
                    ok: matches!(o, Outcome::Value(_) | Outcome::Fd { .. }),
                    missing: matches!(o, Outcome::Fail(Errno::ENOENT | Errno::ENOTDIR)),
                };
                record(&mut self.seen, &p.req, &paths, done);
                if let (true, Some(Some(d))) = (device, paths.first()) {
                    self.seen
                        .note(Kind::Device, d, p.req.function.name(), done.missing);
                }
                p.answer(o);
            }
            Event::Lookup(l) => {
                self.seen.name(&l.name);
                if let Some(k) = l.key() {
                    l.audit_decide(
                        k,
                        Decision::Rule {
                            text: DECISION.into(),
                            how: How::Slave,
                        },
                    );
                }
                l.answer(crate::dns::Answer::Upstream);
            }
            // Only slave filters start jobs; learn has none.
            Event::Done(..) => {}
        }
        Ok(Flow::Next)
    }
}

/// Runs the program, writes the policy to `out`; returns the exit code
/// (the program's), or how the run failed (the policy cannot be written:
/// [`Stop::LearntPolicy`]).  With `base`, the base policy runs and only
/// what it denies by default is learnt (see the module doc).
pub fn learn(
    prepared: Prepared,
    map: bpf::SyscallMap,
    run: &Run,
    out: &Path,
    cmd: &str,
    base: Option<&crate::policy::Source>,
    base_arg: Option<String>,
) -> Result<i32, Stop> {
    let ctx = Context::from_env(cmd.to_owned(), base_arg);
    let (code, seen) = match base {
        None => {
            let mut session = Session::start(&prepared, map, run)?;
            let mut learn = Learn::default();
            let code = match session::serve(|| session.next_event(), &mut learn) {
                Ok(never) => match never {},
                Err(Stop::Exited(code)) => code,
                Err(e) => return Err(e),
            };
            (code, learn.seen)
        }
        Some(source) => {
            let mut r = run.clone();
            r.policy = Some(source.name.clone());
            let (code, learnt) = crate::policy::run_learning(source, prepared, map, r);
            (code?, from_base(&learnt))
        }
    };
    match write(out, &generate::policy(&seen, &ctx)) {
        Ok(()) => Ok(code),
        Err(e) => Err(Stop::LearntPolicy {
            path: out.display().to_string(),
            source: e,
        }),
    }
}

/// What a run under a base noted, as what was seen.
pub fn from_base(learnt: &[Learnt]) -> Seen {
    let mut seen = Seen::default();
    for l in learnt {
        let w = &l.what;
        if let Some(rule) = &w.rule {
            // Denied by a rule of the base: never learnt, only told.
            if let Subject::Path(p) = &w.subject {
                seen.refused_by_base
                    .entry((w.kind, p.clone(), rule.clone()))
                    .or_default()
                    .add(l.function, w.missing);
            }
            continue;
        }
        match (&w.subject, w.kind) {
            (Subject::Name(n), _) => seen.name(n),
            (Subject::Addr(ip, port), k) => {
                seen.address(k, ip.to_string(), Some(*port), l.function)
            }
            (Subject::Path(p), k @ (Kind::Connect | Kind::Bind)) => seen.address(
                k,
                format!("unix:{}", String::from_utf8_lossy(p)),
                None,
                l.function,
            ),
            (Subject::Path(p), k) => {
                seen.note(k, p, l.function, w.missing);
                // An O_CREAT open creates or writes, as the file exists or
                // not when the job runs again: both are learnt.
                if l.creat && matches!(k, Kind::Create | Kind::Write) {
                    let other = if k == Kind::Create {
                        Kind::Write
                    } else {
                        Kind::Create
                    };
                    seen.note(other, p, l.function, w.missing);
                }
                if k == Kind::Create {
                    seen.created.insert(p.clone());
                    if l.function == "mkdir" && l.new {
                        seen.made_dirs.insert(p.clone());
                    }
                }
                if k == Kind::Delete {
                    seen.deleted.insert(p.clone());
                }
            }
        }
    }
    seen
}

/// Writes `text` to `out` whole or not at all (a temporary file renamed).
fn write(out: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".learn-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, out)
}

/// How a request ended.
#[derive(Clone, Copy, Debug, Default)]
pub struct Done {
    /// It succeeded.
    pub ok: bool,
    /// It failed finding nothing there (`ENOENT`, `ENOTDIR`): a probe.
    pub missing: bool,
}

/// What request `req` on resolved `paths` (`None`: did not resolve) adds.
pub fn record(seen: &mut Seen, req: &Request, paths: &[Option<Vec<u8>>], done: Done) {
    let path = |i: usize| paths.get(i).and_then(|p| p.as_deref());
    let f = req.function.name();
    let note = |seen: &mut Seen, k: Kind, p: &[u8]| seen.note(k, p, f, done.missing);
    // Which kinds each path of the request is (docs/audit.md's table).
    let mut created = Vec::new();
    let mut deleted = Vec::new();
    match &req.args {
        Args::Open { flags, .. } => {
            let Some(p) = path(0) else { return };
            let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
            if flags & libc::O_PATH != 0 {
                note(seen, Kind::Read, p);
                return;
            }
            match flags & libc::O_ACCMODE {
                libc::O_RDONLY => note(seen, Kind::Read, p),
                libc::O_WRONLY => note(seen, Kind::Write, p),
                _ => {
                    note(seen, Kind::Read, p);
                    note(seen, Kind::Write, p);
                }
            }
            if flags & libc::O_TRUNC != 0 {
                note(seen, Kind::Write, p);
            }
            if flags & libc::O_CREAT != 0 || tmpfile {
                note(seen, Kind::Create, p);
                note(seen, Kind::Write, p);
                if !tmpfile {
                    created.push(p);
                }
            }
        }
        Args::Stat { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Read, p);
            }
        }
        Args::Access { mode, .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Read, p);
                // Asking whether it is writable: allowed as a write.
                if mode & libc::W_OK != 0 {
                    note(seen, Kind::Write, p);
                }
            }
        }
        Args::Mkdir { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Create, p);
                created.push(p);
                if done.ok {
                    seen.made_dirs.insert(p.to_vec());
                }
            }
        }
        Args::Symlink { .. } | Args::Mknod { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Create, p);
                created.push(p);
            }
        }
        Args::Link { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Read, p);
                note(seen, Kind::Write, p);
            }
            if let Some(p) = path(1) {
                note(seen, Kind::Create, p);
                created.push(p);
            }
        }
        Args::Attr { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Write, p);
            }
        }
        // Running a file (and a script's interpreter) is reading it
        // (docs/rules.md).
        Args::Exec { .. } => {
            for p in paths.iter().flatten() {
                seen.path(Kind::Read, p);
            }
        }
        Args::Unlink { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Delete, p);
                deleted.push(p);
            }
        }
        Args::Rename { .. } => {
            if let Some(p) = path(0) {
                note(seen, Kind::Delete, p);
                deleted.push(p);
            }
            if let Some(p) = path(1) {
                note(seen, Kind::Create, p);
                note(seen, Kind::Delete, p);
                created.push(p);
            }
        }
        Args::Socket { addr, .. } => {
            let bind = matches!(
                req.function,
                Function::BindUnix | Function::BindInet | Function::BindInet6
            );
            let kind = if bind { Kind::Bind } else { Kind::Connect };
            match addr {
                NetAddr::Unix(_) if addr.is_abstract() => {}
                NetAddr::Unix(raw) => {
                    let p = path(0).unwrap_or(raw);
                    if bind {
                        // A unix bind creates its socket file.
                        note(seen, Kind::Create, p);
                        created.push(p);
                    }
                    let a = format!("unix:{}", String::from_utf8_lossy(p));
                    seen.address(kind, a, None, f);
                }
                NetAddr::Inet(a) => seen.address(kind, a.ip().to_string(), Some(a.port()), f),
                NetAddr::Inet6(a) => seen.address(kind, a.ip().to_string(), Some(a.port()), f),
            }
        }
    }
    seen.created.extend(created.into_iter().map(<[u8]>::to_vec));
    seen.deleted.extend(deleted.into_iter().map(<[u8]>::to_vec));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Dir, PathArg};

    fn at(p: &str) -> PathArg {
        PathArg {
            dir: Dir::Cwd,
            path: p.as_bytes().to_vec(),
        }
    }

    fn has(seen: &Seen, k: Kind, p: &str) -> bool {
        seen.paths
            .get(&k)
            .is_some_and(|s| s.contains_key(p.as_bytes()))
    }

    const OK: Done = Done {
        ok: true,
        missing: false,
    };
    const FAILED: Done = Done {
        ok: false,
        missing: true,
    };

    #[test]
    fn requests_map_to_kinds() {
        let mut s = Seen::default();
        let open = |fl| Request {
            function: Function::Open,
            sys: bpf::Sys::Openat,
            args: Args::Open {
                at: at("x"),
                flags: fl,
                mode: 0o644,
                resolve: 0,
            },
        };
        let p = |x: &str| vec![Some(x.as_bytes().to_vec())];
        record(&mut s, &open(libc::O_RDONLY), &p("/r"), OK);
        record(
            &mut s,
            &open(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            &p("/c"),
            OK,
        );
        record(&mut s, &open(libc::O_RDWR), &p("/rw"), OK);
        assert!(has(&s, Kind::Read, "/r") && !has(&s, Kind::Write, "/r"));
        assert!(
            has(&s, Kind::Create, "/c") && has(&s, Kind::Write, "/c") && !has(&s, Kind::Read, "/c")
        );
        assert!(has(&s, Kind::Read, "/rw") && has(&s, Kind::Write, "/rw"));
        let mkdir = Request {
            function: Function::Mkdir,
            sys: bpf::Sys::Mkdirat,
            args: Args::Mkdir {
                at: at("d"),
                mode: 0o755,
            },
        };
        record(&mut s, &mkdir, &p("/made"), OK);
        record(&mut s, &mkdir, &p("/existed"), FAILED);
        assert!(s.made_dirs.contains(&b"/made"[..]) && !s.made_dirs.contains(&b"/existed"[..]));
        let rename = Request {
            function: Function::Rename,
            sys: bpf::Sys::Renameat2,
            args: Args::Rename {
                from: at("a"),
                to: at("b"),
                flags: 0,
            },
        };
        record(
            &mut s,
            &rename,
            &[Some(b"/a".to_vec()), Some(b"/b".to_vec())],
            OK,
        );
        assert!(
            has(&s, Kind::Delete, "/a")
                && has(&s, Kind::Create, "/b")
                && has(&s, Kind::Delete, "/b")
        );
        // A path that did not resolve adds nothing.
        record(&mut s, &open(libc::O_RDONLY), &[None], FAILED);
        assert_eq!(s.paths[&Kind::Read].len(), 2);
    }

    #[test]
    fn path_requests_map_to_kinds() {
        use crate::request::attr::Change;
        let mut s = Seen::default();
        let req = |function, args| Request {
            function,
            sys: bpf::Sys::Linkat,
            args,
        };
        let chmod = Args::Attr {
            at: at("f"),
            flags: 0,
            change: Change::Mode(0o600),
        };
        record(
            &mut s,
            &req(Function::Chmod, chmod),
            &[Some(b"/w/f".to_vec())],
            OK,
        );
        let symlink = Args::Symlink {
            target: b"t".to_vec(),
            at: at("s"),
        };
        record(
            &mut s,
            &req(Function::Symlink, symlink),
            &[Some(b"/w/s".to_vec())],
            OK,
        );
        let link = Args::Link {
            from: at("a"),
            to: at("b"),
            flags: 0,
        };
        let both = [Some(b"/w/a".to_vec()), Some(b"/w/b".to_vec())];
        record(&mut s, &req(Function::Link, link), &both, OK);
        assert!(has(&s, Kind::Write, "/w/f") && !has(&s, Kind::Create, "/w/f"));
        assert!(has(&s, Kind::Create, "/w/s"));
        assert!(has(&s, Kind::Read, "/w/a") && has(&s, Kind::Write, "/w/a"));
        assert!(has(&s, Kind::Create, "/w/b") && !has(&s, Kind::Create, "/w/a"));
        // An exec of a script: read on the script and its interpreter.
        let exec = Args::Exec {
            at: at("s.sh"),
            flags: 0,
            argv: Default::default(),
        };
        let both = [Some(b"/w/s.sh".to_vec()), Some(b"/bin/dash".to_vec())];
        record(&mut s, &req(Function::Exec, exec), &both, OK);
        assert!(has(&s, Kind::Read, "/w/s.sh") && has(&s, Kind::Read, "/bin/dash"));
        assert!(!has(&s, Kind::Write, "/w/s.sh"));
    }

    #[test]
    fn what_a_base_denied_by_default_is_learnt_and_its_rules_are_not() {
        use crate::policy::learning::Denied;
        let l = |function, kind, subject, rule: Option<&str>, new, creat| Learnt {
            function,
            what: Denied {
                kind,
                subject,
                missing: false,
                rule: rule.map(str::to_string),
            },
            new,
            creat,
        };
        let path = |p: &str| Subject::Path(p.as_bytes().to_vec());
        let seen = from_base(&[
            // An O_CREAT open denied as create: create and write learnt.
            l("open", Kind::Create, path("/o/new"), None, true, true),
            l("mkdir", Kind::Create, path("/o/dir"), None, true, false),
            l(
                "open",
                Kind::Read,
                path("/h/.ssh/id"),
                Some("rule 5 (deny read /h/.ssh/)"),
                false,
                false,
            ),
            l(
                "connect_inet",
                Kind::Connect,
                Subject::Addr("10.0.0.1".parse().unwrap(), 443),
                None,
                false,
                false,
            ),
            l(
                "connect_unix",
                Kind::Connect,
                path("/run/x.sock"),
                None,
                false,
                false,
            ),
            l(
                "getaddrinfo",
                Kind::Resolve,
                Subject::Name("a.org".into()),
                None,
                false,
                false,
            ),
        ]);
        assert!(has(&seen, Kind::Create, "/o/new") && has(&seen, Kind::Write, "/o/new"));
        assert!(seen.made_dirs.contains(&b"/o/dir"[..]));
        assert!(!has(&seen, Kind::Read, "/h/.ssh/id"));
        assert_eq!(seen.refused_by_base.len(), 1);
        assert!(seen
            .connects
            .contains_key(&("10.0.0.1".to_string(), Some(443))));
        assert!(seen
            .connects
            .contains_key(&("unix:/run/x.sock".to_string(), None)));
        assert!(seen.names.contains_key("a.org"));
    }
}
