//! Thin syscall wrappers for the resolver. Every descriptor opened here is
//! `O_CLOEXEC` and returned as an [`OwnedFd`]; the only `unsafe` of the
//! resolver lives in [`stat`].

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use nix::errno::Errno;
use nix::fcntl::{openat, readlink, readlinkat, OFlag};
use nix::sys::stat::Mode;
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

/// What the resolver needs to know about an inode (from `statx`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Stat {
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub ino: u64,
    pub dev: u64,
    /// Mount id (`STATX_MNT_ID`) of the mount the inode was reached through.
    pub mnt_id: u64,
}

/// Identity of a reached location: inode plus the mount it was reached through
/// (the same directory bind-mounted elsewhere is a different location).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ident {
    dev: u64,
    ino: u64,
    mnt_id: u64,
}

impl Stat {
    pub fn ident(&self) -> Ident {
        Ident {
            dev: self.dev,
            ino: self.ino,
            mnt_id: self.mnt_id,
        }
    }
    /// The same inode (whatever mount it was reached through).
    pub fn same_inode(&self, o: &Stat) -> bool {
        self.dev == o.dev && self.ino == o.ino
    }
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

/// `statx(dir, path, AT_SYMLINK_NOFOLLOW)`; an empty `path` stats `dir` itself
/// (`AT_EMPTY_PATH`, works on `O_PATH` descriptors). Fails closed with `ENOSYS`
/// if the kernel does not report the mount id (Linux < 5.8).
pub(super) fn stat(dir: BorrowedFd<'_>, path: &CStr) -> Result<Stat, Errno> {
    let mut flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_SYNC_AS_STAT;
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_MNT_ID;
    // SAFETY: `libc::statx` is a plain C struct of integers, for which the
    // all-zero bit pattern is a valid value.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `dir` is a live descriptor borrowed for the call, `path` is a
    // NUL-terminated string that outlives it, and `buf` is a valid, writable
    // `struct statx` the kernel fills in.
    let rc = unsafe { libc::statx(dir.as_raw_fd(), path.as_ptr(), flags, mask, &mut buf) };
    Errno::result(rc)?;
    if buf.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS);
    }
    Ok(Stat {
        mode: u32::from(buf.stx_mode),
        ino: buf.stx_ino,
        dev: libc::makedev(buf.stx_dev_major, buf.stx_dev_minor),
        mnt_id: buf.stx_mnt_id,
    })
}

/// `stat` of the descriptor itself.
pub(super) fn fstat(fd: BorrowedFd<'_>) -> Result<Stat, Errno> {
    stat(fd, c"")
}

/// `openat(dir, name, O_PATH|O_NOFOLLOW|O_CLOEXEC)`: one step, never following
/// a symlink in `name`.
pub(super) fn open_nofollow(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `openat(dir, name, O_PATH|O_CLOEXEC)`: used only to traverse a procfs magic
/// link `name` (a single component) in the held directory `dir`.
pub(super) fn open_follow(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
    openat(dir, name, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
}

/// Body of the symlink `link` (an `O_PATH|O_NOFOLLOW` descriptor on it).
pub(super) fn read_link(link: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    Ok(readlinkat(link, c"")?.into_vec())
}

/// Body of the symlink `name` in the directory `dir`.
pub(super) fn read_link_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<Vec<u8>, Errno> {
    Ok(readlinkat(dir, name)?.into_vec())
}

/// The supervisor's view of where `fd` points: `readlink /proc/self/fd/<fd>`
/// (for a directory, on a thread with a file-system context of its own:
/// the same text by `fchdir` and `getcwd`, see [`own_fs_context`]).
pub(super) fn fd_path(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    if let Some(name) = dir_name(fd) {
        return Ok(name);
    }
    fd_link(fd)
}

/// [`fd_link`], for the tests.
#[cfg(test)]
pub(super) fn fd_link_for_tests(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    fd_link(fd)
}

/// `readlink /proc/self/fd/<fd>`.
fn fd_link(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    // `/proc/self/fd`, opened once: each call then looks up one name in it
    // instead of three from `/` (a third of the cost here).  The supervisor
    // never forks after it starts, so `self` stays this process.
    static FD_DIR: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    let dir = FD_DIR.get_or_init(|| kernel::sys::open_dir_path(c"/proc/self/fd").ok());
    let n = fd.as_raw_fd().to_string();
    match dir {
        Some(d) => Ok(readlinkat(d, n.as_str())?.into_vec()),
        None => Ok(readlink(format!("/proc/self/fd/{n}").as_str())?.into_vec()),
    }
}

thread_local! {
    /// The directory this thread returns to after taking a directory's
    /// name ([`own_fs_context`]); `None`: names by `readlink` only.
    static HOME: std::cell::RefCell<Option<OwnedFd>> = const { std::cell::RefCell::new(None) };
}

/// Gives the calling thread a file-system context of its own (root,
/// working directory, umask: `unshare(CLONE_FS)`), in which [`fd_path`]
/// takes a directory's name by `fchdir` to it, `getcwd`, and `fchdir`
/// back: about half the cost of `readlink /proc/self/fd/<fd>`, which makes
/// a procfs inode and dentry each time (measured on the benchmark VM: 1.7–2.0
/// µs against 3.4–3.5 µs).  Both texts are the kernel's `prepend_path` of
/// the same path from the same root: `readlink` appends " (deleted)" to an
/// unlinked directory where `getcwd` fails, and a directory out of the
/// root's reach or a longer name than `getcwd`'s buffer fail too; all of
/// those are read by `readlink`, as before.
///
/// For the serving threads (`session::serving`), which act through
/// descriptors only and never look anything up from their working
/// directory: the working directory is a program's directory for the
/// length of two syscalls, and this thread's only (the threads it starts
/// share its context, and none of them uses a working directory either).
pub fn own_fs_context() -> Result<(), Errno> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
    let home = kernel::sys::open_dir_path(c".")?;
    HOME.with(|h| *h.borrow_mut() = Some(home));
    Ok(())
}

/// The name of the directory `fd` by `fchdir` and `getcwd`, on a thread
/// with its own file-system context; `None` when that cannot tell (not
/// such a thread, not a directory, not searchable, unlinked, unreachable).
pub(super) fn dir_name(fd: BorrowedFd<'_>) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    HOME.with(|h| {
        let mut h = h.borrow_mut();
        let home = h.as_ref()?;
        nix::unistd::fchdir(fd).ok()?;
        let name = nix::unistd::getcwd();
        if nix::unistd::fchdir(home).is_err() && nix::unistd::chdir("/").is_err() {
            // Stuck in a program's directory: never again.
            *h = None;
        }
        let name = name.ok()?.into_os_string();
        let name = name.as_bytes();
        (name.first() == Some(&b'/')).then(|| name.to_vec())
    })
}

/// Whether `fd` is on a procfs instance.
pub(super) fn is_procfs(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(fstatfs(fd)?.filesystem_type() == PROC_SUPER_MAGIC)
}

/// A new `O_CLOEXEC` descriptor for the same open file.
pub(super) fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    fd.try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)))
}

/// `openat2(dir, path, O_PATH|O_DIRECTORY|O_CLOEXEC, resolve)`.
pub(super) fn open_dir2(dir: BorrowedFd<'_>, path: &CStr, resolve: u64) -> Result<OwnedFd, Errno> {
    use nix::fcntl::{openat2, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::from_bits_retain(resolve));
    openat2(dir, path, how)
}
