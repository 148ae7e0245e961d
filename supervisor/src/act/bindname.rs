//! A brokered unix `bind` by the program's own path string, race-free.
//!
//! The kernel keeps the very string bind was given as the socket's address
//! (getsockname, a peer's getpeername, accept).  The supervisor must create
//! the socket file in exactly the directory the policy decided on (the held
//! parent, `parent`), so it cannot let the kernel look the program's path up
//! again.  Instead the string is bound in a world of its own where every
//! directory it walks is the supervisor's, and its last directory is the
//! held one:
//!
//! - a bare name, or `./name` (the walk never leaves its start): from a
//!   thread whose cwd is `parent`;
//! - an absolute path whose walk never goes below `/` (`/name`, `/../name`):
//!   from a thread chrooted to `parent`;
//! - any other path: a short-lived thread unshares its file-system context
//!   and mount namespace (`unshare(CLONE_FS | CLONE_NEWNS)`), makes every
//!   mount private (nothing propagates back), attaches a fresh tmpfs over
//!   its `/`, makes there the directories the string walks (the walk
//!   simulated component by component: `.` stays, `..` goes up, a name goes
//!   down), bind-mounts the held directory on the last one and chroots into
//!   the tmpfs (cwd at the start directory for a relative string).  The
//!   bind then walks only directories of that tmpfs and ends in the held
//!   directory: nothing the program can change is looked up.  The
//!   namespace and its mounts die with the thread.
//!
//! The bind mount is a clone of the held directory's own mount, taken from
//! the descriptor with `open_tree(fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH)`
//! before the unshare: it names the directory we hold, not a path, so no
//! swap of the program's can redirect it (and a `/proc/self/fd/N` source
//! would not do after the unshare: the kernel refuses to clone a mount of
//! another namespace).  The clone keeps the mount's flags (read-only stays
//! `EROFS`).
//!
//! Falls back to the `/proc/self/fd/N/name` alias (race-free; getsockname
//! shows the alias) when the walk cannot be built ([`plan`] is `None`: it
//! goes below the last directory, or a relative string's last directory is
//! above its start), or when a step of the set-up is not permitted
//! (`EPERM`: no `CAP_SYS_ADMIN` or `CAP_SYS_CHROOT`, as the container
//! agent's helper with dropped ids), not implemented (`ENOSYS`), or the
//! held directory's mount is not the supervisor's to clone (`EINVAL`: it
//! belongs to another mount namespace, the program's own, or is
//! unbindable).  Any other failure of the set-up is the call's errno.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::authority::Authority;
use super::sys as act_sys;
use kernel::sys;

/// How the program's string is bound.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// From a thread whose cwd is the held directory (a relative string
    /// that never leaves its start).
    Cwd,
    /// From a thread chrooted to the held directory (an absolute string
    /// that never goes below `/`).
    Root,
    /// In a tmpfs of the thread's own mount namespace.
    Tree {
        /// The directories to make, parents first (relative to the tmpfs).
        dirs: Vec<Vec<u8>>,
        /// Where the held directory is mounted (one of `dirs`).
        last: Vec<u8>,
        /// The cwd of a relative string (one of `dirs`); `None`: absolute.
        start: Option<Vec<u8>>,
    },
}

/// Joins components with `/`.
fn join(c: &[&[u8]]) -> Vec<u8> {
    c.join(&b'/')
}

/// The plan for binding `path` (the program's string up to its NUL) whose
/// last component the resolver found missing as `name`; `None`: only the
/// alias can bind it race-free.
pub(super) fn plan(path: &[u8], name: &[u8]) -> Option<Plan> {
    let absolute = path.first() == Some(&b'/');
    let mut comps: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let last = comps.pop()?;
    if last != name || last == b"." || last == b".." {
        return None;
    }
    // A relative string starts deep enough for its `..`s: never at the top,
    // where `..` would stay.
    let (mut depth, mut low) = (0i64, 0i64);
    for c in &comps {
        match *c {
            b"." => {}
            b".." => depth -= 1,
            _ => depth += 1,
        }
        low = low.min(depth);
    }
    // A name no component has: the start directories never meet the walk's.
    let longest = comps.iter().map(|c| c.len()).max().unwrap_or(0);
    let fresh = vec![b'_'; longest + 1];
    let start: Vec<&[u8]> = if absolute {
        Vec::new()
    } else {
        vec![&fresh[..]; (-low) as usize]
    };
    let mut cur = start.clone();
    let mut dirs: Vec<Vec<u8>> = (1..=start.len()).map(|i| join(&start[..i])).collect();
    // (directory, name) of each step down.
    let mut downs: Vec<Vec<&[u8]>> = Vec::new();
    for c in &comps {
        match *c {
            b"." => {}
            b".." => {
                cur.pop();
            }
            _ => {
                downs.push(cur.clone());
                cur.push(c);
                let d = join(&cur);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
    }
    // Going down from the last directory would look up the held directory's
    // own entries: something the program can swap.
    if downs.contains(&cur) {
        return None;
    }
    if !absolute && start.starts_with(&cur) {
        // The start is at or below the last directory: only a walk that
        // never left the start can be bound (from a cwd of the held one).
        return (cur.len() == start.len() && downs.is_empty()).then_some(Plan::Cwd);
    }
    if absolute && cur.is_empty() {
        return Some(Plan::Root);
    }
    Some(Plan::Tree {
        dirs,
        last: join(&cur),
        start: (!absolute).then(|| join(&start)),
    })
}

/// What binding by the program's string came to.
pub(super) enum Bound {
    /// The bind's own result (or a failure of the set-up: the call's errno).
    Done(Result<(), Errno>),
    /// The set-up is not possible here: bind by the alias.
    Fallback,
}

/// Binds `sock` to `addr` (the program's address, as given) by `plan`, in
/// the held directory `parent`, with `who`'s authority, from a thread of
/// its own.
pub(super) fn bind(
    who: &Authority,
    sock: BorrowedFd,
    parent: BorrowedFd,
    addr: &[u8],
    plan: &Plan,
) -> Bound {
    let r = std::thread::scope(|s| {
        s.spawn(|| -> Result<Result<(), Errno>, Errno> {
            if *plan != Plan::Cwd {
                // Taking the program's credentials reads the supervisor's
                // own once per run, from /proc/thread-self, which the
                // chroot leaves behind: take them once before it.
                who.here().run(|| Ok(()))?;
            }
            set_up(parent, plan)?;
            // On this thread: the bind resolves from its root and cwd.
            Ok(who.here().run(|| sys::bind_raw(sock, addr)))
        })
        .join()
        .unwrap_or(Err(Errno::EIO))
    });
    match r {
        Ok(r) => Bound::Done(r),
        Err(Errno::EPERM | Errno::ENOSYS | Errno::EINVAL) => Bound::Fallback,
        Err(e) => Bound::Done(Err(e)),
    }
}

/// Gives the calling thread (its file-system context unshared first: the
/// supervisor's root and cwd never change) the root and cwd `plan` binds
/// from.
fn set_up(parent: BorrowedFd, plan: &Plan) -> Result<(), Errno> {
    use nix::sched::{unshare, CloneFlags};
    match plan {
        Plan::Cwd => {
            unshare(CloneFlags::CLONE_FS)?;
            nix::unistd::fchdir(parent)?;
        }
        Plan::Root => {
            unshare(CloneFlags::CLONE_FS)?;
            nix::unistd::fchdir(parent)?;
            nix::unistd::chroot(".")?;
        }
        Plan::Tree { dirs, last, start } => {
            // Before the unshare: the held directory's mount is one of this
            // namespace's, which open_tree may clone.
            let held = act_sys::open_tree_clone(parent)?;
            unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            let tmp = act_sys::tmpfs_detached()?;
            act_sys::move_mount_to(tmp.as_fd(), c"/")?;
            for d in dirs {
                nix::sys::stat::mkdirat(
                    tmp.as_fd(),
                    cstr(d)?.as_c_str(),
                    Mode::from_bits_truncate(0o755),
                )?;
            }
            let at = nix::fcntl::openat(
                tmp.as_fd(),
                cstr(last)?.as_c_str(),
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            act_sys::move_mount_onto(held.as_fd(), at.as_fd())?;
            nix::unistd::fchdir(tmp.as_fd())?;
            nix::unistd::chroot(".")?;
            if let Some(start) = start {
                if !start.is_empty() {
                    nix::unistd::chdir(cstr(start)?.as_c_str())?;
                }
            }
        }
    }
    Ok(())
}

fn cstr(b: &[u8]) -> Result<CString, Errno> {
    CString::new(b).map_err(|_| Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dirs: &[&str], last: &str, start: Option<&str>) -> Option<Plan> {
        Some(Plan::Tree {
            dirs: dirs.iter().map(|d| d.as_bytes().to_vec()).collect(),
            last: last.as_bytes().to_vec(),
            start: start.map(|s| s.as_bytes().to_vec()),
        })
    }

    #[test]
    fn plans() {
        let p = |s: &str| plan(s.as_bytes(), b"s");
        assert_eq!(p("s"), Some(Plan::Cwd));
        assert_eq!(p("./s"), Some(Plan::Cwd));
        assert_eq!(p("/s"), Some(Plan::Root));
        assert_eq!(p("/../s"), Some(Plan::Root));
        assert_eq!(p("/tmp/d/s"), tree(&["tmp", "tmp/d"], "tmp/d", None));
        assert_eq!(p("//tmp/./d//s"), tree(&["tmp", "tmp/d"], "tmp/d", None));
        assert_eq!(p("/a/b/../c/s"), tree(&["a", "a/b", "a/c"], "a/c", None));
        assert_eq!(p("/../a/s"), tree(&["a"], "a", None));
        assert_eq!(p("d/s"), tree(&["d"], "d", Some("")));
        assert_eq!(p("../w/s"), tree(&["___", "w"], "w", Some("___")));
        assert_eq!(
            p("../../x/y/s"),
            tree(&["___", "___/___", "x", "x/y"], "x/y", Some("___/___"))
        );
        // Below the last directory, or a last directory above the start.
        assert_eq!(p("/a/b/../s"), None);
        assert_eq!(p("/a/../a/x/../s"), None);
        assert_eq!(p("/a/x/../s"), None);
        assert_eq!(p("../s"), None);
        assert_eq!(p("a/../s"), None);
        // Not the resolved name.
        assert_eq!(p("/a/t"), None);
        assert_eq!(p("/a/s/."), None);
    }
}
