//! Security suite, bypass attempts: calls that would reach files or
//! sockets around the mapped set (refused by the default posture), and a
//! program trying to take over its own supervision (ptrace, signals,
//! pidfd_getfd, process_vm_*, /proc/<supervisor>, filters of its own).
//! Each test names the attack and asserts its outcome; docs/security.md
//! maps them.

use std::path::Path;

use crate::util::{attack, canon, outcome, tempdir, write_file, Cmd, Policy};

const ALLOW: &str = "--allow-unmapped";

/// deny-path denying `path`, brokering the rest.
fn deny(path: &str, args: &[&str]) -> Cmd {
    Cmd::supervised(Policy::example("deny-path"), &attack(args)).env("DENY", path)
}

#[test]
fn io_uring_is_refused_and_allowed_only_by_the_flag() {
    let out = deny("/etc/shadow", &["io-uring"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "io_uring_setup"), "ENOSYS", "{out}");
    let out = deny("/etc/shadow", &["io-uring"]).option(ALLOW).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "io_uring_setup"), "OK", "{out}");
}

/// name_to_handle_at + open_by_handle_at read a denied file without any
/// path request: refused; with --allow-unmapped they do read it (which is
/// why they are refused).
#[test]
fn file_handles_are_refused() {
    let out = deny("/etc/shadow", &["handles", "/etc/shadow"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "name_to_handle_at"), "EOPNOTSUPP", "{out}");
    assert_eq!(outcome(&out, "open_by_handle_at"), "EPERM", "{out}");
    assert!(!out.stdout.contains("read:"), "{out}");
    let out = deny("/etc/shadow", &["handles", "/etc/shadow"])
        .option(ALLOW)
        .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "open_by_handle_at"), "OK", "{out}");
    assert!(out.stdout.contains("read: "), "{out}");
}

/// A bind mount (or open_tree) would give /etc/shadow a second name.
#[test]
fn mounts_are_refused() {
    let tmp = tempdir();
    let mnt = canon(&tmp);
    let out = deny(
        "/etc/shadow",
        &["mount-bind", "/etc", mnt.to_str().unwrap()],
    )
    .run();
    out.assert_clean();
    for call in ["mount", "open_tree", "umount2"] {
        assert_eq!(outcome(&out, call), "EPERM", "{call}: {out}");
    }
    assert_eq!(std::fs::read_dir(&mnt).unwrap().count(), 0, "{out}");
}

/// setns is refused; chroot runs (a restriction: docs/security.md,
/// "Programs that sandbox themselves"), but a chroot into the denied
/// directory does not rename what it holds: "/shadow" after chroot("/etc")
/// is /etc/shadow to the policy, and denied.
#[test]
fn setns_is_refused_and_a_chroot_renames_nothing() {
    let out = deny("/etc/shadow", &["chroot-open", "/etc", "/shadow"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "open-after-chroot"), "EACCES", "{out}");
    let out = deny("/etc/shadow", &["setns"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "setns"), "EPERM", "{out}");
}

/// A new mount namespace would give the program a root other than the one
/// the supervisor resolves from (the run relies on it being fixed):
/// unshare and clone with CLONE_NEWNS are refused, clone3 (whose flags the
/// filter cannot read) is ENOSYS, and threads and forks still work, libc
/// falling back to clone.  With --allow-unmapped all of it runs.
#[test]
fn new_mount_namespaces_are_refused_and_threads_still_work() {
    let glibc = &crate::util::probes().attack_glibc;
    for (name, argv) in [
        ("musl", attack(&["mount-ns"])),
        ("glibc", vec![glibc.into(), "mount-ns".into()]),
    ] {
        let out = Cmd::supervised(Policy::example("deny-path"), &argv).run();
        out.assert_clean();
        assert_eq!(outcome(&out, "unshare-newns"), "EPERM", "{name}: {out}");
        assert_eq!(outcome(&out, "clone-newns"), "EPERM", "{name}: {out}");
        assert_eq!(outcome(&out, "clone3"), "ENOSYS", "{name}: {out}");
        assert_eq!(outcome(&out, "thread"), "OK", "{name}: {out}");
        assert_eq!(outcome(&out, "fork"), "OK", "{name}: {out}");
        let out = Cmd::supervised(Policy::example("deny-path"), &argv)
            .option(ALLOW)
            .run();
        out.assert_clean();
        for label in ["unshare-newns", "clone-newns", "clone3", "thread", "fork"] {
            assert_eq!(outcome(&out, label), "OK", "{name} {label}: {out}");
        }
    }
}

/// The program may chroot (under the posture, and with --allow-unmapped):
/// the supervisor must then resolve its paths from the new root, even
/// after it saw requests from the old one (the root is observed per
/// request, not once).  "/secret" exists only in the new root: resolved
/// from the old one the brokered open would fail with ENOENT.  The policy
/// sees where the file really is (ROOT/secret), not the name the chroot
/// gives it: denying "/secret" denies nothing here.
#[test]
fn a_chroot_moves_resolution_with_it() {
    let tmp = tempdir();
    let root = canon(&tmp);
    write_file(&root.join("secret"), "secret\n", 0o644);
    assert!(!Path::new("/secret").exists());
    let argv = ["chroot-open", root.to_str().unwrap(), "/secret"];
    let real = root.join("secret");
    for flags in [&[][..], &[ALLOW][..]] {
        let with = |c: Cmd| flags.iter().fold(c, |c, f| c.option(f));
        let out = with(deny("/etc/shadow", &argv)).run();
        out.assert_clean();
        assert_eq!(outcome(&out, "open-after-chroot"), "OK", "{out}");
        let out = with(deny("/secret", &argv)).run();
        out.assert_clean();
        assert_eq!(outcome(&out, "open-after-chroot"), "OK", "{out}");
        let out = with(deny(real.to_str().unwrap(), &argv)).run();
        out.assert_clean();
        assert_eq!(outcome(&out, "open-after-chroot"), "EACCES", "{out}");
    }
}

/// A hard link would be a second, allowed name of the denied file.
/// A hard link is a request (link, linkat): the source is resolved and
/// decided like any path, so a link to a denied file is denied.
#[test]
fn hard_links_to_a_denied_file_are_refused() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let secret = root.join("secret");
    write_file(&secret, "secret\n", 0o600);
    let alias = root.join("alias");
    let out = deny(
        secret.to_str().unwrap(),
        &["link", secret.to_str().unwrap(), alias.to_str().unwrap()],
    )
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "link"), "EACCES", "{out}");
    assert_eq!(outcome(&out, "linkat"), "EACCES", "{out}");
    assert!(!alias.exists(), "{out}");
}

/// The sibling for sockets: under rules that deny connecting to a unix
/// socket (and allow reading, writing and creating everywhere), a hard
/// link would be a second name of the socket, connectable under the
/// rules' default.  A link carries the `connect` denied at its source:
/// refused, logged with the denying rule, and the socket is connected to
/// by no name; natively the link is made.
#[test]
fn hard_links_to_a_unix_socket_denied_connect_are_refused() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let sock = root.join("srv.sock");
    let _server = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let alias = root.join("alias.sock");
    let (s, a) = (sock.to_str().unwrap(), alias.to_str().unwrap());
    let policy = Policy::inline(&format!(
        "local rules = require \"rules\"\n\
         return rules.run {{ default = \"allow\", {{ \"deny\", \"connect\", \"unix:{s}\" }} }}\n"
    ));
    let log = root.join("log.json");
    let out = Cmd::supervised(policy, &attack(&["link", s, a]))
        .option("--log")
        .option(log.to_str().unwrap())
        .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "link"), "EACCES", "{out}");
    assert_eq!(outcome(&out, "linkat"), "EACCES", "{out}");
    assert!(!alias.exists(), "{out}");
    let records = std::fs::read_to_string(&log).unwrap();
    let refused: Vec<&str> = records
        .lines()
        .filter(|l| l.contains("\"function\":\"link") && l.contains("\"errno\":\"EACCES\""))
        .collect();
    assert_eq!(refused.len(), 2, "{records}");
    assert!(
        refused
            .iter()
            .all(|l| l.contains("deny connect") && l.contains("\"denied\":true")),
        "{records}"
    );
    // Natively the second name is made (the refusal is the rules').
    let out = Cmd::native(&attack(&["link", s, a])).run();
    assert_eq!(outcome(&out, "link"), "OK", "{out}");
    assert!(alias.exists(), "{out}");
}

/// mknod of devices is refused by the posture (upper bits of the mode
/// register included); regular files, FIFOs and sockets are requests the
/// policy decides.
#[test]
fn mknod_of_devices_is_refused() {
    let tmp = tempdir();
    let root = canon(&tmp);
    let out = deny(root.to_str().unwrap(), &["mknod", root.to_str().unwrap()]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "mknod-regular"), "EACCES", "{out}");
    assert_eq!(outcome(&out, "mknod-chardev"), "EPERM", "{out}");
    assert_eq!(outcome(&out, "mknodat-upper-bits"), "EACCES", "{out}");
    assert_eq!(outcome(&out, "mknod-fifo"), "EACCES", "{out}");
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "{out}");
    let out = deny("/etc/shadow", &["mknod", root.to_str().unwrap()]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "mknod-regular"), "OK", "{out}");
    assert_eq!(outcome(&out, "mknod-chardev"), "EPERM", "{out}");
    assert_eq!(outcome(&out, "mknod-fifo"), "OK", "{out}");
    assert!(!root.join("null").exists(), "{out}");
}

/// truncate by path is a request: a denied file keeps its content.
#[test]
fn truncate_of_a_denied_file_is_refused() {
    let tmp = tempdir();
    let file = canon(&tmp).join("file");
    write_file(&file, "content\n", 0o644);
    let out = deny(
        file.to_str().unwrap(),
        &["truncate", file.to_str().unwrap()],
    )
    .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "truncate"), "EACCES", "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "content\n");
}

#[test]
fn fanotify_is_refused() {
    let out = deny("/etc/shadow", &["fanotify"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "fanotify_init"), "EPERM", "{out}");
}

/// openat with the upper 32 bits of its dirfd register set: the kernel
/// reads AT_FDCWD, and so does the supervisor (the denial stands).
#[test]
fn upper_bits_of_a_dirfd_do_not_change_the_request() {
    let out = deny("/etc/shadow", &["upper-bits", "shadow"])
        .cwd("/etc")
        .run();
    out.assert_clean();
    assert_eq!(outcome(&out, "openat-upper-bits"), "EACCES", "{out}");
}

/// A filter of the program's own that allows everything cannot outrank
/// the supervisor's notify.
#[test]
fn an_allow_filter_of_its_own_does_not_untrap() {
    let out = deny("/etc/shadow", &["own-filter-allow", "/etc/shadow"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "own-filter"), "OK", "{out}");
    assert_eq!(outcome(&out, "open-after-allow-filter"), "EACCES", "{out}");
}

/// SECCOMP_RET_TRAP of its own plus a SIGSYS handler redoing the call
/// with arguments its filter lets through: still the supervisor's call.
#[test]
fn a_trap_filter_of_its_own_does_not_untrap() {
    let out = deny("/etc/shadow", &["own-filter-trap", "/etc/shadow"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "traps"), "1", "{out}");
    assert_eq!(outcome(&out, "open-from-sigsys-handler"), "EACCES", "{out}");
}

/// A second NEW_LISTENER filter is refused by the kernel (EBUSY); a notify
/// filter without a listener makes the call fail (ENOSYS), never pass.
#[test]
fn a_listener_of_its_own_is_refused() {
    let out = deny("/etc/shadow", &["second-listener", "/etc/hostname"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "new-listener"), "EBUSY", "{out}");
    assert_eq!(outcome(&out, "open-under-own-notify"), "ENOSYS", "{out}");
}

#[test]
fn the_supervisor_cannot_be_ptraced() {
    let out = deny("/etc/shadow", &["ptrace-parent"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "ptrace-attach"), "EPERM", "{out}");
    assert_eq!(outcome(&out, "ptrace-seize"), "EPERM", "{out}");
}

/// pidfd_getfd of every descriptor of the parent (the listener among
/// them in the past) and pidfd_send_signal: refused.
#[test]
fn the_supervisors_descriptors_cannot_be_taken_with_pidfd_getfd() {
    let out = deny("/etc/shadow", &["pidfd-parent"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "pidfd_getfd"), "taken=0 error=EPERM", "{out}");
    assert_eq!(outcome(&out, "pidfd_send_signal"), "EPERM", "{out}");
}

#[test]
fn the_supervisors_memory_cannot_be_read_or_written_with_process_vm() {
    let out = deny("/etc/shadow", &["process-vm-parent"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "process_vm_readv"), "EPERM", "{out}");
    assert_eq!(outcome(&out, "process_vm_writev"), "EPERM", "{out}");
}

/// kill, tgkill, rt_sigqueueinfo and SIGKILL as the SIGIO of an
/// F_SETOWN pipe: the supervisor is out of the program's reach.
#[test]
fn the_supervisor_cannot_be_signalled() {
    let out = deny("/etc/shadow", &["kill-parent"]).run();
    out.assert_clean();
    for call in ["kill", "tgkill", "rt_sigqueueinfo"] {
        assert_eq!(outcome(&out, call), "EPERM", "{call}: {out}");
    }
    assert_eq!(outcome(&out, "still running"), "yes", "{out}");
}

/// /proc/<supervisor>/mem, environ, task/*/mem, cwd, fd/N: the broker
/// (deny-path performs every other open with the supervisor's
/// credentials) refuses them all.
#[test]
fn brokered_opens_never_reach_the_supervisors_proc_files() {
    let out = deny("/etc/shadow", &["proc-parent"]).run();
    out.assert_clean();
    for what in ["proc-mem", "proc-environ", "proc-task-mem", "proc-cwd"] {
        assert_eq!(outcome(&out, what), "EACCES", "{what}: {out}");
    }
    assert_eq!(outcome(&out, "proc-fds-opened"), "0", "{out}");
}

/// The same opens made by the kernel with the program's credentials
/// (allow-all): its Landlock domain keeps the supervisor's memory and
/// descriptors out of reach, root or not.
#[test]
fn the_programs_own_opens_never_reach_the_supervisors_memory() {
    let out = Cmd::supervised(Policy::example("allow-all"), &attack(&["proc-parent"])).run();
    out.assert_clean();
    for what in ["proc-mem", "proc-task-mem", "proc-cwd"] {
        assert_eq!(outcome(&out, what), "EACCES", "{what}: {out}");
    }
    assert_eq!(outcome(&out, "proc-fds-opened"), "0", "{out}");
}

/// An init script's own filter that refuses the Landlock calls cannot
/// switch the supervisor's protection off unnoticed: the launch fails
/// (125) with a message naming the cause, and the program never runs.
#[test]
fn an_init_script_cannot_switch_the_landlock_scope_off() {
    let script = r#"
set_no_new_privs()
C.seccomp_set_mode_filter(seccomp_compile("allow", { landlock_create_ruleset = "EPERM" }))
"#;
    let out = Cmd::supervised(Policy::example("allow-all"), &attack(&["kill-parent"]))
        .init(script)
        .run();
    out.assert_code(125);
    assert!(out.stderr.contains("Landlock"), "{out}");
    assert_eq!(out.stdout, "", "{out}");
}

/// listen() on an unbound TCP socket would bind it to a port on 0.0.0.0
/// without a bind request: refused (EDESTADDRREQ), the socket stays
/// unbound; after a brokered bind, listen works; with --allow-unmapped
/// the kernel autobinds as usual.
#[test]
fn listen_never_binds_without_a_bind_request() {
    let out = deny("/etc/shadow", &["listen"]).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "listen-unbound"), "EDESTADDRREQ", "{out}");
    assert_eq!(outcome(&out, "port-after"), "none", "{out}");
    assert_eq!(outcome(&out, "bind"), "OK", "{out}");
    assert_eq!(outcome(&out, "listen-bound"), "OK", "{out}");
    assert_eq!(outcome(&out, "listen-not-a-socket"), "ENOTSOCK", "{out}");
    let out = deny("/etc/shadow", &["listen"]).option(ALLOW).run();
    out.assert_clean();
    assert_eq!(outcome(&out, "listen-unbound"), "OK", "{out}");
    assert_eq!(outcome(&out, "port-after"), "bound", "{out}");
}
