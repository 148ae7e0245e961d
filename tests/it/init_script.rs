//! Init scripts (`--init`, `libc_service.init`): the child set up in Lua
//! before the notify filter and `execve` — namespaces, mounts, user
//! namespace maps, Landlock, capabilities, seccomp filters, errexit.
//!
//! These need root (or user namespaces) and Landlock.  Outside CI a
//! machine without them skips the test with a message; under CI=true a
//! missing feature fails the test.

use crate::util::{busybox, canon, tempdir, write_file, Cmd, Kind, Policy, BUSYBOX};

/// The supervisor's exit code for a failed init script.
const INIT_SCRIPT: i32 = 123;
/// The supervisor's exit code for a policy error.
const POLICY: i32 = 124;

/// Whether `feature` is there; if not, skip (or, under CI=true, fail).
fn have(feature: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{feature} is required by this test and CI=true: the CI machine must provide it");
    }
    eprintln!("skipping: {feature} is not available on this machine");
    false
}

fn root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    have(
        "root (namespaces and mounts)",
        unsafe { libc::geteuid() } == 0,
    )
}

fn landlock() -> bool {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // only returns the ABI version.
    let abi = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1u32) };
    root() && have("Landlock (ABI >= 3)", abi >= 3)
}

fn allow_all() -> Policy {
    Policy::example("allow-all")
}

/// UTS namespace + sethostname: the program sees the new hostname (and
/// the machine's stays as it was).
#[test]
fn uts_namespace_and_sethostname() {
    if !root() {
        return;
    }
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = Cmd::supervised(allow_all(), &busybox(&["hostname"]))
        .init("C.unshare(C.CLONE_NEWUTS)\nC.sethostname('sandbox-uts')\nC.setdomainname('example.test')")
        .run();
    out.assert_clean();
    assert_eq!(out.stdout, "sandbox-uts\n", "{out}");
    let after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(before, after, "the machine's hostname changed");
}

/// Network namespace: the program sees only `lo`.
#[test]
fn network_namespace_has_only_lo() {
    if !root() {
        return;
    }
    let out = Cmd::supervised(allow_all(), &busybox(&["cat", "/proc/net/dev"]))
        .init("C.unshare(C.CLONE_NEWNET)")
        .run();
    out.assert_clean();
    let ifaces: Vec<&str> = out
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
}

/// Mount namespace + tmpfs + pivot_root: the program runs in a new root
/// holding only a static busybox (bind-mounted) and a marker directory.
#[test]
fn mount_namespace_tmpfs_and_pivot_root() {
    if !root() {
        return;
    }
    let tmp = tempdir();
    let root = canon(&tmp).join("newroot");
    std::fs::create_dir(&root).unwrap();
    let script = format!(
        r#"local R = "{root}"
C.unshare(C.CLONE_NEWNS)
C.mount(nil, "/", nil, C.MS_REC | C.MS_PRIVATE)
C.mount("tmpfs", R, "tmpfs", C.MS_NOSUID | C.MS_NODEV, "size=8m,mode=755")
C.mkdir(R .. "/bin", mode(7, 5, 5))
C.mkdir(R .. "/marker", mode(7, 5, 5))
C.mkdir(R .. "/old", mode(7, 0, 0))
local fd = C.open(R .. "/bin/busybox", C.O_CREAT | C.O_WRONLY | C.O_CLOEXEC, mode(7, 5, 5))
C.close(fd)
C.mount("{BUSYBOX}", R .. "/bin/busybox", nil, C.MS_BIND)
C.pivot_root(R, R .. "/old")
C.chdir("/")
C.umount2("/old", C.MNT_DETACH)
"#,
        root = root.display()
    );
    let out = Cmd::supervised(allow_all(), &["/bin/busybox", "ls", "/"])
        .init(&script)
        .run();
    out.assert_clean();
    assert_eq!(out.stdout, "bin\nmarker\nold\n", "{out}");
    // The machine's directory is untouched: the tmpfs lived in the
    // program's mount namespace.
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
}

/// User namespace with uid/gid maps written from the script: the program
/// runs as uid/gid 1000 of its namespace (root outside).
#[test]
fn user_namespace_with_maps_written_by_the_script() {
    if !root()
        || !have(
            "user namespaces",
            std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
                .is_ok_and(|s| s.trim() != "0"),
        )
    {
        return;
    }
    let script = r#"
C.unshare(C.CLONE_NEWUSER)
local function put(path, s)
  local fd = C.open(path, C.O_WRONLY | C.O_CLOEXEC)
  write_all(fd, s)
  C.close(fd)
end
put("/proc/self/setgroups", "deny")
put("/proc/self/uid_map", "1000 0 1")
put("/proc/self/gid_map", "1000 0 1")
"#;
    let out = Cmd::supervised(
        allow_all(),
        &busybox(&["sh", "-c", "id -u; id -g; cat /proc/self/uid_map"]),
    )
    .init(script)
    .run();
    out.assert_clean();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [vec!["1000"], vec!["1000"], vec!["1000", "0", "1"]],
        "{out}"
    );
}

/// Landlock rights of ABI 1..=5 the kernel has: every filesystem access
/// handled (denied) except executing and reading the program itself.
const DENY_ALL_FS: &str = r#"
local abi = C.landlock_create_ruleset(nil, {"version"})
local all = {"execute", "write_file", "read_file", "read_dir", "remove_dir",
  "remove_file", "make_char", "make_dir", "make_reg", "make_sock",
  "make_fifo", "make_block", "make_sym"}
if abi >= 2 then table.insert(all, "refer") end
if abi >= 3 then table.insert(all, "truncate") end
if abi >= 5 then table.insert(all, "ioctl_dev") end
local rs = C.landlock_create_ruleset({handled_access_fs = all})
-- execve needs execute and read_file on the program's file.
local exe = C.open("/bin/busybox", C.O_PATH | C.O_CLOEXEC)
C.landlock_add_rule(rs, "path_beneath", {allowed_access = {"execute", "read_file"}, parent_fd = exe})
set_no_new_privs()
C.landlock_restrict_self(rs)
"#;

/// The capability-broker pattern: Landlock denies the program every
/// filesystem access; it still reads exactly the file the policy grants
/// with use_master_credentials (the supervisor opens it and injects the
/// descriptor), and nothing else.
#[test]
fn capability_broker_landlock_denies_all_but_what_the_policy_grants() {
    if !landlock() {
        return;
    }
    let tmp = tempdir();
    let dir = canon(&tmp);
    let granted = dir.join("granted.txt");
    let other = dir.join("other.txt");
    write_file(&granted, "granted content\n", 0o644);
    write_file(&other, "other content\n", 0o644);
    let policy = format!(
        r#"local master = require("libc_service").master
while true do
  master:receive()
  if master:resolved() == "{}" then
    master:use_master_credentials()
  else
    master:use_slave_credentials()
  end
end
"#,
        granted.display()
    );
    let argv = busybox(&[
        "cat",
        granted.to_str().unwrap(),
        other.to_str().unwrap(),
        "/etc/passwd",
    ]);
    // Without the script, the policy lets the kernel open everything.
    let open = Cmd::supervised(Policy::inline(&policy), &argv).run();
    open.assert_code(0);
    assert!(open.stdout.contains("other content"), "{open}");

    let out = Cmd::supervised(Policy::inline(&policy), &argv)
        .init(DENY_ALL_FS)
        .run();
    out.assert_code(1);
    assert_eq!(out.stdout, "granted content\n", "{out}");
    for f in [other.to_str().unwrap(), "/etc/passwd"] {
        assert!(
            out.stderr
                .contains(&format!("can't open '{f}': Permission denied")),
            "{f} was not denied: {out}"
        );
    }
    // Listing a directory is denied too.
    let ls = Cmd::supervised(Policy::inline(&policy), &busybox(&["ls", "/"]))
        .init(DENY_ALL_FS)
        .run();
    assert_ne!(ls.code, 0, "{ls}");
    assert!(ls.stderr.contains("Permission denied"), "{ls}");
}

fn status_field(status: &str, field: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:\t")))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .to_string()
}

/// cap_set_proc("=") drops every capability: the program's CapEff (and
/// CapPrm) are 0, while natively root has them.
#[test]
fn cap_set_proc_empty_leaves_the_program_no_capabilities() {
    if !root() {
        return;
    }
    let argv = busybox(&["cat", "/proc/self/status"]);
    let native = Cmd::supervised(allow_all(), &argv).run();
    native.assert_clean();
    assert_ne!(status_field(&native.stdout, "CapEff"), "0000000000000000");
    let out = Cmd::supervised(allow_all(), &argv)
        .init("C.cap_set_proc('=')")
        .run();
    out.assert_clean();
    assert_eq!(
        status_field(&out.stdout, "CapEff"),
        "0000000000000000",
        "{out}"
    );
    assert_eq!(
        status_field(&out.stdout, "CapPrm"),
        "0000000000000000",
        "{out}"
    );
}

/// A filter from the builder (seccomp_compile) makes ptrace fail with
/// EPERM in the program; it stacks with the supervisor's filter (file
/// calls still reach the policy).
#[test]
fn builder_filter_makes_ptrace_fail_with_eperm() {
    let probe = Kind::Musl.probe_argv(&["ptrace"]);
    let plain = Cmd::supervised(allow_all(), &probe).run();
    plain.assert_clean();
    assert_eq!(plain.stdout, "ptrace: OK\n", "{plain}");
    let script = r#"
set_no_new_privs()
C.seccomp_set_mode_filter(seccomp_compile("allow", { ptrace = "EPERM" }))
"#;
    let out = Cmd::supervised(allow_all(), &probe).init(script).run();
    out.assert_clean();
    assert_eq!(out.stdout, "ptrace: EPERM\n", "{out}");
    // The supervisor still answers the program's file calls.
    let fake = Cmd::supervised(
        Policy::example("fake-file"),
        &Kind::Musl.probe_argv(&["cat", "/etc/supervisor-fake-file"]),
    )
    .env("FAKE_PATH", "/etc/supervisor-fake-file")
    .env("FAKE_CONTENT", "served")
    .init(script)
    .run();
    fake.assert_clean();
    assert!(fake.stdout.contains("served"), "{fake}");
}

/// errexit (the default): a failing mount ends the script — the function,
/// the errno name and a traceback on stderr, the helper exits 1, the
/// supervisor says "init script failed" with its own exit code, and the
/// program never runs.
#[test]
fn errexit_true_a_failing_mount_ends_the_run() {
    let out = Cmd::supervised(allow_all(), &busybox(&["echo", "program ran"]))
        .init("local x = 1\nC.mount('none', '/nonexistent/dir', 'tmpfs', 0)\n")
        .run();
    out.assert_code(INIT_SCRIPT);
    assert_eq!(out.stdout, "", "{out}");
    for s in [
        "errexit: C.mount failed: ENOENT (No such file or directory)",
        "stack traceback:",
        "init.lua:2: in main chunk",
        "supervisor: init script failed (its process exited with status 1)",
    ] {
        assert!(out.stderr.contains(s), "missing {s:?}: {out}");
    }
}

/// errexit = false: the script reads the errno itself and goes on.
#[test]
fn errexit_false_the_script_handles_the_errno() {
    if !root() {
        return;
    }
    let script = r#"
errexit = false
local r, e = C.mount("none", "/nonexistent/dir", "tmpfs", 0)
write_all(2, ("mount: %d %s\n"):format(r, e == C.ENOENT and "ENOENT" or tostring(e)))
C.unshare(C.CLONE_NEWUTS)
C.sethostname("went-on")
"#;
    let out = Cmd::supervised(allow_all(), &busybox(&["hostname"]))
        .init(script)
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "went-on\n", "{out}");
    assert_eq!(out.stderr, "mount: -1 ENOENT\n", "{out}");
}

/// A Lua error in the script (not a C failure) also ends the run.
#[test]
fn script_lua_error_ends_the_run() {
    let out = Cmd::supervised(allow_all(), &busybox(&["echo", "program ran"]))
        .init("C.unshare('not a number')")
        .run();
    out.assert_code(INIT_SCRIPT);
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.stderr.contains("init script: error:"), "{out}");
    assert!(
        out.stderr.contains("supervisor: init script failed"),
        "{out}"
    );
}

/// `--init-arg PATH`: the supervisor opens PATH and the script sees the
/// descriptor as `arg`; the descriptor does not leak into the program.
#[test]
fn arg_is_received_from_the_command_line() {
    if !root() {
        return;
    }
    let tmp = tempdir();
    let file = canon(&tmp).join("hostname-arg");
    write_file(&file, "from-arg", 0o644);
    let script = r#"
assert(math.type(arg) == "integer", "arg is not an integer")
write_all(2, "arg is a descriptor\n")
local name = C.read(arg, 64)
C.unshare(C.CLONE_NEWUTS)
C.sethostname(name)
"#;
    let out = Cmd::supervised(
        allow_all(),
        &busybox(&["sh", "-c", "hostname; ls -l /proc/self/fd/"]),
    )
    .init(script)
    .init_arg(&file)
    .run();
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("from-arg\n"), "{out}");
    assert!(!out.stdout.contains("hostname-arg"), "arg leaked: {out}");
    assert!(out.stderr.starts_with("arg is a descriptor\n"), "{out}");
    // Without --init-arg, arg is nil.
    let none = Cmd::supervised(allow_all(), &busybox(&["true"]))
        .init("assert(arg == nil)")
        .run();
    none.assert_clean();
}

/// `libc_service.init = { script = …, arg = descriptor }` from the policy.
#[test]
fn init_set_by_the_policy_with_a_descriptor_arg() {
    if !root() {
        return;
    }
    let tmp = tempdir();
    let file = canon(&tmp).join("name");
    write_file(&file, "from-policy", 0o644);
    let policy = format!(
        r#"local svc = require("libc_service")
local host = require("host")
svc.init = {{
  script = [[
    local name = C.read(arg, 64)
    C.unshare(C.CLONE_NEWUTS)
    C.sethostname(name)
  ]],
  arg = host.open("{}", {{"read_only"}}),
}}
assert(svc.init.script)
while true do
  svc.master:receive()
  svc.master:use_slave_credentials()
end
"#,
        file.display()
    );
    let out = Cmd::supervised(Policy::inline(&policy), &busybox(&["hostname"])).run();
    out.assert_clean();
    assert_eq!(out.stdout, "from-policy\n", "{out}");
}

/// Setting `libc_service.init` once the program has started is a Lua
/// error (a policy error: the program is killed).
#[test]
fn setting_init_after_the_start_is_an_error() {
    let policy = r#"local svc = require("libc_service")
svc.master:receive()
svc.init = { script = "" }
"#;
    let out = Cmd::supervised(Policy::inline(policy), &busybox(&["cat", "/etc/hostname"])).run();
    out.assert_code(POLICY);
    assert!(
        out.stderr
            .contains("libc_service.init: the program has already started"),
        "{out}"
    );
    // A malformed value is an error too, before the start.
    let bad = Cmd::supervised(
        Policy::inline("require('libc_service').init = { script = 42 }"),
        &busybox(&["true"]),
    )
    .run();
    bad.assert_code(POLICY);
    assert!(
        bad.stderr
            .contains("libc_service.init.script must be a string"),
        "{bad}"
    );
}

/// The example policy policies/isolated.lua: new UTS, network and IPC
/// namespaces, hostname "sandbox", no capabilities, and a Landlock domain
/// in which the program can read but not write by itself; the policy
/// brokers writes under $WRITABLE only.
#[test]
fn example_policy_isolated() {
    if !landlock() {
        return;
    }
    let tmp = tempdir();
    let dir = canon(&tmp);
    let writable = dir.join("w");
    std::fs::create_dir(&writable).unwrap();
    let script = format!(
        "hostname; grep CapEff /proc/self/status; cat /proc/net/dev | wc -l; \
         echo brokered > {w}/a && cat {w}/a; echo direct > {d}/b; head -c0 /etc/hostname && echo read-ok",
        w = writable.display(),
        d = dir.display()
    );
    let out = Cmd::supervised(
        Policy::example("isolated"),
        &busybox(&["sh", "-c", &script]),
    )
    .env("WRITABLE", &writable)
    .run();
    assert_eq!(
        out.stdout, "sandbox\nCapEff:\t0000000000000000\n3\nbrokered\nread-ok\n",
        "{out}"
    );
    assert!(out.stderr.contains("Permission denied"), "{out}");
    assert!(writable.join("a").is_file());
    assert!(
        !dir.join("b").exists(),
        "the program wrote outside $WRITABLE: {out}"
    );
}
