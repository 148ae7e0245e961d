//! `supervisor __container FD AGENT PID ID POLICY` (hidden; only the agent
//! starts it): serves one container.
//!
//! A fresh single-threaded process (the agent re-executes the supervisor
//! binary: no Lua ever runs in a process that forked after starting
//! threads).  It
//!
//! 1. asks for SIGKILL when the agent dies, and exits if the agent is
//!    already gone (then the kernel fails the container's trapped calls
//!    with ENOSYS, as it would for a dead agent);
//! 2. takes the listener from descriptor FD, checked to be a seccomp
//!    listener;
//! 3. runs POLICY on it as `supervisor run` would, attached to the
//!    container's process PID (`launch::Attached`): paths are resolved
//!    from the root and working directory of each calling thread
//!    (`/proc/<tid>/root`, the container's mount namespace), never assumed
//!    to be the agent's; the run ends when no process is left under the
//!    container's filter.  A policy error kills the container.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

use nix::unistd::Pid;

use super::sys;
use crate::audit::{self, Recorder};
use crate::launch::{Attached, Prepared};
use crate::pending::Root;
use crate::run::{Run, Stop};

/// The hidden subcommand.
pub const SUBCOMMAND: &str = "__container";

struct Args {
    fd: i32,
    agent: i32,
    pid: i32,
    id: String,
    policy: PathBuf,
    /// `--log-fd N`, `--summary FILE` (agent/audit.rs).
    audit: super::audit::Options,
}

fn parse(args: &[OsString]) -> Option<Args> {
    let num = |i: usize| -> Option<i32> { args.get(i)?.to_str()?.parse().ok() };
    if args.get(1)? != SUBCOMMAND || args.len() < 7 {
        return None;
    }
    Some(Args {
        fd: num(2)?,
        agent: num(3)?,
        pid: num(4)?,
        id: args.get(5)?.to_str()?.to_string(),
        policy: PathBuf::from(args.get(6)?),
        audit: super::audit::parse(&args[7..])?,
    })
}

/// Is `fd` a seccomp listener?
fn is_listener(fd: &OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .is_ok_and(|l| l.as_os_str() == "anon_inode:seccomp notify")
}

/// A process's ids as the host sees them.
struct Ids {
    /// Real, effective, saved.
    uid: [u32; 3],
    gid: [u32; 3],
    groups: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
enum CredError {
    #[error("cannot read /proc/{0}/status: {1}")]
    Status(i32, std::io::Error),
    #[error("/proc/{0}/status has no valid {1} line")]
    Field(i32, &'static str),
    #[error("cannot read the user namespace of process {0}: {1}")]
    UserNs(i32, std::io::Error),
    #[error("the helper has {0} threads: capabilities are per thread, it must have one")]
    Threads(usize),
    #[error("cannot become uid {0} gid {1}: {2}")]
    Become(u32, u32, nix::errno::Errno),
    #[error("{0}")]
    OwnFd(String),
    #[error("cannot ask again to die with the agent after taking its ids: {0}")]
    DeathSignal(nix::errno::Errno),
    #[error("the agent died while the helper took the container's ids")]
    AgentGone,
}

/// The `Uid:`, `Gid:` (real, effective, saved) and `Groups:` of
/// /proc/<pid>/status.
fn ids_of(pid: i32) -> Result<Ids, CredError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| CredError::Status(pid, e))?;
    let field = |name: &'static str| -> Result<Vec<u32>, CredError> {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .ok_or(CredError::Field(pid, name))?;
        line.split_whitespace()
            .map(|n| n.parse().map_err(|_| CredError::Field(pid, name)))
            .collect()
    };
    let three = |name: &'static str| -> Result<[u32; 3], CredError> {
        match field(name)?[..] {
            [r, e, s, ..] => Ok([r, e, s]),
            _ => Err(CredError::Field(pid, name)),
        }
    };
    Ok(Ids {
        uid: three("Uid:")?,
        gid: three("Gid:")?,
        groups: field("Groups:")?,
    })
}

/// Brokered calls act as the container process: unless it runs as the
/// host's root (uid 0 outside any user namespace), the helper takes its
/// ids as the host sees them (a user namespace's root is its mapped
/// host uid) and keeps only CAP_SYS_PTRACE (see [`sys::become_ids`]);
/// one thread of its own keeps CAP_DAC_READ_SEARCH instead, to open a
/// process's own `/proc/<tgid>/fd` (`act::own_fd`).
/// The runtime hands the listener over after setting the process's final
/// ids (runc: right before exec), so these are the program's.
fn take_credentials(pid: i32) -> Result<(), CredError> {
    let ids = ids_of(pid)?;
    let own_ns = std::fs::read_link("/proc/self/ns/user").map_err(|e| CredError::UserNs(0, e))?;
    let its_ns = std::fs::read_link(format!("/proc/{pid}/ns/user"))
        .map_err(|e| CredError::UserNs(pid, e))?;
    if ids.uid == [0, 0, 0] && own_ns == its_ns {
        return Ok(());
    }
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    if threads != 1 {
        return Err(CredError::Threads(threads));
    }
    let agent = nix::unistd::getppid();
    // First the thread that opens a process's own /proc/<tgid>/fd (its
    // ids, CAP_DAC_READ_SEARCH only), then this one (CAP_SYS_PTRACE only).
    let (uid, gid, groups) = (ids.uid, ids.gid, ids.groups.clone());
    crate::act::own_fd::start(move || {
        sys::become_ids(uid, gid, &groups, sys::CAP_DAC_READ_SEARCH)
            .map_err(|e| CredError::Become(uid[1], gid[1], e).to_string())
    })
    .map_err(CredError::OwnFd)?;
    sys::become_ids(ids.uid, ids.gid, &ids.groups, sys::CAP_SYS_PTRACE)
        .map_err(|e| CredError::Become(ids.uid[1], ids.gid[1], e))?;
    // The kernel clears the parent-death signal when a process's
    // credentials change: ask for it again, then make sure the agent did
    // not die in between (the helper would have been reparented).
    sys::die_with_parent().map_err(CredError::DeathSignal)?;
    if nix::unistd::getppid() != agent {
        return Err(CredError::AgentGone);
    }
    Ok(())
}

/// [`take_credentials`], for `Attached::before_serving`.  A failure ends
/// the run, which kills the container: it must not run with its calls
/// brokered by a more privileged helper.
fn credentials(pid: Pid) -> Result<(), String> {
    take_credentials(pid.as_raw())
        .map_err(|e| format!("cannot take the credentials of its process: {e}"))
}

/// The helper's `main`; the exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(a) = parse(&args) else {
        eprintln!("supervisor: {SUBCOMMAND} is started by `supervisor agent` only");
        return crate::exit::SUPERVISOR;
    };
    let say = |msg: &dyn std::fmt::Display| {
        eprintln!("supervisor agent: container {}: {msg}", a.id);
    };
    if let Err(e) = sys::die_with_parent() {
        say(&format!("cannot ask to die with the agent: {e}"));
        return crate::exit::SUPERVISOR;
    }
    if nix::unistd::getppid().as_raw() != a.agent {
        // The agent died before the death signal was asked for.
        return crate::exit::SUPERVISOR;
    }
    let listener = match sys::own_fd(a.fd) {
        Ok(fd) if is_listener(&fd) => fd,
        Ok(_) => {
            say(&format!("descriptor {} is not a seccomp listener", a.fd));
            return crate::exit::SUPERVISOR;
        }
        Err(e) => {
            say(&format!("no listener at descriptor {}: {e}", a.fd));
            return crate::exit::SUPERVISOR;
        }
    };
    let _ = nix::fcntl::fcntl(
        &listener,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    // Before the policy runs and before the container's ids are taken.
    // Each denial also on the agent's stderr, one line (verbose).
    let audit = match super::audit::sinks(&a.audit, &a.id) {
        Ok(sinks) => Recorder::attached(
            &audit::Config {
                verbose: true,
                ..audit::Config::default()
            },
            sinks,
        ),
        Err(e) => {
            say(&e);
            return crate::exit::SUPERVISOR;
        }
    };
    let recorder = audit.clone();
    let run = Run {
        audit,
        dns_upstream: None,
        // The container's root is not the agent's, and whether it may
        // change is the runtime's business: observed on every request.
        root: Arc::new(Root::new()),
        policy: Some(a.policy.display().to_string()),
        // The runtime owns the container's life.
        limits: Default::default(),
        // An attached run is served by its main thread alone.
        serving_threads: None,
        container: Some(crate::run::Container {
            id: a.id.clone(),
            pid: a.pid,
        }),
    };
    let source = match crate::policy::Source::file(&a.policy) {
        Ok(s) => s,
        Err(stop) => {
            say(&stop.to_string());
            return stop.exit_code();
        }
    };
    let prepared = Prepared::attached(Attached {
        listener,
        pid: Pid::from_raw(a.pid),
        // After the policy is loaded (its file may be readable by root
        // only), before the first request.
        before_serving: Some(credentials),
    });
    let code = match crate::policy::run(&source, prepared, bpf::SyscallMap::native(), run) {
        Ok(code) => code,
        Err(stop) => {
            if let Some(msg) = stop.message() {
                say(&msg);
            }
            match stop {
                Stop::Exited(c) => c,
                stop => stop.exit_code(),
            }
        }
    };
    // The records still open (abandoned), the summary.
    if !recorder.finish() {
        return crate::exit::SUPERVISOR;
    }
    code
}
