//! The thread behind a notification, seen through `/proc/<tid>`.
//!
//! Every read of `/proc/<tid>` (or of the program's memory) must be
//! followed by `SECCOMP_IOCTL_NOTIF_ID_VALID` before what was read is used
//! to act: if the notification is still pending, the thread is alive and
//! blocked in that very syscall, so its tid was not reused and what was
//! read belongs to it.  [`Task`] tracks this: every read marks it *dirty*,
//! and [`Task::settle`] (one ioctl) must succeed before acting.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;

use crate::creds::Creds;
use crate::notify::Listener;
use crate::sys;

mod held;

/// Fields of `/proc/<tid>/status` the supervisor uses.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub tgid: u32,
    pub umask: u32,
    /// The thread group id in the program's own pid namespace.
    pub own_tgid: u32,
    /// Real, effective, saved user ids (as the supervisor sees them).
    pub uids: [u32; 3],
    /// Real, effective, saved group ids.
    pub gids: [u32; 3],
}

/// The identity of a directory: device, inode, mount id.
pub type DirId = (u64, u64, u64);

/// One notifying thread, valid for one notification.
pub struct Task {
    pub tid: u32,
    pub id: u64,
    listener: Arc<Listener>,
    proc: Arc<OwnedFd>,
    status: Option<Status>,
    /// The credentials as `status` read them (capabilities unchecked).
    read_creds: Option<Arc<Creds>>,
    /// What [`Task::creds`] gives: capabilities checked.
    creds: Option<Arc<Creds>>,
    /// May the credentials read for this notification be kept for the
    /// thread's next ones (`crate::creds::cache`)?  Not for an exec.
    keep: bool,
    dirty: bool,
    /// The credential cache's mark, read before the check that took the
    /// notification in (`Cache::mark`): an entry put before it needs no
    /// check of its own.
    mark: u64,
}

impl Task {
    /// The task of notification `id` from thread `tid`.  Checks at once that
    /// the notification is still valid: this validates the copies of the
    /// arguments taken before.
    pub fn new(
        listener: Arc<Listener>,
        proc: Arc<OwnedFd>,
        tid: u32,
        id: u64,
    ) -> Result<Self, Errno> {
        // Before the check below (see `creds`).
        let mark = listener.credentials().mark();
        let mut t = Task {
            tid,
            id,
            listener,
            proc,
            status: None,
            read_creds: None,
            creds: None,
            keep: true,
            dirty: true,
            mark,
        };
        t.settle()?;
        Ok(t)
    }

    pub fn listener(&self) -> &Arc<Listener> {
        &self.listener
    }

    /// A handle that can check this notification and write into the
    /// program from another thread (for work answered off the loop).
    pub fn writer(&self) -> Writer {
        Writer {
            listener: self.listener.clone(),
            id: self.id,
            tid: self.tid,
        }
    }

    /// Is the notification still pending?  `Err(ESRCH)` when it is not:
    /// the thread died or was interrupted, and nothing read may be used.
    pub fn check(&mut self) -> Result<(), Errno> {
        if self.listener.id_valid(self.id) {
            self.dirty = false;
            Ok(())
        } else {
            Err(Errno::ESRCH)
        }
    }

    /// Checks validity if anything was read since the last check.
    pub fn settle(&mut self) -> Result<(), Errno> {
        if self.dirty {
            self.check()
        } else {
            Ok(())
        }
    }

    /// Opens `/proc/<tid>/<name>` (one lookup from the supervisor's
    /// `/proc`, no directory opened first).
    pub(crate) fn open_in(&mut self, name: &str, flags: i32) -> Result<OwnedFd, Errno> {
        let c = CString::new(format!("{}/{name}", self.tid)).map_err(|_| Errno::EINVAL)?;
        self.dirty = true;
        sys::openat(self.proc.as_fd(), &c, flags | libc::O_CLOEXEC, 0)
    }

    /// Opens `/proc/<tid>/<name>` with O_PATH, following magic links
    /// (`cwd`, `root`, `fd/N`): the program's object, not its name.
    pub fn open_path(&mut self, name: &str) -> Result<OwnedFd, Errno> {
        self.open_in(name, libc::O_PATH)
    }

    /// The program's root directory.
    pub fn root(&mut self) -> Result<OwnedFd, Errno> {
        self.open_path("root")
    }

    /// The program's working directory.
    pub fn cwd(&mut self) -> Result<OwnedFd, Errno> {
        self.open_path("cwd")
    }

    /// The identity of the program's root directory.
    pub fn root_id(&mut self) -> Result<DirId, Errno> {
        let name = CString::new(format!("{}/root", self.tid)).expect("digits");
        self.dirty = true;
        dir_id(self.proc.as_fd(), &name)
    }

    /// An O_PATH reference to the object behind the program's descriptor
    /// `fd` (EBADF when it has none); for a stand-in of an `O_PATH`
    /// descriptor, the object it stands for (crate::standin).
    pub fn fd_object(&mut self, fd: i32) -> Result<OwnedFd, Errno> {
        self.fd_object_itself(fd)
            .and_then(crate::standin::substitute)
    }

    /// Is the program's descriptor `fd` a stand-in (crate::standin)?
    pub fn fd_is_stand_in(&mut self, fd: i32) -> Result<bool, Errno> {
        if !crate::standin::any() {
            return Ok(false);
        }
        let obj = self.fd_object_itself(fd)?;
        Ok(crate::standin::held_for(obj.as_fd())?.is_some())
    }

    fn fd_object_itself(&mut self, fd: i32) -> Result<OwnedFd, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        match self.open_path(&format!("fd/{fd}")) {
            Err(Errno::ENOENT) => {
                self.check()?;
                Err(Errno::EBADF)
            }
            // The program is not dumpable (a runtime's init, a binary it
            // may execute but not read): its fd directory is root's, mode
            // 0500, closed to a supervisor acting with the program's uid
            // (an agent's helper).  The descriptor itself, taken with
            // pidfd_getfd (ptrace access, which the helper keeps), refers
            // to the same object.
            // Otherwise the first error stands.
            Err(Errno::EACCES) => self.getfd(fd).map_err(|e| match e {
                Errno::EBADF | Errno::ESRCH => e,
                _ => Errno::EACCES,
            }),
            r => r,
        }
    }

    /// A duplicate of the program's descriptor `fd` (same open file
    /// description), taken with `pidfd_getfd`.
    pub fn getfd(&mut self, fd: i32) -> Result<OwnedFd, Errno> {
        self.dirty = true;
        let pidfd = sys::pidfd_open_thread(self.tid)?;
        let r = sys::pidfd_getfd(pidfd.as_fd(), fd);
        self.check()?;
        r
    }

    /// Is the program's descriptor `fd` close-on-exec?
    pub fn fd_cloexec(&mut self, fd: i32) -> Result<bool, Errno> {
        Ok(self.fd_flags(fd)? & libc::O_CLOEXEC as u32 != 0)
    }

    /// The file status flags of the program's descriptor `fd` (`flags:`
    /// of `/proc/<tid>/fdinfo/<fd>`; EBADF when there is none).
    pub fn fd_flags(&mut self, fd: i32) -> Result<u32, Errno> {
        let f = self.open_in(&format!("fdinfo/{fd}"), libc::O_RDONLY);
        let f = f.map_err(|e| if e == Errno::ENOENT { Errno::EBADF } else { e })?;
        let mut buf = [0u8; 512];
        let n = nix::unistd::read(&f, &mut buf)?;
        let text = std::str::from_utf8(&buf[..n]).map_err(|_| Errno::EIO)?;
        let flags = text
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .ok_or(Errno::EIO)?;
        Ok(flags)
    }

    /// `/proc/<tid>/status`, read once.
    pub fn status(&mut self) -> Result<Status, Errno> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let mut buf = [0u8; 4096];
        self.dirty = true;
        let proc = self.proc.clone();
        let n = held::read_status(proc.as_fd(), self.tid, &mut buf, || {
            self.open_in("status", libc::O_RDONLY)
        })?;
        let text = std::str::from_utf8(&buf[..n]).map_err(|_| Errno::EIO)?;
        const KEYS: [&str; 5] = ["Tgid:", "Umask:", "NStgid:", "Uid:", "Gid:"];
        let found = crate::creds::status_fields(text, KEYS);
        let field = |key: &str| {
            KEYS.iter()
                .position(|k| *k == key)
                .and_then(|i| found[i])
                .ok_or(Errno::EIO)
        };
        let tgid = field("Tgid:")?.parse().map_err(|_| Errno::EIO)?;
        let umask = u32::from_str_radix(field("Umask:")?, 8).map_err(|_| Errno::EIO)?;
        let ids = |key: &str| -> Result<[u32; 3], Errno> {
            let mut it = field(key)?.split_whitespace().map(str::parse::<u32>);
            let mut out = [0u32; 3];
            for o in &mut out {
                *o = it.next().ok_or(Errno::EIO)?.map_err(|_| Errno::EIO)?;
            }
            Ok(out)
        };
        let own_tgid = field("NStgid:")?
            .split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .ok_or(Errno::EIO)?;
        let s = Status {
            tgid,
            umask,
            own_tgid,
            uids: ids("Uid:")?,
            gids: ids("Gid:")?,
        };
        self.status = Some(s);
        self.read_creds = Some(Arc::new(Creds::parse(text).map_err(|_| Errno::EIO)?));
        Ok(s)
    }

    /// The thread's credentials (to be settled before use): those kept
    /// for this thread if it made no call since that may have changed them
    /// (`crate::creds::cache`, when the filter watches those calls), else
    /// from the same read of `/proc/<tid>/status` as [`Task::status`].
    /// A thread in another user namespace than the supervisor's has no
    /// capabilities here: its capabilities are over its own namespace
    /// only, and acting with them in the supervisor's would give it more.
    pub fn creds(&mut self) -> Result<Arc<Creds>, Errno> {
        if let Some(c) = &self.creds {
            return Ok(c.clone());
        }
        let listener = self.listener.clone();
        let cache = listener.credentials();
        if let Some(hit) = cache.get(self.tid) {
            // The thread they were read from lives.  Put before the check
            // that took this notification in, it lived then too, when the
            // notifying thread was blocked in this call: they are one
            // thread.  Put since (by another serving thread), the check
            // before use shows it.
            if !hit.put_before(self.mark) {
                self.dirty = true;
            }
            self.creds = Some(hit.creds.clone());
            return Ok(hit.creds);
        }
        // Kept only if read now, after the ticket (not by an earlier
        // `status`), and validated below.
        let ticket = if self.keep && self.status.is_none() && cache.enabled() {
            crate::creds::cache::Alive::open(self.proc.as_fd(), self.tid)
                .ok()
                .and_then(|a| cache.ticket(self.tid, a))
        } else {
            None
        };
        // Not the copy `status` may have cached already: the capabilities
        // of a thread in another user namespace are dropped here, on
        // every road (a status read first for the tgid, then the creds,
        // used to keep them).
        self.status()?;
        let mut c = self.read_creds.take().ok_or(Errno::EIO)?;
        if c.cap_eff != 0 && !self.in_own_user_ns()? {
            Arc::make_mut(&mut c).cap_eff = 0;
        }
        if let Some(t) = ticket {
            // The handle, the status and the namespace were read while the
            // thread was blocked in this call: they are the notifying
            // thread's, and its credentials cannot have changed since.
            self.check()?;
            cache.put(t, c.clone());
        }
        self.creds = Some(c.clone());
        Ok(c)
    }

    /// This notification is an exec: its thread's credentials change if
    /// it is let through.  Called before it is answered: the credentials
    /// kept for the thread are dropped, and nothing read for this call is
    /// kept; for a thread that is not its group's leader (whose pid it
    /// takes by the exec, while the leader may be in a call of its own)
    /// the group's pid is never cached again (`Cache::exec`).
    pub fn exec_begins(&mut self) {
        self.keep = false;
        let listener = self.listener.clone();
        let cache = listener.credentials();
        if !cache.enabled() {
            return;
        }
        // tgkill(tid, tid, 0) succeeds only for a group's leader (or a
        // thread that reused the number of a dead notifier: no exec then).
        if sys::is_thread_group_leader(self.tid) == Ok(true) {
            cache.exec(self.tid, self.tid, None);
            return;
        }
        let group = self.status().and_then(|s| {
            let leader = crate::creds::cache::Alive::process(self.proc.as_fd(), s.tgid)?;
            self.check()?;
            Ok((s.tgid, leader))
        });
        match group {
            Ok((tgid, _)) if tgid == self.tid => cache.exec(self.tid, tgid, None),
            Ok((tgid, leader)) => cache.exec(self.tid, tgid, Some(leader)),
            // Gone: it execs nothing.
            Err(Errno::ESRCH) => cache.changing(self.tid),
            // Unknown group: keep nothing, for the rest of the run.
            Err(_) => cache.disable(),
        }
    }

    /// Is the thread in the supervisor's user namespace?  Compared by the
    /// text of the `ns/user` links (`user:[inode]`: nsfs has one
    /// superblock, so the inode names the namespace); reading a link costs
    /// half a `stat` of it, which makes an nsfs inode each time.
    fn in_own_user_ns(&mut self) -> Result<bool, Errno> {
        static OWN: std::sync::OnceLock<Result<std::ffi::OsString, Errno>> =
            std::sync::OnceLock::new();
        let own = OWN
            .get_or_init(|| nix::fcntl::readlinkat(self.proc.as_fd(), "self/ns/user"))
            .clone()?;
        self.dirty = true;
        let theirs =
            nix::fcntl::readlinkat(self.proc.as_fd(), format!("{}/ns/user", self.tid).as_str())?;
        Ok(theirs == own)
    }

    /// `/proc/<tgid>` and `/proc/<tgid>/task/<tid>` from the supervisor's
    /// `/proc`: what `/proc/self` and `/proc/thread-self` mean to the program.
    pub fn proc_selves(&mut self) -> Result<(OwnedFd, OwnedFd), Errno> {
        let tgid = self.status()?.tgid;
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let me = CString::new(tgid.to_string()).expect("digits");
        self.dirty = true;
        let pself = sys::openat(self.proc.as_fd(), &me, flags, 0)?;
        let th = CString::new(format!("task/{}", self.tid)).expect("digits");
        let tself = sys::openat(pself.as_fd(), &th, flags, 0)?;
        Ok((pself, tself))
    }
}

/// The identity of `name` under `dir` (following a magic link); an empty
/// name is `dir` itself.
pub fn dir_id(dir: BorrowedFd, name: &std::ffi::CStr) -> Result<DirId, Errno> {
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        0
    };
    let st = sys::statx(dir, name, flags, libc::STATX_INO | libc::STATX_MNT_ID)?;
    if st.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS);
    }
    Ok((
        libc::makedev(st.stx_dev_major, st.stx_dev_minor),
        st.stx_ino,
        st.stx_mnt_id,
    ))
}

/// Writes into the program for one notification, checking first that the
/// notification is still pending (so the tid is still the same thread).
pub struct Writer {
    listener: Arc<Listener>,
    id: u64,
    tid: u32,
}

impl Writer {
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        if !self.listener.id_valid(self.id) {
            return Err(Errno::ESRCH);
        }
        crate::memory::write(self.tid, addr, data)
    }

    /// The notifying thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }
}
