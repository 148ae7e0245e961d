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

pub(super) fn perform(p: &mut Pending) -> Result<Outcome, Errno> {
    // A path that did not resolve (or a missing interpreter) fails as the
    // kernel's exec would.
    let expect = p.exec_file()?;
    let tgid = p.task.status()?.tgid;
    p.task.settle()?;
    Ok(Outcome::Exec { tgid, expect })
}
