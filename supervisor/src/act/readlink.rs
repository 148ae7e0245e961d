//! `readlinkat` with a descriptor: the one call on a symlink's `O_PATH`
//! descriptor the kernel would answer alone.
//!
//! A brokered `O_PATH|O_NOFOLLOW` open of a symlink gives the program a
//! stand-in (`kernel::standin`, act/opath.rs) that every trapped call maps
//! back to the symlink the supervisor holds.  `readlinkat(fd, "")` reads
//! the descriptor's own symlink, so the filter traps `readlinkat` unless
//! its directory is `AT_FDCWD` (bpf: every `readlink` of libc, and a path
//! relative to the working directory, names no descriptor):
//!
//! * the empty path ([`fd_readlink`]): read here, on the program's
//!   descriptor's object (the symlink a stand-in stands for), and written
//!   into its buffer as the kernel would (at most `size` bytes, no NUL);
//!   any other object is `ENOENT`, as natively;
//! * a path ([`unmediated`]): reading a symlink is not a request, and
//!   acting here would walk the path with the supervisor's authority (its
//!   search permission, its root), so the kernel performs it (CONTINUE).
//!   Should the program rewrite its path to `""` and put a stand-in at
//!   that number meanwhile, the kernel reads the stand-in, a memfd:
//!   `ENOENT`, nothing the program could not name untrapped.

use std::os::fd::AsFd;

use nix::errno::Errno;

use crate::answer::Outcome;
use kernel::memory;
use kernel::task::Task;

/// `readlinkat(fd, "", buf, size)` (`size` > 0, checked by decode).
pub fn fd_readlink(task: &mut Task, fd: i32, buf: u64, size: usize) -> Outcome {
    let r = (|| {
        let obj = super::file::descriptor_object(task, fd)?;
        task.settle()?;
        let target =
            std::os::unix::ffi::OsStringExt::into_vec(nix::fcntl::readlinkat(obj.as_fd(), "")?);
        let n = target.len().min(size);
        task.check()?;
        memory::write(task.tid, buf, &target[..n])?;
        Ok::<_, Errno>(n as i64)
    })();
    match r {
        Ok(n) => Outcome::Value(n),
        Err(e) => Outcome::Fail(e),
    }
}

/// `readlinkat(dirfd, path)` with a non-empty path: the kernel's (see the
/// module's doc).  Not a fallback for a failure: the answer for every
/// such call, as if it were not trapped.
pub fn unmediated() -> Outcome {
    Outcome::Continue
}
