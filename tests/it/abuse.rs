//! Bad input from the program: NULL, wild and unmapped pointers,
//! unterminated and over-long paths, read-only result buffers, a full
//! descriptor table.  The supervisor answers each exactly as the kernel
//! would, and survives.

use crate::util::{canon, tempdir, write_file, Cmd, Kind, Policy};

fn abuse(kind: Kind, policy: &str) {
    abuse_under(kind, policy, Policy::example(policy));
}

fn abuse_under(kind: Kind, label: &str, policy: Policy) {
    let tmp = tempdir();
    let root = canon(&tmp);
    let file = root.join("file");
    write_file(&file, "content\n", 0o644);
    let argv = kind.probe_argv(&["abuse".as_ref(), file.as_os_str()]);
    let native = Cmd::native(&argv).run();
    native.assert_clean();
    for want in [
        "abuse-null-path: EFAULT",
        "abuse-wild-path: EFAULT",
        "abuse-unterminated-at-hole: EFAULT",
        "abuse-unmapped-path: EFAULT",
        "abuse-overlong-path: ENAMETOOLONG",
        "abuse-stat-ro-buffer: EFAULT",
        "abuse-statx-ro-buffer: EFAULT",
        "abuse-dirfd-upper-bits: OK",
        "abuse-bad-dirfd: EBADF",
        "abuse-open-at-fd-limit: EMFILE",
        "abuse-open-after-close: OK",
    ] {
        assert!(
            native.stdout.contains(want),
            "native run lacks {want:?}: {native}"
        );
    }
    let out = Cmd::supervised(policy, &argv).run();
    out.assert_clean();
    assert_eq!(out.stdout, native.stdout, "{kind:?} under {label}: {out}");
}

/// A policy that returns without receiving: every request is left to the
/// kernel without a copy of its arguments, so the kernel's own answers.
#[test]
fn bad_input_answered_as_the_kernel_does_without_a_loop_musl() {
    let p = Policy::inline(r#"local _ = require("libc_service").master"#);
    abuse_under(Kind::Musl, "a policy without a loop", p);
}

#[test]
fn bad_input_answered_as_the_kernel_does_broker_all_musl() {
    abuse(Kind::Musl, "broker-all");
}

#[test]
fn bad_input_answered_as_the_kernel_does_broker_all_glibc() {
    abuse(Kind::Glibc, "broker-all");
}

#[test]
fn bad_input_answered_as_the_kernel_does_deny_path_musl() {
    abuse(Kind::Musl, "deny-path");
}

#[test]
fn bad_input_answered_as_the_kernel_does_allow_all_musl() {
    abuse(Kind::Musl, "allow-all");
}
