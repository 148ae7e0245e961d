//! Not lending the supervisor's capabilities: a call the supervisor makes
//! on the program's behalf where the kernel checks the *caller's*
//! capabilities (a netlink socket joining a multicast group: audit, xfrm,
//! conntrack events need `CAP_NET_ADMIN` or `CAP_AUDIT_READ` of the
//! caller) is made with the acting thread's effective capabilities lowered
//! to the program thread's.
//!
//! Capabilities belong to a thread: `capset` with pid 0 changes only the
//! calling thread (no libc wrapper, which could broadcast).  Only the
//! effective set is lowered; the permitted set stays, so the way back is
//! always allowed.  `CAP_SYS_PTRACE` is kept: the supervisor reads the
//! program's memory and descriptors with it, and no socket call checks it.

use nix::errno::Errno;

use crate::sys;
use crate::task::Task;

/// `CAP_SYS_PTRACE`.
const CAP_SYS_PTRACE: u64 = 1 << 19;

impl Task {
    /// The thread's effective capabilities as they count for the
    /// supervisor: `CapEff`, or none if the thread is in another user
    /// namespace (its capabilities there are not the supervisor's to use).
    pub fn cap_eff(&mut self) -> Result<u64, Errno> {
        let theirs = nix::sys::stat::fstat(&self.open_in("ns/user", libc::O_PATH)?)?;
        let ours = nix::sys::stat::stat("/proc/thread-self/ns/user")?;
        let fd = self.open_in("status", libc::O_RDONLY)?;
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&fd, &mut buf)?;
        self.check()?;
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino) {
            return Ok(0);
        }
        let text = std::str::from_utf8(&buf[..n]).map_err(|_| Errno::EIO)?;
        text.lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .ok_or(Errno::EIO)
    }
}

/// The calling thread's capabilities lowered; taken back when dropped.
#[must_use = "the capabilities come back when this is dropped"]
pub struct Lowered {
    saved: [u64; 3],
}

/// Lowers the calling thread's effective capabilities to those in `to`
/// (and `CAP_SYS_PTRACE`); `None` when there is nothing to lower.
pub fn lower_to(to: u64) -> Result<Option<Lowered>, Errno> {
    let [eff, prm, inh] = sys::capget()?;
    let want = eff & (to | CAP_SYS_PTRACE);
    if want == eff {
        return Ok(None);
    }
    sys::capset([want, prm, inh])?;
    Ok(Some(Lowered {
        saved: [eff, prm, inh],
    }))
}

/// Runs `f` with the calling thread's effective capabilities lowered to
/// `to` (see [`lower_to`]).
pub fn run_lowered<T>(to: u64, f: impl FnOnce() -> T) -> Result<T, Errno> {
    let guard = lower_to(to)?;
    let r = f();
    drop(guard);
    Ok(r)
}

impl Drop for Lowered {
    fn drop(&mut self) {
        if let Err(e) = sys::capset(self.saved) {
            // Going on would leave this thread working without the
            // capabilities the run was started with, failing calls at
            // random: stop here.
            eprintln!("supervisor: cannot take its capabilities back ({e}); aborting");
            std::process::abort();
        }
    }
}
