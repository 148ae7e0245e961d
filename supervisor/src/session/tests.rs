//! [`serve`]: the request loop between a source of events and a strategy.

use std::collections::VecDeque;

use nix::errno::Errno;

use super::{serve, Event, Flow, Strategy};
use crate::answer::tests::harness::{Call, Child};
use crate::answer::Outcome;
use crate::audit::Recorder;
use crate::jobs::Done;
use crate::run::Stop;

/// An event that needs no kernel: a finished job, by its token.
fn done(token: u64) -> Event {
    Event::Done(token, Done::Lookup(Ok(vec![])))
}

/// Records the tokens it is handed; yields the `n`th (or fails with
/// `fail` at the `n`th, if given).
struct Nth {
    n: usize,
    seen: Vec<u64>,
    fail: Option<i32>,
}

impl Nth {
    fn new(n: usize) -> Nth {
        Nth {
            n,
            seen: Vec::new(),
            fail: None,
        }
    }
}

impl Strategy for Nth {
    type Out = u64;
    fn event(&mut self, ev: Event) -> Result<Flow<u64>, Stop> {
        let Event::Done(token, _) = ev else {
            panic!("only jobs are sent here");
        };
        self.seen.push(token);
        if self.seen.len() < self.n {
            return Ok(Flow::Next);
        }
        match self.fail {
            Some(code) => Err(Stop::Checked(code)),
            None => Ok(Flow::Yield(token)),
        }
    }
}

/// A source of events 1, 2, 3, … that counts how often it was asked.
fn counting(asked: &mut u64) -> impl FnMut() -> Result<Event, Stop> + '_ {
    move || {
        *asked += 1;
        Ok(done(*asked))
    }
}

#[test]
fn serve_yields_what_the_strategy_yields_after_events_in_order() {
    let mut asked = 0;
    let mut s = Nth::new(3);
    let out = serve(counting(&mut asked), &mut s);
    assert!(matches!(out, Ok(3)), "{:?}", out.err());
    assert_eq!(s.seen, [1, 2, 3]);
    // No event is taken past the one yielded.
    assert_eq!(asked, 3);
}

#[test]
fn serve_yields_at_once_if_the_first_event_is_yielded() {
    let mut asked = 0;
    let mut s = Nth::new(1);
    assert!(matches!(serve(counting(&mut asked), &mut s), Ok(1)));
    assert_eq!((s.seen.as_slice(), asked), (&[1][..], 1));
}

#[test]
fn serve_returns_the_stop_next_returns() {
    let mut q: VecDeque<Result<Event, Stop>> =
        VecDeque::from([Ok(done(1)), Ok(done(2)), Err(Stop::Exited(7))]);
    let mut s = Nth::new(10);
    let out = serve(|| q.pop_front().expect("not asked past the stop"), &mut s);
    assert!(matches!(out, Err(Stop::Exited(7))), "{out:?}");
    assert_eq!(s.seen, [1, 2]);
    assert!(q.is_empty());
}

#[test]
fn serve_returns_a_stop_before_any_event() {
    let mut s = Nth::new(1);
    let out = serve(|| Err(Stop::Exited(0)), &mut s);
    assert!(matches!(out, Err(Stop::Exited(0))), "{out:?}");
    assert!(s.seen.is_empty());
}

#[test]
fn serve_returns_the_strategys_stop_and_asks_no_further() {
    let mut asked = 0;
    let mut s = Nth::new(2);
    s.fail = Some(3);
    let out = serve(counting(&mut asked), &mut s);
    assert!(matches!(out, Err(Stop::Checked(3))), "{out:?}");
    assert_eq!((s.seen.as_slice(), asked), (&[1, 2][..], 2));
}

/// Answers every request with its value; yields after `n`.
struct AnswerAll {
    left: usize,
    value: i64,
}

impl Strategy for AnswerAll {
    type Out = ();
    fn event(&mut self, ev: Event) -> Result<Flow<()>, Stop> {
        let Event::Request(p) = ev else {
            panic!("only requests are sent here");
        };
        p.answer(Outcome::Value(self.value));
        self.left -= 1;
        Ok(if self.left == 0 {
            Flow::Yield(())
        } else {
            Flow::Next
        })
    }
}

#[test]
fn serve_hands_real_requests_to_the_strategy_which_answers_them() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let a = c.answerer(Recorder::default());
    let next = || {
        let n = c.recv();
        Ok(Event::Request(c.pending(&a, &n)))
    };
    let mut s = AnswerAll { left: 1, value: 23 };
    assert!(serve(next, &mut s).is_ok());
    let r = c.report();
    assert_eq!((r.ret, r.errno), (23, 0));
}

/// Keeps nothing: every request it is handed is dropped unanswered.
struct Drops;

impl Strategy for Drops {
    type Out = ();
    fn event(&mut self, ev: Event) -> Result<Flow<()>, Stop> {
        drop(ev);
        Ok(Flow::Yield(()))
    }
}

#[test]
fn a_request_a_strategy_drops_fails_with_eperm() {
    let Some(c) = Child::start(Call::Getppid) else {
        return;
    };
    let a = c.answerer(Recorder::default());
    let next = || {
        let n = c.recv();
        Ok(Event::Request(c.pending(&a, &n)))
    };
    assert!(serve(next, &mut Drops).is_ok());
    let r = c.report();
    assert_eq!((r.ret, r.errno), (-1, Errno::EPERM as i32));
}
