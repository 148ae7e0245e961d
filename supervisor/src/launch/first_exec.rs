//! The launcher's exec of the user's command: the first notification of
//! the run (execve is trapped).  It is the user's exec, not the program's:
//! made by our own code in the single-threaded child (or the init-script
//! helper), on a path and argv prepared before `fork`, so no other thread
//! can change them; answered CONTINUE here, before the request loop exists
//! (docs/security.md, "Exec").

use std::os::fd::BorrowedFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use kernel::notify::sys as notify;

/// Waits for the child's exec notification on `listener` and lets it go
/// on.  Returns without answering when the child ends or reports a failure
/// first (`sock`: its launch socket), or is gone (`program`: its pidfd;
/// `pid`: its pid, the only thread whose exec this lets through).
pub(super) fn let_through(listener: BorrowedFd, program: BorrowedFd, pid: i32, sock: BorrowedFd) {
    loop {
        let mut fds = [
            PollFd::new(listener, PollFlags::POLLIN),
            PollFd::new(sock, PollFlags::POLLIN),
            PollFd::new(program, PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        if ready(0).contains(PollFlags::POLLIN) {
            let Ok(n) = notify::recv(listener) else {
                continue;
            };
            let exec = n.data.nr as i64 == libc::SYS_execve && i64::from(n.pid) == i64::from(pid);
            // Anything else from our own code is a bug: refused, never let
            // through.
            let (error, flags) = if exec {
                (0, notify::FLAG_CONTINUE)
            } else {
                (-libc::EPERM, 0)
            };
            let _ = notify::send(listener, n.id, 0, error, flags);
            if exec {
                return;
            }
            continue;
        }
        if !ready(1).is_empty() || !ready(2).is_empty() || !ready(0).is_empty() {
            return;
        }
    }
}
