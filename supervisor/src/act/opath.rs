//! Brokered `O_PATH` opens: the descriptor the program gets.
//!
//! `SECCOMP_IOCTL_NOTIF_ADDFD` takes its source with `fget()`, which
//! refuses `O_PATH` files (`EBADF`), and nothing else puts a descriptor in
//! another process's table without that process's help (`pidfd_getfd` goes
//! the other way, `SCM_RIGHTS` needs the program to call `recvmsg`).
//! CONTINUE would let the kernel re-read the program's path, which is no
//! decision at all.  So the supervisor installs a *stand-in*: for a
//! directory or a file, the very object it resolved and holds (an `O_PATH`
//! descriptor), reopened through the supervisor's `/proc/self/fd/N` — a
//! reopen of the held object, never a new walk of a path — with the least
//! access the kernel lets a non-`O_PATH` file have; for a FIFO, socket,
//! device or symlink, an inert file mapped back to the held object:
//!
//! | object | stand-in |
//! |---|---|
//! | directory | `O_RDONLY\|O_DIRECTORY` |
//! | regular file | `O_RDONLY` (opened `O_NONBLOCK`, which is then cleared: an open never waits for a lease break) |
//! | FIFO, socket, device, symlink (`O_PATH\|O_NOFOLLOW`) | an empty sealed memfd of mode 0 with neither read nor write access, registered as standing for the held object (`kernel::standin`): opening the object itself has effects (a FIFO reader, a driver's open) or fails (a socket: `ENXIO`, a symlink: `ELOOP`) |
//!
//! A directory's or file's stand-in is the same inode on the same mount
//! (the same `struct path`), so everything the program does through it —
//! `fstat`, `fchdir`, `openat` relative to it, `/proc/self/fd/N` (readlink
//! and reopen), `fchmod`/`chmod("/proc/self/fd/N")`,
//! `execveat(AT_EMPTY_PATH)` — reaches exactly the object the policy
//! decided on, as natively.  What differs (docs/security.md):
//! `fcntl(F_GETFL)` shows `O_RDONLY` (and `O_DIRECTORY`) instead of
//! `O_PATH`; `read`, `getdents`, `mmap`, `flock`, `fgetxattr` work where
//! they fail with `EBADF` on `O_PATH` (rules classify an `O_PATH` open as
//! `read`, so this is within the decision); the open is seen by
//! inotify/fanotify (`IN_OPEN`) and breaks a write lease; the supervisor
//! needs read permission on the object (always, as root).
//!
//! A FIFO's, socket's, device's or symlink's stand-in is another object:
//! the trapped calls reach the held object through it (`Task::fd_object`,
//! the resolver's `/proc/<pid>/fd/N`: `fstat` through `newfstatat`,
//! `statx`, `fchownat`/`linkat`/`utimensat`/`fchmodat2` with
//! `AT_EMPTY_PATH`, `readlinkat(fd, "")` (act::readlink), the
//! `/proc/self/fd/N` reopen, `chmod`/`chown`/`stat` through it), decided
//! by the policy on its path; `fchmod`, `fchown`, `fsetxattr`, `futimens`
//! on it are EBADF, as on `O_PATH`.  What the kernel answers alone shows
//! the memfd: `readlink("/proc/self/fd/N")`, the `fstat` syscall (musl,
//! Go; glibc's `fstat` is `newfstatat`), `fcntl(F_GETFL)`, `fstatfs`,
//! `fgetxattr`/`flistxattr`, `lseek` (docs/security.md).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use kernel::sys;

/// Is `flags` (an open's) an `O_PATH` open?
pub fn is_path(flags: i32) -> bool {
    flags & libc::O_PATH != 0
}

/// A descriptor ADDFD can install in place of the `O_PATH` descriptor
/// `held`: the same object reopened (see the module's table).  A
/// descriptor that is not `O_PATH` is returned as it is.
pub fn installable(held: OwnedFd) -> Result<OwnedFd, Errno> {
    if sys::file_flags(held.as_fd())? & libc::O_PATH == 0 {
        return Ok(held);
    }
    let st = sys::fstatat(held.as_fd(), c"", libc::AT_EMPTY_PATH)?;
    let flags = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => libc::O_RDONLY | libc::O_DIRECTORY,
        libc::S_IFREG => libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK,
        // Opening a FIFO, socket or device has effects of its own, and no
        // file but an O_PATH one opens a symlink: a stand-in the trapped
        // calls map back to (kernel::standin; readlinkat(fd, "") too,
        // act::readlink).
        libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFLNK => {
            return kernel::standin::make(held)
        }
        _ => return Err(Errno::EOPNOTSUPP),
    };
    let me = CString::new(format!("/proc/self/fd/{}", held.as_raw_fd())).expect("digits");
    // The magic link jumps to the held object itself: no component of a
    // path is looked up again.
    let fd = sys::openat(held.as_fd(), &me, flags | libc::O_CLOEXEC, 0)?;
    if flags & libc::O_NONBLOCK != 0 {
        let now = sys::file_flags(fd.as_fd())?;
        sys::set_file_flags(fd.as_fd(), now & !libc::O_NONBLOCK)?;
    }
    // The same inode on the same mount, or nothing.
    let again = sys::fstatat(fd.as_fd(), c"", libc::AT_EMPTY_PATH)?;
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
        return Err(Errno::EIO);
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn held(p: &std::path::Path, flags: i32) -> OwnedFd {
        let c = CString::new(p.to_str().unwrap()).unwrap();
        sys::openat(
            kernel::sys::open_dir_path(c"/").unwrap().as_fd(),
            &c,
            libc::O_PATH | libc::O_CLOEXEC | flags,
            0,
        )
        .unwrap()
    }

    fn ino(fd: &OwnedFd) -> u64 {
        sys::fstatat(fd.as_fd(), c"", libc::AT_EMPTY_PATH)
            .unwrap()
            .st_ino
    }

    #[test]
    fn stand_ins_are_the_same_object_reopened_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("f"), "x").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        symlink("f", d.join("l")).unwrap();
        nix::unistd::mkfifo(
            &d.join("p"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();

        for (name, acc) in [
            ("f", libc::O_RDONLY),
            ("sub", libc::O_RDONLY | libc::O_DIRECTORY),
        ] {
            let h = held(&d.join(name), 0);
            let want = ino(&h);
            let s = installable(h).unwrap();
            assert_eq!(ino(&s), want, "{name}");
            let fl = sys::file_flags(s.as_fd()).unwrap();
            assert_eq!(fl & libc::O_PATH, 0, "{name}");
            assert_eq!(fl & libc::O_NONBLOCK, 0, "{name}");
            assert_eq!(fl & (libc::O_ACCMODE | libc::O_DIRECTORY), acc, "{name}");
        }
        // A FIFO, a symlink: a stand-in (no O_PATH, no access) mapped back
        // to it.
        for (name, flags) in [("p", 0), ("l", libc::O_NOFOLLOW)] {
            let h = held(&d.join(name), flags);
            let want = ino(&h);
            let s = installable(h).unwrap();
            let fl = sys::file_flags(s.as_fd()).unwrap();
            assert_eq!(fl & (libc::O_PATH | libc::O_ACCMODE), libc::O_ACCMODE);
            let back = kernel::standin::substitute(s).unwrap();
            assert_eq!(ino(&back), want, "{name}");
        }
        // The symlink itself: readlinkat(held, "") reads it.
        let h = held(&d.join("l"), libc::O_NOFOLLOW);
        let s = kernel::standin::substitute(installable(h).unwrap()).unwrap();
        assert_eq!(nix::fcntl::readlinkat(s.as_fd(), "").unwrap(), "f");
        // Not O_PATH: unchanged.
        let f = std::fs::File::open(d.join("f")).unwrap();
        let fd: OwnedFd = f.into();
        let raw = fd.as_raw_fd();
        assert_eq!(installable(fd).unwrap().as_raw_fd(), raw);
    }
}
