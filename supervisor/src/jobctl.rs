//! Ending the job from outside: a signal sent to the supervisor (what a
//! CI runner does on cancel) and `--timeout`.
//!
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the supervisor by another
//! process go to every process of the job (the program and everything it
//! started; a shell running `sleep` does not pass a SIGTERM on), and start
//! the grace period (`--kill-after`, default 10 s): whatever is still
//! running then is killed.  A signal from the terminal already reached the
//! whole foreground job (it shares the supervisor's process group) and is
//! left to the program, as without the supervisor.
//!
//! `--timeout DURATION` sends SIGTERM to the job when it expires, then
//! the same grace period; the run then ends with [`crate::exit::TIMEOUT`]
//! whatever the program's own status.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::unistd::Pid;

use crate::reap;

/// The grace period when none is given.
pub const KILL_AFTER: Duration = Duration::from_secs(10);

/// How the job is to end, and where that stands.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--kill-after`: from the first SIGTERM (signal or timeout) to SIGKILL.
    pub kill_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: None,
            kill_after: KILL_AFTER,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running (the timer, if any, is the timeout).
    Running,
    /// Told to end; the timer is the grace period.
    Ending,
    /// Killed.
    Killed,
}

/// The job's end, seen from the session.
pub struct JobCtl {
    limits: Limits,
    timer: TimerFd,
    phase: Phase,
    timed_out: bool,
}

impl JobCtl {
    /// The timer (armed for the timeout, if any).
    pub fn new(limits: Limits) -> Result<JobCtl, nix::errno::Errno> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        let j = JobCtl {
            limits,
            timer,
            phase: Phase::Running,
            timed_out: false,
        };
        if let Some(t) = limits.timeout {
            j.arm(t)?;
        }
        Ok(j)
    }

    fn arm(&self, d: Duration) -> Result<(), nix::errno::Errno> {
        // A zero duration would disarm the timer.
        let d = d.max(Duration::from_millis(1));
        self.timer.set(
            Expiration::OneShot(TimeSpec::from_duration(d)),
            TimerSetTimeFlags::empty(),
        )
    }

    /// Readable when the timer expired (to watch with the other sources).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }

    /// Did the timeout end the job?
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// `sig` came from process `from` (0: the kernel, e.g. the terminal).
    pub fn signal(&mut self, keeper: Pid, sig: Signal, from: u32) {
        if from == 0 {
            // Already delivered to the whole foreground process group.
            return;
        }
        reap::signal_job(keeper, sig);
        if self.phase == Phase::Running {
            self.phase = Phase::Ending;
            let _ = self.arm(self.limits.kill_after);
        }
    }

    /// Looks at the timer (non-blocking): the timeout or the grace period.
    pub fn check(&mut self, keeper: Pid) {
        let mut buf = [0u8; 8];
        // EAGAIN: not expired.
        if nix::unistd::read(&self.timer, &mut buf).is_err() {
            return;
        }
        match self.phase {
            Phase::Running => {
                self.timed_out = true;
                self.phase = Phase::Ending;
                reap::signal_job(keeper, Signal::SIGTERM);
                let _ = self.arm(self.limits.kill_after);
            }
            Phase::Ending => {
                self.phase = Phase::Killed;
                reap::signal_job(keeper, Signal::SIGKILL);
            }
            Phase::Killed => {}
        }
    }
}

/// Parses a duration: `30` or `30s`, `500ms`, `5m`, `1h`, `1.5s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 500ms, 5m, 1h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
