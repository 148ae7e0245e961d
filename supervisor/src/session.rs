//! One run: the started program, its listener, and the request loop that
//! feeds the policy.
//!
//! The loop runs on the main thread: receive (blocking, woken by the
//! [`Doorbell`] for the program's exit, signals and name lookups; or, with
//! no bell thread, after polling all of them); decode (one copy of every
//! argument); validate; hand the request to the policy.  Requests the policy never sees (invalid
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
use crate::audit;
use crate::dns::Dns;
use crate::doorbell::{Doorbell, Received};
use crate::interrupt::Watch;
use crate::jobs::{Done, Job, Jobs};
use crate::launch::{LaunchError, Prepared};
use crate::notify::{Listener, Notif};
use crate::pending::Pending;
use crate::policy::Decision;
use crate::request::net::{self, Class, NetAddr, SockCall, SockOp};
use crate::request::{self, Args, Decoded, Dir, PathArg, Request};
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
    /// Watches threads with blocking work in flight, started with it.
    watch: Option<Watch>,
    /// The program's wait status, once reaped.
    status: Option<WaitStatus>,
    /// The DNS stub, started at the program's first lookup.
    dns: Option<Dns>,
    dns_failed: bool,
    /// Wakes the blocking receive for everything else; `None`: poll.
    bell: Option<Doorbell>,
    /// Every file request is answered `use_slave_credentials` (the policy
    /// returned without receiving): see [`Session::serve_continue`].
    continue_files: bool,
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
        crate::pending::set_root_fixed(prog.root_fixed());
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
        audit::program_started(child.pid.as_raw());
        // After the mask: the bell thread must not take those signals.
        let bell = Doorbell::start(&[child.pidfd.as_fd(), sigfd.as_fd()]);
        Ok(Session {
            listener: Arc::new(Listener::new(child.listener)),
            proc: Arc::new(proc),
            pid: child.pid,
            pidfd: child.pidfd,
            sigfd,
            map,
            runtime: None,
            watch: None,
            status: None,
            dns: None,
            dns_failed: false,
            bell,
            continue_files: false,
            jobs: None,
        })
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    /// The names whose lookups gave the program `ip` (none before the
    /// first lookup).
    pub fn names_of(&self, ip: std::net::IpAddr) -> Vec<String> {
        self.dns.as_ref().map_or_else(Vec::new, |d| d.names_of(ip))
    }

    /// Waits for the next request for the policy, answering the others.
    pub fn next_request(&mut self) -> Next {
        loop {
            let woke = self.bell.as_ref().map(|b| b.wait(&self.listener));
            let (sig, notif, dead) = if let Some(r) = woke {
                match r {
                    // Look at everything the bell watches.
                    Ok(Received::Rang) => {
                        if let Some(mut q) = self.dns.as_ref().and_then(|d| d.try_recv()) {
                            q.audit = audit::lookup(&q);
                            return Next::Lookup(q);
                        }
                        if let Some((token, done)) = self.jobs.as_ref().and_then(|j| j.try_recv()) {
                            return Next::Done(token, done);
                        }
                        (true, false, true)
                    }
                    Ok(Received::Notif(n)) => {
                        if let Some(p) = self.dispatch(n) {
                            return Next::Request(p);
                        }
                        continue;
                    }
                    Ok(Received::Nothing) => continue,
                    Ok(Received::Hangup) => (false, false, true),
                    Err(e) => {
                        eprintln!("supervisor: receiving a notification failed: {e}");
                        return Next::Exited(self.kill_and_reap(crate::exit::SUPERVISOR));
                    }
                }
            } else {
                if let Some(mut q) = self.dns.as_ref().and_then(|d| d.try_recv()) {
                    q.audit = audit::lookup(&q);
                    return Next::Lookup(q);
                }
                if let Some((token, done)) = self.jobs.as_ref().and_then(|j| j.try_recv()) {
                    return Next::Done(token, done);
                }
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
        let sys = self.map.lookup(n.data.nr);
        audit::received(&self.listener, n.id, n.pid, sys.map_or("?", |s| s.name()));
        let Some(sys) = sys else {
            // The filter traps nothing else; never let an unknown call through.
            audit::supervisor(n.id, "unknown syscall");
            self.listener.reply_errno(n.id, Errno::ENOSYS);
            return None;
        };
        if self.continue_files && !sys.is_socket() && !audit::enabled() {
            // The policy's answer, whatever the arguments: the kernel runs
            // the call as it would without the supervisor (invalid ones
            // included), so nothing is copied, checked or decided here.
            // (With an audit log the request is decoded, for its record.)
            self.listener.reply_continue(n.id);
            return None;
        }
        match request::decode(sys, &n.data, n.pid) {
            Decoded::Fail(e) => {
                audit::supervisor(n.id, "invalid arguments");
                self.listener.reply_errno(n.id, e);
                None
            }
            Decoded::Value(v) => {
                audit::supervisor(n.id, "no message to send");
                self.listener.reply_value(n.id, v);
                None
            }
            Decoded::Socket(call) => self.socket(&n, sys, call),
            Decoded::Listen { fd, backlog } => {
                let o = match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
                    Ok(mut t) => act::listen::listen(&mut t, fd, backlog),
                    Err(_) => Outcome::Gone,
                };
                self.answer(n.id, n.pid, o);
                None
            }
            Decoded::FdStat { fd, out } => {
                audit::supervisor(n.id, "descriptor stat");
                let o = match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
                    Ok(mut t) => act::fd_stat(&mut t, fd, out),
                    Err(_) => Outcome::Gone,
                };
                self.answer(n.id, n.pid, o);
                None
            }
            Decoded::Policy(req) => {
                audit::request(n.id, &req);
                // Task::new checks the notification is still valid, after the
                // copies decode took.
                match Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id) {
                    Ok(task) => Some(Box::new(Pending::new(req, task))),
                    Err(Errno::ESRCH) => {
                        audit::gone(n.id);
                        None
                    }
                    Err(e) => {
                        audit::supervisor(n.id, "thread unreadable");
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
            Err(Errno::ESRCH) => {
                audit::gone(n.id);
                return None;
            }
            Err(e) => {
                audit::supervisor(n.id, "thread unreadable");
                self.listener.reply_errno(n.id, e);
                return None;
            }
        };
        let sock = match Socket::of(&mut task, call.fd) {
            Ok(s) => s,
            Err(e) => {
                audit::supervisor(n.id, "not a socket");
                self.answer(n.id, n.pid, Outcome::Fail(e).normalize());
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
            audit::supervisor(n.id, "socket of an unmapped family");
            self.listener.reply_continue(n.id);
            return None;
        }
        match net::classify(&call, sock.domain) {
            Class::Mapped(addr) if act::dns::is_lookup(&call, &addr, &sock) => {
                audit::supervisor(n.id, "DNS to the stub");
                let o = match self.dns() {
                    Some(d) => act::dns::capture(d, &mut task, sock, &call),
                    None => Outcome::Fail(Errno::ECONNREFUSED),
                };
                self.answer(n.id, n.pid, o);
                None
            }
            Class::Plain => {
                audit::supervisor(n.id, "no address");
                let o = act::net::plain(&mut task, sock, &call);
                self.answer(n.id, n.pid, o);
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
                    function: crate::request::function_of_socket(call.op, &addr),
                    sys,
                    args: Args::Socket { call, addr, path },
                };
                audit::request(n.id, &req);
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
                Ok(d) => {
                    if let Some(bell) = &self.bell {
                        if let Err(e) = bell.watch(d.wake_fd()) {
                            // Lookups would wait for the next notification.
                            eprintln!("supervisor: cannot watch the DNS stub, name lookups will fail: {e}");
                            self.dns_failed = true;
                            return None;
                        }
                    }
                    self.dns = Some(d)
                }
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

    /// Answers notification `id` of thread `tid` with `o` (exactly once).
    /// Blocking work runs on a blocking thread, watched so that a signal
    /// to `tid` interrupts it as it would the program's own call.
    pub fn answer(&mut self, id: u64, tid: u32, o: Outcome) {
        match o {
            Outcome::Blocking(job) => {
                let l = self.listener.clone();
                if self.watch.is_none() {
                    self.watch = Watch::start();
                }
                let ticket = match &self.watch {
                    Some(w) => match w.register(&self.listener, &self.proc, id, tid) {
                        Ok(t) => Some(t),
                        Err(Errno::ESRCH) => return,
                        Err(e) => return answer(&l, id, Outcome::Fail(e)),
                    },
                    None => None,
                };
                let work = move || {
                    let o = match ticket {
                        Some(t) => t.run(job),
                        None => job(),
                    };
                    answer(&l, id, o)
                };
                match self.runtime() {
                    Some(rt) => drop(rt.spawn_blocking(work)),
                    // No thread to be had: do it here rather than not at all.
                    None => work(),
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
                Ok(j) => {
                    if let Some(bell) = &self.bell {
                        if let Err(e) = bell.watch(j.wake_fd()) {
                            // A result nobody wakes for would never come back.
                            eprintln!("supervisor: cannot watch the job queue: {e}");
                            crate::exit::exit(self.kill_and_reap(crate::exit::SUPERVISOR));
                        }
                    }
                    self.jobs = Some(j)
                }
                Err(e) => {
                    // Without a queue the result could never come back:
                    // the run cannot go on safely.
                    eprintln!("supervisor: cannot make the job queue: {e}");
                    crate::exit::exit(self.kill_and_reap(crate::exit::SUPERVISOR));
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
    /// the program exits; returns the exit code.  File requests are
    /// answered as they arrive, without a copy of their arguments; socket
    /// requests are still decoded, for the supervisor's own part in them
    /// (name lookups go to its DNS stub).
    pub fn serve_continue(&mut self) -> i32 {
        self.continue_files = true;
        loop {
            match self.next_request() {
                Next::Request(p) => {
                    audit::decide(audit::Key::Notif(p.id), Decision::Default);
                    self.listener.reply_continue(p.id)
                }
                Next::Lookup(q) => {
                    if let Some(k) = q.audit {
                        audit::decide(audit::Key::Lookup(k), Decision::Default);
                    }
                    q.answer(crate::dns::Answer::Upstream)
                }
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
        Outcome::Fd { fd, cloexec } => match l.inject_reply(id, fd.as_fd(), cloexec) {
            Ok(_) => {}
            Err(Errno::ENOENT) => audit::gone(id),
            Err(e) => l.reply_errno(id, e),
        },
        Outcome::Blocking(job) => answer(l, id, job()),
        Outcome::Restart => l.reply_restart(id),
        Outcome::Gone => audit::gone(id),
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
