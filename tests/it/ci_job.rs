//! policies/ci.lua on a CI-like job: a small C project built and tested
//! with make and cc in a temporary workspace, then a job that tries to
//! plant an SSH key, write outside the workspace and reach a non-loopback
//! address — everything inside a network namespace the test made, where
//! that address exists, so nothing can leave the machine.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::rules::{dir_outside_tmp, dns_server, greeter, in_netns};
use crate::util::{canon, need, tempdir, Cmd, Kind, Policy};

const MAKEFILE: &str = "\
CFLAGS = -O2 -Wall -Werror
all: hello
hello: main.o util.o
\t$(CC) -o $@ $^
unit: test.o util.o
\t$(CC) -o $@ $^
check: hello unit
\t./unit
\t./hello > out.txt
\tgrep -qx 5 out.txt
\techo scratch > $(SCRATCH) && cat $(SCRATCH)
\techo tests passed
attack:
\t-echo 'ssh-ed25519 AAAA attacker' >> $(HOME)/.ssh/authorized_keys
\t-echo pwned > $(OUTSIDE)/pwned
\t-mkdir $(OUTSIDE)/dir
\t-cat $(HOME)/.ssh/id_ed25519
\t-$(NETPROBE) connect tcp:10.1.2.3:$(PORT) connect tcp:127.0.0.1:$(LOCAL) resolve allowed.test connect tcp:10.1.2.4:$(PORT) resolve other.test
";

fn write_project(ws: &Path) {
    let files = [
        ("Makefile", MAKEFILE),
        ("util.h", "int add(int a, int b);\n"),
        ("util.c", "#include \"util.h\"\nint add(int a, int b) { return a + b; }\n"),
        (
            "main.c",
            "#include <stdio.h>\n#include \"util.h\"\nint main(void) { printf(\"%d\\n\", add(2, 3)); return 0; }\n",
        ),
        (
            "test.c",
            "#include <assert.h>\n#include \"util.h\"\nint main(void) { assert(add(2, 2) == 4); return 0; }\n",
        ),
    ];
    for (name, content) in files {
        std::fs::write(ws.join(name), content).unwrap();
    }
}

#[test]
fn a_ci_job_under_policies_ci_lua() {
    for tool in ["make", "cc"] {
        need(tool, "make gcc");
    }
    // The workspace is under /tmp (the program's private /tmp keeps it
    // visible); HOME and the "outside" directory are not, so the program
    // sees them.
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    write_project(&ws);
    let home = dir_outside_tmp("home");
    std::fs::create_dir(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/authorized_keys"),
        "ssh-ed25519 BBBB owner\n",
    )
    .unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "PRIVATE KEY\n").unwrap();
    let outside = dir_outside_tmp("outside");
    // Outside /tmp too: the job gets a private /tmp.
    let bin = dir_outside_tmp("bin");
    let netprobe = bin.join("netprobe").into_os_string();
    std::fs::copy(Kind::Musl.net_argv::<&str>(&[]).remove(0), &netprobe).unwrap();
    let log = home.parent().unwrap().join(format!(
        "{}.audit.jsonl",
        home.file_name().unwrap().to_string_lossy()
    ));
    // In /tmp: the job's private one.
    let scratch = format!(
        "/tmp/job-scratch-{}-{}",
        std::process::id(),
        home.file_name().unwrap().to_string_lossy()
    );
    let (ws2, log2, scratch2) = (ws.clone(), log.clone(), scratch.clone());
    let (home2, outside2) = (home.clone(), outside.clone());
    let (build, attack, control) = in_netns(&["10.1.2.3/32", "10.1.2.4/32"], move || {
        let port = greeter("0.0.0.0:0");
        let local = greeter("127.0.0.1:0");
        let dns = dns_server(&[
            ("allowed.test", Ipv4Addr::new(10, 1, 2, 4)),
            ("other.test", Ipv4Addr::new(10, 1, 2, 3)),
        ]);
        let job = |target: &str, policy: Option<Policy>| {
            let mut c = match policy {
                Some(p) => Cmd::supervised(p, &["make", "-s", target]),
                None => Cmd::native(&["make", "-s", target]),
            };
            if target == "attack" {
                c = c.option("--log").option(&log2).option("--summary");
            }
            c = c
                .option(format!("--dns-upstream=127.0.0.1:{dns}"))
                .cwd(&ws2)
                .env("HOME", &home2)
                .env("OUTSIDE", &outside2)
                .env("NETPROBE", &netprobe)
                .env("PORT", port.to_string())
                .env("LOCAL", local.to_string())
                .env("SCRATCH", &scratch2)
                .env("SUPERVISOR_ALLOW_HOSTS", "allowed.test");
            c.run()
        };
        let ci = || Some(Policy::example("ci"));
        let build = job("check", ci());
        let attack = job("attack", ci());
        // The same probe without the sandbox reaches 10.1.2.3: the denial
        // above is the policy's, not the namespace's.
        let control = Cmd::native(&[
            netprobe.clone(),
            "connect".into(),
            format!("tcp:10.1.2.3:{port}").into(),
        ])
        .run();
        (build, attack, control)
    });

    // The build and the tests pass; the outputs are in the workspace; the
    // private /tmp was the job's own.
    build.assert_code(0);
    assert_eq!(build.stdout, "scratch\ntests passed\n", "{build}");
    for f in ["hello", "unit", "main.o", "util.o", "test.o", "out.txt"] {
        assert!(ws.join(f).is_file(), "{f} was not built: {build}");
    }
    assert!(
        !Path::new(&scratch).exists(),
        "the job wrote the machine's /tmp"
    );

    // The attacks fail; nothing changed outside the workspace.
    attack.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap(),
        "ssh-ed25519 BBBB owner\n"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "something was written outside the workspace"
    );
    for what in [".ssh/authorized_keys", "/pwned", "/dir", ".ssh/id_ed25519"] {
        assert!(
            attack
                .stderr
                .lines()
                .any(|l| l.contains(what) && l.ends_with("Permission denied")),
            "no \"{what}: Permission denied\" in {attack}"
        );
    }
    assert!(!attack.stdout.contains("PRIVATE KEY"), "{attack}");
    // Non-loopback: denied; loopback: allowed; a host of
    // SUPERVISOR_ALLOW_HOSTS: found, and its address reachable; any other
    // name: not found.
    assert_eq!(
        attack.stdout,
        "connect: EACCES\nconnect: OK\nread: hello\naddr: 10.1.2.4\nconnect: OK\nread: hello\n\
         gai: EAI_NONAME\n",
        "{attack}"
    );
    assert_eq!(control.stdout, "connect: OK\nread: hello\n", "{control}");

    // Each denial is in the JSONL log, with the rule or default that
    // decided it, and in the summary's list of what was denied.
    let records = std::fs::read_to_string(&log).expect("the audit log");
    let (h, out) = (home.display(), outside.display());
    for (what, decision) in [
        (
            format!("{h}/.ssh/authorized_keys"),
            format!("(deny write {h}/.ssh/)"),
        ),
        (
            format!("{h}/.ssh/id_ed25519"),
            format!("(deny read {h}/.ssh/)"),
        ),
        (format!("{out}/pwned"), "default deny create".to_string()),
        (format!("{out}/dir"), "default deny create".to_string()),
        (
            "\"address\":\"10.1.2.3\"".to_string(),
            "default deny connect".to_string(),
        ),
    ] {
        assert!(
            records.lines().any(|l| l.contains(&what)
                && l.contains(&decision)
                && l.contains("\"denied\":true")
                && l.contains("\"errno\":\"EACCES\"")),
            "no denial of {what} by {decision:?} in the log:\n{records}"
        );
    }
    let denied = attack
        .stderr
        .split_once("\ndenied:")
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no summary of denials: {attack}"));
    for what in [
        format!("{h}/.ssh/authorized_keys"),
        format!("{out}/pwned"),
        format!("10.1.2.3:{port}", port = port_of(&records)),
    ] {
        assert!(
            denied.contains(&what),
            "{what} not in the summary: {attack}"
        );
    }
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_dir_all(&bin);
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&outside);
}

/// The port of the first denied connect in audit `records`.
fn port_of(records: &str) -> String {
    records
        .lines()
        .find(|l| l.contains("\"function\":\"connect_inet\"") && l.contains("\"denied\":true"))
        .and_then(|l| l.split("\"port\":").nth(1))
        .map(|p| p.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default()
}

/// Gives `path` and everything below it to `uid`:`gid`.
fn chown_all(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_all(&e.unwrap().path(), uid, gid);
        }
    }
}

/// The same policy for a job run as an unprivileged user: the private /tmp
/// comes from a user namespace that maps only the job's own ids.
#[test]
fn a_ci_job_as_an_unprivileged_user() {
    const NOBODY: u32 = 65534;
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    write_project(&ws);
    let home = dir_outside_tmp("nobody-home");
    std::fs::create_dir(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/authorized_keys"),
        "ssh-ed25519 BBBB owner\n",
    )
    .unwrap();
    chown_all(&ws, NOBODY, NOBODY);
    chown_all(&home, NOBODY, NOBODY);
    let ci = crate::util::repo().join("policies/ci.lua");
    let o = Cmd::native(&[
        "setpriv".as_ref(),
        "--reuid=65534".as_ref(),
        "--regid=65534".as_ref(),
        "--clear-groups".as_ref(),
        crate::util::supervisor().as_ref(),
        "run".as_ref(),
        "--policy".as_ref(),
        ci.as_os_str(),
        "--".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        std::ffi::OsStr::new(
            "make -s check && id -u && echo key >> \"$HOME/.ssh/authorized_keys\"; true",
        ),
    ])
    .cwd(&ws)
    .env("HOME", &home)
    .env("SCRATCH", "/tmp/job-scratch")
    .run();
    o.assert_code(0);
    assert_eq!(o.stdout, "scratch\ntests passed\n65534\n", "{o}");
    assert!(
        o.stderr.contains(".ssh/authorized_keys: Permission denied"),
        "{o}"
    );
    assert!(ws.join("hello").is_file(), "{o}");
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap(),
        "ssh-ed25519 BBBB owner\n"
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// `supervisor learn` on the CI job writes a rules policy under which the
/// same job passes again, and a changed job that touches a new file is
/// denied (the learnt rules are loaded by the rules module).
#[test]
fn the_learnt_policy_of_the_ci_job_runs_it_again() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    write_project(&ws);
    let learnt = ws.join("learnt.lua");
    let o = Cmd::native(&[
        crate::util::supervisor().as_ref(),
        "learn".as_ref(),
        "-o".as_ref(),
        learnt.as_os_str(),
        "--".as_ref(),
        "make".as_ref(),
        "-s".as_ref(),
        "check".as_ref(),
    ])
    .cwd(&ws)
    .env("SCRATCH", ws.join("scratch"))
    .run();
    o.assert_code(0);
    assert_eq!(o.stdout, "scratch\ntests passed\n", "{o}");
    let clean = || {
        for f in [
            "hello", "unit", "main.o", "util.o", "test.o", "out.txt", "scratch",
        ] {
            std::fs::remove_file(ws.join(f)).unwrap();
        }
    };
    clean();
    let o = Cmd::supervised(Policy::file(&learnt), &["make", "-s", "check"])
        .cwd(&ws)
        .env("SCRATCH", ws.join("scratch"))
        .run();
    o.assert_code(0);
    assert_eq!(o.stdout, "scratch\ntests passed\n", "{o}");
    assert!(ws.join("hello").is_file());
    // The job changed: its tests also write a file they never wrote.
    clean();
    let makefile = MAKEFILE.replace(
        "\techo tests passed\n",
        "\techo new > notes.txt\n\techo tests passed\n",
    );
    std::fs::write(ws.join("Makefile"), makefile).unwrap();
    let o = Cmd::supervised(Policy::file(&learnt), &["make", "-s", "check"])
        .cwd(&ws)
        .env("SCRATCH", ws.join("scratch"))
        .run();
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("notes.txt: Permission denied"), "{o}");
    assert!(!ws.join("notes.txt").exists(), "{o}");
}
