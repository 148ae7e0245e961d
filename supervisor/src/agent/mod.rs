//! `supervisor agent --socket PATH`: serves Lua policies to OCI runtimes as
//! a seccomp agent (runtime spec, config-linux.md: `listenerPath`).
//!
//! For each container the runtime connects to the socket and sends, in one
//! message, the container's state (JSON, [`state`]) with the seccomp
//! listener of the container's filter (`SCM_RIGHTS`).  The agent picks the
//! policy (the profile's `listenerMetadata`, else the annotation
//! `io.supervisor.policy`, else `--default-policy`), and starts one helper
//! process per container: the supervisor binary re-executed as `supervisor
//! __container` ([`container`]) with the listener, which runs the policy
//! and serves that container until no process is left under its filter.
//!
//! * The agent itself runs no Lua and no second thread: it accepts,
//!   receives, checks, spawns, reaps.  One container's slow or failing
//!   policy is one helper process; it never stalls another's.
//! * Each helper dies with the agent (`PR_SET_PDEATHSIG`): when the agent
//!   dies, every listener it held is closed and the kernel fails the
//!   containers' trapped calls with ENOSYS.  Nothing runs unsupervised.
//! * A container the agent cannot serve (no policy, a bad message) has its
//!   listener closed at once: the same ENOSYS; with runc the container then
//!   fails to start (its runtime's own `open` of the exec FIFO fails).
//! * Only the agent's own user (root) may connect: the socket is 0600 and
//!   the peer's credentials are checked (`SO_PEERCRED`), since whoever
//!   sends a listener gets its calls brokered with the agent's authority.

pub mod allowlist;
mod audit;
pub mod container;
pub mod profile;
pub mod state;
mod sys;

use std::fs::File;
use std::io::{IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde_json::{json, Value};

use state::ContainerState;

/// The longest state message taken (annotations included).
const MAX_MESSAGE: usize = 1 << 20;
/// The most descriptors taken with one message.
const MAX_FDS: usize = 8;
/// How long a connected runtime may take to send its message.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// `supervisor agent`'s command line.
pub struct Config {
    pub socket: PathBuf,
    pub policy_dir: PathBuf,
    /// The policy of containers that name none.
    pub default_policy: String,
    /// The agent's log: one JSON line per container served or refused,
    /// and the helpers' records of each request (agent/audit.rs).
    pub log: Option<PathBuf>,
    /// `--summary DIR`: one summary file per container (agent/audit.rs).
    pub summary: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot remove the stale socket {0}: {1}")]
    Stale(String, std::io::Error),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("cannot restrict the socket {0} to its owner: {1}")]
    Chmod(String, std::io::Error),
    #[error("cannot open the agent log {0}: {1}")]
    Log(String, std::io::Error),
    #[error("the policy directory {0} is not a directory")]
    PolicyDir(String),
    #[error("the summary directory {0} is not a directory")]
    SummaryDir(String),
    #[error("waiting for runtimes on {0}: {1}")]
    Accept(String, std::io::Error),
}

/// Why one container is not served.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the peer's credentials cannot be read: {0}")]
    PeerCred(Errno),
    #[error("uid {0} may not hand containers to the agent (only uid {1})")]
    Peer(u32, u32),
    #[error("cannot set the receive time-out: {0}")]
    Timeout(std::io::Error),
    #[error("receiving the container state: {0}")]
    Receive(Errno),
    #[error("the runtime closed the connection before the container state was complete")]
    Truncated,
    #[error("the container state is longer than {MAX_MESSAGE} bytes")]
    TooLong,
    #[error("descriptors were lost in transit (more than {MAX_FDS})")]
    TooManyFds,
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("policy name {0:?} is not a plain name (letters, digits, '.', '_', '-')")]
    BadName(String),
    #[error("no policy {name:?}: {path} is not a file")]
    NoPolicy { name: String, path: String },
    #[error("cannot pass the listener to the helper: {0}")]
    Inherit(Errno),
    #[error("cannot start the helper: {0}")]
    Spawn(std::io::Error),
}

/// The agent's log (`--log`), one JSON object per line.
struct Log(Option<File>);

impl Log {
    fn event(&mut self, mut v: Value) {
        let Some(f) = self.0.as_mut() else { return };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        v["time"] = json!(now);
        let mut line = v.to_string();
        line.push('\n');
        if let Err(e) = f.write_all(line.as_bytes()) {
            eprintln!("supervisor agent: cannot write the log: {e}");
        }
    }
}

/// A running helper: its process and the container it serves.
struct Helper {
    pid: Pid,
    id: String,
}

/// Runs the agent until it fails (it is meant to be killed); the exit code.
pub fn main(cfg: Config) -> i32 {
    match serve(&cfg) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("supervisor agent: {e}");
            crate::exit::SUPERVISOR
        }
    }
}

fn serve(cfg: &Config) -> Result<(), AgentError> {
    if !cfg.policy_dir.is_dir() {
        return Err(AgentError::PolicyDir(cfg.policy_dir.display().to_string()));
    }
    // Helpers get absolute policy paths.
    let dir = std::fs::canonicalize(&cfg.policy_dir)
        .map_err(|_| AgentError::PolicyDir(cfg.policy_dir.display().to_string()))?;
    let cfg = &Config {
        policy_dir: dir,
        socket: cfg.socket.clone(),
        default_policy: cfg.default_policy.clone(),
        log: cfg.log.clone(),
        summary: match &cfg.summary {
            Some(d) => Some(
                std::fs::canonicalize(d)
                    .ok()
                    .filter(|d| d.is_dir())
                    .ok_or_else(|| AgentError::SummaryDir(d.display().to_string()))?,
            ),
            None => None,
        },
    };
    let mut log = Log(match &cfg.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                // It holds every container's requests (agent/audit.rs).
                .mode(0o600)
                .open(p)
                .map_err(|e| AgentError::Log(p.display().to_string(), e))?,
        ),
        None => None,
    });
    let shown = cfg.socket.display().to_string();
    match std::fs::remove_file(&cfg.socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(AgentError::Stale(shown, e)),
    }
    let listener =
        UnixListener::bind(&cfg.socket).map_err(|e| AgentError::Bind(shown.clone(), e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg.socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| AgentError::Chmod(shown.clone(), e))?;
    }
    log.event(json!({ "event": "listening", "socket": shown }));
    let mut helpers: Vec<Helper> = Vec::new();
    listener
        .set_nonblocking(true)
        .map_err(|e| AgentError::Accept(shown.clone(), e))?;
    loop {
        reap(&mut helpers, &mut log);
        let mut fds = [nix::poll::PollFd::new(
            listener.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(AgentError::Accept(shown, std::io::Error::from(e))),
        }
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            // A connection that went away before it was taken.
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            Err(e) => return Err(AgentError::Accept(shown, e)),
        };
        match container(cfg, conn, log.0.as_ref()) {
            Ok((helper, st, policy)) => {
                log.event(json!({
                    "event": "serving",
                    "id": st.id,
                    "pid": st.pid,
                    "bundle": st.bundle,
                    "policy": policy.display().to_string(),
                    "helper": helper.pid.as_raw(),
                }));
                helpers.push(helper);
            }
            Err((id, e)) => {
                eprintln!(
                    "supervisor agent: container {}: not served, its trapped calls fail (ENOSYS): {e}",
                    id.as_deref().unwrap_or("?")
                );
                log.event(json!({ "event": "refused", "id": id, "reason": e.to_string() }));
            }
        }
    }
}

/// Reaps the helpers that ended.
fn reap(helpers: &mut Vec<Helper>, log: &mut Log) {
    loop {
        let s = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(s) => s,
        };
        let (pid, code) = match s {
            WaitStatus::Exited(p, c) => (p, c),
            WaitStatus::Signaled(p, sig, _) => (p, 128 + sig as i32),
            _ => continue,
        };
        if let Some(i) = helpers.iter().position(|h| h.pid == pid) {
            let h = helpers.swap_remove(i);
            log.event(
                json!({ "event": "ended", "id": h.id, "helper": pid.as_raw(), "code": code }),
            );
        }
    }
}

/// Serves one connection: receives the container, starts its helper.
/// On error the container's id if known; every descriptor received is
/// closed (the container's trapped calls then fail).
fn container(
    cfg: &Config,
    conn: UnixStream,
    log: Option<&File>,
) -> Result<(Helper, ContainerState, PathBuf), (Option<String>, Refused)> {
    let no_id = |e: Refused| (None, e);
    let peer = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| no_id(Refused::PeerCred(e)))?;
    let me = nix::unistd::geteuid().as_raw();
    if peer.uid() != me && peer.uid() != 0 {
        return Err(no_id(Refused::Peer(peer.uid(), me)));
    }
    conn.set_read_timeout(Some(RECEIVE_TIMEOUT))
        .map_err(|e| no_id(Refused::Timeout(e)))?;
    let (st, mut fds) = receive(&conn).map_err(no_id)?;
    let id = Some(st.id.clone());
    let with_id = |e: Refused| (id.clone(), e);
    let name = st.policy_name().unwrap_or(&cfg.default_policy).to_string();
    let policy = policy_path(&cfg.policy_dir, &name).map_err(with_id)?;
    let listener = fds.swap_remove(st.seccomp_fd);
    drop(fds);
    let audit = audit::helper_args(log, cfg.summary.as_deref(), &st.id);
    let pid = spawn(&listener, log, &audit, &st, &policy).map_err(with_id)?;
    Ok((
        Helper {
            pid,
            id: st.id.clone(),
        },
        st,
        policy,
    ))
}

/// Receives the state message and its descriptors.  runc does not close
/// its end after sending, so the message ends where its JSON does.
fn receive(conn: &UnixStream) -> Result<(ContainerState, Vec<OwnedFd>), Refused> {
    let mut bytes = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Refused::Receive(e)),
        };
        let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
        for c in msg.cmsgs().map_err(Refused::Receive)? {
            if let ControlMessageOwned::ScmRights(received) = c {
                for fd in received {
                    // Received just now: ours alone.
                    fds.push(sys::own_fd(fd).map_err(Refused::Receive)?);
                }
            }
        }
        if truncated {
            return Err(Refused::TooManyFds);
        }
        let n = msg.bytes;
        if n == 0 {
            return Err(Refused::Truncated);
        }
        bytes.extend_from_slice(&buf[..n]);
        if bytes.len() > MAX_MESSAGE {
            return Err(Refused::TooLong);
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Err(e) if e.is_eof() => continue,
            _ => break,
        }
    }
    let st = ContainerState::parse(&bytes, fds.len())?;
    Ok((st, fds))
}

/// Is `name` a plain policy name (letters, digits, `.`, `_`, `-`; not
/// starting with `.`)?
pub fn policy_name_ok(name: &str) -> Result<(), Refused> {
    let plain = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain {
        Ok(())
    } else {
        Err(Refused::BadName(name.to_string()))
    }
}

/// `DIR/NAME.lua` (or `DIR/NAME` if NAME ends in `.lua`), for a plain name.
pub fn policy_path(dir: &Path, name: &str) -> Result<PathBuf, Refused> {
    policy_name_ok(name)?;
    let file = if name.ends_with(".lua") {
        name.to_string()
    } else {
        format!("{name}.lua")
    };
    let path = dir.join(file);
    if !path.is_file() {
        return Err(Refused::NoPolicy {
            name: name.to_string(),
            path: path.display().to_string(),
        });
    }
    Ok(path)
}

/// Starts `supervisor __container` for one container, the listener (and
/// the agent's log, `audit`'s options) inherited.  The agent is
/// single-threaded: no other process can be started while they are
/// inheritable.
fn spawn(
    listener: &OwnedFd,
    log: Option<&File>,
    audit: &[std::ffi::OsString],
    st: &ContainerState,
    policy: &Path,
) -> Result<Pid, Refused> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    fcntl(listener, FcntlArg::F_SETFD(FdFlag::empty())).map_err(Refused::Inherit)?;
    if let Some(f) = log {
        if let Err(e) = fcntl(f, FcntlArg::F_SETFD(FdFlag::empty())) {
            let _ = fcntl(listener, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
            return Err(Refused::Inherit(e));
        }
    }
    let child = std::process::Command::new("/proc/self/exe")
        .arg0("supervisor")
        .arg(container::SUBCOMMAND)
        .arg(listener.as_raw_fd().to_string())
        .arg(std::process::id().to_string())
        .arg(st.pid.to_string())
        .arg(&st.id)
        .arg(policy)
        .args(audit)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn();
    let _ = fcntl(listener, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    if let Some(f) = log {
        let _ = fcntl(f, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    let child = child.map_err(Refused::Spawn)?;
    Ok(Pid::from_raw(child.id() as i32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;

    /// Sends `bytes` with `fds` as SCM_RIGHTS on `s`.
    fn send(s: &UnixStream, bytes: &[u8], fds: &[RawFd]) {
        use nix::sys::socket::{sendmsg, ControlMessage};
        let iov = [IoSlice::new(bytes)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let c: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        sendmsg::<()>(s.as_raw_fd(), &iov, c, MsgFlags::empty(), None).unwrap();
    }

    const STATE: &str = r#"{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":42,"metadata":"m","state":{"id":"c1","annotations":{"a":"b"}}}"#;

    #[test]
    fn a_state_in_pieces_is_received_whole_with_its_descriptor() {
        let (a, b) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let (head, tail) = STATE.as_bytes().split_at(20);
        send(&a, head, &[file.as_raw_fd()]);
        send(&a, tail, &[]);
        // The runtime keeps its end open: the JSON's end ends the message.
        let (st, fds) = receive(&b).unwrap();
        assert_eq!(st.pid, 42);
        assert_eq!(st.id, "c1");
        assert_eq!(fds.len(), 1);
        drop(a);
    }

    #[test]
    fn truncated_or_bad_messages_are_refused() {
        let (a, b) = UnixStream::pair().unwrap();
        send(&a, &STATE.as_bytes()[..30], &[]);
        drop(a);
        assert!(matches!(receive(&b), Err(Refused::Truncated)));
        let (a, b) = UnixStream::pair().unwrap();
        // A complete state, but no descriptor came with it.
        send(&a, STATE.as_bytes(), &[]);
        assert!(matches!(
            receive(&b),
            Err(Refused::State(state::StateError::FdCount { .. }))
        ));
        let (a, b) = UnixStream::pair().unwrap();
        send(&a, b"[1,2", &[]);
        send(&a, b"]", &[]);
        assert!(matches!(receive(&b), Err(Refused::State(_))));
    }

    #[test]
    fn policy_names_are_plain_names_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deny-path.lua"), "").unwrap();
        assert_eq!(
            policy_path(dir.path(), "deny-path").unwrap(),
            dir.path().join("deny-path.lua")
        );
        assert_eq!(
            policy_path(dir.path(), "deny-path.lua").unwrap(),
            dir.path().join("deny-path.lua")
        );
        for bad in ["", "../x", "/etc/passwd", ".hidden", "a/b", "a b"] {
            assert!(
                matches!(policy_path(dir.path(), bad), Err(Refused::BadName(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            policy_path(dir.path(), "missing"),
            Err(Refused::NoPolicy { .. })
        ));
    }
}
