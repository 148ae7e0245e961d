//! Time-of-check/time-of-use races: the program changes what a path means
//! while the supervisor decides.  A policy that decides on the resolved
//! path and brokers the call (use_master_credentials) must never let the
//! denied file through.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::util::{canon, tempdir, write_file, Cmd, Kind, Policy};

/// Bounds of each race: whichever comes first.
const ITERATIONS: &str = "20000";
const MILLIS: &str = "3000";

/// The counters a race subcommand of the probe prints.
#[derive(Debug)]
struct Counts {
    iterations: u64,
    opens: u64,
    denied: u64,
    other: u64,
    leaks: u64,
    mismatched: u64,
}

fn counts(out: &crate::util::Output, prefix: &str) -> Counts {
    let c = crate::util::counters(out, prefix);
    let field = |name: &str| -> u64 {
        *c.get(name)
            .unwrap_or_else(|| panic!("no {name} in the {prefix:?} line: {out}"))
    };
    Counts {
        iterations: field("iterations"),
        opens: field("opens"),
        denied: field("denied"),
        other: field("other"),
        leaks: field("leaks"),
        mismatched: field("mismatched"),
    }
}

/// The probe's `race` (race-open or symlink-race) between `a` and `b`
/// under deny-path denying `secret`: no descriptor on `secret` (by its
/// dev/ino), none on an unexpected file, every iteration counted, and
/// both outcomes (else no race: `never` says which, opened and denied).
#[track_caller]
fn race(race: &str, (a, b): (&Path, &Path), secret: &str, never: (&str, &str)) {
    let md = std::fs::metadata(secret).unwrap_or_else(|_| panic!("this test needs {secret}"));
    let argv = Kind::Musl.probe_argv(&[
        race,
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        &md.dev().to_string(),
        &md.ino().to_string(),
        ITERATIONS,
        MILLIS,
    ]);
    let out = Cmd::supervised(Policy::example("deny-path"), &argv)
        .env("DENY", secret)
        .run();
    out.assert_clean();
    let c = counts(&out, &format!("{race}:"));
    assert_eq!(c.leaks, 0, "{secret} was opened: {c:?}\n{out}");
    assert_eq!(
        c.mismatched, 0,
        "an open returned an unexpected file: {c:?}\n{out}"
    );
    assert!(c.opens > 0, "{}, no race: {c:?}\n{out}", never.0);
    assert!(c.denied > 0, "{}, no race: {c:?}\n{out}", never.1);
    assert!(
        c.iterations > 0 && c.opens + c.denied + c.other == c.iterations,
        "{c:?}"
    );
}

/// A thread flips one path buffer between an allowed file and /etc/shadow
/// while the main thread opens the buffer: under deny-path (DENY=/etc/shadow,
/// everything else brokered) no descriptor on /etc/shadow is ever returned,
/// and both allowed opens and denials happen.
#[test]
fn flipping_path_buffer_never_opens_the_denied_file() {
    let tmp = tempdir();
    let root = canon(&tmp);
    // A long, distinctive directory name: a torn read of the buffer makes a
    // path that does not exist rather than another real file.
    let dir = root.join("allowed-directory-for-the-race");
    std::fs::create_dir(&dir).unwrap();
    let allowed = dir.join("allowed-file");
    write_file(&allowed, "allowed content\n", 0o644);
    race(
        "race-open",
        (&allowed, Path::new("/etc/shadow")),
        "/etc/shadow",
        (
            "the allowed file was never opened",
            "/etc/shadow was never denied",
        ),
    );
}

/// A thread swaps a symlink `link` (atomic rename of a fresh symlink over
/// it) between a directory holding a harmless `passwd` and /etc, while the
/// main thread opens `link/passwd`: under deny-path (DENY=/etc/passwd, the
/// rest brokered) /etc/passwd is never opened (dev/ino of every descriptor
/// compared with those of /etc/passwd), and both outcomes occur.
#[test]
fn swapped_symlink_never_opens_the_denied_file() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let allowed = root.join("allowed");
    let work = root.join("work");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::create_dir(&work).unwrap();
    write_file(&allowed.join("passwd"), "not the real passwd\n", 0o644);
    race(
        "symlink-race",
        (&work, &allowed),
        "/etc/passwd",
        (
            "link/passwd never opened the allowed file",
            "link/passwd was never denied",
        ),
    );
}
