//! One run: the started program, its listener, and the request loop that
//! feeds the policy.
//!
//! The loop runs on the main thread: poll the listener, the program's pidfd
//! and a signalfd; receive; decode (one copy of every argument); validate;
//! hand the request to the policy.  Requests the policy never sees (invalid
//! arguments, fd-only stats) are answered here.  Work that may block is
//! answered from a blocking thread so that it never stalls other requests.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use bpf::SyscallMap;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::act::net::Socket;
use crate::act::{self, Outcome};
use crate::dns::Dns;
use crate::jobs::{Done, Job, Jobs};
use crate::launch::{LaunchError, Prepared};
use crate::notify::{Listener, Notif};
use crate::pending::Pending;
use crate::request::net::{self, Class, NetAddr, SockCall, SockOp};
use crate::request::{self, Args, Decoded, Dir, Function, PathArg, Request};
use crate::sys;
use crate::task::Task;

/// What the loop produced.
pub enum Next {
    /// A request for the policy.
    Request(Box<Pending>),
    /// A name lookup for the policy (`getaddrinfo`).
    Lookup(crate::dns::Query),
    /// A job started with [`Session::spawn_job`] finished.
    Done(u64, Done),
    /// The program exited; the supervisor's exit code.
    Exited(i32),
}

pub struct Session {
    listener: Arc<Listener>,
    proc: Arc<OwnedFd>,
    pid: Pid,
    pidfd: OwnedFd,
    sigfd: SignalFd,
    map: SyscallMap,
    runtime: Option<tokio::runtime::Runtime>,
    /// The program's wait status, once reaped.
    status: Option<WaitStatus>,
    /// The DNS stub, started at the program's first lookup.
    dns: Option<Dns>,
    dns_failed: bool,
    /// Finished jobs of [`Session::spawn_job`], made at the first one.
    jobs: Option<Jobs>,
}

/// The upstream name server for lookups the policy forwards (`--dns-upstream`);
/// unset: the first nameserver of the host's resolv.conf.
pub static DNS_UPSTREAM: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

impl Session {
    /// Starts the program.  Must be called while single-threaded.
    pub fn start(prog: &Prepared, map: SyscallMap) -> Result<Self, LaunchError> {
        // Orphans of the program are reparented to the supervisor, so that
        // ending the run can end all of them.
        crate::reap::become_subreaper();
        let child = prog.spawn()?;
        // Modes the supervisor passes are exact: the program's own umask is
        // applied explicitly on every create.
        sys::umask(0);
        let mut mask = SigSet::empty();
        for s in FORWARDED {
            mask.add(s);
        }
        mask.add(Signal::SIGCHLD);
        // Blocked before any thread exists, so every later thread inherits it.
        let _ = mask.thread_block();
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(LaunchError::Setup)?;
        let proc = sys::open_dir_path(c"/proc").map_err(LaunchError::Setup)?;
        Ok(Session {
            listener: Arc::new(Listener::new(child.listener)),
            proc: Arc::new(proc),
            pid: child.pid,
            pidfd: child.pidfd,
            sigfd,
            map,
            runtime: None,
            status: None,
            dns: None,
            dns_failed: false,
            jobs: None,
        })
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    /// Waits for the next request for the policy, answering the others.
    pub fn next_request(&mut self) -> Next {
        loop {
            if let Some(q) = self.dns.as_ref().and_then(|d| d.try_recv()) {
                return Next::Lookup(q);
            }
            if let Some((token, done)) = self.jobs.as_ref().and_then(|j| j.try_recv()) {
                return Next::Done(token, done);
            }
            let (sig, notif, dead) = {
                let mut fds = vec![
                    PollFd::new(self.listener.fd(), PollFlags::POLLIN),
                    PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN),
                ];
                if let Some(d) = &self.dns {
                    fds.push(PollFd::new(d.wake_fd(), PollFlags::POLLIN));
                }
                if let Some(j) = &self.jobs {
                    fds.push(PollFd::new(j.wake_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("supervisor: poll failed: {e}");
                        return Next::Exited(self.kill_and_reap(crate::exit::SUPERVISOR));
                    }
                }
                let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
                (
                    !ready(2).is_empty(),
                    ready(0).contains(PollFlags::POLLIN),
                    !ready(1).is_empty()
                        || ready(0).intersects(PollFlags::POLLHUP | PollFlags::POLLERR),
                )
            };
            if sig {
                self.forward_signals();
            }
            if notif {
                match self.listener.recv() {
                    Ok(Some(n)) => {
                        if let Some(p) = self.dispatch(n) {
                            return Next::Request(p);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("supervisor: receiving a notification failed: {e}");
                        return Next::Exited(self.kill_and_reap(crate::exit::SUPERVISOR));
                    }
                }
                continue;
            }
            if dead || sig {
                if let Some(s) = crate::reap::reap_all(self.pid) {
                    self.status = Some(s);
                }
            }
            if let Some(code) = self.status.and_then(exit_code) {
                // The program is over: so is everything it left behind.
                crate::reap::kill_tree(self.pid);
                return Next::Exited(code);
            }
        }
    }

    /// Decodes `n`; returns it if it is for the policy, else answers it.
    fn dispatch(&mut self, n: Notif) -> Option<Box<Pending>> {
        let Some(sys) = self.map.lookup(n.data.nr) else {
            // The filter traps nothing else; never let an unknown call through.
            self.listener.reply_errno(n.id, Errno::ENOSYS);
            return None;
        };
        match request::decode(sys, &n.data, n.pid) {
            Decoded::Fail(e) => {
                self.listener.reply_errno(n.id, e);
                None
            }
            Decoded::Value(v) => {
                self.listener.reply_value(n.id, v);
                None
            }
            Decoded::Socket(call) => self.socket(&n, sys, call),
            Decoded::FdStat { fd, out } => {
                let o = match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
                    Ok(mut t) => act::fd_stat(&mut t, fd, out),
                    Err(_) => Outcome::Gone,
                };
                self.answer(n.id, o);
                None
            }
            Decoded::Policy(req) => {
                // Task::new checks the notification is still valid, after the
                // copies decode took.
                match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
                    Ok(task) => Some(Box::new(Pending::new(req, task))),
                    Err(Errno::ESRCH) => None,
                    Err(e) => {
                        self.listener.reply_errno(n.id, e);
                        None
                    }
                }
            }
        }
    }

    /// A socket call: a request for the policy if it names an inet or unix
    /// address, else done here.
    fn socket(&mut self, n: &Notif, sys: bpf::Sys, call: SockCall) -> Option<Box<Pending>> {
        let mut task = match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
            Ok(t) => t,
            Err(Errno::ESRCH) => return None,
            Err(e) => {
                self.listener.reply_errno(n.id, e);
                return None;
            }
        };
        let sock = match Socket::of(&mut task, call.fd) {
            Ok(s) => s,
            Err(e) => {
                self.answer(n.id, Outcome::Fail(e).normalize());
                return None;
            }
        };
        let flags = call.payload.as_ref().map_or(0, |p| p.flags);
        // Pass-through, safe against rewritten memory: a socket of another
        // family (netlink, packet, vsock, …) only takes addresses of its
        // own family, never an inet or unix one; a send without a
        // destination on a socket that ignores destinations cannot gain one.
        // The kernel runs these with the program's own credentials.
        if !sock.is_mapped_family()
            || (call.addr.is_none() && call.op == SockOp::Send && sock.ignores_destination(flags))
        {
            self.listener.reply_continue(n.id);
            return None;
        }
        match net::classify(&call, sock.domain) {
            Class::Mapped(addr) if act::dns::is_lookup(&call, &addr, &sock) => {
                let o = match self.dns() {
                    Some(d) => act::dns::capture(d, &mut task, sock, &call),
                    None => Outcome::Fail(Errno::ECONNREFUSED),
                };
                self.answer(n.id, o);
                None
            }
            Class::Plain => {
                let o = act::net::plain(&mut task, sock, &call);
                self.answer(n.id, o);
                None
            }
            Class::Mapped(addr) => {
                let path = match &addr {
                    NetAddr::Unix(p) if !addr.is_abstract() => Some(PathArg {
                        dir: Dir::Cwd,
                        path: p.clone(),
                    }),
                    _ => None,
                };
                let req = Request {
                    function: Function::of_socket(call.op, &addr),
                    sys,
                    args: Args::Socket { call, addr, path },
                };
                let mut p = Pending::new(req, task);
                p.sock = Some(sock);
                Some(Box::new(p))
            }
        }
    }

    /// The DNS stub, started now if need be.  A stub that cannot start
    /// (no network namespace to be had) is reported once; lookups then fail.
    fn dns(&mut self) -> Option<&Dns> {
        if self.dns.is_none() && !self.dns_failed {
            let cfg = crate::dns::Config {
                upstream: DNS_UPSTREAM.get().copied(),
            };
            match Dns::start(cfg) {
                Ok(d) => self.dns = Some(d),
                Err(e) => {
                    eprintln!("supervisor: cannot start the DNS stub, name lookups will fail: {e}");
                    self.dns_failed = true;
                }
            }
        }
        self.dns.as_ref()
    }

    /// The upstream name server of the DNS stub, once it runs.
    pub fn dns_upstream(&self) -> Option<std::net::SocketAddr> {
        self.dns.as_ref().map(|d| d.upstream())
    }

    /// The runtime of the blocking threads, made at first use.
    fn runtime(&mut self) -> Option<&tokio::runtime::Runtime> {
        if self.runtime.is_none() {
            self.runtime = tokio::runtime::Builder::new_current_thread()
                .max_blocking_threads(256)
                .thread_name("supervisor-blocking")
                .build()
                .ok();
        }
        self.runtime.as_ref()
    }

    /// Answers notification `id` with `o` (exactly once).
    pub fn answer(&mut self, id: u64, o: Outcome) {
        match o {
            Outcome::Blocking(job) => {
                let l = self.listener.clone();
                match self.runtime() {
                    Some(rt) => drop(rt.spawn_blocking(move || answer(&l, id, job()))),
                    // No thread to be had: do it here rather than not at all.
                    None => answer(&l, id, job()),
                }
            }
            o => answer(&self.listener, id, o),
        }
    }

    /// Runs `job` on a blocking thread; its result comes back from
    /// [`Session::next_request`] as `Next::Done(token, …)`.
    pub fn spawn_job(&mut self, token: u64, job: Job) {
        if self.jobs.is_none() {
            match Jobs::new() {
                Ok(j) => self.jobs = Some(j),
                Err(e) => {
                    // Without a queue the result could never come back:
                    // the run cannot go on safely.
                    eprintln!("supervisor: cannot make the job queue: {e}");
                    std::process::exit(self.kill_and_reap(crate::exit::SUPERVISOR));
                }
            }
        }
        let jobs = self.jobs.clone().expect("made above");
        match self.runtime() {
            Some(rt) => drop(rt.spawn_blocking(move || jobs.finish(token, job()))),
            None => jobs.finish(token, job()),
        }
    }

    fn forward_signals(&mut self) {
        while let Ok(Some(info)) = self.sigfd.read_signal() {
            // A signal from the terminal (pid 0) already reached the program,
            // which shares our process group; forward only those sent to us.
            if info.ssi_signo == Signal::SIGCHLD as u32 {
                continue;
            }
            if info.ssi_pid != 0 {
                if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
                    let _ = nix::sys::signal::kill(self.pid, s);
                }
            }
        }
    }

    /// Kills the program and every process it started (fail closed),
    /// reaps them; returns `code`.
    pub fn kill_and_reap(&mut self, code: i32) -> i32 {
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        crate::reap::kill_tree(self.pid);
        code
    }

    /// Serves every remaining request with `use_slave_credentials`, until
    /// the program exits; returns the exit code.
    pub fn serve_continue(&mut self) -> i32 {
        loop {
            match self.next_request() {
                Next::Request(p) => self.listener.reply_continue(p.id),
                Next::Lookup(q) => q.answer(crate::dns::Answer::Upstream),
                // Only slave filters start jobs, and they do not get here.
                Next::Done(..) => {}
                Next::Exited(code) => return code,
            }
        }
    }
}

/// Sends the answer for `o`.
pub fn answer(l: &Listener, id: u64, o: Outcome) {
    match o {
        Outcome::Value(v) => l.reply_value(id, v),
        Outcome::Fail(e) => l.reply_errno(id, e),
        Outcome::Fd { fd, cloexec } => match l.inject(id, fd.as_fd(), cloexec) {
            Ok(n) => l.reply_value(id, n.into()),
            Err(Errno::ENOENT) => {}
            Err(e) => l.reply_errno(id, e),
        },
        Outcome::Blocking(job) => answer(l, id, job()),
        Outcome::Gone => {}
    }
}

/// The supervisor's exit code for the program's wait status.
fn exit_code(s: WaitStatus) -> Option<i32> {
    match s {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}
