//! A [`Pending`] against the kernel: answered once with its outcome, or,
//! dropped unanswered, failed with EPERM (never a pass).

use nix::errno::Errno;

use super::Pending;
use crate::answer::tests::harness::{wait_gone, Call, Child, Log};
use crate::answer::Outcome;
use crate::audit::Recorder;

#[test]
fn a_pending_is_the_notifications_thread_and_id() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let p = c.pending(&c.answerer(Recorder::default()), &n);
    assert_eq!((p.id, p.tid), (n.id, n.pid));
    p.answer(Outcome::Value(0));
    assert_eq!(c.report().ret, 0);
}

#[test]
fn an_answered_pending_is_answered_once() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let log = Log::start();
    let p: Box<Pending> = c.pending(&c.answerer(log.recorder.clone()), &n);
    // Consumed by the answer: its drop must not answer again.
    p.answer(Outcome::Value(8));
    assert!(!c.listener.id_valid(n.id));
    let (pid, listener) = (c.pid, c.listener.clone());
    let r = c.report();
    assert_eq!((r.ret, r.errno), (8, 0));
    assert_eq!(listener.send(n.id, 1, 0, 0), Err(Errno::ENOENT));
    let rec = log.one(pid);
    assert_eq!(rec["outcome"], "value");
    assert_eq!(rec["result"], 8);
    assert_eq!(rec["function"], "mkdir");
    assert!(log.recorder.finish());
    assert_eq!(
        log.of(pid).len(),
        1,
        "one record, none abandoned at the end"
    );
}

#[test]
fn a_failure_answered_through_a_pending_reaches_the_call() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let p = c.pending(&c.answerer(Recorder::default()), &n);
    p.answer(Outcome::Fail(Errno::EACCES));
    let r = c.report();
    assert_eq!((r.ret, r.errno), (-1, libc::EACCES));
}

#[test]
fn a_pending_dropped_unanswered_fails_the_call_with_eperm() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let log = Log::start();
    let p = c.pending(&c.answerer(log.recorder.clone()), &n);
    drop(p);
    assert!(!c.listener.id_valid(n.id), "the drop answered");
    let pid = c.pid;
    let r = c.report();
    // Never the kernel's own getppid (a pass): EPERM.
    assert_eq!((r.ret, r.errno), (-1, libc::EPERM));
    let rec = log.one(pid);
    assert_eq!(rec["outcome"], "error");
    assert_eq!(rec["errno"], "EPERM");
}

#[test]
fn a_pending_dropped_unanswered_fails_an_open_with_eperm() {
    let Some(c) = Child::start(Call::OpenRead) else {
        return;
    };
    let n = c.recv();
    drop(c.pending(&c.answerer(Recorder::default()), &n));
    let r = c.report();
    assert_eq!((r.ret, r.errno), (-1, libc::EPERM));
}

#[test]
fn a_pending_of_a_killed_thread_dropped_is_recorded_abandoned() {
    let Some(mut c) = Child::start(Call::Getppid) else {
        return;
    };
    let n = c.recv();
    let log = Log::start();
    let p = c.pending(&c.answerer(log.recorder.clone()), &n);
    c.kill();
    wait_gone(&c.listener, n.id);
    drop(p);
    let rec = log.one(c.pid);
    assert_eq!(rec["outcome"], "abandoned");
}

#[test]
fn a_pending_answered_with_a_descriptor_gives_it_to_the_program() {
    let Some(c) = Child::start(Call::OpenRead) else {
        return;
    };
    let n = c.recv();
    let p = c.pending(&c.answerer(Recorder::default()), &n);
    let fd = crate::answer::tests::harness::memfd(b"pending fd");
    p.answer(Outcome::Fd { fd, cloexec: true });
    let r = c.report();
    assert!(r.ret >= 0, "{r:?}");
    assert_eq!(r.data, b"pending fd");
}
