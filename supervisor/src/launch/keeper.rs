//! The keeper: a small process between the supervisor and the program, so
//! that the whole program dies with the supervisor, SIGKILL included.
//!
//! `PR_SET_PDEATHSIG` only reaches a direct child: when the supervisor
//! dies, the program's own children and their descendants would be
//! reparented and live on.  So the supervisor forks the keeper, which is
//! a child subreaper, and the keeper forks the program:
//!
//! ```text
//! supervisor ── keeper (subreaper) ── program ── its children …
//! ```
//!
//! * the supervisor dies → the keeper gets its death signal and SIGKILLs
//!   every process below it (the program's orphans are reparented to it),
//!   then exits;
//! * the keeper dies → the program gets its death signal; the orphans go
//!   to the supervisor (a subreaper too), which kills them all;
//! * the program cannot signal or ptrace either (the Landlock domain of
//!   `child::scope_out` scopes it to its own processes).
//!
//! The keeper mirrors the program: it forwards the signals the supervisor
//! forwards to it, and ends with the program's own wait status (exit code,
//! or the same signal), so that to the supervisor it *is* the program.
//! It runs in a fork of the single-threaded supervisor (allocation is
//! fine), never runs Lua, and holds none of the supervisor's descriptors.

use super::child::{self, Image};
use super::Step;

/// The keeper's death signal (sent by the kernel when the supervisor dies).
const DEATH: libc::c_int = libc::SIGUSR1;

/// The signals the supervisor forwards, passed on to the program.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn errno() -> i32 {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        set
    }
}

/// Runs in the forked keeper; never returns.
pub(super) fn run(img: &Image) -> ! {
    let supervisor = img.parent;
    let all = all_signals();
    // SAFETY: signal masks, prctl and getppid take integers or point to
    // the local set.
    unsafe {
        libc::sigprocmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, DEATH, 0, 0, 0);
        if libc::getppid() != supervisor {
            libc::_exit(crate::exit::SUPERVISOR);
        }
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    // SAFETY: getpid has no arguments.
    let me = unsafe { libc::getpid() };
    // SAFETY: the keeper is single-threaded (a fork of the single-threaded
    // supervisor); the program's side only runs `child::run`.
    let program = unsafe { libc::fork() };
    if program == 0 {
        let empty = {
            // SAFETY: as all_signals.
            let mut s: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: initialises the local set.
            unsafe { libc::sigemptyset(&mut s) };
            s
        };
        // SAFETY: the program starts with no signal blocked.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) };
        // The supervisor takes the listener from the program: it needs
        // its pid.
        // SAFETY: getpid has no arguments.
        child::report(img.sock, Step::Pid, unsafe { libc::getpid() });
        child::run(&Image { parent: me, ..*img });
    }
    if program < 0 {
        child::report(img.sock, Step::Setup, errno());
        // SAFETY: _exit never returns.
        unsafe { libc::_exit(crate::exit::SUPERVISOR) }
    }
    // Nothing of the supervisor's stays open here: the launch socket's
    // copy would hide the program's execve from the supervisor.
    // SAFETY: integer arguments only.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    serve(supervisor, program, &all)
}

/// Waits for signals until the program ends (then mirrors its status) or
/// the supervisor dies (then kills everything below).
fn serve(supervisor: libc::pid_t, program: libc::pid_t, all: &libc::sigset_t) -> ! {
    loop {
        // SAFETY: siginfo_t is plain data filled by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits for one of the (blocked) signals of `all`.
        let sig = unsafe { libc::sigwaitinfo(all, &mut info) };
        // SAFETY: getppid has no arguments.
        if unsafe { libc::getppid() } != supervisor {
            // The supervisor is gone: so is the program, all of it.
            crate::reap::kill_tree(nix::unistd::Pid::from_raw(program));
            // SAFETY: _exit never returns.
            unsafe { libc::_exit(128 + libc::SIGKILL) }
        }
        if sig == libc::SIGCHLD {
            reap(program);
        } else if FORWARDED.contains(&sig) {
            // SAFETY: reads the sender's pid from the kernel's siginfo.
            let from = unsafe { info.si_pid() };
            // Sent by someone (the supervisor forwarding): pass it on; one
            // from the terminal reached the program already.
            if from != 0 {
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(program, sig) };
            }
        }
    }
}

/// Reaps every child that ended; when the program is among them, ends the
/// keeper the same way.
fn reap(program: libc::pid_t) {
    loop {
        let mut status = 0;
        // SAFETY: writes the status into the local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid <= 0 {
            return;
        }
        if pid == program {
            mirror(status);
        }
    }
}

/// Ends the keeper with `status`: the same exit code, or the same signal.
fn mirror(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        // SAFETY: resets one disposition, unblocks everything and sends
        // the signal to ourselves; _exit if it did not end us.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let all = all_signals();
            libc::sigprocmask(libc::SIG_UNBLOCK, &all, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig)
        }
    }
    // SAFETY: _exit never returns.
    unsafe { libc::_exit(libc::WEXITSTATUS(status)) }
}
