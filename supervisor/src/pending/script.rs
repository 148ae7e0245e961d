//! The interpreter of a `#!` script, read from the held file for an exec:
//! the file the kernel will actually run (docs/security.md, "Exec").

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use super::Pending;
use crate::request::Args;
use crate::resolve::{self, Last, Lookup, Resolved, Target};

/// What the kernel reads of a file to know its format (BINPRM_BUF_SIZE).
const HEAD: usize = 256;
/// How many interpreters the kernel follows (a script whose interpreter is
/// a script, …): its binfmt recursion bound.
pub const DEPTH: usize = 4;

impl Pending {
    /// An exec of a `#!` script runs its interpreter (and a script
    /// interpreter's, up to the kernel's depth): each is resolved in the
    /// program's view and added after the file, for the policy to decide
    /// on and for the exec to be verified against (the last one).
    pub(super) fn interpreters(&mut self) -> Result<(), Errno> {
        if !matches!(self.req.args, Args::Exec { .. }) {
            return Ok(());
        }
        let Some(out) = self.resolved.as_mut() else {
            return Ok(());
        };
        let mut names = Vec::new();
        let mut last = out
            .last()
            .and_then(|r| r.as_ref().ok().and_then(interpreter));
        while let Some(name) = last.take() {
            if names.len() == DEPTH {
                // The kernel gives up too (ELOOP).
                out.push(Err(Errno::ELOOP));
                self.traces.resize(out.len(), Vec::new());
                self.exec_file = Some(Err(Errno::ELOOP));
                return Ok(());
            }
            names.push(name.clone());
            let root = self.task.root()?;
            let view = self.root.view_text()?;
            let start = self.task.cwd()?;
            let status = self.task.status()?;
            let (pself, tself) = self.task.proc_selves()?;
            let l = Lookup {
                root: root.as_fd(),
                view: view.as_deref(),
                start: start.as_fd(),
                path: &name,
                follow_last: true,
                names_last: false,
                empty_path: false,
                resolve: 0,
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
            self.task.settle()?;
            last = r.as_ref().ok().and_then(interpreter);
            self.traces.resize(out.len(), Vec::new());
            out.push(r);
            self.traces.push(trace);
        }
        // What the resolved path named when it was resolved (and so when
        // the policy looked), not what its name holds later.
        self.exec_file = Some(
            match out.iter().try_fold(None, |_, r| match r {
                Ok(r) => Ok(Some(r)),
                Err(e) => Err(*e),
            }) {
                Ok(Some(r)) => identity(r),
                Ok(None) => Err(Errno::EINVAL),
                Err(e) => Err(e),
            },
        );
        Ok(())
    }

    /// For an exec: the identity of the file it must run, taken when its
    /// paths were resolved (resolving them now if not done yet); a path
    /// that did not resolve is its errno.
    pub fn exec_file(&mut self) -> Result<kernel::exec::FileId, Errno> {
        self.resolve_objects(false)?;
        self.exec_file.unwrap_or(Err(Errno::EINVAL))
    }
}

/// The identity of the resolved object: the held parent's entry (not
/// followed: a symlink swapped in is not the file) or the held object.
pub fn identity(r: &Resolved) -> Result<kernel::exec::FileId, Errno> {
    match &r.target {
        Target::Entry { parent, name } => {
            let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            let fd = kernel::sys::openat(parent.as_fd(), name, flags, 0)?;
            kernel::exec::file_id(fd.as_fd())
        }
        Target::Object(fd) => kernel::exec::file_id(fd.as_fd()),
    }
}

/// The interpreter named by the first line of the regular file `r`, if it
/// is a `#!` script (read as the supervisor, on the held object: never the
/// path again).
pub fn interpreter(r: &Resolved) -> Option<Vec<u8>> {
    let Last::Exists { mode } = r.last else {
        return None;
    };
    if mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd: OwnedFd = match &r.target {
        Target::Entry { parent, name } => {
            kernel::sys::openat(parent.as_fd(), name, flags | libc::O_CLOEXEC, 0).ok()?
        }
        Target::Object(fd) => {
            let p = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
            let flags = (flags & !libc::O_NOFOLLOW) | libc::O_CLOEXEC;
            kernel::sys::openat(fd.as_fd(), &p, flags, 0).ok()?
        }
    };
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::from(fd)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .ok()?;
    parse(&head)
}

/// The interpreter's path in a file's first bytes (as binfmt_script reads
/// it: after `#!` and blanks, up to a blank, a newline or a NUL).
fn parse(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let name: Vec<u8> = line[start..]
        .iter()
        .copied()
        .take_while(|&b| b != b' ' && b != b'\t' && b != 0)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_interpreter_is_read_as_the_kernel_does() {
        assert_eq!(parse(b"#!/bin/sh\necho"), Some(b"/bin/sh".to_vec()));
        assert_eq!(
            parse(b"#! \t/usr/bin/env python3 -u\n"),
            Some(b"/usr/bin/env".to_vec())
        );
        assert_eq!(parse(b"#!sh"), Some(b"sh".to_vec()));
        assert_eq!(parse(b"#!\n/bin/sh"), None);
        assert_eq!(parse(b"\x7fELF"), None);
        assert_eq!(parse(b""), None);
    }
}
