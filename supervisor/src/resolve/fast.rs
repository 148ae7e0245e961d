//! The fast path of resolution, for the common case: the program shares
//! the supervisor's root (same mount namespace, no chroot) and the path has
//! no trailing slash, no `.`/`..` last component, no openat2 RESOLVE_*
//! flags.  The directory part is resolved by one `openat2` with
//! `RESOLVE_NO_MAGICLINKS` from the held start directory; the kernel's walk
//! then means the same for the program as for the supervisor, except on
//! procfs (`/proc/self` is whoever looks): a parent on procfs, a magic link
//! on the way (ELOOP), or a symlink as a followed last component all fall
//! back to the userspace walk of [`super::resolve`].

use std::ffi::{CStr, CString};
use std::os::fd::{BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::{sys, Last, Resolved, Target};

/// Looks up `name` in the directory `dir` with the program's credentials
/// (`O_PATH`, not following a symlink in `name`): `None` when that cannot
/// be done here (see `kernel::creds::uring::lookup_as`).
pub type AsProgram<'a> = &'a dyn Fn(BorrowedFd, &CStr) -> Option<Result<OwnedFd, Errno>>;

/// Resolves `path` from `start` (the supervisor's root for an absolute
/// path), or `None` when the slow walk must decide.  With `want_text`, the
/// canonical path is filled in (one `readlink` more).
///
/// With `as_program`, the last component is looked up as the program
/// (search permission on its directory checked with the program's
/// credentials) and what it found, unless a directory, is kept in
/// [`Resolved::found`] for the act to stat: one lookup as the program
/// instead of the supervisor's look at the entry followed by a second
/// lookup, as the program, at the act.  If that lookup fails (no search
/// permission, nothing there, no io_uring), the supervisor looks as
/// without it.
pub fn resolve(
    start: BorrowedFd,
    path: &[u8],
    follow_last: bool,
    want_text: bool,
    as_program: Option<AsProgram>,
) -> Option<Result<Resolved, Errno>> {
    if path.is_empty() || path.len() >= kernel::memory::PATH_MAX {
        return None;
    }
    let (dir, last): (&[u8], &[u8]) = match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b".", path),
    };
    if last.is_empty() || last == b"." || last == b".." || last.len() > 255 {
        return None;
    }
    let dir = CString::new(dir).ok()?;
    let name = CString::new(last).ok()?;
    let parent = match sys::open_dir2(start, &dir, libc::RESOLVE_NO_MAGICLINKS) {
        Ok(p) => p,
        // Any failure may come from the supervisor's view differing from
        // the program's (ELOOP on a magic link, ENOENT under /proc/self):
        // the slow walk decides.
        Err(_) => return None,
    };
    use std::os::fd::AsFd;
    if sys::is_procfs(parent.as_fd()).unwrap_or(true) {
        return None;
    }
    let found = as_program
        .and_then(|lookup| lookup(parent.as_fd(), &name))
        .and_then(Result::ok);
    let st = match &found {
        Some(fd) => sys::fstat(fd.as_fd()),
        None => sys::stat(parent.as_fd(), &name),
    };
    let last = match st {
        Ok(st) if st.is_symlink() && follow_last => return None,
        Ok(st) => Last::Exists { mode: st.mode },
        Err(Errno::ENOENT) => Last::Missing,
        Err(_) => return None,
    };
    // A directory is looked up again by the act, as the stat would (an
    // automount point is mounted by that lookup).
    let found = found
        .filter(|_| !matches!(last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFDIR));
    let mut text = Vec::new();
    if want_text {
        let mut p = sys::fd_path(parent.as_fd()).ok()?;
        if p.first() != Some(&b'/') || p.ends_with(b" (deleted)") {
            return None;
        }
        if p != b"/" {
            p.push(b'/');
        }
        p.extend_from_slice(name.as_bytes());
        text = p;
    }
    Some(Ok(Resolved {
        target: Target::Entry { parent, name },
        path: text,
        last,
        trailing_slash: false,
        found,
    }))
}
