//! The front of the request loop that any serving thread may run: receive
//! a notification's record, refuse what the posture refuses, decode (one
//! copy of every argument), validate, and either answer the request here
//! (invalid arguments, fd-only stats, a listen) or hold it for the policy.
//!
//! What it needs is shared and thread-safe (the listener, `/proc`, the
//! syscall map, the run's audit trail and root), so the serving threads of
//! `serving` run it as the main thread does.  Socket calls are decoded
//! here but finished by the session (`Session::socket`): the DNS stub is
//! the main thread's.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use bpf::SyscallMap;
use nix::errno::Errno;

use crate::act;
use crate::answer::{Answerer, Outcome};
use crate::launch::entrypoint::Entrypoint;
use crate::pending::Pending;
use crate::request::net::SockCall;
use crate::request::{self, Decoded, Request};
use crate::run::Run;
use kernel::notify::{Listener, Notif};
use kernel::task::Task;

/// What the front did with a notification.
pub enum Dispatched {
    /// Answered (or gone): nothing more to do.
    Answered,
    /// A request for the policy.
    Held(Box<Pending>),
    /// A socket call, decoded: for the session to finish.
    Socket(Notif, bpf::Sys, SockCall),
}

/// The thread-safe part of a session: see the module's documentation.
#[derive(Clone)]
pub struct Front {
    pub answerer: Answerer,
    pub proc: Arc<OwnedFd>,
    pub map: SyscallMap,
    pub run: Run,
    /// Does the filter send every credential change here (`bpf::creds`)?
    /// Then the threads' credentials are read once each
    /// (`kernel::creds::cache`).
    pub watch: bpf::creds::Watch,
    /// The syscalls the posture may refuse (see [`Refusable`]).
    pub refusable: Refusable,
}

/// The numbers of the syscalls of `bpf::posture::REFUSED` on the run's
/// architecture, looked up once: `bpf::posture::refusal` names each
/// refusal's syscall through libseccomp on every call (about 2 µs, the
/// cost of a few syscalls), and for nearly every request none matches.
/// Asked only for these numbers, it answers exactly as it would for all.
#[derive(Clone)]
pub struct Refusable(Arc<[i32]>);

impl Refusable {
    pub fn of(map: &SyscallMap) -> Refusable {
        let mut nrs: Vec<i32> = bpf::posture::REFUSED
            .iter()
            .filter_map(|r| bpf::known::number(r.name, map.arch()))
            .collect();
        nrs.sort_unstable();
        nrs.dedup();
        Refusable(nrs.into())
    }

    /// The posture's refusal of syscall `nr` with `args`, if any.
    pub fn refusal(
        &self,
        map: &SyscallMap,
        nr: i32,
        args: &[u64; 6],
    ) -> Option<bpf::posture::Refused> {
        if self.0.binary_search(&nr).is_err() {
            return None;
        }
        bpf::posture::refusal(map.arch(), nr, args)
    }
}

impl Front {
    pub fn listener(&self) -> &Arc<Listener> {
        self.answerer.listener()
    }

    /// The task of notification `n`, checked valid (which validates the
    /// copies decode took); `None` once answered (the thread is gone, or
    /// unreadable).
    pub fn task(&self, n: &Notif) -> Option<Task> {
        match Task::new(self.listener().clone(), self.proc.clone(), n.pid, n.id) {
            Ok(t) => Some(t),
            Err(Errno::ESRCH) => {
                self.run.audit.gone(n.id);
                None
            }
            Err(e) => {
                self.run.audit.supervisor(n.id, "thread unreadable");
                self.answerer.answer(n.id, n.pid, Outcome::Fail(e));
                None
            }
        }
    }

    /// A request held for the policy.
    pub fn held(&self, req: Request, task: Task) -> Box<Pending> {
        self.run.audit.request(task.id, &req);
        Box::new(Pending::new(
            req,
            task,
            self.run.root.clone(),
            self.answerer.clone(),
        ))
    }

    /// Decodes `n`; returns it if it is for the policy (or a socket call),
    /// else answers it.  `continue_files`: every file request is answered
    /// CONTINUE (`Session::continue_files`).  `entrypoint`: an attached
    /// run's first exec, the runtime's, still to come
    /// (`launch::entrypoint`; the main thread's alone).
    pub fn dispatch(
        &self,
        n: Notif,
        continue_files: bool,
        entrypoint: Option<&mut Option<Entrypoint>>,
    ) -> Dispatched {
        let sys = self.map.lookup(n.data.nr);
        let (arch, nr, args) = (self.map.arch(), n.data.nr, &n.data.args);
        // A call that may change the thread's credentials (bpf::creds).
        let watched = match (sys, self.watch) {
            (None, bpf::creds::Watch::Trapped { posture_refuses }) => {
                bpf::creds::watched(arch, nr, args).map(|name| (name, posture_refuses))
            }
            _ => None,
        };
        // A call the posture lets run, noted first (bpf::posture::noted).
        let noted = match sys {
            None => bpf::posture::noted(arch, nr),
            Some(_) => None,
        };
        let audit = &self.run.audit;
        let name = sys.map(|s| s.name()).or(watched.map(|(w, _)| w)).or(noted);
        audit.received(self.listener(), n.id, n.pid, name.unwrap_or("?"));
        let answer = |o: Outcome| self.answerer.answer(n.id, n.pid, o);
        if noted.is_some() {
            // A chroot, which the posture lets run: noted before it does
            // (pending::Root), then let through as the filter would have
            // (nothing of it is read or decided here).
            self.run.root.chroot_noted();
            audit.supervisor(
                n.id,
                "a chroot: each request's root is observed from now on",
            );
            answer(Outcome::Continue);
            return Dispatched::Answered;
        }
        // Not a call of the table: one the posture refuses (a socket
        // family, or a refusal recorded for --log/--summary), or one the
        // filter never sends.  Never let it through.  A call of the table
        // the posture refuses with some arguments (a device mknod) too.
        let refused = match (sys, watched) {
            (None, Some((_, false))) => None,
            (None, Some((_, true))) => self.refusable.refusal(&self.map, nr, args),
            (None, None) => Some(bpf::posture::refused(arch, nr, args)),
            (Some(_), _) => self.refusable.refusal(&self.map, nr, args),
        };
        if let Some(r) = refused {
            // The paths it named, for the record (valid only if the
            // notification still is after they were read).
            let mut paths = Vec::new();
            if audit.enabled() {
                paths = request::refused::paths(r.syscall, args, n.pid);
                if !self.listener().id_valid(n.id) {
                    paths.clear();
                }
            }
            audit.refused(n.id, &r, nr, &paths);
            answer(Outcome::Fail(Errno::from_raw(r.errno)));
            return Dispatched::Answered;
        }
        let Some(sys) = sys else {
            if watched.is_some() {
                // The posture allows it: the thread's kept credentials
                // are dropped before it runs (it waits for this answer).
                self.listener().credentials().changing(n.pid);
                audit.supervisor(n.id, "credentials change");
                answer(Outcome::Continue);
            }
            // (Else refused and answered above.)
            return Dispatched::Answered;
        };
        // An exec changes the thread's credentials once let through:
        // `Task::exec_begins` before any answer (below).
        let exec = matches!(sys, bpf::Sys::Execve | bpf::Sys::Execveat);
        if let Some(entry) = entrypoint.filter(|e| exec && e.is_some()) {
            let Some(mut task) = self.task(&n) else {
                return Dispatched::Answered;
            };
            if entry
                .as_ref()
                .is_some_and(|e| e.is_it(&mut task, self.proc.as_fd()))
            {
                *entry = None;
                audit.supervisor(n.id, "the runtime's exec of the container's entrypoint");
                answer(Outcome::Continue);
                return Dispatched::Answered;
            }
        }
        if continue_files && !sys.is_socket() && !audit.enabled() {
            // The policy's answer, whatever the arguments: the kernel runs
            // the call as it would without the supervisor (invalid ones
            // included), so nothing is copied, checked or decided here.
            // (With an audit log the request is decoded, for its record.)
            if exec && self.listener().credentials().enabled() {
                match self.task(&n) {
                    Some(mut t) => t.exec_begins(),
                    None => return Dispatched::Answered,
                }
            }
            answer(Outcome::Continue);
            return Dispatched::Answered;
        }
        match request::decode(sys, &n.data, n.pid) {
            Decoded::Fail(e) => {
                audit.supervisor(n.id, "invalid arguments");
                answer(Outcome::Fail(e));
                Dispatched::Answered
            }
            Decoded::Value(v) => {
                audit.supervisor(n.id, "no message to send");
                answer(Outcome::Value(v));
                Dispatched::Answered
            }
            Decoded::Socket(call) => Dispatched::Socket(n, sys, call),
            Decoded::Listen { fd, backlog } => {
                if let Some(mut t) = self.task(&n) {
                    let o = act::listen::listen(&mut t, fd, backlog);
                    self.answerer.answer(n.id, n.pid, o);
                }
                Dispatched::Answered
            }
            Decoded::FdStat { fd, out } => {
                audit.supervisor(n.id, "descriptor stat");
                if let Some(mut t) = self.task(&n) {
                    let o = act::fd_stat(&mut t, fd, out);
                    self.answerer.answer(n.id, n.pid, o);
                }
                Dispatched::Answered
            }
            Decoded::FdReadlink { fd, buf, size } => {
                audit.supervisor(n.id, "descriptor readlink");
                if let Some(mut t) = self.task(&n) {
                    let o = act::readlink::fd_readlink(&mut t, fd, buf, size);
                    self.answerer.answer(n.id, n.pid, o);
                }
                Dispatched::Answered
            }
            Decoded::Unmediated => {
                audit.supervisor(n.id, "readlink with a path, not a request");
                answer(act::readlink::unmediated());
                Dispatched::Answered
            }
            Decoded::Policy(req) => {
                // Task::new checks the notification is still valid, after
                // the copies decode took.
                match self.task(&n) {
                    Some(mut task) => {
                        if exec {
                            task.exec_begins();
                        }
                        Dispatched::Held(self.held(req, task))
                    }
                    None => Dispatched::Answered,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpf::posture::{When, REFUSED};

    /// Asking only for the numbers looked up once answers as asking
    /// `bpf::posture::refusal` for every number does, with the arguments
    /// of each refusal (a device mknod) and without.
    #[test]
    fn the_refusable_numbers_answer_as_the_posture_does() {
        let map = SyscallMap::native();
        let r = Refusable::of(&map);
        let mut argsets = vec![[0u64; 6]];
        for f in REFUSED {
            if let When::Masked { arg, values, .. } = f.when {
                for v in values {
                    let mut a = [0u64; 6];
                    a[arg as usize] = *v;
                    argsets.push(a);
                }
            }
        }
        let key = |x: Option<bpf::posture::Refused>| x.map(|x| (x.syscall, x.errno, x.target));
        let mut refused = 0;
        for nr in 0..1024 {
            for a in &argsets {
                let want = key(bpf::posture::refusal(map.arch(), nr, a));
                refused += usize::from(want.is_some());
                assert_eq!(key(r.refusal(&map, nr, a)), want, "syscall {nr}, {a:?}");
            }
        }
        assert!(refused > 0, "the posture refuses something");
    }
}
