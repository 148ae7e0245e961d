//! Security suite, resource abuse and lifecycle: a storm of SA_RESTART
//! signals during brokered creates and unlinks, 1,000 threads opening at
//! once, a fork bomb stopped by its policy, the supervisor SIGKILLed
//! mid-run (the whole program dies with it), the program killed in the
//! middle of a brokered call, a pid reused while a request is in flight.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{
    alive, attack, canon, counters, outcome, supervisor, tempdir, write_file, Cmd, Policy,
};

/// Waits up to `limit` for `cond`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// The pids of the processes whose environment holds `marker`.
fn marked(marker: &str) -> Vec<i32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()) && alive(pid) {
                v.push(pid);
            }
        }
    }
    v
}

/// A storm of SIGUSR1 (SA_RESTART) at the thread creating and unlinking
/// files through the supervisor: every call succeeds exactly once (no
/// EINTR, no ENOENT from a call performed twice), nothing is left behind.
#[test]
fn signal_storm_during_brokered_unlinks() {
    let tmp = tempdir();
    let dir = canon(&tmp);
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&["signal-storm", dir.to_str().unwrap(), "3000"]),
    )
    .run();
    out.assert_clean();
    let c = counters(&out, "signal-storm:");
    assert_eq!((c["calls"], c["errors"], c["eintr"]), (6000, 0, 0), "{out}");
    // A storm indeed (thousands on an idle machine; fewer under load).
    assert!(c["signals"] >= 300, "too few signals for a storm: {out}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "{out}");
}

/// 1,000 threads released together, each opening and reading a file
/// through the supervisor: all get the right content.
#[test]
fn a_thousand_threads_open_at_once() {
    let tmp = tempdir();
    let dir = canon(&tmp);
    for k in 0..8 {
        write_file(&dir.join(format!("f{k}")), &format!("content {k}\n"), 0o644);
    }
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&["herd", dir.to_str().unwrap(), "1000"]),
    )
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "herd"), "threads=1000 bad=0", "{out}");
}

/// Every process opens a file and forks, forever; the policy stops the
/// run after 300 requests (a Lua error: fail closed).  The supervisor
/// stays in control: exit 124, and no process of the program survives.
#[test]
fn a_fork_bomb_is_stopped_by_its_policy() {
    let marker = format!("ATTACK_FORK_BOMB={}", std::process::id());
    let policy = r#"local master = require("libc_service").master
local n = 0
while true do
  master:receive()
  n = n + 1
  if n > 300 then error("fork bomb: too many requests") end
  master:use_master_credentials()
end
"#;
    let (k, v) = marker.split_once('=').unwrap();
    let out = Cmd::supervised(
        Policy::inline(policy),
        &attack(&["fork-bomb", "/etc/hostname"]),
    )
    .env(k, v)
    .run();
    out.assert_code(124);
    assert!(out.stderr.contains("fork bomb: too many requests"), "{out}");
    let left = marked(&marker);
    assert!(
        left.is_empty(),
        "processes of the fork bomb survived: {left:?}\n{out}"
    );
}

/// The supervisor SIGKILLed while the program runs a thread, a child and
/// a grandchild in a session of its own: all of them die.
#[test]
fn the_whole_program_dies_with_a_sigkilled_supervisor() {
    let tmp = tempdir();
    let pidfile = canon(&tmp).join("pids");
    let mut sv = Command::new(supervisor())
        .args(["run", "--policy"])
        .arg(crate::util::repo().join("policies/broker-all.lua"))
        .arg("--")
        .args(attack(&["family", pidfile.to_str().unwrap()]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the supervisor");
    let ready = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.contains("ready"))
    });
    let pids: Vec<(String, i32)> = std::fs::read_to_string(&pidfile)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect();
    // The keeper: the parent of the program's main process.
    let keeper = pids
        .iter()
        .find(|(k, _)| k == "main")
        .and_then(|(_, p)| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .and_then(|s| {
            s.rsplit(')')
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse::<i32>()
                .ok()
        });
    sv.kill().expect("SIGKILL the supervisor");
    let _ = sv.wait();
    assert!(ready, "the program never got ready: {pids:?}");
    assert_eq!(pids.len(), 3, "{pids:?}");
    let mut all = pids.clone();
    all.extend(keeper.map(|k| ("keeper".to_string(), k)));
    let gone = wait_for(Duration::from_secs(10), || {
        all.iter().all(|(_, p)| !alive(*p))
    });
    let survivors: Vec<_> = all.iter().filter(|(_, p)| alive(*p)).cloned().collect();
    for (_, p) in &survivors {
        // SAFETY: plain kill(2) of a stray process this test started.
        unsafe { libc::kill(*p, libc::SIGKILL) };
    }
    assert!(gone, "survived the supervisor: {survivors:?}");
    assert!(keeper.is_some(), "no keeper found: {pids:?}");
}

/// The program SIGKILLed while a brokered open of a FIFO (no writer)
/// blocks in the supervisor: the run ends at once with 137.
#[test]
fn the_program_killed_in_a_blocked_brokered_call_ends_the_run() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let fifo = root.join("fifo");
    let pidfile = root.join("pid");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let killer = {
        let pidfile = pidfile.clone();
        std::thread::spawn(move || {
            let read = || {
                std::fs::read_to_string(&pidfile)
                    .ok()?
                    .trim()
                    .parse::<i32>()
                    .ok()
            };
            if !wait_for(Duration::from_secs(20), || read().is_some()) {
                return false;
            }
            // Let the open reach the supervisor's blocking thread.
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: plain kill(2) of the program this test started.
            unsafe { libc::kill(read().unwrap(), libc::SIGKILL) };
            true
        })
    };
    let start = Instant::now();
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &attack(&[
            "fifo-open",
            pidfile.to_str().unwrap(),
            fifo.to_str().unwrap(),
        ]),
    )
    .run();
    assert!(killer.join().unwrap(), "the program never started: {out}");
    out.assert_code(137);
    assert!(!out.stdout.contains("fifo-open:"), "{out}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the run outlived its program by far: {:?}",
        start.elapsed()
    );
}

/// A child stats a file; the policy takes 2 s (of CPU) to answer with made-up
/// fields; meanwhile the child is killed and a new process gets its pid,
/// with a marker in the very buffer the stat would fill: the late answer
/// is dropped, the new process's memory is untouched.
#[test]
fn a_late_answer_never_lands_in_a_process_that_reused_the_pid() {
    assert!(
        Path::new("/proc/sys/kernel/ns_last_pid").exists(),
        "this test sets ns_last_pid (needs root)"
    );
    let tmp = tempdir();
    let trigger = canon(&tmp).join("trigger");
    write_file(&trigger, "x", 0o644);
    let policy = r#"local master = require("libc_service").master
local trigger = os.getenv("TRIGGER")
while true do
  master:receive()
  local f = master.function_
  if (f == "stat" or f == "lstat") and master:resolved() == trigger then
    local t = os.clock()
    while os.clock() - t < 2 do end
    master:send({ size = 424242, mode = 420, type = "regular" })
  else
    master:use_master_credentials()
  end
end
"#;
    let out = Cmd::supervised(
        Policy::inline(policy),
        &attack(&["pid-reuse", trigger.to_str().unwrap()]),
    )
    .env("TRIGGER", &trigger)
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "pid-reuse"), "reused=yes intact=yes", "{out}");
}
