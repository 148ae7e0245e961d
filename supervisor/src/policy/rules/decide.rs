//! A request → the (kind, subject) pairs it is checked as → one choice:
//! perform it (race-free, or as the program), refuse it, or tell the
//! errno its path failed with.
//!
//! Paths are decided on their canonical text in the program's view
//! (`Pending::resolve`: symlinks followed as the call follows them), the
//! objects the supervisor then acts on.  A path that failed to resolve is
//! decided on where it failed (`Pending::failure_text`): its errno is told
//! only if the request's kinds are allowed there, so a failure never
//! reveals what lies where the rules deny.

use std::net::IpAddr;

use nix::errno::Errno;

use crate::pending::Pending;
use crate::policy::learning::{Denied, Subject};
use crate::request::net::{NetAddr, SockOp};
use crate::request::Args;
use crate::resolve::{Last, Resolved};
use ::rules::{Action, How, Kind, Refusal, Ruleset, Verdict};

/// How to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `use_program_credentials()`.
    Program,
    /// `use_master_credentials()`.
    Master,
    /// `use_slave_credentials()`.
    Slave,
    /// A denial.
    Refuse(Refusal),
    /// Allowed, but the call fails with this errno (its path does not
    /// resolve): performing it (`use_master_credentials()`) gives the
    /// errno, as the call would.
    Fail(i32),
}

/// A change to an allowed open, so that what the supervisor performs is
/// exactly what was decided even if the file appears or disappears after
/// the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenFix {
    None,
    /// Decided as creating a missing file where writing an existing one is
    /// not allowed: add `O_EXCL`.
    AddExcl,
    /// Decided as opening an existing file where creating one is not
    /// allowed: drop `O_CREAT`.
    DropCreat,
}

/// The decision on one request.
#[derive(Clone, Debug)]
pub struct Choice {
    pub answer: Answer,
    /// For the audit log: `rule 3 (allow read /usr/)`, `default deny write`.
    pub text: String,
    pub fix: OpenFix,
    /// The pairs denied, with their subjects (a rename's carried denials
    /// have none and are left out).  Learn mode allows and learns a
    /// denial made only by defaults.
    pub denied: Vec<Denied>,
}

/// What the request does, copied before its paths are resolved.
enum Shape {
    Open {
        flags: i32,
    },
    Only(Kind),
    Rename {
        exchange: bool,
    },
    /// `bind` and `create` on a unix socket's path.
    BindUnix,
    Link,
}

fn shape(p: &Pending) -> Shape {
    match &p.req.args {
        Args::Open { flags, .. } => Shape::Open { flags: *flags },
        Args::Stat { .. } | Args::Access { .. } => Shape::Only(Kind::Read),
        Args::Mkdir { .. } => Shape::Only(Kind::Create),
        // Metadata: changing a file is writing it (docs/rules.md).
        Args::Attr { .. } => Shape::Only(Kind::Write),
        // Running a file is reading it; a script's interpreter too (the
        // second path: docs/rules.md).
        Args::Exec { .. } => Shape::Only(Kind::Read),
        Args::Symlink { .. } | Args::Mknod { .. } => Shape::Only(Kind::Create),
        // A second name for a file lets it be written there: the source
        // must be readable and writable (docs/rules.md).
        Args::Link { .. } => Shape::Link,
        Args::Unlink { .. } => Shape::Only(Kind::Delete),
        Args::Rename { flags, .. } => Shape::Rename {
            exchange: flags & libc::RENAME_EXCHANGE != 0,
        },
        // A unix bind creates its socket file: `create` on the path too.
        Args::Socket { call, addr, .. }
            if call.op == SockOp::Bind
                && matches!(addr, NetAddr::Unix(_))
                && !addr.is_abstract() =>
        {
            Shape::BindUnix
        }
        Args::Socket { call, .. } => Shape::Only(if call.op == SockOp::Bind {
            Kind::Bind
        } else {
            Kind::Connect
        }),
    }
}

/// The kinds an open is, given what its last component was (`None`: the
/// path did not resolve).
pub(super) fn open_kinds(flags: i32, last: Option<Last>) -> Vec<Kind> {
    if flags & libc::O_PATH != 0 {
        return vec![Kind::Read];
    }
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return vec![Kind::Create];
    }
    if flags & libc::O_CREAT != 0
        && (flags & libc::O_EXCL != 0 || !matches!(last, Some(Last::Exists { .. } | Last::Dot)))
    {
        return vec![Kind::Create];
    }
    let acc = flags & libc::O_ACCMODE;
    let mut v = Vec::with_capacity(2);
    if acc != libc::O_WRONLY {
        v.push(Kind::Read);
    }
    if acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
        v.push(Kind::Write);
    }
    v
}

#[cfg(test)]
pub fn open_kinds_for_test(flags: i32, last: Option<Last>) -> Vec<Kind> {
    open_kinds(flags, last)
}

fn kinds_of(shape: &Shape, i: usize, last: Option<Last>) -> Vec<Kind> {
    match *shape {
        Shape::Open { flags } => open_kinds(flags, last),
        Shape::Only(k) => vec![k],
        Shape::BindUnix => vec![Kind::Bind, Kind::Create],
        Shape::Link => match i {
            0 => vec![Kind::Read, Kind::Write],
            _ => vec![Kind::Create],
        },
        Shape::Rename { exchange } => match (i, exchange) {
            (0, false) => vec![Kind::Delete],
            _ => vec![Kind::Delete, Kind::Create],
        },
    }
}

/// Combines the verdicts of one request; `subjects[i]` is what
/// `verdicts[i]` was checked on (`None`: a rename's carried denial), and
/// whether its path failed to resolve.
fn combine(
    set: &Ruleset,
    verdicts: &[Verdict],
    subjects: &[Option<(Subject, bool)>],
    failed: Option<i32>,
) -> Choice {
    if let Some(v) = verdicts.iter().find(|v| v.action == Action::Deny) {
        let denied = verdicts
            .iter()
            .zip(subjects)
            .filter(|(v, _)| v.action == Action::Deny)
            .map(|(v, s)| match s {
                Some((subject, missing)) => Denied {
                    kind: v.kind,
                    subject: subject.clone(),
                    missing: *missing,
                    rule: v.rule.map(|_| set.describe(v)),
                },
                // A rename carrying a denial along: by a rule.
                None => Denied {
                    kind: v.kind,
                    subject: Subject::Path(Vec::new()),
                    missing: false,
                    rule: Some(set.describe(v)),
                },
            })
            .collect();
        return Choice {
            answer: Answer::Refuse(v.refusal),
            text: set.describe(v),
            fix: OpenFix::None,
            denied,
        };
    }
    let mut text = String::new();
    for v in verdicts {
        let d = set.describe(v);
        if !text.split(" + ").any(|t| t == d) {
            if !text.is_empty() {
                text.push_str(" + ");
            }
            text.push_str(&d);
        }
    }
    let answer = match failed {
        Some(e) => Answer::Fail(e),
        None if verdicts.iter().all(|v| v.how == How::Slave) => Answer::Slave,
        // The supervisor's authority only where every rule allowing a part
        // of the call asks for it (a rename allowed as the program at its
        // source stays the program's).
        None if verdicts.iter().any(|v| v.how == How::Program) => Answer::Program,
        None => Answer::Master,
    };
    Choice {
        answer,
        text,
        fix: OpenFix::None,
        denied: Vec::new(),
    }
}

/// A request no rule can apply to: it fails with `e` whatever the rules.
fn invalid(e: Errno, why: &str) -> Choice {
    Choice {
        answer: Answer::Fail(e as i32),
        text: format!(
            "{why} ({})",
            libc_service::errno::name(e as i32).unwrap_or("?")
        ),
        fix: OpenFix::None,
        denied: Vec::new(),
    }
}

/// Decides the name lookup of `name`.
pub fn lookup(set: &Ruleset, name: &str) -> Choice {
    let v = set.name(name);
    let s = Some((Subject::Name(name.to_owned()), false));
    let mut c = combine(set, &[v], &[s], None);
    if matches!(c.answer, Answer::Slave | Answer::Program) {
        c.answer = Answer::Master; // all mean the supervisor's resolver
    }
    c
}

/// Decides request `p`.  `names_of` gives the names an address was learnt
/// from (for `name:` rules).
pub fn request(set: &Ruleset, p: &mut Pending, names_of: &dyn Fn(IpAddr) -> Vec<String>) -> Choice {
    let shape = shape(p);
    if let Args::Socket { addr, .. } = &p.req.args {
        let kind = match shape {
            Shape::Only(k) => k,
            Shape::BindUnix => Kind::Bind,
            _ => Kind::Connect,
        };
        // The names an address was learnt from matter to `name:` rules only.
        let names = |ip| {
            if set.links.is_empty() || kind != Kind::Connect {
                Vec::new()
            } else {
                names_of(ip)
            }
        };
        let v = match addr {
            NetAddr::Inet(a) => {
                let ip = IpAddr::V4(*a.ip());
                Some((
                    set.addr(kind, ip, a.port(), &names(ip)),
                    Subject::Addr(ip, a.port()),
                ))
            }
            NetAddr::Inet6(a) => {
                let ip = IpAddr::V6(*a.ip());
                Some((
                    set.addr(kind, ip, a.port(), &names(ip)),
                    Subject::Addr(ip, a.port()),
                ))
            }
            NetAddr::Unix(name) if addr.is_abstract() => {
                let mut text = Vec::with_capacity(name.len());
                text.push(b'@');
                text.extend_from_slice(&name[1..]);
                Some((set.path(kind, &text), Subject::Path(text)))
            }
            NetAddr::Unix(_) => None,
        };
        if let Some((v, s)) = v {
            return combine(set, &[v], &[Some((s, false))], None);
        }
    }
    // Paths: resolve, then read where failures stopped.
    if let Err(e) = p.resolve() {
        return invalid(e, "the request could not be resolved");
    }
    let n = p.resolve().map_or(0, |rs| rs.len());
    let traces: Vec<Vec<u8>> = (0..n).map(|i| p.failure_text(i).to_vec()).collect();
    let rs = match p.resolve() {
        Ok(rs) => rs,
        Err(e) => return invalid(e, "the request could not be resolved"),
    };
    let mut verdicts = Vec::with_capacity(3);
    let mut subjects = Vec::with_capacity(3);
    let mut failed = None;
    let mut fix = OpenFix::None;
    for (i, r) in rs.iter().enumerate() {
        match r {
            Ok(r) => {
                for k in kinds_of(&shape, i, Some(r.last)) {
                    verdicts.push(set.path(k, &r.path));
                    // Reading what is not there: a probe.
                    let probe = k == Kind::Read && r.last == Last::Missing;
                    subjects.push(Some((Subject::Path(r.path.clone()), probe)));
                }
                if let Shape::Open { flags } = shape {
                    fix = open_fix(set, flags, r.last, &r.path);
                    // A device's content is not its path's: a raw disk holds
                    // every file, denied or not.
                    if flags & libc::O_PATH == 0 && crate::policy::device::kind_of(r).is_some() {
                        verdicts.push(set.path(Kind::Device, &r.path));
                        subjects.push(Some((Subject::Path(r.path.clone()), false)));
                    }
                }
            }
            Err(e) => {
                // An exec's interpreters come after its paths.
                let t = traces.get(i).map_or(&[][..], Vec::as_slice);
                if t.is_empty() {
                    return invalid(*e, "the path is invalid");
                }
                failed = failed.or(Some(*e as i32));
                for k in kinds_of(&shape, i, None) {
                    verdicts.push(set.path(k, t));
                    subjects.push(Some((Subject::Path(t.to_vec()), true)));
                }
            }
        }
    }
    match (&shape, rs) {
        (Shape::Rename { exchange }, [Ok(a), Ok(b)]) => {
            verdicts.extend(moved(set, a, b, &PATH_KINDS));
            if *exchange {
                verdicts.extend(moved(set, b, a, &PATH_KINDS));
            }
        }
        (Shape::Link, [Ok(a), Ok(b)]) => verdicts.extend(moved(set, a, b, &LINK_CARRIES)),
        _ => {}
    }
    subjects.resize(verdicts.len(), None);
    if verdicts.is_empty() {
        return invalid(Errno::EINVAL, "the request names nothing");
    }
    let mut c = combine(set, &verdicts, &subjects, failed);
    if matches!(c.answer, Answer::Master | Answer::Program) {
        c.fix = fix;
    }
    c
}

/// The kinds a path has whatever the request: what a rename carries along.
const PATH_KINDS: [Kind; 7] = [
    Kind::Read,
    Kind::Write,
    Kind::Create,
    Kind::Delete,
    Kind::Connect,
    Kind::Bind,
    Kind::Device,
];

/// What a hard link carries to its new name beyond the `read` and `write`
/// its source is checked for: a second name of a unix socket whose
/// `connect` a rule denies would be connectable under it, of a device
/// whose `device` a rule denies openable (docs/rules.md, "Renames").
/// Not `delete` (removing the new name leaves the old one), nor `create`
/// and `bind` (they are of names, not of the object).
const LINK_CARRIES: [Kind; 2] = [Kind::Connect, Kind::Device];

/// The denials of `kinds` a rename (or a link) of `from` to `to` would
/// lift: a rename gives the object moved, and for a directory everything
/// below it, new names; a link gives a file a second one.  Any kind a
/// rule denies at the old name (or anywhere below it) but allowed at the
/// new one (or somewhere below it) refuses the call (docs/rules.md,
/// "Renames").  A kind's default is no rule: what no rule names moves as
/// freely as it could be created at its new name.
fn moved(set: &Ruleset, from: &Resolved, to: &Resolved, kinds: &[Kind]) -> Vec<Verdict> {
    let Last::Exists { mode } = from.last else {
        return Vec::new();
    };
    let dir = mode & libc::S_IFMT == libc::S_IFDIR;
    let mut out = Vec::new();
    for &k in kinds {
        let here = set.path(k, &from.path);
        let ruled = here.rule.is_some() && here.action == Action::Deny;
        if ruled && set.path(k, &to.path).action == Action::Allow {
            out.push(here);
            continue;
        }
        if !dir {
            continue;
        }
        if let Some(v) = set
            .below(k, &from.path, Action::Deny)
            .filter(|v| v.rule.is_some())
        {
            if set.below(k, &to.path, Action::Allow).is_some() {
                out.push(v);
            }
        }
    }
    out
}

/// The [`OpenFix`] for an open with `flags` of `path` whose last
/// component was `last`.
fn open_fix(set: &Ruleset, flags: i32, last: Last, path: &[u8]) -> OpenFix {
    if flags & libc::O_CREAT == 0 || flags & (libc::O_PATH | libc::O_EXCL) != 0 {
        return OpenFix::None;
    }
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return OpenFix::None;
    }
    let allowed = |k| set.path(k, path).action == Action::Allow;
    match last {
        Last::Missing if !allowed(Kind::Write) => OpenFix::AddExcl,
        Last::Exists { .. } | Last::Dot if !allowed(Kind::Create) => OpenFix::DropCreat,
        _ => OpenFix::None,
    }
}

/// Applies `fix` to the copy of the request the supervisor performs.
pub fn apply(p: &mut Pending, fix: OpenFix) {
    if let Args::Open { flags, .. } = &mut p.req.args {
        match fix {
            OpenFix::None => {}
            OpenFix::AddExcl => *flags |= libc::O_EXCL,
            OpenFix::DropCreat => *flags &= !(libc::O_CREAT | libc::O_EXCL),
        }
    }
}
