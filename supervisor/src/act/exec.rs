//! An allowed exec (`use_master_credentials`, `use_program_credentials`,
//! the rules' default): the kernel runs the file with the program's
//! credentials, after CONTINUE; the new image is verified at the exec
//! event to be the file the policy decided on — the resolved binary, or,
//! for a `#!` script, its (last) resolved interpreter, as identified when
//! the paths were resolved — or killed before its first instruction
//! (`answer::Outcome::Exec`, `kernel::exec`).

use nix::errno::Errno;

use crate::answer::Outcome;
use crate::pending::Pending;
use crate::resolve::{Last, Target};

pub(super) fn perform(p: &mut Pending) -> Result<Outcome, Errno> {
    // A path that did not resolve (or a missing interpreter) fails as the
    // kernel's exec would.
    let expect = p.exec_file()?;
    // execveat(fd, "", AT_EMPTY_PATH) of a symlink's O_PATH descriptor is
    // ELOOP; its stand-in (kernel::standin), which the kernel would look
    // at, is a memfd of mode 0 (EACCES).
    if let Some(Ok(r)) = p.resolve()?.first() {
        if let (Target::Object(_), Last::Exists { mode }) = (&r.target, &r.last) {
            if mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(Errno::ELOOP);
            }
        }
    }
    let tgid = p.task.status()?.tgid;
    p.task.settle()?;
    Ok(Outcome::Exec { tgid, expect })
}
