//! Starting the program under the filter: foreign ABIs are killed, other
//! syscalls run untouched; threads, fork, vfork and exec chains work.

use crate::util::{busybox, canon, tempdir, write_file, Cmd, Kind, Policy, BUSYBOX};

const SIGSYS_EXIT: i32 = 128 + libc::SIGSYS;

/// `int $0x80` (the i386 ABI, getpid) from a 64-bit program kills it with
/// SIGSYS, even under allow-all.
#[test]
fn i386_syscall_kills_with_sigsys() {
    let out = Cmd::supervised(
        Policy::example("allow-all"),
        &Kind::Musl.probe_argv(&["int80"]),
    )
    .run();
    out.assert_code(SIGSYS_EXIT);
    assert!(!out.stdout.contains("survived"), "{out}");
    // Natively the same call works: the filter is what kills.
    let native = Cmd::native(&Kind::Musl.probe_argv(&["int80"])).run();
    native.assert_clean();
    assert!(native.stdout.contains("int80: survived"), "{native}");
}

/// An x32 syscall (getpid | 0x40000000) kills the program with SIGSYS.
#[test]
fn x32_syscall_kills_with_sigsys() {
    let out = Cmd::supervised(
        Policy::example("allow-all"),
        &Kind::Musl.probe_argv(&["x32"]),
    )
    .run();
    out.assert_code(SIGSYS_EXIT);
    assert!(!out.stdout.contains("survived"), "{out}");
}

/// A syscall the filter does not map (getppid) runs untouched: the program
/// sees its real parent, the supervisor's keeper (a child of the
/// supervisor: see launch/keeper.rs), which is gone with the run.
#[test]
fn unmapped_syscall_runs_untouched() {
    for kind in [Kind::Musl, Kind::Glibc] {
        let argv = kind.probe_argv(&["getppid", "getppid"]);
        let out = Cmd::supervised(Policy::example("allow-all"), &argv).run();
        out.assert_clean();
        let ppid: u32 = out
            .stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("getppid: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{kind:?}: no getppid line: {out}"));
        assert_ne!(ppid, out.pid, "{kind:?}: the keeper is the parent: {out}");
        assert!(ppid > 1, "{kind:?}: {out}");
        assert_eq!(out.stdout, format!("getppid: {ppid}\ngetppid: {ppid}\n"));
        assert!(
            !std::path::Path::new(&format!("/proc/{ppid}")).exists(),
            "{kind:?}: the keeper outlived the run: {out}"
        );
    }
}

fn thread_files() -> (tempfile::TempDir, String) {
    let tmp = tempdir();
    let root = canon(&tmp);
    for k in 0..8 {
        write_file(
            &root.join(format!("f{k}")),
            &format!("content {k}\n"),
            0o644,
        );
    }
    (tmp, root.to_str().unwrap().to_string())
}

/// 8 threads open, read and stat files concurrently under broker-all: every
/// call succeeds with the right content.
fn threads(kind: Kind) {
    let (_tmp, dir) = thread_files();
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &kind.probe_argv(&["threads", &dir]),
    )
    .run();
    out.assert_clean();
    assert_eq!(out.stdout, "threads: 3200 opens, 0 bad\n", "{out}");
}

#[test]
fn threads_open_concurrently_under_broker_all_musl() {
    threads(Kind::Musl);
}

#[test]
fn threads_open_concurrently_under_broker_all_glibc() {
    threads(Kind::Glibc);
}

/// A shell pipeline (fork + exec of each stage) under broker-all gives the
/// native output.
#[test]
fn shell_pipeline_with_forks_under_broker_all() {
    let (_tmp, dir) = thread_files();
    let script = format!(
        "cd {dir} && {BUSYBOX} cat f1 f2 | {BUSYBOX} tr a-z A-Z | {BUSYBOX} sort -r; \
         (cat f3; {BUSYBOX} cat f4) | {BUSYBOX} wc -l; for f in f5 f6; do {BUSYBOX} cat $f & done; wait; \
         {BUSYBOX} ls | {BUSYBOX} wc -l"
    );
    let cmd = Cmd::supervised(
        Policy::example("broker-all"),
        &busybox(&["sh", "-c", &script]),
    );
    let out = cmd.run();
    out.assert_clean();
    let native = cmd.without_supervisor().run();
    native.assert_clean();
    // The two background cats may finish in either order.
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort();
        v.join("\n")
    };
    assert_eq!(
        sorted(&out.stdout),
        sorted(&native.stdout),
        "{out}\nnative: {native}"
    );
    assert!(out.stdout.starts_with("CONTENT 2\nCONTENT 1\n2\n"), "{out}");
}

/// `sh -c 'exec busybox cat FILE'`: an exec chain (sh execs busybox) under
/// broker-all.
#[test]
fn exec_chain_under_broker_all() {
    let (_tmp, dir) = thread_files();
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &busybox(&["sh", "-c", &format!("exec {BUSYBOX} cat {dir}/f7")]),
    )
    .run();
    out.assert_clean();
    assert_eq!(out.stdout, "content 7\n", "{out}");
}

/// vfork + exec from the probe under broker-all.
fn vfork_exec(kind: Kind) {
    let (_tmp, dir) = thread_files();
    let out = Cmd::supervised(
        Policy::example("broker-all"),
        &kind.probe_argv(&["vfork-exec", BUSYBOX, &format!("{dir}/f0")]),
    )
    .run();
    out.assert_clean();
    assert_eq!(
        out.stdout, "content 0\nvfork-exec: child status 0\n",
        "{out}"
    );
}

#[test]
fn vfork_exec_under_broker_all_musl() {
    vfork_exec(Kind::Musl);
}

#[test]
fn vfork_exec_under_broker_all_glibc() {
    vfork_exec(Kind::Glibc);
}

/// Files the policy opened (Lua's io.open sets no O_CLOEXEC) do not reach
/// the program.
#[test]
fn policy_descriptors_do_not_leak_into_the_program() {
    let tmp = tempdir();
    let log = canon(&tmp).join("policy.log");
    let policy = format!(
        r#"local log = assert(io.open("{}", "w"))
local master = require("libc_service").master
while true do
  master:receive()
  master:use_slave_credentials()
end
"#,
        log.display()
    );
    let out = Cmd::supervised(
        Policy::inline(&policy),
        &busybox(&["ls", "-l", "/proc/self/fd/"]),
    )
    .run();
    // ls cannot readlink its own directory descriptor: stderr is not clean.
    assert!(out.stdout.contains(" 0 -> "), "{out}");
    assert!(!out.stdout.contains("policy.log"), "{out}");
}

/// The program starts with the default signal dispositions: the
/// supervisor's own (Rust ignores SIGPIPE) are not inherited.
#[test]
fn program_starts_with_default_signal_dispositions() {
    let argv = busybox(&["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    let native = Cmd::native(&argv).run();
    native.assert_clean();
    let out = Cmd::supervised(Policy::example("allow-all"), &argv).run();
    out.assert_clean();
    assert_eq!(out.stdout, native.stdout, "{out}");
}
