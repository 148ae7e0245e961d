//! `supervisor learn -o p.lua -- cmd …`: runs the program allowing
//! everything, and writes a rules policy that allows what it did (see
//! [`generate`] for the folding, docs/audit.md for the rest).
//!
//! Every request is performed by the supervisor, as
//! `use_program_credentials` — what the learnt rules do by default — so the
//! program takes the same paths under the learnt policy as while learning
//! (`access` answers, file ownership, …).  Name lookups go to the
//! supervisor's resolver.  No Lua runs.

pub mod generate;

use std::path::Path;

use generate::{Kind, Seen};

use crate::act;
use crate::audit::{Decision, How, Key};
use crate::launch::Prepared;
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
                let ok = matches!(
                    o,
                    crate::answer::Outcome::Value(_) | crate::answer::Outcome::Fd { .. }
                );
                record(&mut self.seen, &p.req, &paths, ok);
                if let (true, Some(Some(d))) = (device, paths.first()) {
                    self.seen.path(Kind::Device, d);
                }
                p.answer(o);
            }
            Event::Lookup(l) => {
                self.seen.names.insert(l.name.clone());
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
/// [`Stop::Internal`]).
pub fn learn(
    prepared: Prepared,
    map: bpf::SyscallMap,
    run: &Run,
    out: &Path,
    cmd: &str,
) -> Result<i32, Stop> {
    let mut session = Session::start(&prepared, map, run)?;
    let mut learn = Learn::default();
    let code = match session::serve(|| session.next_event(), &mut learn) {
        Ok(never) => match never {},
        Err(Stop::Exited(code)) => code,
        Err(e) => return Err(e),
    };
    match write(out, &generate::policy(&learn.seen, cmd)) {
        Ok(()) => Ok(code),
        Err(e) => Err(Stop::LearntPolicy {
            path: out.display().to_string(),
            source: e,
        }),
    }
}

/// Writes `text` to `out` whole or not at all (a temporary file renamed).
fn write(out: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".learn-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, out)
}

/// What request `req` on resolved `paths` (`None`: did not resolve) adds.
/// `ok`: it succeeded.
pub fn record(seen: &mut Seen, req: &Request, paths: &[Option<Vec<u8>>], ok: bool) {
    let path = |i: usize| paths.get(i).and_then(|p| p.as_deref());
    match &req.args {
        Args::Open { flags, .. } => {
            let Some(p) = path(0) else { return };
            let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
            match flags & libc::O_ACCMODE {
                libc::O_RDONLY => seen.path(Kind::Read, p),
                libc::O_WRONLY => seen.path(Kind::Write, p),
                _ => {
                    seen.path(Kind::Read, p);
                    seen.path(Kind::Write, p);
                }
            }
            if flags & libc::O_TRUNC != 0 {
                seen.path(Kind::Write, p);
            }
            if flags & libc::O_CREAT != 0 || tmpfile {
                seen.path(Kind::Create, p);
                seen.path(Kind::Write, p);
                if !tmpfile {
                    seen.created.insert(p.to_vec());
                }
            }
        }
        Args::Stat { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Read, p);
            }
        }
        Args::Access { mode, .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Read, p);
                // Asking whether it is writable: allowed as a write.
                if mode & libc::W_OK != 0 {
                    seen.path(Kind::Write, p);
                }
            }
        }
        Args::Mkdir { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Create, p);
                seen.created.insert(p.to_vec());
                if ok {
                    seen.made_dirs.insert(p.to_vec());
                }
            }
        }
        Args::Symlink { .. } | Args::Mknod { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Create, p);
                seen.created.insert(p.to_vec());
            }
        }
        Args::Link { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Read, p);
                seen.path(Kind::Write, p);
            }
            if let Some(p) = path(1) {
                seen.path(Kind::Create, p);
                seen.created.insert(p.to_vec());
            }
        }
        Args::Attr { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Write, p);
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
                seen.path(Kind::Delete, p);
                seen.deleted.insert(p.to_vec());
            }
        }
        Args::Rename { .. } => {
            if let Some(p) = path(0) {
                seen.path(Kind::Delete, p);
                seen.deleted.insert(p.to_vec());
            }
            if let Some(p) = path(1) {
                seen.path(Kind::Create, p);
                seen.path(Kind::Delete, p);
                seen.created.insert(p.to_vec());
            }
        }
        Args::Socket { addr, .. } => {
            let bind = matches!(
                req.function,
                Function::BindUnix | Function::BindInet | Function::BindInet6
            );
            let entry = match addr {
                NetAddr::Unix(_) if addr.is_abstract() => return,
                NetAddr::Unix(raw) => {
                    let p = path(0).unwrap_or(raw);
                    if bind {
                        // A unix bind creates its socket file.
                        seen.path(Kind::Create, p);
                        seen.created.insert(p.to_vec());
                    }
                    (format!("unix:{}", String::from_utf8_lossy(p)), None)
                }
                NetAddr::Inet(a) => (a.ip().to_string(), Some(a.port())),
                NetAddr::Inet6(a) => (a.ip().to_string(), Some(a.port())),
            };
            if bind {
                seen.binds.insert(entry);
            } else {
                seen.connects.insert(entry);
            }
        }
    }
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
        seen.paths.get(&k).is_some_and(|s| s.contains(p.as_bytes()))
    }

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
        record(&mut s, &open(libc::O_RDONLY), &p("/r"), true);
        record(
            &mut s,
            &open(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            &p("/c"),
            true,
        );
        record(&mut s, &open(libc::O_RDWR), &p("/rw"), true);
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
        record(&mut s, &mkdir, &p("/made"), true);
        record(&mut s, &mkdir, &p("/existed"), false);
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
            true,
        );
        assert!(
            has(&s, Kind::Delete, "/a")
                && has(&s, Kind::Create, "/b")
                && has(&s, Kind::Delete, "/b")
        );
        // A path that did not resolve adds nothing.
        record(&mut s, &open(libc::O_RDONLY), &[None], false);
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
            true,
        );
        let symlink = Args::Symlink {
            target: b"t".to_vec(),
            at: at("s"),
        };
        record(
            &mut s,
            &req(Function::Symlink, symlink),
            &[Some(b"/w/s".to_vec())],
            true,
        );
        let link = Args::Link {
            from: at("a"),
            to: at("b"),
            flags: 0,
        };
        let both = [Some(b"/w/a".to_vec()), Some(b"/w/b".to_vec())];
        record(&mut s, &req(Function::Link, link), &both, true);
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
        record(&mut s, &req(Function::Exec, exec), &both, true);
        assert!(has(&s, Kind::Read, "/w/s.sh") && has(&s, Kind::Read, "/bin/dash"));
        assert!(!has(&s, Kind::Write, "/w/s.sh"));
    }
}
