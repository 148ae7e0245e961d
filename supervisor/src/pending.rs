//! A request waiting for the policy's answer: the copy of its arguments,
//! its thread, and (once asked for) its resolved paths.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;

use crate::request::{Args, Dir, PathArg, Request};
use crate::resolve::{self, Lookup, Resolved};
use crate::task::Task;

/// One notification handed to the policy.
pub struct Pending {
    pub id: u64,
    pub tid: u32,
    pub req: Request,
    pub task: Task,
    resolved: Option<Vec<Result<Resolved, Errno>>>,
    pub descriptors_taken: bool,
}

impl Pending {
    pub fn new(req: Request, task: Task) -> Self {
        Pending {
            id: task.id,
            tid: task.tid,
            req,
            task,
            resolved: None,
            descriptors_taken: false,
        }
    }

    /// The request's paths resolved in the program's view, now; the
    /// objects found stay held in the result until the request is answered.
    pub fn resolve(&mut self) -> Result<&[Result<Resolved, Errno>], Errno> {
        if self.resolved.is_none() {
            let follow = self.req.follows_last();
            let (empty, resolve) = match &self.req.args {
                Args::Access { flags, .. } => (flags & libc::AT_EMPTY_PATH != 0, 0),
                Args::Open { resolve, .. } => (false, *resolve),
                _ => (false, 0),
            };
            let paths: Vec<PathArg> = self.req.paths().into_iter().cloned().collect();
            let root = self.task.root()?;
            let status = self.task.status()?;
            let (pself, tself) = self.task.proc_selves()?;
            let mut out = Vec::with_capacity(paths.len());
            for p in &paths {
                let start = match self.start_of(p) {
                    Ok(fd) => fd,
                    Err(Errno::ESRCH) => return Err(Errno::ESRCH),
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let l = Lookup {
                    root: root.as_fd(),
                    start: start.as_fd(),
                    path: &p.path,
                    follow_last: follow,
                    empty_path: empty,
                    resolve,
                    proc_self: pself.as_fd(),
                    proc_thread_self: tself.as_fd(),
                    tgid: status.tgid,
                    tid: self.tid,
                };
                out.push(resolve::resolve(&l));
            }
            // What was resolved must belong to this very notification.
            self.task.check()?;
            self.resolved = Some(out);
        }
        Ok(self.resolved.as_deref().unwrap_or(&[]))
    }

    fn start_of(&self, p: &PathArg) -> Result<OwnedFd, Errno> {
        match p.dir {
            Dir::Cwd => self.task.cwd(),
            Dir::Fd(fd) => {
                if p.path.first() == Some(&b'/') {
                    // The dirfd is ignored for absolute paths (even if bad).
                    return self.task.cwd();
                }
                let o = self.task.fd_object(fd)?;
                Ok(o)
            }
        }
    }

    /// Takes the resolved paths (resolving now if not done yet).
    pub fn take_resolved(&mut self) -> Result<Vec<Result<Resolved, Errno>>, Errno> {
        self.resolve()?;
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
        for p in self.req.paths() {
            if let Dir::Fd(fd) = p.dir {
                v.push(self.task.getfd(fd)?);
            }
        }
        Ok(v)
    }
}
