//! A request waiting for the policy's answer: the copy of its arguments,
//! its thread, (once asked for) its resolved paths, and where its answer
//! goes.  A [`Pending`] is answered exactly once: [`Pending::answer`]
//! consumes it, and one dropped unanswered (an internal error, a run that
//! ends) is answered `EPERM` — never a pass.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};

use nix::errno::Errno;

use crate::answer::{Answerer, Outcome};
use crate::audit::Recorder;
use crate::request::{Args, Dir, PathArg, Request};
use crate::resolve::{self, fast, Lookup, Resolved};
use kernel::task::{self, DirId, Task};

mod script;
#[cfg(test)]
mod tests;

/// The supervisor's own root: an O_PATH descriptor and its identity.
struct OurRoot {
    fd: OwnedFd,
    id: DirId,
}

/// The run's root: the program's root when it was started (or, for an
/// attached container, when the supervisor attached).  The policy is given
/// names from it, whichever root the calling process has since taken.
struct ViewRoot {
    fd: OwnedFd,
    id: DirId,
}

/// The program's root as resolution sees it, for one run (`Run::root`).
///
/// Can the program's root change during the run?  Yes: a process may
/// `chroot` into a directory (a restriction it takes on itself, as
/// Chromium's and bwrap's sandboxes do; docs/security.md, "Programs that
/// sandbox themselves"), and its processes may then have different roots.
/// So the root of the calling thread is observed on every request
/// (`statx` of `/proc/<tid>/root`) once a root may have changed: the fast
/// path applies only while it is the supervisor's own root, and the walk
/// otherwise starts from it.  Under the default posture the filter sends
/// every `chroot` to the supervisor before it runs (`bpf::posture::NOTED`)
/// and refuses every other way to change a root (a mount namespace,
/// `setns`, `pivot_root`): until a chroot is noted ([`Root::chroot_noted`])
/// every process's root is the one the program started with, and is not
/// observed per request ([`Root::set_fixed`]; docs/security.md).  What
/// the policy is told stays a name in the run's root (the *view*), never
/// one relative to the process's chroot: a chroot into a denied directory
/// cannot make what is in it appear under an allowed name.
#[derive(Default)]
pub struct Root {
    view: OnceLock<ViewRoot>,
    ours: OnceLock<Option<OurRoot>>,
    /// The program's filter sends every chroot to the supervisor and
    /// refuses every other way to change a root.
    fixed: AtomicBool,
    /// A chroot was noted: each request's root is observed from now on.
    moved: AtomicBool,
}

impl Root {
    /// A root observed on every request; names are relative to each
    /// request's own root until [`Root::set_view`].
    pub fn new() -> Root {
        Root::default()
    }

    /// The run's root: `fd` (an `O_PATH` descriptor of the program's root
    /// directory, taken before any of its code ran).  Set once.
    pub fn set_view(&self, fd: OwnedFd) -> Result<(), Errno> {
        let id = task::dir_id(fd.as_fd(), c"")?;
        let _ = self.view.set(ViewRoot { fd, id });
        Ok(())
    }

    /// The program runs under the default posture (set at its start,
    /// before any of its code runs): no root changes but by a chroot the
    /// supervisor notes first.
    pub fn set_fixed(&self) {
        self.fixed.store(true, SeqCst);
    }

    /// A process is about to chroot (noted before it is let run): roots
    /// are observed on every request from now on, for the rest of the run
    /// (which processes share the chrooting one's root, `CLONE_FS`, is not
    /// known).
    pub fn chroot_noted(&self) {
        self.moved.store(true, SeqCst);
    }

    /// Is every process's root still the one the program started with?
    fn unmoved(&self) -> bool {
        self.fixed.load(SeqCst) && !self.moved.load(SeqCst)
    }

    fn ours(&self) -> Option<&OurRoot> {
        self.ours
            .get_or_init(|| {
                let fd = kernel::sys::open_dir_path(c"/").ok()?;
                let id = task::dir_id(fd.as_fd(), c"").ok()?;
                Some(OurRoot { fd, id })
            })
            .as_ref()
    }

    /// Is the root of `task`'s thread the supervisor's, and is the run's
    /// root the supervisor's too (names need no translation)?  Read, not
    /// validated: the caller's settle() checks it before anything is done
    /// with it.
    fn is_ours(&self, task: &mut Task, ours: DirId) -> Result<bool, Errno> {
        match self.view.get() {
            Some(v) if v.id != ours => return Ok(false),
            // The run's root, which is ours, is every process's still.
            Some(_) if self.unmoved() => return Ok(true),
            _ => {}
        }
        Ok(task.root_id()? == ours)
    }

    /// The supervisor-view text of the run's root (`None`: not set, each
    /// request's own root is the view).
    fn view_text(&self) -> Result<Option<Vec<u8>>, Errno> {
        match self.view.get() {
            Some(v) => Ok(Some(resolve::fd_text(v.fd.as_fd())?)),
            None => Ok(None),
        }
    }
}

/// One notification handed to the policy.
pub struct Pending {
    pub id: u64,
    pub tid: u32,
    pub req: Request,
    pub task: Task,
    resolved: Option<Vec<Result<Resolved, Errno>>>,
    /// For each path that failed to resolve: where (see [`resolve::resolve_traced`]).
    traces: Vec<Vec<u8>>,
    pub descriptors_taken: bool,
    /// For a socket request: the program's socket.
    pub sock: Option<crate::act::net::Socket>,
    /// For an exec: the identity of the file it must run (the binary, or
    /// a script's last interpreter), taken when the paths were resolved.
    exec_file: Option<Result<kernel::exec::FileId, Errno>>,
    /// The run's view of the program's root.
    root: Arc<Root>,
    /// Where the answer goes; `None` once answered.
    answerer: Option<Answerer>,
}

impl Pending {
    pub fn new(req: Request, task: Task, root: Arc<Root>, answerer: Answerer) -> Self {
        Pending {
            root,
            answerer: Some(answerer),
            id: task.id,
            tid: task.tid,
            req,
            task,
            resolved: None,
            traces: Vec::new(),
            descriptors_taken: false,
            sock: None,
            exec_file: None,
        }
    }

    /// Answers the request with `o` (exactly once: it is consumed).
    pub fn answer(mut self: Box<Self>, o: Outcome) {
        if let Some(a) = self.answerer.take() {
            a.answer(self.id, self.tid, o);
        }
    }

    /// The run's audit trail.
    pub fn audit(&self) -> &Recorder {
        match &self.answerer {
            Some(a) => a.audit(),
            None => &NO_AUDIT,
        }
    }

    /// Installs a duplicate of `fd` at the program's descriptor `at` while
    /// the call waits, without answering it (a slave filter's `C.dup2`).
    pub fn install_at(&self, fd: BorrowedFd, at: i32) -> Result<i32, Errno> {
        match &self.answerer {
            Some(a) => a.install_at(self.id, fd, at),
            None => Err(Errno::ESRCH),
        }
    }

    /// Puts `req` in place of the request (a slave filter's rewritten
    /// call, or the program's own back); returns the one replaced.  What
    /// was resolved or taken for the old one is forgotten.
    pub fn replace_request(&mut self, req: Request) -> Request {
        self.resolved = None;
        self.exec_file = None;
        self.descriptors_taken = false;
        std::mem::replace(&mut self.req, req)
    }

    /// The request's paths resolved in the program's view, now, with their
    /// canonical text; the objects found stay held in the result until the
    /// request is answered.
    pub fn resolve(&mut self) -> Result<&[Result<Resolved, Errno>], Errno> {
        if self.resolved.as_ref().is_some_and(|v| !self.has_text(v)) {
            self.resolved = None;
        }
        self.resolve_objects(true)?;
        Ok(self.resolved.as_deref().unwrap_or(&[]))
    }

    /// Where the resolution of path `i` failed: the canonical text of the
    /// object it stopped at, or empty when the failure says nothing about
    /// the file system (see [`resolve::resolve_traced`]).  Empty for a path
    /// that resolved, or before [`Pending::resolve`].
    pub fn failure_text(&self, i: usize) -> &[u8] {
        self.traces.get(i).map_or(&[], |t| &t[..])
    }

    fn has_text(&self, v: &[Result<Resolved, Errno>]) -> bool {
        v.iter()
            .all(|r| r.as_ref().map_or(true, |r| !r.path.is_empty()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Never answered: an internal error or the end of the run.  The
        // call fails; it is never let through.
        if let Some(a) = self.answerer.take() {
            a.answer(self.id, self.tid, Outcome::Fail(Errno::EPERM));
        }
    }
}

static NO_AUDIT: std::sync::LazyLock<Recorder> = std::sync::LazyLock::new(Recorder::default);

/// Tries the fast path for every path of `req`; `None` if any needs the walk.
fn resolve_fast(
    view: &Root,
    task: &mut Task,
    req: &Request,
    want_text: bool,
    as_program: Option<fast::AsProgram>,
) -> Result<Option<Vec<Result<Resolved, Errno>>>, Errno> {
    {
        let Some(root) = view.ours() else {
            return Ok(None);
        };
        // Read, not yet validated (unless fixed for the run): nothing is
        // done with what the fast path finds before the settle() that ends
        // resolve_objects().
        if !view.is_ours(task, root.id)? {
            return Ok(None);
        }
        let paths = req.paths();
        let mut out = Vec::with_capacity(paths.len());
        for (i, p) in paths.into_iter().enumerate() {
            let follow = req.follows(i);
            let absolute = p.path.first() == Some(&b'/');
            let start = if absolute {
                None
            } else {
                match start_of(task, &req.args, p) {
                    Ok(fd) => Some(fd),
                    Err(Errno::ESRCH) => return Err(Errno::ESRCH),
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                }
            };
            let start_fd = start.as_ref().map_or(root.fd.as_fd(), |f| f.as_fd());
            match fast::resolve(start_fd, &p.path, follow, want_text, as_program) {
                Some(r) => out.push(r),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

impl Pending {
    fn resolve_objects(&mut self, want_text: bool) -> Result<(), Errno> {
        self.resolve_objects_as(want_text, None)
    }

    /// `as_program`: the fast path looks the last component up as the
    /// program ([`fast::resolve`]).
    fn resolve_objects_as(
        &mut self,
        want_text: bool,
        as_program: Option<fast::AsProgram>,
    ) -> Result<(), Errno> {
        if self.resolved.is_none() {
            let (empty, resolve) = self.req.lookup_flags();
            let plain = !empty && resolve == 0;
            if plain {
                if let Some(v) =
                    resolve_fast(&self.root, &mut self.task, &self.req, want_text, as_program)?
                {
                    // What was resolved must belong to this very notification.
                    self.task.settle()?;
                    self.traces.clear();
                    self.resolved = Some(v);
                    return self.interpreters();
                }
            }
            let paths = self.req.paths();
            let root = self.task.root()?;
            let view = self.root.view_text()?;
            let status = self.task.status()?;
            let (pself, tself) = self.task.proc_selves()?;
            let mut out = Vec::with_capacity(paths.len());
            self.traces.clear();
            for (i, p) in paths.into_iter().enumerate() {
                let follow = self.req.follows(i);
                let start = match start_of(&mut self.task, &self.req.args, p) {
                    Ok(fd) => fd,
                    Err(Errno::ESRCH) => return Err(Errno::ESRCH),
                    Err(e) => {
                        out.push(Err(e));
                        self.traces.push(Vec::new());
                        continue;
                    }
                };
                let l = Lookup {
                    root: root.as_fd(),
                    view: view.as_deref(),
                    start: start.as_fd(),
                    path: &p.path,
                    follow_last: follow,
                    names_last: self.req.names_last(i),
                    empty_path: empty,
                    resolve,
                    proc_self: pself.as_fd(),
                    proc_thread_self: tself.as_fd(),
                    tgid: status.tgid,
                    tid: self.task.tid,
                };
                let mut trace = Vec::new();
                let r = resolve::resolve_traced(&l, &mut trace);
                if r.is_ok() {
                    trace.clear();
                }
                out.push(r);
                self.traces.push(trace);
            }
            // What was resolved must belong to this very notification.
            self.task.settle()?;
            self.resolved = Some(out);
            self.interpreters()?;
        }
        Ok(())
    }

    /// Takes the resolved paths (resolving now if not done yet).
    pub fn take_resolved(&mut self) -> Result<Vec<Result<Resolved, Errno>>, Errno> {
        self.resolve_objects(false)?;
        Ok(self.resolved.take().unwrap_or_default())
    }

    /// Takes the resolved paths of a stat performed as the program with
    /// `creds`: resolved now (not asked for before), the fast path looks
    /// the entry up as the program and keeps what it found for the stat
    /// ([`Resolved::found`]).  Any other request: [`Pending::take_resolved`].
    pub fn take_resolved_for_stat_as(
        &mut self,
        creds: &std::sync::Arc<kernel::creds::Creds>,
    ) -> Result<Vec<Result<Resolved, Errno>>, Errno> {
        if !matches!(self.req.args, Args::Stat { .. }) {
            return self.take_resolved();
        }
        let lookup = |dir: BorrowedFd, name: &std::ffi::CStr| {
            kernel::creds::uring::lookup_as(creds, dir, name, false)
        };
        self.resolve_objects_as(false, Some(&lookup))?;
        Ok(self.resolved.take().unwrap_or_default())
    }

    /// The directory descriptors of the request (the dirfds of *at calls),
    /// duplicated from the program.  Once only.
    pub fn descriptors(&mut self) -> Result<Vec<OwnedFd>, Errno> {
        if self.descriptors_taken {
            return Ok(Vec::new());
        }
        self.descriptors_taken = true;
        let mut v = Vec::new();
        if let Some(s) = &self.sock {
            v.push(s.fd.try_clone().map_err(|_| Errno::EMFILE)?);
        }
        for p in self.req.paths() {
            if let Dir::Fd(fd) = p.dir {
                v.push(self.task.getfd(fd)?);
            }
        }
        Ok(v)
    }
}

/// The directory a relative path of the request starts from.
fn start_of(task: &mut Task, args: &Args, p: &PathArg) -> Result<OwnedFd, Errno> {
    match p.dir {
        Dir::Cwd => task.cwd(),
        Dir::Fd(fd) => {
            // The dirfd is ignored for absolute paths (even if bad),
            // except where openat2 scopes the path to it.
            let scoped = matches!(args, Args::Open { resolve, .. }
                if resolve & (libc::RESOLVE_IN_ROOT | libc::RESOLVE_BENEATH) != 0);
            if p.path.first() == Some(&b'/') && !scoped {
                return task.cwd();
            }
            task.fd_object(fd)
        }
    }
}
