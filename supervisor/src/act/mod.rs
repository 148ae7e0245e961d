//! Acting on a decision: a [`Verdict`] (what the policy answered) carried
//! out on exactly the request the policy saw, on the objects resolved for
//! it, into the [`Outcome`] the answer module sends.

mod attr;
pub mod authority;
pub mod backstop;
mod bindname;
pub mod dns;
mod exec;
mod file;
mod link;
pub mod listen;
pub mod net;
pub mod opath;
pub mod own_fd;
pub mod readlink;
pub mod stat;
mod sys;

use std::os::fd::OwnedFd;

use nix::errno::Errno;

use crate::answer::{Job, Outcome};
use crate::pending::Pending;
use crate::request::net::SockOp;
use crate::request::Args;
use authority::Authority;
use stat::FakeStat;

pub use file::{fd_stat, stat_values};

/// What a policy answered a request (the spec's four answers).
pub enum Verdict {
    /// `use_slave_credentials`: the kernel performs the call (CONTINUE).
    Kernel,
    /// `use_master_credentials`: the supervisor performs exactly the call
    /// the policy saw.
    Perform,
    /// `use_program_credentials`: the supervisor performs exactly the call
    /// the policy saw, with the program thread's credentials.
    AsProgram,
    /// `send(result)`: the call returns `result` (a send the policy lets
    /// succeed reports its data sent).
    Value(i64),
    /// The call returns exactly this (a slave filter's return value).
    Returns(i64),
    /// This descriptor is installed and is the call's result (an open).
    Fd(OwnedFd),
    /// `send(-1, errno)`.
    Fail(Errno),
    /// `send(table)` for a stat: the table is the program's result.
    Stat(FakeStat),
    /// `send_with_fds(result, fds)`: the descriptors are installed in the
    /// program; an open returns the first (`then` `None`), another call
    /// gets `then`; on a socket request the first takes the place of the
    /// program's socket.
    Fds {
        fds: Vec<OwnedFd>,
        then: Option<Box<Verdict>>,
    },
}

/// Carries out `v` on `p`: what to answer.
pub fn carry_out(p: &mut Pending, v: Verdict) -> Outcome {
    match v {
        Verdict::Kernel => continued(p),
        Verdict::Perform => perform(p),
        Verdict::AsProgram => perform_as_program(p),
        Verdict::Fail(e) => Outcome::Fail(e),
        Verdict::Returns(v) => Outcome::Value(v),
        Verdict::Fd(fd) => match opath::installable(fd) {
            Ok(fd) => Outcome::Fd {
                fd,
                cloexec: open_cloexec(&p.req.args),
            },
            Err(e) => Outcome::Fail(e),
        },
        Verdict::Value(v) => match &p.req.args {
            // A send the policy lets "succeed" reports its data sent.
            Args::Socket { call, .. } if call.op == SockOp::Send => {
                net::pretend_sent(&p.task, call)
            }
            _ => Outcome::Value(v),
        },
        Verdict::Stat(fake) => match p.req.args {
            Args::Stat { out, .. } => stat::write_fake(&mut p.task, out, &fake).into(),
            _ => Outcome::Fail(Errno::EINVAL),
        },
        Verdict::Fds { mut fds, then } => {
            if let Args::Socket { call, .. } = &p.req.args {
                if fds.is_empty() {
                    return Outcome::Fail(Errno::EINVAL);
                }
                let call = call.clone();
                return net::replace(p, fds.swap_remove(0), &call);
            }
            let cloexec = open_cloexec(&p.req.args);
            let fds = match fds
                .into_iter()
                .map(opath::installable)
                .collect::<Result<Vec<OwnedFd>, Errno>>()
            {
                Ok(fds) => fds,
                Err(e) => return Outcome::Fail(e),
            };
            let then: Option<Job> = match then {
                None => None,
                Some(v) => {
                    let o = carry_out(p, *v);
                    Some(Box::new(move || o))
                }
            };
            Outcome::Install {
                fds: fds.into_iter().map(|f| (f, None)).collect(),
                cloexec,
                then,
            }
        }
    }
}

/// The kernel is to perform `p` (the policy's choice: CONTINUE), unless
/// the init script's Landlock backstop refuses it there, unseen: then it
/// is refused here, with the same errno, and recorded (act/backstop.rs).
pub fn continued(p: &mut Pending) -> Outcome {
    match backstop::refusal(p, p.audit().landlock()) {
        Some(why) => {
            let key = crate::audit::Key::Notif(p.id);
            p.audit().decide(key, crate::audit::Decision::Landlock(why));
            Outcome::Fail(Errno::EACCES)
        }
        None => Outcome::Continue,
    }
}

/// Is the descriptor an open returns close-on-exec?
fn open_cloexec(args: &Args) -> bool {
    matches!(args, Args::Open { flags, .. } if flags & libc::O_CLOEXEC != 0)
}

/// Performs `p` with the supervisor's authority.
pub fn perform(p: &mut Pending) -> Outcome {
    perform_with(p, Ok(Authority::Supervisor))
}

/// Performs `p` with the program thread's credentials.
pub fn perform_as_program(p: &mut Pending) -> Outcome {
    let who = Authority::program(&mut p.task);
    perform_with(p, who)
}

fn perform_with(p: &mut Pending, who: Result<Authority, Errno>) -> Outcome {
    let r = who.and_then(|who| match p.req.args {
        Args::Socket { .. } => net::perform(p, &who),
        // The kernel runs the file, with the program's credentials either
        // way: verified at the exec event.
        Args::Exec { .. } => exec::perform(p),
        _ => file::perform(p, &who),
    });
    match r {
        Ok(o) => o,
        Err(Errno::ESRCH) => Outcome::Gone,
        Err(e) => Outcome::Fail(e),
    }
}
