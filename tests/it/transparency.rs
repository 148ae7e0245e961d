//! Transparency: the mapped file and socket calls, modelled on the LTP
//! syscall tests of open, openat, openat2, creat, stat, lstat, statx,
//! access, faccessat, faccessat2, mkdir, mkdirat, rmdir, unlink, unlinkat,
//! rename, renameat, renameat2, bind, connect, sendto and sendmsg, run by
//! the transparency probe (tests/probes/transparency.c) on a fixture tree
//! (owners, modes, a setgid and a sticky directory, a directory without
//! search permission), as root and after the probe drops to nobody.
//!
//! Each case runs natively, under CONTINUE-everything (allow-all.lua) and
//! under brokering-as-the-program-everything (broker-as-program.lua): the
//! three outputs — return values, errnos, the owner, group and mode of
//! what was created, file status flags, socket names, peer credentials —
//! must be equal.  Under use_master_credentials (broker-all.lua) every
//! difference is asserted: the supervisor's authority and ownership.

use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::util::{compile, counters, repo, tempdir, Cmd, Policy};

const NOBODY: u32 = 65534;
/// The group of the setgid directory.
const GROUP: u32 = 4242;

/// The probe, static musl and dynamic glibc.
pub fn probes() -> &'static [PathBuf; 2] {
    static P: OnceLock<[PathBuf; 2]> = OnceLock::new();
    P.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let src = repo().join("tests/probes/transparency.c");
        let build = |cc: &str, extra: &[&str], name: &str| {
            let out = dir.join(name);
            compile(cc, extra, &src, &out);
            out
        };
        [
            build("musl-gcc", &["-static"], "transparency-musl-static"),
            build("gcc", &[], "transparency-glibc-dynamic"),
        ]
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips (or, under CI, fails) a test that needs root.
pub fn need_root() -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the transparency suite needs root (it makes files of other owners and drops to nobody)"
    );
    eprintln!("skipped: not root");
    false
}

fn mk(path: &Path, dir: bool, mode: u32, uid: u32, gid: u32) {
    if dir {
        std::fs::create_dir(path).unwrap();
    } else {
        std::fs::write(path, "data\n").unwrap();
    }
    chown(path, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The fixture: a fresh tree in `root` (the probe's cwd).
pub fn fixture(root: &Path) {
    let p = |s: &str| root.join(s);
    mk(&p("open"), true, 0o777, 0, 0);
    mk(&p("open/rootf"), false, 0o644, 0, 0);
    mk(&p("open/d"), true, 0o755, 0, 0);
    mk(&p("ro"), true, 0o755, 0, 0);
    mk(&p("ro/f"), false, 0o644, 0, 0);
    mk(&p("ro/sub"), true, 0o755, 0, 0);
    mk(&p("priv"), true, 0o700, 0, 0);
    mk(&p("priv/f"), false, 0o600, 0, 0);
    mk(&p("secret"), false, 0o600, 0, 0);
    mk(&p("world"), false, 0o666, 0, 0);
    mk(&p("grp"), false, 0o640, 0, GROUP);
    mk(&p("sgid"), true, 0o777, 0, GROUP);
    std::fs::set_permissions(p("sgid"), std::fs::Permissions::from_mode(0o2777)).unwrap();
    mk(&p("sticky"), true, 0o777, 0, 0);
    std::fs::set_permissions(p("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    mk(&p("sticky/rootf"), false, 0o666, 0, 0);
    mk(&p("sticky/mine"), false, 0o644, NOBODY, NOBODY);
    mk(&p("nox"), true, 0o777, 0, 0);
    mk(&p("nox/f"), false, 0o644, 0, 0);
    std::fs::set_permissions(p("nox"), std::fs::Permissions::from_mode(0o666)).unwrap();
    mk(&p("home"), true, 0o755, NOBODY, NOBODY);
    mk(&p("home/mine"), false, 0o644, NOBODY, NOBODY);
    mk(&p("home/sub"), true, 0o755, NOBODY, NOBODY);
    symlink("ro/f", p("lnk")).unwrap();
    symlink("nowhere", p("dangling")).unwrap();
    symlink("open", p("lopen")).unwrap();
}

/// A fresh temporary directory nobody may search (the fixture's parent
/// must be).
fn searchable_tempdir() -> TempDir {
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A fresh [`fixture`] in a [`searchable_tempdir`].
fn fixture_dir() -> TempDir {
    let dir = searchable_tempdir();
    fixture(dir.path());
    dir
}

/// The cases: probe steps (each split at spaces), as root.
const AS_ROOT: &[&str] = &[
    "umask 022",
    "open secret rdonly 0",
    "open ro/f rdonly,noatime 0",
    "open ro/f rdonly,nonblock,append 0",
    "open lnk rdonly,nofollow 0",
    "open open/new wronly,creat,excl 640",
    "open open/new wronly,creat,excl 640",
    "open sgid/new rdwr,creat 2755",
    "open open/ wronly,creat 644",
    "creat open/c 644",
    "openat ro f rdonly 0",
    "openat open at wronly,creat 600",
    "openat2 ro f rdonly 0 0",
    "openat2 . lnk rdonly 0 4",
    "openat2 ro ../secret rdonly 0 8",
    "stat secret",
    "stat lnk",
    "stat dangling",
    "stat nox/f",
    "access secret rw",
    "access ro/f x",
    "access nox/f r",
    "mkdir open/m 777",
    "mkdir sgid/m 6777",
    "mkdirat open m2 700",
    "mkdir open/m 777",
    "rmdir open/d",
    "rmdir ro",
    "unlink open/rootf",
    "unlink open/m",
    "unlinkat ro f file",
    "unlinkat open m2 dir",
    "rename open/c open/c2",
    "renameat open c2 c3 1",
    "renameat open new c3 2",
    "renameat open c3 x 2",
    "bind sock stream",
    "bind sock stream",
    "bind open/s2 dgram",
    "bind open/./s3 stream",
    "bind DIR/open/s4 stream",
    "bind DIR/open/../open/s5 seqpacket",
    "bind /../DIR/open/s6 stream",
    "bind lopen/s7 stream",
    "bind open/s2 stream",
    "cd open",
    "bind ../open/s8 stream",
    "bind ./../ro/../open/s9 dgram",
    "peer ../open/p2.sock",
    "cd ..",
    "peer DIR/open/p3.sock",
    "bind open/../ro/sub/../s10 stream",
    "bind-port 1022",
    "peer p.sock",
    "dgram d1.sock sendto",
    "dgram d2.sock sendmsg",
];

/// The cases after dropping to nobody (no supplementary group).
const AS_NOBODY: &[&str] = &[
    "umask 022",
    "drop 65534 65534 -",
    "open secret rdonly 0",
    "open ro/f wronly 0",
    "open ro/f rdonly,noatime 0",
    "open home/mine rdonly,noatime 0",
    "open ro/new wronly,creat 644",
    "open open/n rdwr,creat,excl 666",
    "open sgid/n wronly,creat 2755",
    "open priv/f rdonly 0",
    "creat ro/c 644",
    "creat open/c 644",
    "openat priv f rdonly 0",
    "openat home at wronly,creat 600",
    "openat2 ro f wronly 0 0",
    "openat2 nox f rdonly 0 0",
    "stat secret",
    "stat nox/f",
    "stat priv/f",
    "access secret r",
    "access world rw",
    "access ro/f w",
    "access nox/f r",
    "mkdir ro/m 755",
    "mkdir open/m 755",
    "mkdir sgid/m 755",
    "mkdirat home m 700",
    "mkdirat ro m 700",
    "rmdir ro/sub",
    "rmdir open/d",
    "unlink sticky/rootf",
    "unlink sticky/mine",
    "unlink ro/f",
    "unlinkat home mine file",
    "unlinkat ro sub dir",
    "rename sticky/rootf open/x",
    "rename open/n open/n2",
    "rename ro/f open/y",
    "renameat home sub sub2 0",
    "renameat home sub2 m 2",
    "renameat ro f g 1",
    "bind sock stream",
    "bind ro/s stream",
    "bind home/s3 stream",
    "bind DIR/ro/.././home/s4 dgram",
    "bind DIR/ro/s5 stream",
    "bind-port 1022",
    "bind-port 1024",
    "cd open",
    "bind s2 seqpacket",
    "bind ../home/s6 stream",
    "peer ../home/p2.sock",
    "peer p.sock",
    "dgram d1.sock sendto",
    "dgram d2.sock sendmsg",
    "cd ..",
];

/// The cases as nobody with the setgid directory's group.
const AS_MEMBER: &[&str] = &[
    "umask 002",
    "drop 65534 65534 4242",
    "open sgid/g wronly,creat 2775",
    "mkdir sgid/gm 2775",
    "creat sgid/c 664",
    "bind sgid/s2 stream",
    "bind DIR/sgid/../sgid/s3 dgram",
    "cd sgid",
    "bind s stream",
    "cd ..",
    "stat sgid/g",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Native,
    Continue,
    Program,
    Master,
}

/// The probe's output for `steps` in a fresh fixture, in `mode`.  `DIR`
/// in a step is the fixture's absolute path (and the fixture's path in the
/// output is `DIR`).
fn run(probe: &Path, steps: &[&str], mode: Mode) -> String {
    let (out, err) = run_with(probe, steps, mode, |c| c);
    assert_eq!(err, "", "stderr in {mode:?}");
    out
}

/// The same, the command changed by `tweak`: (output, stderr).
fn run_with(
    probe: &Path,
    steps: &[&str],
    mode: Mode,
    tweak: impl Fn(Cmd) -> Cmd,
) -> (String, String) {
    let dir = fixture_dir();
    let at = dir.path().to_str().expect("a UTF-8 temporary directory");
    let words: Vec<String> = steps
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(|w| w.replace("DIR", at))
        .collect();
    let mut argv: Vec<&std::ffi::OsStr> = vec![probe.as_os_str()];
    argv.extend(words.iter().map(std::ffi::OsStr::new));
    let cmd = match mode {
        Mode::Native => Cmd::native(&argv),
        Mode::Continue => Cmd::supervised(Policy::example("allow-all"), &argv),
        Mode::Program => Cmd::supervised(Policy::example("broker-as-program"), &argv),
        Mode::Master => Cmd::supervised(Policy::example("broker-all"), &argv),
    };
    let out = tweak(cmd.cwd(dir.path()).in_new_netns()).run();
    out.assert_code(0);
    // The descriptor number in a /proc/self/fd alias is the supervisor's.
    (fd_numbers_out(&out.stdout).replace(at, "DIR"), out.stderr)
}

/// `/proc/self/fd/<n>/` → `/proc/self/fd/N/`.
fn fd_numbers_out(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/proc/self/fd/") {
        out.push_str(&rest[..i + 14]);
        rest = &rest[i + 14..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push('N');
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Asserts equal outputs, line by line (the first difference named).
#[track_caller]
pub fn assert_same(what: &str, want: &str, got: &str) {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(
            w,
            g,
            "{what}: line {} differs\nnative:\n{want}\n{what}:\n{got}",
            i + 1
        );
    }
    assert_eq!(
        want.lines().count(),
        got.lines().count(),
        "{what}: not as many lines\nnative:\n{want}\n{what}:\n{got}"
    );
}

/// The lines where `got` differs from `native`: (native, got).
fn differences(native: &str, got: &str) -> Vec<(String, String)> {
    assert_eq!(
        native.lines().count(),
        got.lines().count(),
        "native:\n{native}\ngot:\n{got}"
    );
    native
        .lines()
        .zip(got.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Runs `steps` natively, under CONTINUE, as the program and as the
/// supervisor, with both probes.  CONTINUE must equal native; as the
/// program, only the lines of `program` may differ (each `(native line,
/// line)`, the documented differences); returns the differences under
/// use_master_credentials (the same for both probes).
#[track_caller]
fn three_ways(steps: &[&str], program: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut master = Vec::new();
    for probe in probes() {
        let native = run(probe, steps, Mode::Native);
        assert!(
            !native.contains("E#"),
            "an errno the probe does not name:\n{native}"
        );
        let cont = run(probe, steps, Mode::Continue);
        assert_same("CONTINUE", &native, &cont);
        let p = run(probe, steps, Mode::Program);
        if program.is_empty() {
            assert_same("use_program_credentials", &native, &p);
        } else {
            assert_eq!(
                differences(&native, &p),
                owned(program),
                "the differences as the program (native:\n{native}\nas the program:\n{p})"
            );
        }
        let m = run(probe, steps, Mode::Master);
        master.push(differences(&native, &m));
    }
    assert_eq!(
        master[0], master[1],
        "musl and glibc differ under use_master_credentials"
    );
    master.swap_remove(0)
}

/// [`three_ways`] of `steps` with `GROUP` replaced by the setgid
/// directory's group, no difference as the program.
#[track_caller]
fn three_ways_with_group(steps: &[&str]) -> Vec<(String, String)> {
    let g = GROUP.to_string();
    let steps: Vec<String> = steps.iter().map(|s| s.replace("GROUP", &g)).collect();
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    three_ways(&steps, &[])
}

/// What opening root's `secret`, nobody's `home/mine` and the group's
/// `grp` give under use_master_credentials.
const SECRET_AS_MASTER: &str = "open secret rdonly 0: fd getfl=0100000 cloexec=0 0:0 100600";
const MINE_AS_MASTER: &str =
    "open home/mine wronly 0: fd getfl=0100001 cloexec=0 65534:65534 100644";
fn grp_as_master() -> String {
    format!("open grp rdonly 0: fd getfl=0100000 cloexec=0 0:{GROUP} 100640")
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Asserts the differences under use_master_credentials: each `(native
/// line, master line)` given, and no other.
#[track_caller]
fn assert_master(got: Vec<(String, String)>, want: &[(&str, &str)]) {
    assert_eq!(
        got,
        owned(want),
        "the differences under use_master_credentials"
    );
}

/// Asserts the differences under use_master_credentials against
/// tests/it/`name`: `-` the native line, `+` the line under
/// use_master_credentials, `#` comments (why).  `TRANSPARENCY_BLESS=1`
/// rewrites the pairs (keeping the comments at the top).
#[track_caller]
fn assert_master_file(got: Vec<(String, String)>, name: &str) {
    let path = repo().join("tests/it").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("TRANSPARENCY_BLESS").is_some() {
        let mut out: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        for (a, b) in &got {
            out.push_str(&format!("-{a}\n+{b}\n"));
        }
        std::fs::write(&path, out).expect("write the expected differences");
        return;
    }
    let mut want = Vec::new();
    let mut minus = None;
    for l in text.lines() {
        if let Some(a) = l.strip_prefix('-') {
            minus = Some(a.to_string());
        } else if let Some(b) = l.strip_prefix('+') {
            let a = minus.take().expect("a + line follows a - line");
            want.push((a, b.to_string()));
        }
    }
    assert_eq!(
        got,
        want,
        "the differences under use_master_credentials are not those of {}",
        path.display()
    );
}

/// A unix socket bound by a path whose walk goes through entries of the
/// directory it is bound in (`open/../ro/sub/../s10`: `sub` is looked up in
/// `ro`) keeps the race-free alias the supervisor bound it by
/// (docs/policy.md): the one documented difference of a brokered bind.
/// Every other path (absolute, relative, `.`, `..`, a symlinked
/// directory) is bound by the program's own string: its name, a peer's
/// view of it, its owner and mode are native.
const ALIAS: (&str, &str) = (
    "bind open/../ro/sub/../s10 stream: 0 name=open/../ro/sub/../s10 \
     [open/../ro/sub/../s10: 0:0 140755]",
    "bind open/../ro/sub/../s10 stream: 0 name=/proc/self/fd/N/s10 \
     [open/../ro/sub/../s10: 0:0 140755]",
);

/// The pid a unix listener sees (SO_PEERCRED) is the connecting task's,
/// taken by the kernel at connect: the supervisor's when it connects (as
/// the program or as itself); the uid and gid are the program's.
fn peer(ids: &str, path: &str) -> (String, String) {
    let line = |mark: &str| {
        format!(
            "peer {path}: 0 listen: 0 connect: 0 accept: 0 peercred={ids}{mark} listener={path} \
             client=unnamed peer={path}"
        )
    };
    (line(""), line(" pid-not-mine"))
}

#[test]
fn as_root() {
    if !need_root() {
        return;
    }
    // As root the supervisor's authority is the program's.
    let (n2, p2) = peer("0:0", "../open/p2.sock");
    let (n3, p3) = peer("0:0", "DIR/open/p3.sock");
    let (n, p) = peer("0:0", "p.sock");
    let want = [(&n2[..], &p2[..]), (&n3, &p3), ALIAS, (&n, &p)];
    let m = three_ways(AS_ROOT, &want);
    assert_master(m, &want);
}

#[test]
fn as_nobody() {
    if !need_root() {
        return;
    }
    let (n2, p2) = peer("65534:65534", "../home/p2.sock");
    let (n, p) = peer("65534:65534", "p.sock");
    let m = three_ways(AS_NOBODY, &[(&n2, &p2), (&n, &p)]);
    assert_master_file(m, "transparency-master-nobody.diff");
}

#[test]
fn as_member_of_setgid_group() {
    if !need_root() {
        return;
    }
    let m = three_ways(AS_MEMBER, &[]);
    assert_master_file(m, "transparency-master-member.diff");
}

/// Serves `l` forever: tells each client the uid and gid its connection
/// shows (SO_PEERCRED), as a service authorising by peer credentials
/// would see them.
fn peer_server(l: std::os::unix::net::UnixListener) {
    use std::io::Write;
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let c = nix::sys::socket::getsockopt(&s, nix::sys::socket::sockopt::PeerCredentials)
                .expect("SO_PEERCRED");
            // One write, then EOF: the client reads it whole.
            let _ = s.write_all(format!("{}:{}", c.uid(), c.gid()).as_bytes());
        }
    });
}

/// A root-only (0600) unix socket stays closed to a program that dropped
/// to nobody when a brokering policy (no-network.lua, as the program)
/// connects for it, with EACCES as natively; a socket open to all sees
/// the program's uid and gid in SO_PEERCRED.  As the supervisor
/// (broker-all.lua, use_master_credentials) both connect, as root.
#[test]
fn root_only_socket_and_peer_credentials() {
    if !need_root() {
        return;
    }
    let dir = searchable_tempdir();
    let closed = dir.path().join("root-only.sock");
    let open = dir.path().join("all.sock");
    for (path, mode) in [(&closed, 0o600), (&open, 0o666)] {
        let l = std::os::unix::net::UnixListener::bind(path).expect("bind the server");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        peer_server(l);
    }
    let (c, o) = (closed.to_str().unwrap(), open.to_str().unwrap());
    for probe in probes() {
        let argv = [
            probe.to_str().unwrap(),
            "drop",
            "65534",
            "65534",
            "-",
            "connect",
            c,
            "connect",
            o,
        ];
        let as_nobody = format!(
            "drop: 65534 65534 -\nconnect {c}: EACCES\nconnect {o}: 0 server-says=65534:65534\n"
        );
        let native = Cmd::native(&argv).run();
        assert_eq!(native.stdout, as_nobody, "{native}");
        let program = Cmd::supervised(Policy::example("no-network"), &argv).run();
        assert_eq!(program.stdout, as_nobody, "{program}");
        let master = Cmd::supervised(Policy::example("broker-all"), &argv).run();
        assert_eq!(
            master.stdout,
            format!(
                "drop: 65534 65534 -\nconnect {c}: 0 server-says=0:0\nconnect {o}: 0 \
                 server-says=0:0\n"
            ),
            "{master}"
        );
    }
}

/// Rules policies allow as the program by default; `how = "master"`
/// keeps the supervisor's authority, for a policy that means to grant
/// more than the program has.
#[test]
fn rules_allow_as_the_program_unless_how_is_master() {
    if !need_root() {
        return;
    }
    let dir = fixture_dir();
    let rules = |how: &str| {
        Policy::inline(&format!(
            "return require('rules').run {{ default = {{ read = {{ 'allow'{how} }}, write = \
             {{ 'allow'{how} }}, create = {{ 'allow'{how} }}, delete = {{ 'allow'{how} }} }} }}"
        ))
    };
    for probe in probes() {
        let argv = [
            probe.to_str().unwrap(),
            "drop",
            "65534",
            "65534",
            "-",
            "open",
            "secret",
            "rdonly",
            "0",
            "creat",
            "home/new",
            "644",
        ];
        let native = Cmd::native(&argv).cwd(dir.path()).run();
        let as_program = Cmd::supervised(rules(""), &argv).cwd(dir.path()).run();
        assert!(
            native.stdout.contains("open secret rdonly 0: EACCES"),
            "{native}"
        );
        assert_eq!(as_program.stdout, native.stdout, "{as_program}");
        std::fs::remove_file(dir.path().join("home/new")).unwrap();
        let master = Cmd::supervised(rules(", how = 'master'"), &argv)
            .cwd(dir.path())
            .run();
        assert!(master.stdout.contains(SECRET_AS_MASTER), "{master}");
        assert!(
            master.stdout.contains("  created: [home/new: 0:0 100644]"),
            "{master}"
        );
        std::fs::remove_file(dir.path().join("home/new")).unwrap();
    }
}

/// Credentials that change between two calls of the same program thread
/// (ids, then only the supplementary groups) are those each call is
/// performed with; two threads of the program with different credentials,
/// served in turn, each get their own.
#[test]
fn credentials_change_between_calls_and_threads() {
    if !need_root() {
        return;
    }
    let m = three_ways_with_group(&[
        "as 65534 65534 -",
        "open secret rdonly 0",
        "as 0 0 -",
        "open secret rdonly 0",
        "as 1234 1234 -",
        "open home/mine wronly 0",
        "as 65534 65534 -",
        "open home/mine wronly 0",
        "as 1234 100 GROUP",
        "open grp rdonly 0",
        "as 1234 100 -",
        "open grp rdonly 0",
        "as 1234 100 5,GROUP",
        "open grp rdonly 0",
        "as 1234 GROUP -",
        "open grp rdonly 0",
        "as 0 0 -",
        "twothreads secret 4",
    ]);
    // With the supervisor's authority every call succeeds (and the
    // nobody thread opens root's file).
    let grp = grp_as_master();
    let each = |who: &str| {
        format!(
            "twothreads secret:{}",
            format!(" thread={who} main=0").repeat(4)
        )
    };
    let (native_tt, master_tt) = (each("EACCES"), each("0"));
    assert_master(
        m,
        &[
            ("open secret rdonly 0: EACCES", SECRET_AS_MASTER),
            ("open home/mine wronly 0: EACCES", MINE_AS_MASTER),
            ("open grp rdonly 0: EACCES", &grp),
            (&native_tt, &master_tt),
        ],
    );
}

/// The supervisor keeps each thread's credentials between calls
/// (`kernel::creds::cache`) until the thread makes a call that may change
/// them: raw syscalls of one thread only (setresuid, setfsuid, capset,
/// setgroups), in the thread that made them and not in the other; the
/// libc's setresuid, which makes every thread of the process change its
/// own (a thread alive across it, its credentials kept before).
#[test]
fn creds_kept_per_thread_follow_raw_changes() {
    if !need_root() {
        return;
    }
    let m = three_ways_with_group(&[
        "open home/mine wronly 0",
        "capdrop 1",
        "open home/mine wronly 0",
        "capall",
        "open home/mine wronly 0",
        "fsuid 65534",
        "open secret rdonly 0",
        "fsuid 0",
        "open secret rdonly 0",
        "rawuid 65534 65534 -1",
        "open secret rdonly 0",
        "rawuid 0 0 -1",
        "open secret rdonly 0",
        "as 1234 100 GROUP",
        "open grp rdonly 0",
        "rawthread grp 1234 100 -",
        "open grp rdonly 0",
        "as 1234 100 -",
        "open grp rdonly 0",
        "rawthread grp 1234 100 GROUP",
        "open grp rdonly 0",
        "as 0 0 -",
        "bcast secret 65534",
        "open secret rdonly 0",
    ]);
    let (mine, secret, grp) = (MINE_AS_MASTER, SECRET_AS_MASTER, grp_as_master());
    assert_master(
        m,
        &[
            ("open home/mine wronly 0: EACCES", mine),
            ("open secret rdonly 0: EACCES", secret),
            ("open secret rdonly 0: EACCES", secret),
            (
                "rawthread grp 1234 100 -: main=0 thread=0 thread=EACCES main=0",
                "rawthread grp 1234 100 -: main=0 thread=0 thread=0 main=0",
            ),
            ("open grp rdonly 0: EACCES", &grp),
            (
                &format!("rawthread grp 1234 100 {GROUP}: main=EACCES thread=EACCES thread=0 main=EACCES"),
                &format!("rawthread grp 1234 100 {GROUP}: main=0 thread=0 thread=0 main=0"),
            ),
            ("open grp rdonly 0: EACCES", &grp),
            (
                "bcast secret 65534: thread=0 main=EACCES thread=EACCES",
                "bcast secret 65534: thread=0 main=0 thread=0",
            ),
            ("open secret rdonly 0: EACCES", secret),
        ],
    );
}

/// Short-lived threads one after the other, every other one as nobody,
/// each asking for the number of the one before (`ns_last_pid`, best
/// effort on a busy machine): a thread never gets the credentials kept
/// for an ended thread of the same number.
#[test]
fn creds_of_ended_threads_never_serve_their_numbers_again() {
    if !need_root() {
        return;
    }
    let m = three_ways(&["threads secret 64"], &[]);
    let native: String = (0..64)
        .map(|i| format!(" {i}={}", if i % 2 == 1 { "EACCES" } else { "0" }))
        .collect();
    let master: String = (0..64).map(|i| format!(" {i}=0")).collect();
    assert_master(
        m,
        &[(
            &format!("threads secret:{native}"),
            &format!("threads secret:{master}"),
        )],
    );
}

/// An exec gives the thread the credentials the kernel computes for the
/// new image: root's effective capabilities come back (capability 1,
/// CAP_DAC_OVERRIDE, dropped before), also when a thread that is not the
/// leader execs (it takes the leader's pid, whose credentials were kept
/// without the capability), and a setuid-root copy of the probe
/// run by nobody stays nobody under no_new_privs (which the supervisor
/// always sets; the probe sets it natively too).
#[test]
fn creds_after_an_exec_are_the_new_images() {
    if !need_root() {
        return;
    }
    let m = three_ways(
        &[
            "capdrop 1",
            "open home/mine wronly 0",
            "exec /proc/self/exe",
            "open home/mine wronly 0",
            "capdrop 1",
            "open home/mine wronly 0",
            "threadexec /proc/self/exe",
            "open home/mine wronly 0",
            "suidcopy open/sx",
            "as 65534 65534 -",
            "open secret rdonly 0",
            "nnp",
            "exec open/sx",
            "open secret rdonly 0",
        ],
        &[],
    );
    let (mine, secret) = (MINE_AS_MASTER, SECRET_AS_MASTER);
    assert_master(
        m,
        &[
            ("open home/mine wronly 0: EACCES", mine),
            ("open home/mine wronly 0: EACCES", mine),
            ("open secret rdonly 0: EACCES", secret),
            ("open secret rdonly 0: EACCES", secret),
        ],
    );
}

/// A thread that enters a user namespace of its own has no capabilities
/// outside it: its next brokered call is checked without them.  (Only
/// failing calls after it: the owner of a descriptor is printed through
/// an fd-only `fstatat`, answered by the supervisor with the ids as its
/// own user namespace maps them — 0:0 where the program sees 65534:65534,
/// under CONTINUE as well: a difference of its own.)
#[test]
fn creds_after_unshare_of_a_user_namespace_have_no_capabilities() {
    if !need_root() {
        return;
    }
    let m = three_ways(
        &[
            "open home/mine wronly 0",
            "userns",
            "open home/mine wronly 0",
        ],
        &[],
    );
    assert_master(m, &[("open home/mine wronly 0: EACCES", MINE_AS_MASTER)]);
}

/// The credential changes are seen under every posture: with
/// `--allow-unmapped` (the filter without refusals) and with `--log`
/// (refusals answered by the supervisor, each credential change recorded
/// as the supervisor's CONTINUE).
#[test]
fn creds_changes_are_seen_under_every_posture() {
    if !need_root() {
        return;
    }
    let steps = [
        "capdrop 1",
        "open home/mine wronly 0",
        "capall",
        "open home/mine wronly 0",
        "userns",
        "open home/mine wronly 0",
    ];
    for probe in probes() {
        let native = run(probe, &steps, Mode::Native);
        let logdir = tempdir();
        let log = logdir.path().join("log");
        let log_opt = format!("--log={}", log.display());
        for opts in [&["--allow-unmapped"][..], &[log_opt.as_str()][..]] {
            let dir = fixture_dir();
            let mut argv: Vec<&str> = vec![probe.to_str().unwrap()];
            argv.extend(steps.iter().flat_map(|s| s.split_whitespace()));
            let mut cmd = Cmd::supervised(Policy::example("broker-as-program"), &argv);
            for o in opts {
                cmd = cmd.option(o);
            }
            let out = cmd.cwd(dir.path()).in_new_netns().run();
            out.assert_code(0);
            assert_same(&format!("{opts:?}"), &native, &out.stdout);
        }
        let log = std::fs::read_to_string(&log).unwrap();
        for call in ["capset", "unshare"] {
            assert!(
                log.lines().any(|l| l.contains(&format!("\"{call}\""))
                    && l.contains("credentials change")),
                "{call} recorded as a credentials change:\n{log}"
            );
        }
    }
}

/// A brokered unix bind by the program's own multi-component path creates
/// the socket in exactly the directory the policy decided on: while a
/// thread swaps `x/d` between a real directory and a symlink to a denied
/// directory (`RENAME_EXCHANGE`, outside the sandbox), the program binds
/// `x/d/sN` again and again under deny-path (the denied directory denied,
/// the rest brokered).  Binds are allowed (named by the program's string)
/// and denied, and no socket ever appears in the denied directory: every
/// one is in the real directory.
#[test]
fn bind_by_own_path_never_lands_in_a_swapped_in_directory() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    for (k, probe) in probes().iter().enumerate() {
        let tmp = tempdir();
        let root = crate::util::canon(&tmp);
        let (x, denied) = (root.join("x"), root.join("denied"));
        std::fs::create_dir(&x).unwrap();
        std::fs::create_dir(&denied).unwrap();
        std::fs::create_dir(x.join("d")).unwrap();
        symlink(&denied, x.join("e")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flipper = {
            let (stop, x) = (stop.clone(), x.clone());
            std::thread::spawn(move || {
                let mut flips = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    nix::fcntl::renameat2(
                        nix::fcntl::AT_FDCWD,
                        &x.join("d"),
                        nix::fcntl::AT_FDCWD,
                        &x.join("e"),
                        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
                    )
                    .expect("swap x/d and x/e");
                    flips += 1;
                }
                flips
            })
        };
        let prefix = format!("{}/s", x.join("d").display());
        let out = Cmd::supervised(
            Policy::example("deny-path"),
            &[probe.to_str().unwrap(), "bindmany", &prefix, "3000"],
        )
        .env("DENY", &denied)
        .run();
        stop.store(true, Ordering::Relaxed);
        let flips = flipper.join().unwrap();
        out.assert_clean();
        let c = counters(&out, "bindmany ");
        eprintln!("probe {k}: {c:?} ({flips} swaps)");
        let in_denied: Vec<_> = std::fs::read_dir(&denied).unwrap().collect();
        assert!(
            in_denied.is_empty(),
            "probe {k}: sockets in the denied directory: {in_denied:?}\n{out}"
        );
        assert_eq!(c["misnamed"], 0, "probe {k}: {c:?}\n{out}");
        assert_eq!(c["other"], 0, "probe {k}: {c:?}\n{out}");
        assert!(
            c["ok"] > 0 && c["denied"] > 0,
            "probe {k}: no race ({flips} swaps): {c:?}\n{out}"
        );
        // The real directory is x/d or x/e, whichever the last swap left.
        let real = if x.join("d").symlink_metadata().unwrap().is_dir() {
            "d"
        } else {
            "e"
        };
        let n = std::fs::read_dir(x.join(real)).unwrap().count() as u64;
        assert_eq!(
            n, c["ok"],
            "probe {k}: every bound socket is in the real directory: {c:?}"
        );
    }
}

/// A bind by the program's own path that is the run's first call as the
/// program (the supervisor's own credentials not read yet: they are read
/// once, from /proc, which the binding thread's chroot leaves behind), as
/// root and as nobody, by an absolute path and by `/name`.
#[test]
fn bind_by_own_path_as_the_first_call() {
    if !need_root() {
        return;
    }
    for steps in [
        &["bind DIR/open/s1 stream"][..],
        &["bind /../DIR/open/s1 stream"][..],
        &["drop 65534 65534 -", "bind DIR/home/s1 stream"][..],
    ] {
        let m = three_ways(steps, &[]);
        if steps.len() == 2 {
            assert_master(
                m,
                &[(
                    "bind DIR/home/s1 stream: 0 name=DIR/home/s1 [DIR/home/s1: 65534:65534 140755]",
                    "bind DIR/home/s1 stream: 0 name=DIR/home/s1 [DIR/home/s1: 0:0 140755]",
                )],
            );
        } else {
            assert_master(m, &[]);
        }
    }
}

/// In a program that chrooted (to the fixture's `open`), `/name` and
/// `/../name` are bound from a thread chrooted to the held directory, and
/// `/sub/name`, `sub/name` and `../sub/./name` by the program's string in
/// a namespace of their own: the names, the peer's view, the owners are
/// native.
#[test]
fn bind_by_own_path_in_a_chrooted_program() {
    if !need_root() {
        return;
    }
    let (n, p) = peer("0:0", "/sub/../sub/p.sock");
    let m = three_ways(
        &[
            "mkdir open/sub 755",
            "chroot DIR/open",
            "bind /s1 stream",
            "bind /../s2 dgram",
            "bind /./s3 stream",
            "bind /sub/s3 stream",
            "bind sub/s4 stream",
            "bind ../sub/./s5 stream",
            "peer /sub/../sub/p.sock",
        ],
        &[(&n, &p)],
    );
    assert_master(m, &[(&n, &p)]);
}

/// Where the supervisor cannot build the program's path (no
/// `CAP_SYS_ADMIN`: the bounding set without it, as the container agent's
/// non-root helper; or the held directory's mount is the program's own,
/// in a mount namespace its init script made), a bind by a path of more
/// than one component is made through the race-free alias, in the same
/// directory: getsockname shows `/proc/self/fd/N/name` (docs/policy.md).
#[test]
fn bind_by_own_path_falls_back_to_the_alias() {
    if !need_root() {
        return;
    }
    for probe in probes() {
        for how in ["no CAP_SYS_ADMIN", "own mount namespace"] {
            let tmp = tempdir();
            let dir = crate::util::canon(&tmp);
            std::fs::create_dir(dir.join("open")).unwrap();
            let path = dir.join("open/s1");
            let path = path.to_str().unwrap();
            let argv = [probe.to_str().unwrap(), "bind", path, "stream"];
            let (code, stdout, stderr) = if how == "no CAP_SYS_ADMIN" {
                let o = Command::new("setpriv")
                    .args(["--bounding-set=-sys_admin", "--"])
                    .arg(crate::util::supervisor())
                    .arg("run")
                    .arg("--policy")
                    .arg(repo().join("policies/broker-as-program.lua"))
                    .arg("--")
                    .args(argv)
                    .output()
                    .expect("run setpriv (util-linux)");
                (
                    o.status.code(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            } else {
                let o = Cmd::supervised(Policy::example("broker-as-program"), &argv)
                    .init("C.unshare(C.CLONE_NEWNS)")
                    .run();
                (Some(o.code), o.stdout, o.stderr)
            };
            assert_eq!(
                (code, fd_numbers_out(&stdout).as_str(), stderr.as_str()),
                (
                    Some(0),
                    format!("bind {path} stream: 0 name=/proc/self/fd/N/s1 [{path}: 0:0 140755]\n")
                        .as_str(),
                    ""
                ),
                "{how}"
            );
        }
    }
}

/// The calls that may go through io_uring as nobody (kernel::creds::uring:
/// opens that create nothing, stats of an entry), their errnos included:
/// denied, missing, a symlink not followed, a directory without search
/// permission, directories and symlinks stat'ed.
const AS_NOBODY_URING: &[&str] = &[
    "umask 022",
    "drop 65534 65534 -",
    "open ro/f rdonly 0",
    "open ro/f rdonly,nonblock,append 0",
    "open ro/f wronly 0",
    "open world rdwr 0",
    "open lnk rdonly,nofollow 0",
    "open lnk rdonly 0",
    "open ro rdonly,directory 0",
    "open ro/f rdonly,directory 0",
    "open secret rdonly 0",
    "open priv/f rdonly 0",
    "open missing rdonly 0",
    "open home/mine rdonly,noatime 0",
    "openat2 ro f rdonly 0 0",
    "openat2 . lnk rdonly 0 4",
    "openat2 nox f rdonly 0 0",
    "stat ro/f",
    "stat lnk",
    "stat dangling",
    "stat ro",
    "stat open",
    "stat .",
    "stat nox",
    "stat nox/f",
    "stat priv/f",
    "stat missing",
    "stat secret",
];

/// `supervisor: io_uring: N calls as the program, M sent to acting
/// threads` (SUPERVISOR_IO_URING=report): (N, M).
fn uring_counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("supervisor: io_uring: "))
        .unwrap_or_else(|| panic!("no io_uring report in:\n{stderr}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 2, "{line}");
    (n[0], n[1])
}

/// As nobody, the opens and stats are performed through an io_uring
/// personality (counted by the supervisor), with the native outcomes.
#[test]
fn nobody_opens_and_stats_go_through_io_uring() {
    if !need_root() {
        return;
    }
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|v| v.trim() != "0");
    if disabled && std::env::var_os("CI").is_none() {
        eprintln!("skipped: kernel.io_uring_disabled is set (under CI=true this fails)");
        return;
    }
    for probe in probes() {
        let native = run(probe, AS_NOBODY_URING, Mode::Native);
        let (p, err) = run_with(probe, AS_NOBODY_URING, Mode::Program, |c| {
            c.env("SUPERVISOR_IO_URING", "report")
        });
        assert_same("as the program, io_uring", &native, &p);
        let (done, _) = uring_counts(&err);
        // 15 opens and 12 × 4 stats, all but the ones resolution answers.
        assert!(
            done >= 20,
            "only {done} calls went through io_uring (is io_uring disabled? kernel.io_uring_disabled):\n{err}"
        );
    }
}

/// With io_uring turned off (SUPERVISOR_IO_URING=off) or refused to the
/// supervisor by a seccomp filter (io_uring_setup: EPERM), every call as
/// the program goes to the acting threads, with the same outcomes.
#[test]
fn without_io_uring_the_outcomes_are_the_same() {
    if !need_root() {
        return;
    }
    let (n2, p2) = peer("65534:65534", "../home/p2.sock");
    let (n, p) = peer("65534:65534", "p.sock");
    let probe = &probes()[0];
    for steps in [AS_NOBODY_URING, AS_NOBODY, AS_MEMBER] {
        let native = run(probe, steps, Mode::Native);
        let expected = if steps == AS_NOBODY {
            owned(&[(&n2, &p2), (&n, &p)])
        } else {
            Vec::new()
        };
        for how in ["off", "seccomp"] {
            let (p, err) = run_with(probe, steps, Mode::Program, |c| {
                if how == "off" {
                    c.env("SUPERVISOR_IO_URING", "off,report")
                } else {
                    c.env("SUPERVISOR_IO_URING", "report").refusing_io_uring()
                }
            });
            assert_eq!(
                differences(&native, &p),
                expected,
                "io_uring {how}: native:\n{native}\nas the program:\n{p}"
            );
            let (done, fell_back) = uring_counts(&err);
            assert_eq!(done, 0, "io_uring {how}: {err}");
            if steps == AS_NOBODY_URING {
                assert!(fell_back >= 20, "io_uring {how}: {err}");
            }
        }
    }
}

/// A stat as nobody under a policy that performs without asking for the
/// resolution first (broker-as-program.lua) is resolved as it is
/// performed: the entry is looked up once, as the program, and what that
/// lookup found is stat'ed (`Resolved::found`); where the program may not
/// search the directory (`nox`, `priv`), the answer is EACCES, as
/// natively.
#[test]
fn nobody_stats_are_looked_up_once_as_the_program() {
    if !need_root() {
        return;
    }
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|v| v.trim() != "0");
    if disabled && std::env::var_os("CI").is_none() {
        eprintln!("skipped: kernel.io_uring_disabled is set (under CI=true this fails)");
        return;
    }
    const FILES: &[&str] = &[
        "umask 022",
        "drop 65534 65534 -",
        "stat ro/f",
        "stat home/mine",
        "stat world",
    ];
    const OTHERS: &[&str] = &[
        "umask 022",
        "drop 65534 65534 -",
        "stat nox/f",
        "stat priv/f",
        "stat secret",
        "stat lnk",
        "stat dangling",
        "stat ro",
        "stat missing",
        "stat ro/f",
    ];
    for probe in probes() {
        for steps in [FILES, OTHERS] {
            let native = run(probe, steps, Mode::Native);
            let (p, err) = run_with(probe, steps, Mode::Program, |c| {
                c.env("SUPERVISOR_IO_URING", "report")
            });
            assert_same("as the program, stats", &native, &p);
            if steps == FILES {
                assert!(!native.contains("EACCES"), "{native}");
                // stat, lstat, fstatat, statx of three files: one lookup
                // each.
                assert_eq!(uring_counts(&err), (12, 0), "{err}");
            } else {
                assert!(native.matches("EACCES").count() >= 8, "{native}");
            }
        }
    }
}
