//! Running the supervisor (or a program natively) and the C probes.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The static busybox the tests run.
pub const BUSYBOX: &str = "/bin/busybox";

/// The supervisor binary built by cargo for this test run.
pub fn supervisor() -> &'static str {
    env!("CARGO_BIN_EXE_supervisor")
}

/// The repository root (the workspace).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("supervisor/ has a parent")
        .to_path_buf()
}

/// A policy: a file, or Lua source written to `policy.lua` in a temporary
/// directory when the command runs.
#[derive(Clone, Debug)]
pub enum Policy {
    File(PathBuf),
    Inline(String),
}

impl Policy {
    /// One of the example policies, `policies/NAME.lua`.
    pub fn example(name: &str) -> Policy {
        let p = repo().join("policies").join(format!("{name}.lua"));
        assert!(p.is_file(), "example policy {} is missing", p.display());
        Policy::File(p)
    }

    /// A policy file at `path` (which may not exist).
    pub fn file(path: impl Into<PathBuf>) -> Policy {
        Policy::File(path.into())
    }

    /// Inline Lua source.
    pub fn inline(src: &str) -> Policy {
        Policy::Inline(src.to_string())
    }
}

/// A command to run, under the supervisor or natively.
#[derive(Clone, Debug)]
pub struct Cmd {
    policy: Option<Policy>,
    argv: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    /// `--init` (Lua source, written to `init.lua`) and `--init-arg`.
    init: Option<String>,
    init_arg: Option<PathBuf>,
    netns: bool,
    /// Under a seccomp filter that refuses `io_uring_setup` (EPERM).
    no_io_uring: bool,
    /// Options for `supervisor run` (before `--`).
    options: Vec<OsString>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// The exit code; 128 + the signal for a native program killed by one.
    pub code: i32,
    /// The pid of the process started (the supervisor, for supervised runs).
    pub pid: u32,
    /// What was run, for messages.
    pub what: String,
}

impl Output {
    /// Panics unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code for {self}");
        self
    }

    /// Panics unless the run succeeded with an empty stderr.
    #[track_caller]
    pub fn assert_clean(&self) -> &Self {
        assert_eq!(self.code, 0, "unexpected exit code for {self}");
        assert_eq!(self.stderr, "", "unexpected stderr for {self}");
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}`\n  exit code: {}\n  --- stdout ---\n{}\n  --- stderr ---\n{}\n  --------------",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

impl Cmd {
    /// `supervisor run --policy POLICY -- ARGV…`.
    pub fn supervised<S: AsRef<OsStr>>(policy: Policy, argv: &[S]) -> Cmd {
        Cmd {
            policy: Some(policy),
            ..Cmd::native(argv)
        }
    }

    /// `ARGV…` without the supervisor.
    pub fn native<S: AsRef<OsStr>>(argv: &[S]) -> Cmd {
        assert!(!argv.is_empty(), "a command needs a program");
        Cmd {
            policy: None,
            argv: argv.iter().map(|a| a.as_ref().to_os_string()).collect(),
            envs: Vec::new(),
            cwd: None,
            timeout: Duration::from_secs(60),
            init: None,
            init_arg: None,
            netns: false,
            no_io_uring: false,
            options: Vec::new(),
        }
    }

    /// The same command without the supervisor.
    pub fn without_supervisor(&self) -> Cmd {
        Cmd {
            policy: None,
            ..self.clone()
        }
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// `--init` with this Lua source (supervised runs only).
    pub fn init(mut self, src: &str) -> Cmd {
        self.init = Some(src.to_string());
        self
    }

    /// `--init-arg PATH`.
    pub fn init_arg(mut self, path: impl Into<PathBuf>) -> Cmd {
        self.init_arg = Some(path.into());
        self
    }

    /// An option for `supervisor run` (supervised runs only).
    pub fn option(mut self, opt: impl AsRef<OsStr>) -> Cmd {
        self.options.push(opt.as_ref().to_os_string());
        self
    }

    /// Runs the command (supervisor and program) in a new, empty network
    /// namespace: nothing it sends can leave the machine.
    pub fn in_new_netns(mut self) -> Cmd {
        self.netns = true;
        self
    }

    /// Runs the command (supervisor and program) under a seccomp filter
    /// that refuses `io_uring_setup` with EPERM, as a container's profile
    /// may.
    pub fn refusing_io_uring(mut self) -> Cmd {
        self.no_io_uring = true;
        self
    }

    /// How long the run may take before it is killed (and the test fails).
    pub fn timeout(mut self, limit: Duration) -> Cmd {
        self.timeout = limit;
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    /// Runs to completion (killing it after the time-out, which fails the
    /// test) and captures its output.  A supervised run must never print a
    /// Rust panic.
    #[track_caller]
    pub fn run(&self) -> Output {
        let _policy_dir;
        let init_dir = tempdir();
        let mut command;
        let mut what = Vec::new();
        match &self.policy {
            Some(policy) => {
                let path = match policy {
                    Policy::File(p) => p.clone(),
                    Policy::Inline(src) => {
                        let dir = tempdir();
                        let p = dir.path().join("policy.lua");
                        std::fs::write(&p, src).expect("write the inline policy");
                        _policy_dir = dir;
                        p
                    }
                };
                command = Command::new(supervisor());
                command.arg("run");
                what.push("supervisor run".to_string());
                if let Some(src) = &self.init {
                    let p = init_dir.path().join("init.lua");
                    std::fs::write(&p, src).expect("write the init script");
                    command.arg("--init").arg(&p);
                    what.push(format!("--init {}", p.display()));
                }
                if let Some(a) = &self.init_arg {
                    command.arg("--init-arg").arg(a);
                    what.push(format!("--init-arg {}", a.display()));
                }
                for o in &self.options {
                    command.arg(o);
                    what.push(o.to_string_lossy().into_owned());
                }
                command.arg("--policy").arg(&path).arg("--");
                what.push(format!("--policy {} --", path.display()));
            }
            None => {
                command = Command::new(&self.argv[0]);
            }
        }
        let args = if self.policy.is_some() {
            &self.argv[..]
        } else {
            &self.argv[1..]
        };
        command.args(args);
        what.extend(self.argv.iter().map(|a| a.to_string_lossy().into_owned()));
        for (k, v) in &self.envs {
            command.env(k, v);
            what.insert(
                0,
                format!("{}={}", k.to_string_lossy(), v.to_string_lossy()),
            );
        }
        if let Some(d) = &self.cwd {
            command.current_dir(d);
        }
        if self.netns {
            use std::os::unix::process::CommandExt;
            // SAFETY: unshare is async-signal-safe; nothing else runs
            // between fork and exec here.
            unsafe {
                command.pre_exec(|| {
                    if libc::unshare(libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            what.insert(0, "(new netns)".into());
        }
        if self.no_io_uring {
            use std::os::unix::process::CommandExt;
            let filter = no_io_uring_filter();
            // SAFETY: prctl is async-signal-safe and the filter is built
            // before the fork (the closure only reads it); nothing else
            // runs between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let prog = libc::sock_fprog {
                        len: filter.len() as u16,
                        filter: filter.as_ptr() as *mut libc::sock_filter,
                    };
                    let r = libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER,
                        &prog as *const libc::sock_fprog,
                    );
                    if r != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            what.insert(0, "(io_uring_setup refused)".into());
        }
        let what = what.join(" ");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
        let pid = child.id();
        let reader = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                String::from_utf8_lossy(&v).into_owned()
            })
        };
        let out = reader(Box::new(child.stdout.take().expect("piped")));
        let err = reader(Box::new(child.stderr.take().expect("piped")));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().expect("wait for the child") {
                Some(s) => break s,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`{what}` did not finish within {:?}; killed. stdout so far:\n{}\nstderr:\n{}",
                        self.timeout,
                        out.join().unwrap_or_default(),
                        err.join().unwrap_or_default()
                    );
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        let o = Output {
            stdout: out.join().expect("stdout reader"),
            stderr: err.join().expect("stderr reader"),
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            pid,
            what,
        };
        if self.policy.is_some() {
            assert!(
                !o.stderr.contains("panicked"),
                "the supervisor panicked: {o}"
            );
        }
        o
    }
}

/// The slave filters `slave` (Lua defining `svc.slave.*`, with
/// `svc = require("libc_service")`), then a master loop answering every
/// request `use_master_credentials`.
pub fn with_slave_filters(slave: &str) -> Policy {
    Policy::inline(&format!(
        "local svc = require(\"libc_service\")\n{slave}\
         local master = svc.master\n\
         while true do\n  master:receive()\n  master:use_master_credentials()\nend\n"
    ))
}

/// A DNS server on 127.0.0.1 (of the current network namespace): each
/// query is answered by what `answer` says of its name — an address (given
/// to an A query; no address for another type) or None (NXDOMAIN); its
/// port.
pub fn dns_server_with(
    answer: impl Fn(&str) -> Option<std::net::Ipv4Addr> + Send + 'static,
) -> u16 {
    use simple_dns::rdata::{RData, A};
    use simple_dns::{Packet, ResourceRecord, CLASS, QTYPE, TYPE};
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = u.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = u.recv_from(&mut buf) {
            let Ok(q) = Packet::parse(&buf[..n]) else {
                continue;
            };
            let mut r = Packet::new_reply(q.id());
            let Some(question) = q.questions.first().cloned() else {
                continue;
            };
            match answer(&question.qname.to_string()) {
                Some(a) if question.qtype == QTYPE::TYPE(TYPE::A) => {
                    r.answers.push(ResourceRecord::new(
                        question.qname.clone(),
                        CLASS::IN,
                        60,
                        RData::A(A {
                            address: u32::from(a),
                        }),
                    ));
                }
                Some(_) => {}
                None => *r.rcode_mut() = simple_dns::RCODE::NameError,
            }
            r.questions.push(question);
            let _ = u.send_to(&r.build_bytes_vec().unwrap(), from);
        }
    });
    port
}

/// Whether process `pid` still exists (a zombie, or a dead task, counts as
/// gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => {
            // "pid (comm) S ...": the state follows the last ')'.
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
    }
}

/// Panics with a clear message unless `tool` is on PATH (`package` provides
/// it).
pub fn need(tool: &str, package: &str) {
    assert!(
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "{tool} is needed (apt-get install {package}; .ci/setup does)"
    );
}

/// A fresh temporary directory.
pub fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("supervisor-it-")
        .tempdir()
        .expect("create a temporary directory")
}

/// The canonical path of a temporary directory (policies compare resolved
/// paths, so the tests must name files by their canonical paths).
pub fn canon(dir: &TempDir) -> PathBuf {
    dir.path()
        .canonicalize()
        .expect("canonicalize the temporary directory")
}

/// Sets the access and modification times of `path` (not following a
/// symlink) to `secs`.
pub fn set_times(path: &Path, secs: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL");
    let ts = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: a valid NUL-terminated path and two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        r,
        0,
        "utimensat {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Writes `content` to `path` with permissions `mode`.
pub fn write_file(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A listing of the tree under `root`: one line per entry (relative path,
/// type, permission bits, and a file's content or a symlink's target),
/// sorted; times and inode numbers are left out so that two trees built the
/// same way in different places compare equal.
pub fn tree_listing(root: &Path) -> String {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .display()
                .to_string();
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            let perm = md.permissions().mode() & 0o7777;
            let ft = md.file_type();
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).expect("readlink");
                out.push(format!("{rel} symlink -> {}", t.display()));
            } else if ft.is_dir() {
                out.push(format!("{rel} dir {perm:o}"));
                walk(root, &p, out);
            } else if std::os::unix::fs::FileTypeExt::is_fifo(&ft) {
                out.push(format!("{rel} fifo {perm:o}"));
            } else {
                let content = std::fs::read(&p).expect("read");
                out.push(format!(
                    "{rel} file {perm:o} {:?}",
                    String::from_utf8_lossy(&content)
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.join("\n")
}

/// The C probes, compiled once per test run.
pub struct Probes {
    /// tests/probes/probe.c, `musl-gcc -static -O2`.
    pub musl: PathBuf,
    /// tests/probes/probe.c, `gcc -O2` (dynamic, glibc).
    pub glibc: PathBuf,
    /// tests/probes/net.c, static musl and dynamic glibc.
    pub net_musl: PathBuf,
    pub net_glibc: PathBuf,
    /// tests/probes/net.c, `gcc -static` (glibc's resolver linked in).
    pub net_glibc_static: PathBuf,
    /// tests/probes/attack.c, `musl-gcc -static`: the security suite.
    pub attack: PathBuf,
    /// tests/probes/attack.c, `gcc` (dynamic glibc): where libc's own
    /// behaviour matters (its clone3 fallback).
    pub attack_glibc: PathBuf,
}

pub fn compile(compiler: &str, extra: &[&str], src: &Path, out: &Path) {
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let mut c = Command::new(compiler);
    c.args(extra)
        .args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&tmp)
        .arg(src)
        .arg("-lpthread");
    let o = match c.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "\n\n*** `{compiler}` was not found: the integration tests compile the C probes in \
             tests/probes/ with musl-gcc (package musl-tools) and gcc. Install them \
             (apt-get install musl-tools gcc). ***\n"
        ),
        Err(e) => panic!("cannot run `{compiler}`: {e}"),
    };
    assert!(
        o.status.success(),
        "`{compiler}` failed to build {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, out).expect("move the probe in place");
}

/// Builds (once) and returns the probes.
/// Where the C probes are compiled: the target's temporary directory, or,
/// when the checkout is under /tmp (a CI clone), a directory of /var/tmp —
/// policies/ci.lua gives the program a private /tmp, where a probe under the
/// test's /tmp does not exist.
pub fn probe_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = target
        .canonicalize()
        .unwrap_or_else(|_| target.to_path_buf());
    if !target.starts_with("/tmp") {
        return target.join("probes");
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.hash(&mut h);
    PathBuf::from(format!("/var/tmp/supervisor-it-probes-{:016x}", h.finish()))
}

pub fn probes() -> &'static Probes {
    static PROBES: OnceLock<Probes> = OnceLock::new();
    PROBES.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let src = repo().join("tests/probes/probe.c");
        let musl = dir.join("probe-musl-static");
        let glibc = dir.join("probe-glibc-dynamic");
        compile("musl-gcc", &["-static"], &src, &musl);
        compile("gcc", &[], &src, &glibc);
        let net = repo().join("tests/probes/net.c");
        let net_musl = dir.join("netprobe-musl-static");
        let net_glibc = dir.join("netprobe-glibc-dynamic");
        compile("musl-gcc", &["-static"], &net, &net_musl);
        compile("gcc", &[], &net, &net_glibc);
        let net_glibc_static = dir.join("netprobe-glibc-static");
        compile("gcc", &["-static"], &net, &net_glibc_static);
        let attack = dir.join("attack-musl-static");
        compile(
            "musl-gcc",
            &["-static"],
            &repo().join("tests/probes/attack.c"),
            &attack,
        );
        let attack_glibc = dir.join("attack-glibc-dynamic");
        compile(
            "gcc",
            &[],
            &repo().join("tests/probes/attack.c"),
            &attack_glibc,
        );
        Probes {
            musl,
            glibc,
            net_musl,
            net_glibc,
            net_glibc_static,
            attack,
            attack_glibc,
        }
    })
}

/// argv for the attack program (tests/probes/attack.c) with `args`.
pub fn attack<S: AsRef<OsStr>>(args: &[S]) -> Vec<OsString> {
    let mut v = vec![probes().attack.as_os_str().to_os_string()];
    v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
    v
}

/// The `name=N` counters of the stdout line starting with `prefix`.
#[track_caller]
pub fn counters(out: &Output, prefix: &str) -> std::collections::HashMap<String, u64> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line: {out}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| {
            let n = v
                .parse()
                .unwrap_or_else(|_| panic!("bad counter {w:?} in {line:?}", w = (k, v)));
            (k.to_string(), n)
        })
        .collect()
}

/// The outcome printed for `label` ("label: OUTCOME").
#[track_caller]
pub fn outcome<'a>(out: &'a Output, label: &str) -> &'a str {
    let prefix = format!("{label}: ");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {label:?} line: {out}"))
}

/// tests/probes/resolve.go built with Go's own resolver (CGO_ENABLED=0:
/// static, no libc), once.
pub fn go_probe() -> &'static Path {
    static GO: OnceLock<PathBuf> = OnceLock::new();
    GO.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join("resolve-go-static");
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let o = Command::new("go")
            .args(["build", "-o"])
            .arg(&tmp)
            .arg(repo().join("tests/probes/resolve.go"))
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", dir.join("go-cache"))
            .env("GOPATH", dir.join("go-path"))
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .output();
        let o = match o {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "\n\n*** `go` was not found: the DNS tests build a static Go program \
                 (apt-get install golang-go). ***\n"
            ),
            Err(e) => panic!("cannot run go: {e}"),
        };
        assert!(
            o.status.success(),
            "go build failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::rename(&tmp, &out).expect("move the Go probe in place");
        out
    })
}

/// Whether the ELF file at `path` asks for a program interpreter
/// (PT_INTERP): true for a dynamic executable, false for a static one.
pub fn has_interpreter(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        b.len() > 64 && &b[..4] == b"\x7fELF" && b[4] == 2,
        "not an ELF64 file: {}",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

/// The three kinds of program every file-call behaviour is checked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// /bin/busybox (static).
    Busybox,
    /// The probe built with `musl-gcc -static`.
    Musl,
    /// The probe built with `gcc` (dynamic glibc).
    Glibc,
}

impl Kind {
    /// The probe binary of this kind (panics for busybox).
    pub fn probe(self) -> &'static Path {
        match self {
            Kind::Musl => &probes().musl,
            Kind::Glibc => &probes().glibc,
            Kind::Busybox => panic!("busybox is no probe"),
        }
    }

    /// argv for the network probe of this kind with `args`.
    pub fn net_argv<S: AsRef<OsStr>>(self, args: &[S]) -> Vec<OsString> {
        let p = match self {
            Kind::Musl => &probes().net_musl,
            Kind::Glibc => &probes().net_glibc,
            Kind::Busybox => panic!("busybox is no probe"),
        };
        let mut v = vec![p.as_os_str().to_os_string()];
        v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
        v
    }

    /// argv for the probe of this kind with `args`.
    pub fn probe_argv<S: AsRef<OsStr>>(self, args: &[S]) -> Vec<OsString> {
        let mut v = vec![self.probe().as_os_str().to_os_string()];
        v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
        v
    }
}

/// argv for busybox with `args` (`busybox APPLET ARGS…`).
pub fn busybox<S: AsRef<OsStr>>(args: &[S]) -> Vec<OsString> {
    let mut v = vec![OsString::from(BUSYBOX)];
    v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
    v
}

/// tests/probes/posture.c (the posture's own attacks), static musl and
/// dynamic glibc, built once.
pub fn posture_probes() -> &'static (PathBuf, PathBuf) {
    static POSTURE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    POSTURE.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let src = repo().join("tests/probes/posture.c");
        let musl = dir.join("posture-musl-static");
        let glibc = dir.join("posture-glibc-dynamic");
        compile("musl-gcc", &["-static"], &src, &musl);
        compile("gcc", &[], &src, &glibc);
        (musl, glibc)
    })
}

/// argv for the posture probe (static musl) with `args`.
pub fn posture<S: AsRef<OsStr>>(args: &[S]) -> Vec<OsString> {
    let mut v = vec![posture_probes().0.as_os_str().to_os_string()];
    v.extend(args.iter().map(|a| a.as_ref().to_os_string()));
    v
}

/// tests/probes/selfsandbox.c (Chromium's zygote sequence, the mount
/// attacks from a user namespace), static musl, built once.
pub fn selfsandbox_probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = crate::util::probe_dir();
        std::fs::create_dir_all(&dir).expect("create the probe directory");
        let out = dir.join("selfsandbox-musl-static");
        compile(
            "musl-gcc",
            &["-static"],
            &repo().join("tests/probes/selfsandbox.c"),
            &out,
        );
        out
    })
}

/// A classic BPF seccomp filter: `io_uring_setup` fails with EPERM, every
/// other call is allowed (installed by root: no `no_new_privs` needed).
fn no_io_uring_filter() -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    vec![
        // seccomp_data.nr
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jeq(libc::SYS_io_uring_setup as u32, 0, 1),
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}
