//! More than one serving thread (`--serving-threads`, rules.run): every
//! guarantee of the one-thread loop holds — one answer per request, each
//! to its own request; a thread's calls in order; a handled signal
//! interrupting a blocking brokered call while the other threads are
//! served; the audit log complete and the summary counting it.  Not timed:
//! speed is the benchmark's (bench/run, "Concurrency").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::{canon, compile, probe_dir, repo, tempdir, write_file, Cmd, Output, Policy};

/// tests/probes/serving.c, `musl-gcc -static`.
fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join("serving-musl-static");
        compile(
            "musl-gcc",
            &["-static"],
            &repo().join("tests/probes/serving.c"),
            &out,
        );
        out
    })
}

/// A directory with the files the probe opens: `f<t>` holding `file <t>`
/// for each of `threads`, `secret` (which the rules deny), a FIFO.
fn setup(threads: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let d = canon(&dir);
    for t in 0..threads {
        write_file(&d.join(format!("f{t}")), &format!("file {t}\n"), 0o644);
    }
    write_file(&d.join("secret"), "secret\n", 0o644);
    nix::unistd::mkfifo(
        &d.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .expect("mkfifo");
    (dir, d)
}

/// The policy of issue 20: everything allowed but reading `DIR/secret`.
fn rules(d: &Path) -> Policy {
    Policy::inline(&format!(
        "local rules = require \"rules\"\n\
         return rules.run {{ default = \"allow\", {{ \"deny\", \"read\", {:?} }} }}\n",
        d.join("secret").display().to_string()
    ))
}

/// `serving OP DIR T N` under the rules with `serving` serving threads.
fn served(d: &Path, op: &str, threads: usize, rounds: usize, serving: usize) -> Cmd {
    let argv = [
        probe().as_os_str().to_os_string(),
        op.into(),
        d.as_os_str().to_os_string(),
        threads.to_string().into(),
        rounds.to_string().into(),
    ];
    Cmd::supervised(rules(d), &argv)
        .option("--serving-threads")
        .option(serving.to_string())
}

#[track_caller]
fn line<'a>(o: &'a Output, prefix: &str) -> &'a str {
    o.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line: {o}"))
}

#[test]
fn many_threads_each_get_exactly_their_own_answer() {
    // 8 threads x 300 rounds x 8 calls, on 4 serving threads: every
    // descriptor answered is the file its thread asked for (it reads its
    // own content), every denial the denied open's, and the run ends.
    let (_dir, d) = setup(8);
    let o = served(&d, "opens", 8, 300, 4).run();
    o.assert_code(0);
    assert_eq!(line(&o, "opens:"), "opens: ok=2400 bad=0", "{o}");
}

#[test]
fn a_threads_calls_are_served_in_order() {
    // Each round creates a file, stats it, unlinks it, stats it again
    // (ENOENT) and creates it again with O_EXCL: a call served before the
    // one its thread made earlier would fail one of these.  16 threads
    // on 4 serving threads.
    let (_dir, d) = setup(16);
    let o = served(&d, "opens", 16, 100, 4).run();
    o.assert_code(0);
    assert_eq!(line(&o, "opens:"), "opens: ok=1600 bad=0", "{o}");
    // Nothing is left of the files created.
    let left: Vec<_> = std::fs::read_dir(&d)
        .expect("read the directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('t'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_signal_interrupts_a_blocked_fifo_open_while_the_other_threads_are_served() {
    // One thread blocks in an open of a FIFO nobody writes (the supervisor
    // performs it on a blocking thread); 4 others make 200 rounds each
    // meanwhile and finish while it still blocks; then a handled SIGUSR1
    // (no SA_RESTART) interrupts the open: EINTR, as natively.
    let (_dir, d) = setup(4);
    let o = served(&d, "fifo", 4, 200, 4).run();
    o.assert_code(0);
    assert_eq!(
        line(&o, "fifo:"),
        "fifo: served=800 bad=0 blocked-meanwhile=1 open=EINTR handled=1",
        "{o}"
    );
    // Natively (as root the secret is readable: only the FIFO's part).
    let native = served(&d, "fifo", 1, 1, 4).without_supervisor().run();
    let n = line(&native, "fifo:");
    assert!(
        n.ends_with("blocked-meanwhile=1 open=EINTR handled=1"),
        "{native}"
    );
}

/// The records of a log file.
fn records(log: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(log).expect("read the log");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The summary's table of requests (function, answer, count, denied, by).
fn summary_table(stderr: &str) -> Vec<String> {
    let mut rows: Vec<String> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("requests:"))
        .skip(2)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_log_has_one_record_per_request_and_the_summary_counts_them() {
    let (_dir, d) = setup(8);
    let (threads, rounds) = (8, 200);
    let log = d.join("log.jsonl");
    let o = served(&d, "opens", threads, rounds, 4)
        .option("--log")
        .option(&log)
        .option("--summary")
        .run();
    o.assert_code(0);
    assert_eq!(line(&o, "opens:"), "opens: ok=1600 bad=0", "{o}");
    let recs = records(&log);
    // 8 calls a round: open, open (denied), open (create), stat, unlink,
    // stat, open (create), unlink; nothing else is trapped.
    assert_eq!(recs.len(), threads * rounds * 8, "{o}");
    let total: usize = o
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("supervisor: summary: "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {o}"));
    assert_eq!(total, recs.len(), "{o}");
    // Each thread's calls, each answered once.
    let mut per_tid: HashMap<u64, usize> = HashMap::new();
    for r in &recs {
        assert_ne!(r["outcome"], "abandoned", "{r}");
        assert!(r["decision"].is_string(), "{r}");
        *per_tid.entry(r["tid"].as_u64().expect("tid")).or_default() += 1;
    }
    assert_eq!(per_tid.len(), threads, "{per_tid:?}");
    assert!(per_tid.values().all(|&n| n == rounds * 8), "{per_tid:?}");
    let denied = recs.iter().filter(|r| r["denied"] == true).count();
    assert_eq!(denied, threads * rounds);
    // The same table as with the main thread alone.
    let one = served(&d, "opens", threads, rounds, 1)
        .option("--summary")
        .run();
    one.assert_code(0);
    assert_eq!(
        summary_table(&o.stderr),
        summary_table(&one.stderr),
        "{o}\n{one}"
    );
}

#[test]
fn execs_and_connects_are_handed_to_the_main_thread_and_answered() {
    // Serving threads hand execs (verified by the thread that reaps) and
    // socket calls (the DNS stub's, the names of addresses) to the main
    // thread: with 4 serving threads most of them are received by one that
    // hands them over.  100 rounds of two execs and a connect to a
    // loopback port the rules deny (never sent: EACCES), each answered once.
    let (_dir, d) = setup(1);
    let bb = crate::util::BUSYBOX;
    let script = format!(
        "i=0; while [ $i -lt 100 ]; do {bb} true; {bb} nc 127.0.0.1 9 </dev/null 2>/dev/null; \
         i=$((i+1)); done; echo done $i"
    );
    let argv = [bb, "sh", "-c", &script];
    let policy = Policy::inline(
        "local rules = require \"rules\"\n\
         return rules.run { default = \"allow\", { \"deny\", \"connect\", \"127.0.0.1/32\", port = 9 } }\n",
    );
    let log = d.join("log.jsonl");
    let o = Cmd::supervised(policy, &argv)
        .option("--serving-threads")
        .option("4")
        .option("--log")
        .option(&log)
        .option("--summary")
        .run();
    o.assert_code(0);
    assert_eq!(o.stdout, "done 100\n", "{o}");
    let recs = records(&log);
    let count = |f: &str| recs.iter().filter(|r| r["function"] == f).count();
    assert_eq!(count("exec"), 200, "{o}");
    let connects: Vec<&Value> = recs
        .iter()
        .filter(|r| r["function"] == "connect_inet")
        .collect();
    assert_eq!(connects.len(), 100, "{o}");
    assert!(connects.iter().all(|r| r["errno"] == "EACCES"), "{o}");
    assert!(recs.iter().all(|r| r["outcome"] != "abandoned"), "{o}");
    assert!(o.stderr.contains(" 0 abandoned"), "{o}");
}
