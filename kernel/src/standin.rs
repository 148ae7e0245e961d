//! Stand-ins for `O_PATH` descriptors of FIFOs, sockets, devices and
//! symlinks.
//!
//! `SECCOMP_IOCTL_NOTIF_ADDFD` cannot install an `O_PATH` file, and no
//! other file of these objects exists without effects (a socket or a
//! symlink cannot be opened, a FIFO's open makes a reader or writer
//! others see, a device's runs its driver).  So the program gets a *stand-in*: an
//! empty, sealed memfd of mode 0, opened with neither read nor write
//! access, that this registry maps to the `O_PATH` object the supervisor
//! resolved and holds.  Every trapped use of the stand-in — a path
//! through `/proc/self/fd/N`, the descriptor as a directory or with
//! `AT_EMPTY_PATH` (`fstat` through `newfstatat`, `fchownat`, `linkat`,
//! `readlinkat`),
//! [`crate::task::Task::fd_object`] — reaches the held object instead, so
//! the policy decides on it and the supervisor acts on it, as natively.
//! What the kernel does alone on the descriptor sees the memfd
//! (docs/security.md, "O_PATH opens").
//!
//! A stand-in is known by its inode (device and number), which cannot be
//! reused while the registry keeps the stand-in's file open: no program
//! can make a file that passes for one.  The registry keeps the last
//! [`KEEP`] stand-ins; an older one, if the program still holds it, is
//! then only the empty memfd it is (its uses reach nothing else).

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nix::errno::Errno;

use crate::sys;

/// Stand-ins kept (each holds two descriptors of the supervisor).
pub const KEEP: usize = 256;

struct Entry {
    id: (u64, u64),
    /// The stand-in's own file, kept so that its inode lives.
    _stand_in: OwnedFd,
    /// The object it stands for (`O_PATH`).
    held: OwnedFd,
}

/// The stand-ins of this process, oldest first.
static REGISTRY: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());
/// Whether any stand-in was ever made (no `fstat` before that).
static ANY: AtomicBool = AtomicBool::new(false);

fn id_of(fd: BorrowedFd) -> Result<((u64, u64), u32), Errno> {
    let st = sys::fstatat(fd, c"", libc::AT_EMPTY_PATH)?;
    Ok(((st.st_dev, st.st_ino), st.st_mode))
}

/// A stand-in for `held` (an `O_PATH` descriptor), registered: the
/// descriptor to install in the program.
pub fn make(held: OwnedFd) -> Result<OwnedFd, Errno> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let mem = memfd_create(
        c"o_path stand-in",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    // Nothing can be written into it, ever.
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    nix::fcntl::fcntl(
        &mem,
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(seals)),
    )?;
    // Access mode 3: neither read nor write (read, write, mmap fail as on
    // an O_PATH descriptor); mode 0 then (no exec).
    let me = std::ffi::CString::new(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&mem)
    ))
    .expect("digits");
    let stand_in = sys::openat(mem.as_fd(), &me, libc::O_ACCMODE | libc::O_CLOEXEC, 0)?;
    nix::sys::stat::fchmod(&stand_in, nix::sys::stat::Mode::empty())?;
    let (id, _) = id_of(stand_in.as_fd())?;
    let keep = stand_in.try_clone().map_err(|_| Errno::EMFILE)?;
    let mut reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    if reg.len() >= KEEP {
        reg.pop_front();
    }
    reg.push_back(Entry {
        id,
        _stand_in: keep,
        held,
    });
    ANY.store(true, Ordering::Release);
    Ok(stand_in)
}

/// Was any stand-in made in this process (else nothing is one)?
pub fn any() -> bool {
    ANY.load(Ordering::Acquire)
}

/// The held object `obj` stands for, if `obj` is a stand-in.
pub fn held_for(obj: BorrowedFd) -> Result<Option<OwnedFd>, Errno> {
    if !any() {
        return Ok(None);
    }
    let (id, mode) = id_of(obj)?;
    if mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(None);
    }
    let reg = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match reg.iter().find(|e| e.id == id) {
        Some(e) => Ok(Some(e.held.try_clone().map_err(|_| Errno::EMFILE)?)),
        None => Ok(None),
    }
}

/// `obj`, or the object it stands for.
pub fn substitute(obj: OwnedFd) -> Result<OwnedFd, Errno> {
    Ok(held_for(obj.as_fd())?.unwrap_or(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_fd(p: &std::path::Path) -> OwnedFd {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        sys::openat(
            sys::open_dir_path(c"/").unwrap().as_fd(),
            &c,
            libc::O_PATH | libc::O_CLOEXEC,
            0,
        )
        .unwrap()
    }

    #[test]
    fn a_stand_in_maps_to_its_object_and_allows_nothing_itself() {
        let dir = nix::unistd::mkdtemp(&std::env::temp_dir().join("standin-XXXXXX")).unwrap();
        let fifo = dir.join("p");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let held = path_fd(&fifo);
        let (want, _) = id_of(held.as_fd()).unwrap();
        let s = make(held).unwrap();
        // The stand-in itself: empty, mode 0, neither readable nor writable.
        let st = sys::fstatat(s.as_fd(), c"", libc::AT_EMPTY_PATH).unwrap();
        assert_eq!(st.st_mode, libc::S_IFREG);
        assert_eq!(st.st_size, 0);
        assert_eq!(nix::unistd::read(&s, &mut [0u8; 4]), Err(Errno::EBADF));
        assert_eq!(nix::unistd::write(&s, b"x"), Err(Errno::EBADF));
        // Mapped to the FIFO, also through another descriptor of it.
        let dup = s.try_clone().unwrap();
        let back = substitute(dup).unwrap();
        assert_eq!(id_of(back.as_fd()).unwrap().0, want);
        // Anything else is itself.
        let other = path_fd(&dir);
        let other_id = id_of(other.as_fd()).unwrap().0;
        assert_eq!(
            id_of(substitute(other).unwrap().as_fd()).unwrap().0,
            other_id
        );
        // A memfd the program makes is no stand-in.
        let m = nix::sys::memfd::memfd_create(
            c"o_path stand-in",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .unwrap();
        assert!(held_for(m.as_fd()).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
