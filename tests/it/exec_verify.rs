//! The kernel facts the exec design rests on (docs/security.md, "Exec: the
//! design"), shown on this kernel by tests/probes/exec_verify.c, the
//! smallest supervisor using them: a thread flipping the path buffer
//! during execve between an allowed binary A and a denied D; the exec is
//! answered CONTINUE with the thread seized (PTRACE_O_TRACEEXEC) and
//! verified at the PTRACE_EVENT_EXEC stop, before the new image's first
//! instruction.  D never runs; both outcomes (A verified, a swap killed)
//! occur.

use std::path::Path;

use crate::util::{canon, compile, tempdir, Cmd};

#[test]
fn an_exec_verified_at_the_exec_event_never_runs_a_swapped_in_binary() {
    let tmp = tempdir();
    let dir = canon(&tmp);
    let tracer = dir.join("exec_verify");
    compile(
        "gcc",
        &[],
        &crate::util::repo().join("tests/probes/exec_verify.c"),
        &tracer,
    );
    let (a, d) = (dir.join("A"), dir.join("D"));
    std::fs::copy(&tracer, &a).unwrap();
    std::fs::copy(&tracer, &d).unwrap();
    let marker = dir.join("marker");
    let (mut verified, mut killed) = (0, 0);
    for _ in 0..10 {
        let o = Cmd::native(&[
            tracer.as_os_str(),
            a.as_os_str(),
            d.as_os_str(),
            marker.as_os_str(),
            "200".as_ref(),
        ])
        .run();
        o.assert_clean();
        let c = crate::util::counters(&o, "verified=");
        verified += c["verified"];
        killed += c["killed"];
        if verified > 0 && killed > 0 {
            break;
        }
    }
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    let a_text = format!("{}\n", a.display());
    assert!(
        ran.lines().all(|l| Path::new(l) == a),
        "a binary other than A ran: {ran}"
    );
    assert_eq!(ran.matches(&a_text).count() as u64, verified);
    assert!(verified > 0, "A never ran");
    assert!(
        killed > 0,
        "the race never swapped D in (verified={verified})"
    );
}
