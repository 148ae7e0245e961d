//! Ending the program as a whole: the supervisor is a child subreaper, so
//! every process the program forks stays in its tree (orphans are
//! reparented to it); ending a run kills that whole tree.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// Makes the supervisor the reaper of the program's orphans.
pub fn become_subreaper() {
    // SAFETY: integer-argument prctl.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// The pids of every descendant of `pid` (from `/proc/<pid>/task/*/children`).
fn descendants(pid: i32, out: &mut Vec<i32>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for t in tasks.flatten() {
        let Ok(list) = std::fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        for c in list
            .split_whitespace()
            .filter_map(|s| s.parse::<i32>().ok())
        {
            if !out.contains(&c) {
                out.push(c);
                descendants(c, out);
            }
        }
    }
}

/// Sends `sig` to every process of the job: all descendants of `keeper`
/// (the program and everything it started), not the keeper itself (which
/// would pass it on to the program a second time).
pub fn signal_job(keeper: Pid, sig: Signal) {
    let mut all = Vec::new();
    descendants(keeper.as_raw(), &mut all);
    for p in all {
        let _ = kill(Pid::from_raw(p), sig);
    }
}

/// SIGKILLs every process below the supervisor until none is left (a
/// forking program is chased for a bounded number of rounds), and reaps
/// them.  Returns the wait status of `main` if it was reaped here.
pub fn kill_tree(main: Pid) -> Option<nix::sys::wait::WaitStatus> {
    let me = std::process::id() as i32;
    let mut main_status = None;
    for _ in 0..1000 {
        let mut all = Vec::new();
        descendants(me, &mut all);
        if all.is_empty() {
            break;
        }
        for p in &all {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        main_status = reap_all(main).or(main_status);
    }
    reap_all(main).or(main_status)
}

/// Reaps every exited child without blocking; returns `main`'s status if
/// it was among them.
pub fn reap_all(main: Pid) -> Option<nix::sys::wait::WaitStatus> {
    let mut status = None;
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
        ) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) | Err(_) => return status,
            Ok(s) => {
                if s.pid() == Some(main) {
                    status = Some(s);
                }
            }
        }
    }
}
