//! The answer path against the kernel: a real notify filter in a forked
//! child (see [`harness`]), answered through [`Answerer`].

pub(crate) mod harness;

use nix::errno::Errno;

use super::{Answerer, Outcome};
use crate::audit::Recorder;
use harness::{memfd, wait_gone, Call, Child, Log};
use kernel::notify::Notif;

/// Starts a child making `call`, receives its notification, answers it
/// with `o` through a fresh answerer; returns the child's report.
fn answered(call: Call, o: Outcome) -> Option<harness::Report> {
    let c = Child::start(call)?;
    let n = c.recv();
    c.answerer(Recorder::default()).answer(n.id, n.pid, o);
    Some(c.report())
}

/// Starts a child making `call` and receives its notification, recorded
/// as `syscall` by a fresh answerer writing to `log`.
fn received_in(log: &Log, call: Call, syscall: &'static str) -> Option<(Child, Notif, Answerer)> {
    let c = Child::start(call)?;
    let n = c.recv();
    let a = c.answerer(log.recorder.clone());
    a.audit().received(&c.listener, n.id, n.pid, syscall);
    Some((c, n, a))
}

#[test]
fn a_value_is_what_the_call_returns() {
    let Some(r) = answered(Call::Getppid, Outcome::Value(42)) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (42, 0));
}

#[test]
fn a_failure_is_the_calls_errno() {
    let Some(r) = answered(Call::Getppid, Outcome::Fail(Errno::EACCES)) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (-1, libc::EACCES));
}

#[test]
fn a_failure_without_an_errno_is_eperm_never_a_pass() {
    let Some(r) = answered(Call::Getppid, Outcome::Fail(Errno::UnknownErrno)) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (-1, libc::EPERM));
}

#[test]
fn continue_lets_the_kernel_run_the_call() {
    let Some(r) = answered(Call::Getppid, Outcome::Continue) else {
        return;
    };
    // The kernel's own getppid: the test process forked the child.
    assert_eq!((r.ret, r.errno), (i64::from(std::process::id()), 0));
}

#[test]
fn continue_of_an_open_is_the_kernels_own_failure() {
    let Some(r) = answered(Call::OpenRead, Outcome::Continue) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (-1, libc::ENOENT));
}

#[test]
fn an_fd_outcome_gives_the_program_a_working_descriptor() {
    let fd = memfd(b"from the supervisor");
    let o = Outcome::Fd { fd, cloexec: true };
    let Some(r) = answered(Call::OpenRead, o) else {
        return;
    };
    assert!(r.ret >= 0, "{r:?}");
    assert_eq!(r.data, b"from the supervisor");
    assert_eq!(r.fdflags & i64::from(libc::FD_CLOEXEC), 1, "{r:?}");
}

#[test]
fn an_fd_outcome_without_cloexec_leaves_it_clear() {
    let o = Outcome::Fd {
        fd: memfd(b"x"),
        cloexec: false,
    };
    let Some(r) = answered(Call::OpenRead, o) else {
        return;
    };
    assert!(r.ret >= 0, "{r:?}");
    assert_eq!(r.data, b"x");
    assert_eq!(r.fdflags, 0, "{r:?}");
}

#[test]
fn install_at_a_number_answers_that_number() {
    let o = Outcome::Install {
        fds: vec![(memfd(b"installed at 57"), Some(57))],
        cloexec: false,
        then: None,
    };
    let Some(r) = answered(Call::OpenRead, o) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (57, 0));
    assert_eq!(r.data, b"installed at 57");
}

#[test]
fn install_then_answers_with_the_jobs_outcome() {
    let o = Outcome::Install {
        fds: vec![(memfd(b"unused"), None)],
        cloexec: true,
        then: Some(Box::new(|| Outcome::Value(7))),
    };
    let Some(r) = answered(Call::Getppid, o) else {
        return;
    };
    assert_eq!((r.ret, r.errno), (7, 0));
}

#[test]
fn a_blocking_outcome_is_answered_from_a_blocking_thread() {
    let log = Log::start();
    let Some((c, n, a)) = received_in(&log, Call::Getppid, "getppid") else {
        return;
    };
    let caller = std::thread::current().id();
    let (tx, rx) = std::sync::mpsc::channel();
    let job = move || {
        tx.send(std::thread::current().id() != caller).unwrap();
        Outcome::Value(11)
    };
    a.answer(n.id, n.pid, Outcome::Blocking(Box::new(job)));
    let pid = c.pid;
    let r = c.report();
    assert_eq!((r.ret, r.errno), (11, 0));
    assert!(rx.recv().unwrap(), "the job ran on another thread");
    // The record is written after the send, on the blocking thread.
    let rec = log.wait_one(pid);
    assert_eq!(rec["outcome"], "value");
    assert_eq!(rec["result"], 11);
}

#[test]
fn an_answer_is_sent_exactly_once() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let a = c.answerer(Recorder::default());
    assert!(c.listener.id_valid(n.id));
    a.answer(n.id, n.pid, Outcome::Value(5));
    // The kernel took our answer: the id is no longer pending, and a
    // second answer to it is refused — EINPROGRESS while the answered
    // notification waits for its thread to wake, ENOENT once it is gone.
    assert!(!c.listener.id_valid(n.id));
    let again = c.listener.send(n.id, 6, 0, 0);
    assert!(
        matches!(again, Err(Errno::EINPROGRESS | Errno::ENOENT)),
        "{again:?}"
    );
    let listener = c.listener.clone();
    let r = c.report();
    assert_eq!((r.ret, r.errno), (5, 0));
    assert_eq!(listener.send(n.id, 6, 0, 0), Err(Errno::ENOENT));
}

/// Gone for a call that still waits: the ESRCH came from the act (a
/// /proc/<pid> directory of a dead process), not from the thread's death;
/// the call is answered ESRCH, never left waiting.  (A thread really gone:
/// an_answer_to_a_killed_thread_is_recorded_abandoned.)
#[test]
fn gone_for_a_call_still_waiting_answers_esrch() {
    let log = Log::start();
    let Some((c, n, a)) = received_in(&log, Call::Getppid, "getppid") else {
        return;
    };
    a.answer(n.id, n.pid, Outcome::Gone);
    assert!(!c.listener.id_valid(n.id), "Gone left the call waiting");
    let pid = c.pid;
    let r = c.report();
    assert_eq!((r.ret, r.errno), (-1, libc::ESRCH));
    let rec = log.one(pid);
    assert_eq!(rec["errno"], "ESRCH");
}

#[test]
fn an_answer_to_a_killed_thread_is_recorded_abandoned() {
    let log = Log::start();
    let Some((mut c, n, a)) = received_in(&log, Call::Getppid, "getppid") else {
        return;
    };
    c.kill();
    wait_gone(&c.listener, n.id);
    a.answer(n.id, n.pid, Outcome::Value(1));
    let rec = log.one(c.pid);
    assert_eq!(rec["outcome"], "abandoned");
}

#[test]
fn an_fd_for_a_killed_thread_is_recorded_abandoned() {
    let log = Log::start();
    let Some((mut c, n, a)) = received_in(&log, Call::OpenRead, "openat") else {
        return;
    };
    c.kill();
    wait_gone(&c.listener, n.id);
    let o = Outcome::Fd {
        fd: memfd(b"x"),
        cloexec: true,
    };
    a.answer(n.id, n.pid, o);
    let rec = log.one(c.pid);
    assert_eq!(rec["outcome"], "abandoned");
}

/// Answers one notification of a fresh child with `o`, recorded in `log`;
/// returns the child's pid and report.
fn answered_in(log: &Log, call: Call, o: Outcome) -> Option<(libc::pid_t, harness::Report)> {
    let (c, n, a) = received_in(log, call, "getppid")?;
    a.answer(n.id, n.pid, o);
    Some((c.pid, c.report()))
}

#[test]
fn every_answer_has_exactly_one_record_that_matches_it() {
    let log = Log::start();
    let Some((v, rv)) = answered_in(&log, Call::Getppid, Outcome::Value(42)) else {
        return;
    };
    let (f, rf) = answered_in(&log, Call::Getppid, Outcome::Fail(Errno::EACCES)).unwrap();
    let (k, rk) = answered_in(&log, Call::Getppid, Outcome::Continue).unwrap();
    let fd = Outcome::Fd {
        fd: memfd(b"x"),
        cloexec: true,
    };
    let (d, rd) = answered_in(&log, Call::OpenRead, fd).unwrap();
    assert_eq!(log.records().len(), 4, "{:?}", log.records());

    let r = log.one(v);
    assert_eq!(
        (r["outcome"].as_str(), r["result"].as_i64()),
        (Some("value"), Some(42))
    );
    assert_eq!(rv.ret, 42);

    let r = log.one(f);
    assert_eq!(
        (r["outcome"].as_str(), r["errno"].as_str()),
        (Some("error"), Some("EACCES"))
    );
    assert_eq!(rf.errno, libc::EACCES);

    let r = log.one(k);
    assert_eq!(r["outcome"], "continue");
    assert_eq!(r["result"], serde_json::Value::Null);
    assert_eq!(rk.ret, i64::from(std::process::id()));

    // The record of an installed descriptor is its number in the program.
    let r = log.one(d);
    assert_eq!(r["outcome"], "value");
    assert_eq!(r["result"].as_i64(), Some(rd.ret));

    // Nothing was left open to be written as abandoned at the end.
    assert!(log.recorder.finish());
    assert_eq!(log.records().len(), 4, "{:?}", log.records());
}
