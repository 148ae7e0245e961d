//! The supervisor stalled by the program's memory (issue 17 item 4): a
//! path placed in a userfaultfd-registered page that is never served.
//! `process_vm_readv` sleeps there killably (not interruptibly: no signal
//! but SIGKILL wakes it), so the supervisor copies the program's memory on
//! a worker thread, waiting at most `kernel::offload::DEADLINE` (1 s):
//! the stalled request fails with EFAULT, the other threads are answered,
//! and SIGTERM ends the run.  And the default posture gives the program no
//! userfaultfd at all: the syscall and /dev/userfaultfd's ioctl are
//! refused.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{outcome, posture, supervisor, tempdir, Cmd, Policy};

/// The bound on the answers to the other threads and on the exit after
/// SIGTERM: the deadline (1 s) and a wide margin for a loaded machine.
const BOUND: Duration = Duration::from_secs(4);

/// Before (502ea53): the request loop sleeps in process_vm_readv (state
/// D) on the stalled page; the other thread's ten opens never complete
/// ("ready" never comes, the test fails after 20 s) and SIGTERM does
/// nothing.
#[test]
fn a_path_in_a_never_served_userfaultfd_page_stalls_nothing() {
    let d = tempdir();
    let file = d.path().join("f");
    std::fs::write(&file, "x").unwrap();
    // --allow-unmapped: the posture would refuse the userfaultfd (below).
    let mut child = Command::new(supervisor())
        .args(["run", "--allow-unmapped", "--policy"])
        .arg(crate::util::repo().join("policies/broker-all.lua"))
        .arg("--")
        .args(posture(&["uffd-stall".as_ref(), file.as_os_str()]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the supervisor");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut lines = Vec::new();
    let kill = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    while !lines.iter().any(|l: &String| l == "ready") {
        match rx.recv_timeout(Duration::from_secs(20).saturating_sub(start.elapsed())) {
            Ok(l) => lines.push(l),
            Err(_) => {
                kill(&mut child);
                panic!("the other thread was not answered within 20 s: {lines:?}");
            }
        }
    }
    let others = lines
        .iter()
        .find_map(|l| l.strip_prefix("others: "))
        .expect("an others line")
        .to_string();
    let ms: u64 = others
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(others.starts_with("10/10"), "{lines:?}");
    assert!(
        Duration::from_millis(ms) < BOUND,
        "the other thread waited {ms} ms: {lines:?}"
    );
    // The stalled open itself was answered (EFAULT: the page could not
    // be read), after the deadline.
    let deadline = Instant::now() + BOUND;
    while !lines.iter().any(|l| l.starts_with("stalled-open: ")) && Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            lines.push(l);
        }
    }
    assert!(
        lines.iter().any(|l| l == "stalled-open: EFAULT"),
        "{lines:?}"
    );
    // SIGTERM ends the run within the bound (the program gets it and dies;
    // its userfaultfd goes with it, which frees the stalled worker).
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let t = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > BOUND {
            kill(&mut child);
            panic!("the supervisor did not exit within {BOUND:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
}

/// The default posture gives the program no userfaultfd: the syscall is
/// refused, and so is USERFAULTFD_IOC_NEW on /dev/userfaultfd, however the
/// device was opened (ci.lua as root brokers its open).  Before (502ea53):
/// `userfaultfd: OK`, and under ci.lua `open-dev: OK`, `USERFAULTFD_IOC_NEW:
/// OK`.
#[test]
fn the_posture_gives_the_program_no_userfaultfd() {
    let out = Cmd::supervised(Policy::example("broker-all"), &posture(&["userfaultfd"])).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "userfaultfd"), "EPERM", "{out}");
    assert_eq!(outcome(&out, "userfaultfd-user-mode"), "EPERM", "{out}");
    if outcome(&out, "open-dev") == "OK" {
        assert_eq!(outcome(&out, "USERFAULTFD_IOC_NEW"), "EPERM", "{out}");
    }
    let cwd = crate::rules::dir_outside_tmp("uffd");
    let out = Cmd::supervised(Policy::example("ci"), &posture(&["userfaultfd"]))
        .cwd(&cwd)
        .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "userfaultfd"), "EPERM", "{out}");
    if outcome(&out, "open-dev") == "OK" {
        assert_eq!(outcome(&out, "USERFAULTFD_IOC_NEW"), "EPERM", "{out}");
    }
}
