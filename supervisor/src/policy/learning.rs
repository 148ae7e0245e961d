//! What a learning run (`supervisor learn --base`) notes of the rules'
//! denials: the (kind, subject) pairs denied, by a rule or only by a
//! kind's default.  Shared by the rules (which fill it) and the policy's
//! state (which holds it); the `learn` module reads it.

use std::net::IpAddr;

use ::rules::Kind;

/// What a (kind, subject) pair was checked on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// A canonical path (or where it failed to resolve), an object's text
    /// (`pipe:[12]`), a unix socket's path or `@name` (connect, bind).
    Path(Vec<u8>),
    /// An address and port (connect, bind).
    Addr(IpAddr, u16),
    /// A name (resolve).
    Name(String),
}

/// A (kind, subject) pair denied.
#[derive(Clone, Debug)]
pub struct Denied {
    pub kind: Kind,
    pub subject: Subject,
    /// The path did not resolve: `subject` is where it failed (a probe of
    /// something missing).
    pub missing: bool,
    /// The rule that denied it (its audit text); `None`: the kind's
    /// default.
    pub rule: Option<String>,
}

/// What a learning run (`supervisor learn --base`) noted: one (kind,
/// subject) pair the rules denied only by its default, which the run
/// allowed instead (`what.rule` is `None`), or denied by a rule, which
/// stayed denied and is never learnt.
#[derive(Clone, Debug)]
pub struct Learnt {
    /// The request's function (`open`, `stat`, `getaddrinfo`…).
    pub function: &'static str,
    pub what: Denied,
    /// Its first path did not exist before (a mkdir that makes it).
    pub new: bool,
    /// An open with `O_CREAT`: it creates or writes, whichever the file's
    /// existence makes it.
    pub creat: bool,
}
