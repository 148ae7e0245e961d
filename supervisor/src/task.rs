//! The thread behind a notification, seen through `/proc/<tid>`.
//!
//! Every read of `/proc/<tid>` is followed by
//! `SECCOMP_IOCTL_NOTIF_ID_VALID`: if the notification is still pending,
//! the thread is alive and blocked in that very syscall, so the tid was not
//! reused and what was read belongs to it.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;

use crate::notify::Listener;
use crate::sys;

/// Fields of `/proc/<tid>/status` the supervisor uses.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub tgid: u32,
    pub umask: u32,
}

/// One notifying thread, valid for one notification.
pub struct Task {
    pub tid: u32,
    pub id: u64,
    listener: Arc<Listener>,
    proc: Arc<OwnedFd>,
    dir: OwnedFd,
    status: Option<Status>,
}

impl Task {
    /// Opens `/proc/<tid>` (from the supervisor's `/proc`, `proc`).
    pub fn open(
        listener: Arc<Listener>,
        proc: Arc<OwnedFd>,
        tid: u32,
        id: u64,
    ) -> Result<Self, Errno> {
        let name = CString::new(tid.to_string()).expect("digits");
        let dir = sys::openat(
            proc.as_fd(),
            &name,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )?;
        let t = Task {
            tid,
            id,
            listener,
            proc,
            dir,
            status: None,
        };
        t.check()?;
        Ok(t)
    }

    /// The listener this task's notification came from.
    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    /// Is the notification still pending?  `Err(ESRCH)` when it is not:
    /// the thread died or was interrupted, and nothing read may be used.
    pub fn check(&self) -> Result<(), Errno> {
        if self.listener.id_valid(self.id) {
            Ok(())
        } else {
            Err(Errno::ESRCH)
        }
    }

    /// Opens `/proc/<tid>/<name>` with O_PATH, following magic links
    /// (`cwd`, `root`, `fd/N`): the program's object, not its name.
    pub fn open_path(&self, name: &str) -> Result<OwnedFd, Errno> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        let fd = sys::openat(self.dir.as_fd(), &c, libc::O_PATH | libc::O_CLOEXEC, 0)?;
        self.check()?;
        Ok(fd)
    }

    /// The program's root directory.
    pub fn root(&self) -> Result<OwnedFd, Errno> {
        self.open_path("root")
    }

    /// The program's working directory.
    pub fn cwd(&self) -> Result<OwnedFd, Errno> {
        self.open_path("cwd")
    }

    /// An O_PATH reference to the object behind the program's descriptor
    /// `fd` (EBADF when it has none).
    pub fn fd_object(&self, fd: i32) -> Result<OwnedFd, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        match self.open_path(&format!("fd/{fd}")) {
            Err(Errno::ENOENT) => {
                self.check()?;
                Err(Errno::EBADF)
            }
            r => r,
        }
    }

    /// A duplicate of the program's descriptor `fd` (same open file
    /// description), taken with `pidfd_getfd`.
    pub fn getfd(&self, fd: i32) -> Result<OwnedFd, Errno> {
        let pidfd = sys::pidfd_open_thread(self.tid)?;
        self.check()?;
        let r = sys::pidfd_getfd(pidfd.as_fd(), fd);
        self.check()?;
        r
    }

    /// `/proc/<tid>/status`, read once.
    pub fn status(&mut self) -> Result<Status, Errno> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let fd = sys::openat(
            self.dir.as_fd(),
            c"status",
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )?;
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&fd, &mut buf)?;
        self.check()?;
        let text = std::str::from_utf8(&buf[..n]).map_err(|_| Errno::EIO)?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(str::trim)
                .ok_or(Errno::EIO)
        };
        let tgid = field("Tgid:")?.parse().map_err(|_| Errno::EIO)?;
        let umask = u32::from_str_radix(field("Umask:")?, 8).map_err(|_| Errno::EIO)?;
        let s = Status { tgid, umask };
        self.status = Some(s);
        Ok(s)
    }

    /// `/proc/<tgid>` and `/proc/<tgid>/task/<tid>` from the supervisor's
    /// `/proc`: what `/proc/self` and `/proc/thread-self` mean to the program.
    pub fn proc_selves(&mut self) -> Result<(OwnedFd, OwnedFd), Errno> {
        let tgid = self.status()?.tgid;
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let me = CString::new(tgid.to_string()).expect("digits");
        let pself = sys::openat(self.proc.as_fd(), &me, flags, 0)?;
        let th = CString::new(format!("task/{}", self.tid)).expect("digits");
        let tself = sys::openat(pself.as_fd(), &th, flags, 0)?;
        self.check()?;
        Ok((pself, tself))
    }
}
