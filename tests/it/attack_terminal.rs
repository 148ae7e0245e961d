//! Terminal injection (issue 17 item 1): the program keeps the user's
//! controlling terminal (job control, `tty`, `stty`, `less` work), but
//! TIOCSTI — which pushes bytes into the terminal's input queue, for the
//! user's shell to run after the run — and its relatives (TIOCLINUX,
//! TIOCCONS, TIOCSETD) are refused by the filter.  The test makes its own
//! pty and makes it the supervisor's controlling terminal, as a shell's
//! terminal is.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{posture_probes, supervisor, tempdir, BUSYBOX};

/// A pty: (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the integers; the name,
    // termios and window size pointers may be NULL.
    let r = unsafe {
        libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both are fresh descriptors owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// Bytes waiting in the input queue of the terminal (what a shell reading
/// it would get next).
fn queued(slave: &OwnedFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n
}

/// A run on the terminal: the shell that started it is still there (the
/// terminal's session leader), so the terminal's input queue is still what
/// that shell would read next.
struct Run {
    code: i32,
    out: String,
    shell: std::process::Child,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

/// Runs `argv` under the supervisor with the pty's slave as its stdin and
/// controlling terminal, started by a shell that leads the terminal's
/// session (as a user's shell does) and stays after the run.
fn on_the_terminal(slave: &OwnedFd, policy: &str, extra: &[&str], argv: &[&str]) -> Run {
    let stdin = slave.try_clone().unwrap();
    let mut cmd = Command::new(BUSYBOX);
    cmd.args([
        "sh",
        "-c",
        "\"$@\" 2>&1; echo \"RUN-ENDED $?\"; exec sleep 60",
        "sh",
        supervisor(),
        "run",
    ])
    .args(extra)
    .arg("--policy")
    .arg(policy)
    .arg("--")
    .args(argv);
    cmd.stdin(Stdio::from(stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: setsid and ioctl are async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[allow(clippy::zombie_processes)] // Run's Drop waits for it.
    let mut shell = cmd.spawn().expect("start the shell");
    let stdout = shell.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                if let Some(code) = l.strip_prefix("RUN-ENDED ") {
                    let code = code.parse().unwrap_or(-1);
                    return Run { code, out, shell };
                }
                out.push_str(&l);
                out.push('\n');
            }
            Err(_) => {
                let _ = shell.kill();
                let _ = shell.wait();
                panic!("the run did not end: {out}");
            }
        }
    }
}

fn line<'a>(out: &'a str, label: &str) -> &'a str {
    let p = format!("{label}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&p))
        .unwrap_or_else(|| panic!("no {label:?} line: {out}"))
}

/// The injection: `TIOCSTI` of "id > FILE\n" into the terminal.  Nothing
/// reaches the input queue (before, at 502ea53: every byte did, `TIOCSTI:
/// OK`, and the queue held the command for the shell); the tty calls a
/// program needs still work.
#[test]
fn tiocsti_injects_nothing_into_the_terminal() {
    let policy = crate::util::repo().join("policies/allow-all.lua");
    let policy = policy.to_str().unwrap();
    let (musl, glibc) = posture_probes();
    let d = tempdir();
    let marker = d.path().join("injected");
    let command = format!("id > {}\n", marker.display());
    for probe in [musl, glibc] {
        let (_master, slave) = openpty();
        let argv = [probe.to_str().unwrap(), "tiocsti", command.as_str()];
        for extra in [&[][..], &["--log", "/dev/null"][..]] {
            let run = on_the_terminal(&slave, policy, extra, &argv);
            let out = &run.out;
            assert_eq!(run.code, 0, "{out}");
            assert_eq!(line(out, "TIOCSTI"), "EPERM", "{out}");
            assert_eq!(line(out, "TIOCSTI-upper"), "EPERM", "{out}");
            assert_eq!(line(out, "TIOCLINUX"), "EPERM", "{out}");
            assert_eq!(
                queued(&slave),
                0,
                "bytes were pushed into the terminal: {out}"
            );
            // What terminal programs need.
            assert!(line(out, "ttyname").starts_with("/dev/pts/"), "{out}");
            assert_eq!(line(out, "tcgetpgrp"), "OK", "{out}");
            assert_eq!(line(out, "tcsetpgrp"), "OK", "{out}");
        }
        assert!(!marker.exists());
    }
    // `tty` and `stty` work on the terminal.
    let (_master, slave) = openpty();
    let run = on_the_terminal(
        &slave,
        policy,
        &[],
        &[
            BUSYBOX,
            "sh",
            "-c",
            "tty; stty -g >/dev/null && echo stty-ok",
        ],
    );
    let out = &run.out;
    assert_eq!(run.code, 0, "{out}");
    assert!(
        out.starts_with("/dev/pts/") && out.contains("stty-ok"),
        "{out}"
    );
    // An interactive shell takes the terminal for its jobs (job control:
    // TIOCSPGRP): it reads its commands from the terminal.
    let (master, slave) = openpty();
    let input = b"sleep 0.1\necho job-ok\nexit 0\n";
    // SAFETY: writes from a live buffer to the master we own.
    let n = unsafe { libc::write(master.as_raw_fd(), input.as_ptr().cast(), input.len()) };
    assert_eq!(n, input.len() as isize);
    let run = on_the_terminal(&slave, policy, &[], &[BUSYBOX, "sh", "-i"]);
    let out = &run.out;
    assert_eq!(run.code, 0, "{out}");
    assert!(out.contains("job-ok"), "{out}");
    assert!(!out.contains("job control turned off"), "{out}");
    // With --allow-unmapped (a trusted program) the kernel decides (root
    // has CAP_SYS_ADMIN: the bytes are pushed), which shows the test sees
    // an injection when there is one.
    let (_master, slave) = openpty();
    // (A whole line: in canonical mode only complete lines are readable.)
    let argv = [musl.to_str().unwrap(), "tiocsti", "true\n"];
    let run = on_the_terminal(&slave, policy, &["--allow-unmapped"], &argv);
    assert_eq!(line(&run.out, "TIOCSTI"), "OK", "{}", run.out);
    assert!(queued(&slave) > 0, "{}", run.out);
}
