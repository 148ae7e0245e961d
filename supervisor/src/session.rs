//! One run: the started program, its listener, and the request loop.
//!
//! [`serve`] is the one request loop: it takes the next [`Event`] from the
//! session and hands it to a [`Strategy`] — the master loop of a policy,
//! its slave filters, the spec's default (no master loop), learn — which
//! answers it or yields it to its caller.
//!
//! [`Session::next_event`] runs on the main thread: receive (blocking,
//! woken by the [`Doorbell`] for the program's exit, signals, name lookups
//! and finished jobs; or, with no bell thread, after polling all of them);
//! decode (one copy of every argument); validate; and either answer the
//! request here (invalid arguments, fd-only stats, socket calls naming no
//! mapped address) or return it as an event.  Answers leave through
//! `crate::answer`.  The steps up to the event are [`Front`]'s, which
//! the serving threads of a `rules.run` policy run too ([`serving`],
//! [`Session::serve_on_threads`]): they answer what the rules decide and
//! hand the rest to this loop.

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
use crate::act::{self};
use crate::answer::{Answerer, Lookup, Outcome};
use crate::audit::Recorder;
use crate::dns::Dns;
use crate::doorbell::{Doorbell, Received};
use crate::jobctl::JobCtl;
use crate::jobs::{Done, Job, Jobs};
use crate::launch::entrypoint::Entrypoint;
use crate::launch::{Attached, LaunchError, Prepared};
use crate::pending::Pending;
use crate::request::net::{self, Class, NetAddr, SockCall};
use crate::request::{self, Args, Dir, PathArg, Request};
use crate::run::{Run, Stop};
use kernel::notify::{Listener, Notif};
use kernel::sys;
use kernel::task::Task;

mod front;
mod serving;
#[cfg(test)]
mod tests;

pub use front::{Dispatched, Front, Refusable};
pub use serving::{Decide, Handoff, Serving};

/// What the loop hands a strategy.
pub enum Event {
    /// A request for the policy.
    Request(Box<Pending>),
    /// A name lookup for the policy (`getaddrinfo`).
    Lookup(Lookup),
    /// A job started with [`Session::spawn_job`] finished.
    Done(u64, Done),
}

/// What a strategy did with an event.
pub enum Flow<T> {
    /// Answered (or kept): take the next event.
    Next,
    /// Hand this to the strategy's caller (the policy's `receive()`).
    Yield(T),
}

/// How a run answers events: the one thing that differs between the master
/// loop, slave filters, the default and learn.
pub trait Strategy {
    /// What the strategy hands its caller.
    type Out;
    /// Handles one event.
    fn event(&mut self, ev: Event) -> Result<Flow<Self::Out>, Stop>;
}

/// The request loop: events from `next` to `strategy`, until it yields
/// (`Ok`) or the run ends (`Err`: the program exited, or a step failed).
/// `next` borrows the session only while it waits, so that a strategy can
/// run Lua that uses it.
pub fn serve<S: Strategy>(
    mut next: impl FnMut() -> Result<Event, Stop>,
    strategy: &mut S,
) -> Result<S::Out, Stop> {
    loop {
        if let Flow::Yield(out) = strategy.event(next()?)? {
            return Ok(out);
        }
    }
}

pub struct Session {
    /// What every serving thread shares: the listener, the answers,
    /// `/proc`, the syscall map, the run.
    front: Front,
    pid: Pid,
    pidfd: OwnedFd,
    sigfd: SignalFd,
    /// The program's wait status, once reaped.
    status: Option<WaitStatus>,
    /// The exit code, once the program and all it left are gone.
    ended: Option<i32>,
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
    /// Signals to the whole job, `--timeout`, the grace period.
    jobctl: JobCtl,
    /// The program was started by someone else (a container: see
    /// [`Session::attach`]): the run ends when the listener hangs up.
    attached: bool,
    /// The serving threads besides the main one ([`Session::serve_on_threads`]).
    serving: Option<Serving>,
    /// Serving threads were asked for (started or not): never again.
    serving_asked: bool,
    /// An attached run's first exec, the runtime's, still to come
    /// (`launch::entrypoint`).
    entrypoint: Option<Entrypoint>,
}

const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

impl Session {
    /// Starts the program (or attaches to it, see [`Session::attach`]).
    /// Must be called while single-threaded.
    pub fn start(prog: &Prepared, map: SyscallMap, run: &Run) -> Result<Self, LaunchError> {
        if let Some(a) = prog.attached_to() {
            if prog.has_init() {
                return Err(LaunchError::AttachedInit);
            }
            return Self::attach(a, map, run);
        }
        // Orphans of the program are reparented to the supervisor, so that
        // ending the run can end all of them.
        crate::reap::become_subreaper();
        let child = prog.spawn()?;
        run.audit.set_landlock(child.landlock);
        if let Err(e) = run.root.set_view(child.root) {
            // The keeper's death kills the program.
            let _ = sys::pidfd_send_signal(child.pidfd.as_fd(), Signal::SIGKILL as i32);
            return Err(LaunchError::Setup(e));
        }
        if prog.root_fixed() {
            run.root.set_fixed();
        }
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
        let jobctl = JobCtl::new(run.limits).map_err(LaunchError::Setup)?;
        run.audit.program_started(child.pid.as_raw());
        // After the mask: the bell thread must not take those signals.
        let bell = Doorbell::start(&[child.pidfd.as_fd(), sigfd.as_fd(), jobctl.fd()]);
        let proc = Arc::new(proc);
        let listener = Arc::new(Listener::new(child.listener));
        let watch = prog.watch();
        if matches!(watch, bpf::creds::Watch::Trapped { .. }) {
            listener.credentials().enable();
        }
        Ok(Session {
            front: Front {
                answerer: Answerer::new(listener, proc.clone(), run.audit.clone()),
                proc,
                refusable: Refusable::of(&map),
                map,
                run: run.clone(),
                watch,
            },
            pid: child.pid,
            pidfd: child.pidfd,
            sigfd,
            status: None,
            ended: None,
            dns: None,
            dns_failed: false,
            bell,
            continue_files: false,
            jobs: None,
            jobctl,
            attached: false,
            serving: None,
            serving_asked: false,
            entrypoint: None,
        })
    }

    /// Serves a program someone else started under its notify filter (a
    /// container, whose runtime handed its listener to `supervisor
    /// agent`).  The run ends when the listener hangs up — no process is
    /// left under the filter — not when the first process exits.  Nothing
    /// is forwarded to the program: its runtime owns its life.  No bell
    /// thread: the loop polls the listener, whose hang-up a blocking
    /// receive would not see.
    fn attach(a: &Attached, map: SyscallMap, run: &Run) -> Result<Self, LaunchError> {
        if let Some(f) = a.before_serving {
            f(a.pid).map_err(LaunchError::AttachedSetup)?;
        }
        let listener = a
            .listener
            .try_clone()
            .map_err(|e| LaunchError::AttachedListener(io_errno(&e)))?;
        let pidfd = sys::pidfd_open(a.pid.as_raw())
            .map_err(|e| LaunchError::AttachedPid(a.pid.as_raw(), e))?;
        // The container's root when we attach is the run's root (names are
        // given from it: pending::Root).  If it cannot be read (the
        // container's init already gone), each request's own root is.
        if let Ok(root) = crate::launch::root_of(a.pid.as_raw()) {
            // Same process: the pidfd was made before, and it still lives.
            if sys::pidfd_send_signal(pidfd.as_fd(), 0).is_ok() {
                let _ = run.root.set_view(root);
            }
        }
        sys::umask(0);
        let mut mask = SigSet::empty();
        for s in FORWARDED {
            mask.add(s);
        }
        mask.add(Signal::SIGCHLD);
        let _ = mask.thread_block();
        let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(LaunchError::Setup)?;
        let proc = Arc::new(sys::open_dir_path(c"/proc").map_err(LaunchError::Setup)?);
        // Before any exec of it is answered: the runtime's own binary.
        let entrypoint = Entrypoint::at_attach(proc.as_fd(), a.pid.as_raw());
        run.audit.program_started(a.pid.as_raw());
        // As after a launch: no process without CAP_SYS_PTRACE may ptrace
        // the helper, take its descriptors or open its /proc files.
        sys::set_not_dumpable();
        let listener = Arc::new(Listener::new(listener));
        Ok(Session {
            front: Front {
                // The runtime loaded the filter: runc 1.1 without
                // WAIT_KILLABLE_RECV (docs/containers.md).  Interrupting an
                // exec only after its CONTINUE is correct with the flag too.
                answerer: Answerer::new(listener, proc.clone(), run.audit.clone()).interruptible(),
                proc,
                refusable: Refusable::of(&map),
                map,
                run: run.clone(),
                // The runtime's filter: its credential changes are unseen.
                watch: bpf::creds::Watch::Unseen,
            },
            pid: a.pid,
            pidfd,
            sigfd,
            status: None,
            ended: None,
            dns: None,
            dns_failed: false,
            bell: None,
            continue_files: false,
            jobs: None,
            jobctl: JobCtl::new(run.limits).map_err(LaunchError::Setup)?,
            attached: true,
            serving: None,
            serving_asked: false,
            entrypoint,
        })
    }

    fn listener(&self) -> &Arc<Listener> {
        self.front.listener()
    }

    /// Where answers leave.
    pub fn answerer(&self) -> &Answerer {
        &self.front.answerer
    }

    /// The run's audit trail.
    pub fn audit(&self) -> &Recorder {
        &self.front.run.audit
    }

    /// Answers every file request with CONTINUE as it arrives, without a
    /// copy of its arguments (the spec's default with no master loop, see
    /// [`Session::next_event`]).
    pub fn continue_files(&mut self) {
        self.continue_files = true;
    }

    /// Serves the requests `decide` decides without Lua on more serving
    /// threads besides this one (`serving`): as many as the run asks
    /// (`Run::serving_threads`; by default two per CPU available, at most 4,
    /// this thread included).  Once; not for an attached run (its loop
    /// polls the listener for its hang-up), nor without a doorbell (the
    /// main thread could not be woken for what they hand over), nor when
    /// file requests are answered CONTINUE as they come.
    /// `decide` is called only the first time.
    pub fn serve_on_threads(&mut self, decide: impl FnOnce() -> Arc<Decide>) {
        if self.serving_asked {
            return;
        }
        self.serving_asked = true;
        if self.attached || self.continue_files || self.ended.is_some() {
            return;
        }
        let Some(bell) = &self.bell else {
            return;
        };
        let n = serving::count(self.front.run.serving_threads);
        if n <= 1 {
            return;
        }
        let Ok(mut s) = Serving::new(self.front.clone(), decide()) else {
            return;
        };
        // Watched before any thread can hand something over.
        if bell.watch(s.wake_fd()).is_err() {
            return;
        }
        s.spawn(n - 1);
        self.serving = Some(s);
    }

    /// The names whose lookups gave the program `ip` (none before the
    /// first lookup).
    pub fn names_of(&self, ip: std::net::IpAddr) -> Vec<String> {
        self.dns.as_ref().map_or_else(Vec::new, |d| d.names_of(ip))
    }

    /// Waits for the next event for the strategy, answering the requests
    /// it need not see.  `Err(Stop::Exited)` once the program is gone
    /// (every later call too).
    pub fn next_event(&mut self) -> Result<Event, Stop> {
        if let Some(code) = self.ended {
            return Err(self.end_of(code));
        }
        loop {
            let woke = self
                .bell
                .as_ref()
                .map(|b| b.wait(self.front.answerer.listener()));
            let (sig, notif, dead) = if let Some(r) = woke {
                match r {
                    // Look at everything the bell watches.
                    Ok(Received::Rang) => {
                        if let Some(ev) = self.queued() {
                            return Ok(ev);
                        }
                        (true, false, true)
                    }
                    Ok(Received::Notif(n)) => {
                        if let Some(p) = self.dispatch(n) {
                            return Ok(Event::Request(p));
                        }
                        continue;
                    }
                    Ok(Received::Nothing) => continue,
                    Ok(Received::Hangup) => (false, false, true),
                    Err(errno) => return Err(self.fail("receiving a notification", errno)),
                }
            } else {
                if let Some(ev) = self.queued() {
                    return Ok(ev);
                }
                // An attached run does not end with its first process: it
                // watches the signalfd twice rather than the pidfd.
                let first = if self.attached {
                    self.sigfd.as_fd()
                } else {
                    self.pidfd.as_fd()
                };
                let mut fds = vec![
                    PollFd::new(self.front.answerer.listener().fd(), PollFlags::POLLIN),
                    PollFd::new(first, PollFlags::POLLIN),
                    PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.jobctl.fd(), PollFlags::POLLIN),
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
                    Err(errno) => {
                        return Err(self.fail("waiting for the next request (poll)", errno))
                    }
                }
                let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
                let hangup = ready(0).intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
                if self.attached && hangup && !ready(0).contains(PollFlags::POLLIN) {
                    // No process is left under the filter.
                    crate::reap::reap_all(self.pid);
                    crate::reap::kill_tree(self.pid);
                    self.stop_serving();
                    self.ended = Some(0);
                    return Err(Stop::Exited(0));
                }
                (
                    !ready(2).is_empty() || !ready(3).is_empty(),
                    ready(0).contains(PollFlags::POLLIN),
                    (!self.attached && !ready(1).is_empty()) || hangup,
                )
            };
            if sig {
                self.forward_signals();
                self.jobctl.check(self.pid);
            }
            if notif {
                match self.listener().recv() {
                    Ok(Some(n)) => {
                        if let Some(p) = self.dispatch(n) {
                            return Ok(Event::Request(p));
                        }
                    }
                    Ok(None) => {}
                    Err(errno) => return Err(self.fail("receiving a notification", errno)),
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
                self.stop_serving();
                self.ended = Some(code);
                return Err(self.end_of(code));
            }
        }
    }

    /// How the run ends, the program having exited with `code`.
    fn end_of(&self, code: i32) -> Stop {
        if self.jobctl.timed_out() {
            Stop::TimedOut
        } else {
            Stop::Exited(code)
        }
    }

    /// A request a serving thread handed over, a finished lookup or job,
    /// if one waits.
    fn queued(&mut self) -> Option<Event> {
        while let Some(h) = self.serving.as_ref().and_then(Serving::pop) {
            match h {
                Handoff::Request(p) => return Some(Event::Request(p)),
                Handoff::Socket(n, sys, call) => {
                    if let Some(p) = self.socket(&n, sys, call) {
                        return Some(Event::Request(p));
                    }
                }
            }
        }
        if let Some(q) = self.dns.as_ref().and_then(|d| d.try_recv()) {
            return Some(Event::Lookup(Lookup::new(q, &self.front.run.audit)));
        }
        let (token, done) = self.jobs.as_ref().and_then(|j| j.try_recv())?;
        Some(Event::Done(token, done))
    }

    /// The loop cannot go on: kills the program; the run's end.
    fn fail(&mut self, what: &'static str, errno: Errno) -> Stop {
        self.kill_and_reap();
        Stop::Internal { what, errno }
    }

    /// Decodes `n`; returns it if it is for the policy, else answers it.
    fn dispatch(&mut self, n: Notif) -> Option<Box<Pending>> {
        match self
            .front
            .dispatch(n, self.continue_files, Some(&mut self.entrypoint))
        {
            Dispatched::Answered => None,
            Dispatched::Held(p) => Some(p),
            Dispatched::Socket(n, sys, call) => self.socket(&n, sys, call),
        }
    }

    /// A socket call: a request for the policy if it names an inet or unix
    /// address, else done here.
    fn socket(&mut self, n: &Notif, sys: bpf::Sys, call: SockCall) -> Option<Box<Pending>> {
        let mut task = self.front.task(n)?;
        let audit = self.front.run.audit.clone();
        let sock = match Socket::of(&mut task, call.fd) {
            Ok(s) => s,
            Err(e) => {
                audit.supervisor(n.id, "not a socket");
                self.front
                    .answerer
                    .answer(n.id, n.pid, Outcome::Fail(e).normalize());
                return None;
            }
        };
        // Never a pass here: the kernel would look the descriptor number up
        // again, and another thread may have put another socket there since
        // (dup2).  A socket of another family (netlink, packet, vsock, …) or
        // a send without a destination is done by the supervisor on its own
        // copy of the socket, the one it looked at.
        if !sock.is_mapped_family() {
            audit.supervisor(n.id, "socket of an unmapped family");
            let o = unmapped(&mut task, sock, &call);
            self.front.answerer.answer(n.id, n.pid, o);
            return None;
        }
        match net::classify(&call, sock.domain, sock.protocol) {
            Class::Mapped(addr) if act::dns::is_lookup(&call, &addr, &sock) => {
                audit.supervisor(n.id, "DNS to the stub");
                let o = match self.dns() {
                    Some(d) => act::dns::capture(d, &mut task, sock, &call, &addr),
                    None => Outcome::Fail(Errno::ECONNREFUSED),
                };
                self.front.answerer.answer(n.id, n.pid, o);
                None
            }
            Class::Plain => {
                audit.supervisor(n.id, "no address");
                let o = act::net::plain(&mut task, sock, &call);
                self.front.answerer.answer(n.id, n.pid, o);
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
                    function: request::function_of_socket(call.op, &addr),
                    sys,
                    args: Args::Socket { call, addr, path },
                };
                let mut p = self.front.held(req, task);
                p.sock = Some(sock);
                Some(p)
            }
        }
    }

    /// The DNS stub, started now if need be.  A stub that cannot start
    /// (no network namespace to be had) is reported once; lookups then fail.
    fn dns(&mut self) -> Option<&Dns> {
        if self.dns.is_none() && !self.dns_failed {
            let cfg = crate::dns::Config {
                upstream: self.front.run.dns_upstream,
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

    /// Runs `job` on a blocking thread; its result comes back from
    /// [`Session::next_event`] as `Event::Done(token, …)`.
    pub fn spawn_job(&mut self, token: u64, job: Job) -> Result<(), Stop> {
        if self.jobs.is_none() {
            // Without a queue the bell watches, the result could never come
            // back: the run cannot go on safely.
            let j = match Jobs::new() {
                Ok(j) => j,
                Err(errno) => return Err(self.fail("making the job queue", errno)),
            };
            if let Some(bell) = &self.bell {
                if let Err(errno) = bell.watch(j.wake_fd()) {
                    return Err(self.fail("watching the job queue", errno));
                }
            }
            self.jobs = Some(j)
        }
        let jobs = self.jobs.clone().expect("made above");
        match self.front.answerer.runtime() {
            Some(rt) => drop(rt.spawn_blocking(move || jobs.finish(token, job()))),
            None => jobs.finish(token, job()),
        }
        Ok(())
    }

    /// The signals sent to the supervisor: to the whole job (see jobctl.rs).
    fn forward_signals(&mut self) {
        while let Ok(Some(info)) = self.sigfd.read_signal() {
            if self.attached {
                // The runtime owns the program's life.
                continue;
            }
            if info.ssi_signo == Signal::SIGCHLD as u32 {
                continue;
            }
            if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
                self.jobctl.signal(self.pid, s, info.ssi_pid);
            }
        }
    }

    /// Kills the program and every process it started (fail closed),
    /// and reaps them.
    pub fn kill_and_reap(&mut self) {
        if self.attached {
            // Not our child: by its pidfd, never a process that reused the
            // pid.  The container's init: its pid namespace dies with it.
            let _ = sys::pidfd_send_signal(self.pidfd.as_fd(), Signal::SIGKILL as i32);
            crate::reap::kill_tree(self.pid);
            return;
        }
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        crate::reap::kill_tree(self.pid);
        self.stop_serving();
    }

    /// Ends the serving threads, once the program is over: every request
    /// they took is answered (and recorded) before the run's end.
    fn stop_serving(&mut self) {
        if let Some(mut s) = self.serving.take() {
            s.stop();
        }
    }
}

/// A call on a socket of an unmapped family, done on the supervisor's copy
/// with no capability the program thread lacks: for these families the
/// kernel checks the caller's (a netlink multicast group needs
/// `CAP_NET_ADMIN`), and the supervisor may be root for an unprivileged
/// program.  Work that blocks is lowered on the thread that does it.
fn unmapped(task: &mut Task, sock: Socket, call: &SockCall) -> Outcome {
    let refused = |e: kernel::creds::SwitchError| {
        eprintln!("supervisor: cannot lower the capabilities: {e}");
        Outcome::Fail(Errno::EPERM)
    };
    let program = match task.creds().and_then(|c| task.settle().map(|()| c)) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e).normalize(),
    };
    let lowered = match kernel::creds::own_lowered_to(program.cap_eff) {
        Ok(l) => std::sync::Arc::new(l),
        Err(e) => return refused(e),
    };
    // On an acting thread: the session thread's own credentials are never
    // committed anew (a commit that changes capabilities also clears the
    // committing thread's PR_SET_PDEATHSIG).
    let o = match kernel::creds::run_as(&lowered, || act::net::plain(task, sock, call)) {
        Ok(o) => o,
        Err(e) => return refused(e),
    };
    match o {
        Outcome::Blocking(job) => Outcome::Blocking(Box::new(move || {
            kernel::creds::run_here(&lowered, job).unwrap_or_else(refused)
        })),
        o => o,
    }
}

/// The errno of an I/O error (EIO if it has none).
fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The supervisor's exit code for the program's wait status.
fn exit_code(s: WaitStatus) -> Option<i32> {
    match s {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}
