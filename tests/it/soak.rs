//! Soak: 1,000,000 requests (open, stat, access, a failed open: four
//! kinds of answer) through one supervisor under broker-all, its
//! descriptor count and resident memory sampled all along: both stay flat.
//!
//! Measured on the 2-CPU CI machine (debug build): about 20,000 requests a
//! second alone, 10,000 with other builds running (1–1.5 minutes), 10–11 descriptors (one more while a request holds
//! its resolved directory) and a constant 7.8–8.1 MB resident.  The bounds
//! below leave room for noise, not for a leak: a descriptor or 2 KiB
//! leaked per request would break them a thousand times over.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{attack, canon, repo, supervisor, tempdir, write_file};

const REQUESTS: &str = "1000000";
/// Descriptors above the lowest count seen (transient ones of a request).
const FD_SLACK: usize = 3;
/// Resident memory growth allowed after the warm-up.
const RSS_SLACK_KB: u64 = 2048;
/// The warm-up: samples taken before are not bounded (the Lua state, the
/// allocator's arenas and the first requests settle).
const WARM_UP: Duration = Duration::from_secs(3);
const LIMIT: Duration = Duration::from_secs(900);

fn fd_count(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[test]
fn a_million_requests_with_flat_descriptors_and_memory() {
    let tmp = tempdir();
    let file = canon(&tmp).join("file");
    write_file(&file, "soak\n", 0o644);
    let out_path = canon(&tmp).join("out");
    let mut sv = Command::new(supervisor())
        .args(["run", "--policy"])
        .arg(repo().join("policies/broker-all.lua"))
        .arg("--")
        .args(attack(&["soak", REQUESTS, file.to_str().unwrap()]))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the supervisor");
    let pid = sv.id();
    let start = Instant::now();
    // (seconds, descriptors, resident kB)
    let mut samples: Vec<(f64, usize, u64)> = Vec::new();
    let status = loop {
        if let Some(s) = sv.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = sv.kill();
            panic!("the soak did not finish within {LIMIT:?}: {samples:?}");
        }
        if let (Some(f), Some(r)) = (fd_count(pid), rss_kb(pid)) {
            samples.push((start.elapsed().as_secs_f64(), f, r));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let elapsed = start.elapsed();
    let stderr = std::io::read_to_string(sv.stderr.take().unwrap()).unwrap_or_default();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "{status:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(
        stdout,
        format!("soak: calls={REQUESTS} errors=0\n"),
        "{stderr}"
    );
    let settled: Vec<_> = samples
        .iter()
        .filter(|s| s.0 >= WARM_UP.as_secs_f64())
        .collect();
    assert!(
        settled.len() >= 8,
        "too few samples after the warm-up ({:?} in all): {samples:?}",
        elapsed
    );
    let min_fd = settled.iter().map(|s| s.1).min().unwrap();
    let max_fd = settled.iter().map(|s| s.1).max().unwrap();
    let base_rss = settled[0].2;
    let max_rss = settled.iter().map(|s| s.2).max().unwrap();
    eprintln!(
        "soak: {REQUESTS} requests in {elapsed:.1?} ({:.0}/s); descriptors {min_fd}..={max_fd}; \
         resident {base_rss} kB after the warm-up, at most {max_rss} kB",
        REQUESTS.parse::<f64>().unwrap() / elapsed.as_secs_f64()
    );
    assert!(
        max_fd <= min_fd + FD_SLACK,
        "descriptors grew: {min_fd}..={max_fd}: {samples:?}"
    );
    assert!(
        max_rss <= base_rss + RSS_SLACK_KB,
        "resident memory grew from {base_rss} kB to {max_rss} kB: {samples:?}"
    );
}
