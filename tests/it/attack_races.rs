//! Security suite, pointer races: the path (or socket address) a call
//! names is rewritten while the supervisor decides, by a second thread, by
//! the parent's thread while a vfork child makes the call (shared memory),
//! or by another process through a MAP_SHARED memfd.  Under deny-path (the
//! denied name refused, everything else brokered) the denied object is
//! never reached, and both outcomes occur (the race really ran).

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::util::{attack, canon, counters, tempdir, write_file, Cmd, Policy};

const ITERATIONS: &str = "20000";
const MILLIS: &str = "1500";

fn ids(p: &Path) -> (String, String) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.dev().to_string(), m.ino().to_string())
}

/// Runs `race KIND OP …` with A allowed and B denied.
fn race(kind: &str, op: &str) {
    let tmp = tempdir();
    let root = canon(&tmp);
    // Long, distinctive names: a torn read makes a path that does not exist.
    let a = root.join("allowed-name-for-the-race");
    let b = root.join("denied--name-for-the-race");
    let dst = root.join("renamed-here");
    let stop = Arc::new(AtomicBool::new(false));
    let mut drain = None;
    let mut denied_listener = None;
    let (adev, aino, bdev, bino, dst_arg);
    if op == "connect" {
        let la = UnixListener::bind(&a).expect("bind A");
        let lb = UnixListener::bind(&b).expect("bind B");
        lb.set_nonblocking(true).unwrap();
        la.set_nonblocking(true).unwrap();
        let s = stop.clone();
        drain = Some(std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match la.accept() {
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
                }
            }
        }));
        denied_listener = Some(lb);
        (adev, aino, bdev, bino) = ("1".into(), "1".into(), "2".into(), "2".into());
        // The peer name that would be a leak.
        dst_arg = b.clone();
    } else {
        write_file(&a, "allowed\n", 0o644);
        write_file(&b, "denied\n", 0o644);
        (adev, aino) = ids(&a);
        (bdev, bino) = ids(&b);
        dst_arg = dst.clone();
    }
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let argv = attack(&[
        "race",
        kind,
        op,
        &s(&a),
        &s(&b),
        &s(&dst_arg),
        &adev,
        &aino,
        &bdev,
        &bino,
        ITERATIONS,
        MILLIS,
    ]);
    let out = Cmd::supervised(Policy::example("deny-path"), &argv)
        .env("DENY", &b)
        .run();
    stop.store(true, Ordering::Relaxed);
    if let Some(d) = drain {
        d.join().unwrap();
    }
    out.assert_clean();
    let c = counters(&out, &format!("race {kind} {op}:"));
    assert_eq!(c["leaks"], 0, "the denied object was reached: {out}");
    assert_eq!(c["mismatched"], 0, "an unexpected object: {out}");
    assert!(c["ok"] > 0, "A never went through, no race: {out}");
    assert!(c["denied"] > 0, "B was never denied, no race: {out}");
    match op {
        "unlink" | "rename" => {
            // B is still there, the same file.
            assert_eq!(ids(&b), (bdev, bino), "B was {op}d: {out}");
        }
        "connect" => {
            let lb = denied_listener.expect("B");
            assert!(
                lb.accept().is_err(),
                "a connection reached the denied socket: {out}"
            );
        }
        _ => {}
    }
}

macro_rules! races {
    ($($name:ident: $kind:literal $op:literal;)*) => {$(
        #[test]
        fn $name() {
            race($kind, $op);
        }
    )*};
}

races! {
    thread_rewrites_the_path_during_open: "thread" "open";
    thread_rewrites_the_path_during_stat: "thread" "stat";
    thread_rewrites_the_path_during_unlink: "thread" "unlink";
    thread_rewrites_the_path_during_rename: "thread" "rename";
    thread_rewrites_the_address_during_connect: "thread" "connect";
    vfork_child_calls_open_while_the_path_is_rewritten: "vfork" "open";
    vfork_child_calls_stat_while_the_path_is_rewritten: "vfork" "stat";
    vfork_child_calls_unlink_while_the_path_is_rewritten: "vfork" "unlink";
    vfork_child_calls_rename_while_the_path_is_rewritten: "vfork" "rename";
    vfork_child_calls_connect_while_the_address_is_rewritten: "vfork" "connect";
    memfd_writer_rewrites_the_path_during_open: "memfd" "open";
    memfd_writer_rewrites_the_path_during_stat: "memfd" "stat";
    memfd_writer_rewrites_the_path_during_unlink: "memfd" "unlink";
    memfd_writer_rewrites_the_path_during_rename: "memfd" "rename";
    memfd_writer_rewrites_the_address_during_connect: "memfd" "connect";
}
