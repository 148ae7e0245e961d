//! `supervisor run --policy p.lua -- cmd args…`, `supervisor check p.lua`

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use supervisor::audit::{self, Recorder};
use supervisor::pending::Root;
use supervisor::run::{Run, Stop};
use supervisor::{agent, exit, launch, policy};

#[derive(Parser)]
#[command(
    name = "supervisor",
    version = supervisor::cli::VERSION,
    about = "Run a Linux program under a seccomp user-notification filter arbitrated by a Lua policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `--log-level`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogLevel {
    /// Every request.
    All,
    /// The denials only.
    Denied,
}

/// What `run` and `learn` share: the program, and what is kept of its run.
#[derive(Args)]
struct Job {
    /// The name server (IP:PORT) that answers the lookups the policy
    /// forwards (use_master_credentials on getaddrinfo); default: the
    /// first nameserver of /etc/resolv.conf.
    #[arg(long, value_name = "IP:PORT")]
    dns_upstream: Option<std::net::SocketAddr>,
    /// Write one JSON line per request to FILE (created or truncated;
    /// see docs/audit.md).  A failed write ends the run (exit 125).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// What --log records: every request (`all`), or only the denials
    /// (`denied`: a small trail of what the job was refused).
    #[arg(
        long,
        value_name = "LEVEL",
        value_enum,
        default_value = "all",
        requires = "log"
    )]
    log_level: LogLevel,
    /// At exit, print on stderr a table of requests per function and
    /// decision, and what was denied.
    #[arg(long)]
    summary: bool,
    /// Verbose: print each denial on stderr as it is answered (the call,
    /// its path or address, the errno and who decided: a policy line, a
    /// rule, the posture, the Landlock backstop), one line each; at the
    /// start, what an init script's Landlock backstop refuses (and, under
    /// ci.lua, its workspace, writable directories and hosts).
    #[arg(short = 'v', long)]
    verbose: bool,
    /// End the job after DURATION (30s, 5m, 1h, 500ms): SIGTERM to every
    /// process of it, then SIGKILL after --kill-after; the run exits 121.
    #[arg(long, value_name = "DURATION", value_parser = supervisor::jobctl::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// The grace period between the SIGTERM (a signal to the supervisor,
    /// or --timeout) and SIGKILL of what is still running.
    #[arg(long, value_name = "DURATION", value_parser = supervisor::jobctl::parse_duration, default_value = "10s")]
    kill_after: std::time::Duration,
    /// How many threads serve the requests a policy decides without Lua
    /// (`rules.run`), the main thread included (default: two per CPU
    /// available, at most 4; 1: the main thread alone).  See
    /// docs/performance.md.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    serving_threads: Option<u16>,
    /// Write the supervisor's own outcome as one JSON line to FILE at
    /// exit: whether the exit code is the program's or the supervisor's,
    /// and why (see README, "Exit codes").
    #[arg(long, value_name = "FILE")]
    status_file: Option<PathBuf>,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

impl Job {
    /// The run's context (the audit trail started, the upstream name
    /// server, the program's root); then `f` with it and the
    /// command.  Returns the exit code, after the audit trail is complete.
    fn start(self, f: impl FnOnce(&Run, Vec<OsString>) -> Result<i32, Stop>) -> i32 {
        let audit = match Recorder::start(&audit::Config {
            log: self.log,
            summary: self.summary,
            denials_only: self.log_level == LogLevel::Denied,
            verbose: self.verbose,
        }) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("supervisor: {e}");
                return exit::SUPERVISOR;
            }
        };
        let run = Run {
            audit,
            dns_upstream: self.dns_upstream,
            root: std::sync::Arc::new(Root::new()),
            policy: None,
            limits: supervisor::jobctl::Limits {
                timeout: self.timeout,
                kill_after: self.kill_after,
            },
            serving_threads: self.serving_threads.map(usize::from),
            container: None,
        };
        let (mut code, mut outcome) = ended(f(&run, self.cmd));
        // A run whose audit log failed exits with SUPERVISOR whatever the
        // program did.
        if !run.audit.finish() {
            code = exit::SUPERVISOR;
            outcome = Outcome::Supervisor("the audit log could not be written".into());
        }
        if let Some(path) = &self.status_file {
            if let Err(e) = std::fs::write(path, outcome.json(code)) {
                eprintln!(
                    "supervisor: cannot write the status file {}: {e}",
                    path.display()
                );
            }
        }
        code
    }
}

/// Whose exit code the run's is.
enum Outcome {
    /// The program's own exit status (or 128 + its signal).
    Program,
    /// --timeout ended the job.
    Timeout,
    /// The supervisor's: why.
    Supervisor(String),
}

impl Outcome {
    /// The status file's line.
    fn json(&self, code: i32) -> String {
        let esc = |s: &str| {
            let mut o = String::new();
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                    c => o.push(c),
                }
            }
            o
        };
        match self {
            Outcome::Program => format!("{{\"code\":{code},\"by\":\"program\"}}\n"),
            Outcome::Timeout => {
                format!("{{\"code\":{code},\"by\":\"supervisor\",\"reason\":\"timeout\"}}\n")
            }
            Outcome::Supervisor(why) => format!(
                "{{\"code\":{code},\"by\":\"supervisor\",\"reason\":\"{}\"}}\n",
                esc(why)
            ),
        }
    }
}

/// The exit code of a run's end, and whose it is; an error is printed,
/// one line.
fn ended(r: Result<i32, Stop>) -> (i32, Outcome) {
    match r {
        Ok(code) => (code, Outcome::Program),
        Err(Stop::TimedOut) => {
            eprintln!("supervisor: {}", Stop::TimedOut);
            (exit::TIMEOUT, Outcome::Timeout)
        }
        Err(stop) => {
            let why = stop.message().unwrap_or_default();
            if !why.is_empty() {
                eprintln!("supervisor: {why}");
            }
            (stop.exit_code(), Outcome::Supervisor(why))
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a program under a policy.
    Run {
        /// The Lua policy: a file, or the name of a ready policy (`ci`,
        /// `read-only`, …; `supervisor policy list`).
        #[arg(long, short = 'p', value_name = "FILE")]
        policy: PathBuf,
        /// A Lua init script run in the child before the program (see
        /// docs/init-script.md).
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// A file the supervisor opens for the init script (its `arg`).
        #[arg(long, value_name = "PATH", requires = "init")]
        init_arg: Option<PathBuf>,
        /// Let the program make the calls the default posture refuses
        /// because they reach files or sockets without a mapped call
        /// (io_uring, open_by_handle_at, mount, link, …; see
        /// docs/security.md).  For trusted programs only.
        #[arg(long)]
        allow_unmapped: bool,
        /// Let the program make syscalls the posture does not know (those
        /// of a kernel newer than the one its allow-list was checked
        /// against; see docs/security.md), which otherwise fail with
        /// ENOSYS.
        #[arg(long)]
        allow_unknown_syscalls: bool,
        #[command(flatten)]
        job: Job,
    },
    /// Run a program allowing everything (each call performed by the
    /// supervisor) and write a rules policy that allows what it did; with
    /// --base, run it under a policy and learn only what that policy
    /// denies by default.
    Learn {
        /// Where to write the policy.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// Start from this policy (a ready policy's name, e.g. `ci`, or a
        /// file): the job runs under it, what its rules deny only by
        /// default is allowed and learnt, what they deny by a rule stays
        /// denied; the learnt policy is that policy completed by the
        /// learnt rules.
        #[arg(long, value_name = "POLICY")]
        base: Option<PathBuf>,
        #[command(flatten)]
        job: Job,
    },
    /// Load a policy without starting any program: run it up to its first
    /// master:receive() and report errors with FILE:LINE.  Exit 0 if good,
    /// 124 if the policy fails, 123 if the init script does not compile.
    Check {
        /// The Lua policy: a file, or the name of a ready policy.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// An init script to compile along (as `run --init`).
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
    },
    /// Show what this machine gives the supervisor (kernel, seccomp,
    /// Landlock, user namespaces, TIOCSTI, container) and what each missing
    /// piece costs.  Exit 0 when the default posture has all it needs, else 1.
    Doctor,
    /// Write LuaLS type definitions (---@meta files) of the policy and init
    /// script API into DIR, for editors and `lua-language-server --check`.
    Stubs {
        /// The directory to write (created if missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print a completion script for SHELL on stdout.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages into DIR (for packaging).
    #[command(hide = true)]
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// The ready policies, built in: list them, or print one to copy and
    /// edit (`supervisor policy show ci > my-ci.lua`).
    Policy {
        #[command(subcommand)]
        what: PolicyCommand,
    },
    /// Serve policies to OCI runtimes as a seccomp agent: each container
    /// whose profile names this socket as its listenerPath is served by
    /// the policy its listenerMetadata names (see docs/containers.md).
    Agent {
        /// The unix socket runtimes connect to (made 0600).
        #[arg(long, value_name = "PATH")]
        socket: PathBuf,
        /// Where policies are looked up by name (NAME.lua).
        #[arg(long, value_name = "DIR", default_value = "/etc/supervisor/policies")]
        policy_dir: PathBuf,
        /// The policy of a container that names none (no metadata, no
        /// io.supervisor.policy annotation).
        #[arg(long, value_name = "NAME", default_value = "default")]
        default_policy: String,
        /// Append one JSON line per container served, refused or ended,
        /// and per request of each container (the records of `run --log`
        /// with the container's id).
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Write each container's summary (as `run --summary`) to
        /// DIR/ID.txt when it ends.
        #[arg(long, value_name = "DIR")]
        summary: Option<PathBuf>,
    },
    /// Write the OCI seccomp section (config.json's linux.seccomp, a
    /// podman or Kubernetes localhost profile) that hands a container to
    /// `supervisor agent` under a policy.
    OciProfile {
        /// The policy's name in the agent's policy directory, or a policy
        /// file (its name without .lua is used).
        #[arg(long, value_name = "NAME|FILE")]
        policy: String,
        /// The agent's socket.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/run/supervisor/agent.sock"
        )]
        listener: String,
        /// An allow-list: defaultAction SCMP_ACT_ERRNO (ENOSYS) and the
        /// syscalls a container may make listed as SCMP_ACT_ALLOW, as the
        /// posture of `run` (instead of defaultAction SCMP_ACT_ALLOW).
        #[arg(long)]
        allow_list: bool,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// The ready policies, one a line: name and what it is for.
    List,
    /// Prints a ready policy's source.
    Show {
        /// Its name (`ci`).
        name: String,
    },
}

/// `supervisor policy …`.
fn ready_policies(what: PolicyCommand) -> i32 {
    use supervisor::policy::ready;
    match what {
        PolicyCommand::List => {
            let w = ready::READY.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for r in ready::READY {
                println!("{:w$}  {}", r.name, r.summary());
            }
            0
        }
        PolicyCommand::Show { name } => match ready::find(&name) {
            Some(r) => {
                print!("{}", r.source);
                0
            }
            None => {
                let known: Vec<&str> = ready::READY.iter().map(|r| r.name).collect();
                eprintln!(
                    "supervisor: no ready policy {name:?} (ready: {})",
                    known.join(", ")
                );
                exit::POLICY
            }
        },
    }
}

fn main() {
    if std::env::args_os().nth(1).as_deref() == Some(launch::helper::SUBCOMMAND.as_ref()) {
        std::process::exit(launch::helper::main());
    }
    if std::env::args_os().nth(1).as_deref() == Some(agent::container::SUBCOMMAND.as_ref()) {
        std::process::exit(agent::container::main());
    }
    if std::env::args_os().nth(1).as_deref() == Some(supervisor::idmap::SUBCOMMAND.as_ref()) {
        std::process::exit(supervisor::idmap::main());
    }
    launch::record_inherited_fds();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::SUPERVISOR } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        Command::Run {
            policy,
            init,
            init_arg,
            allow_unmapped,
            allow_unknown_syscalls,
            job,
        } => {
            let posture = bpf::Posture {
                refuse_unmapped: !allow_unmapped,
                allow_unknown: allow_unknown_syscalls,
                // With an audit trail, the refusals are answered (and so
                // recorded) by the supervisor.
                notify_refusals: job.log.is_some() || job.summary || job.verbose,
                ..bpf::Posture::default()
            };
            // Outside the default posture the program may hold pages that
            // never arrive (a userfaultfd): copies of its memory then go
            // through a worker with a deadline (kernel::offload).
            kernel::offload::set_guarded(allow_unmapped);
            job.start(|r, cmd| run(r, policy, init, init_arg, posture, cmd))
        }
        Command::Learn { output, base, job } => {
            let posture = bpf::Posture {
                notify_refusals: job.log.is_some() || job.summary || job.verbose,
                ..bpf::Posture::default()
            };
            job.start(|r, cmd| learn(r, &output, base, posture, cmd))
        }
        Command::Check { policy, init } => match policy::Source::resolve(&policy) {
            Err(e) => ended(Err(e)).0,
            Ok(source) => match init.map(|f| init_script(f, None)) {
                Some(Err((msg, code))) => {
                    eprintln!("supervisor: {msg}");
                    code
                }
                Some(Ok(i)) => policy::check(&source, Some(i)),
                None => policy::check(&source, None),
            },
        },
        Command::Policy { what } => ready_policies(what),
        Command::Doctor => supervisor::doctor::main(),
        Command::Stubs { dir } => written(supervisor::stubs::write_all(&dir)),
        Command::Completions { shell } => {
            print!(
                "{}",
                supervisor::cli::complete::script(shell, Cli::command())
            );
            0
        }
        Command::Man { dir } => written(supervisor::cli::man::write_all(Cli::command(), &dir)),
        Command::Agent {
            socket,
            policy_dir,
            default_policy,
            log,
            summary,
        } => agent::main(agent::Config {
            socket,
            policy_dir,
            default_policy,
            log,
            summary,
        }),
        Command::OciProfile {
            policy,
            listener,
            allow_list,
        } => oci_profile(&policy, &listener, allow_list),
    };
    std::process::exit(code);
}

/// The exit code of writing generated files; an error is printed, one line.
fn written(r: Result<Vec<PathBuf>, supervisor::cli::WriteError>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("supervisor: {e}");
            exit::SUPERVISOR
        }
    }
}

/// The `--init FILE [--init-arg PATH]` script, read and opened.
fn init_script(file: PathBuf, arg: Option<PathBuf>) -> Result<launch::Init, (String, i32)> {
    let source = std::fs::read(&file).map_err(|e| {
        (
            format!("cannot read init script {}: {e}", file.display()),
            exit::INIT_SCRIPT,
        )
    })?;
    let arg = match arg {
        Some(p) => Some(std::fs::File::open(&p).map(Into::into).map_err(|e| {
            (
                format!("cannot open init argument {}: {e}", p.display()),
                exit::SUPERVISOR,
            )
        })?),
        None => None,
    };
    Ok(launch::Init {
        source,
        name: format!("@{}", file.display()),
        arg,
    })
}

fn run(
    r: &Run,
    policy_path: PathBuf,
    init: Option<PathBuf>,
    init_arg: Option<PathBuf>,
    posture: bpf::Posture,
    cmd: Vec<OsString>,
) -> Result<i32, Stop> {
    let source = policy::Source::resolve(&policy_path)?;
    let (mut prepared, map) = match prepare(&cmd, &posture) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    if let Some(file) = init {
        match init_script(file, init_arg) {
            Ok(i) => prepared.set_init(Some(i)),
            Err((msg, code)) => {
                eprintln!("supervisor: {msg}");
                return Ok(code);
            }
        }
    }
    let mut r = r.clone();
    r.policy = Some(source.name.clone());
    // SUPERVISOR_IO_URING=off: act as the program on acting threads only
    // (kernel::creds::uring); report: say at the end how many calls went
    // through io_uring (docs/performance.md); both: "off,report".
    let uring = std::env::var(IO_URING_ENV).unwrap_or_default();
    let said = |w: &str| uring.split(',').any(|x| x.trim() == w);
    if said("off") {
        kernel::creds::uring::disable();
    }
    let ended = policy::run(&source, prepared, map, r);
    if said("report") {
        let (done, fell_back) = kernel::creds::uring::counts();
        eprintln!(
            "supervisor: io_uring: {done} calls as the program, {fell_back} sent to acting threads"
        );
    }
    ended
}

/// The environment variable that turns io_uring off, or reports its use.
const IO_URING_ENV: &str = "SUPERVISOR_IO_URING";

/// The filter and the program, ready to start; else the exit code.
fn prepare(
    cmd: &[OsString],
    posture: &bpf::Posture,
) -> Result<(launch::Prepared, bpf::SyscallMap), i32> {
    let map = bpf::SyscallMap::native();
    if !launch::can_scope_out() {
        eprintln!(
            "supervisor: warning: this kernel lacks Landlock signal scoping (Linux 6.12): \
             the program can signal the supervisor"
        );
    }
    let filters = bpf::notify_filter(&map, posture, bpf::Trapped::All).and_then(|all| {
        bpf::notify_filter(&map, posture, bpf::Trapped::Sockets).map(|sockets| (all, sockets))
    });
    let (filter, sockets_only) = match filters {
        Ok(f) => f,
        Err(e) => {
            eprintln!("supervisor: cannot build the seccomp filter: {e}");
            return Err(exit::SUPERVISOR);
        }
    };
    let (program, args) = cmd.split_first().expect("clap requires CMD");
    match launch::Prepared::new(program, args, filter) {
        Ok(mut p) => {
            p.set_sockets_only_filter(sockets_only);
            p.set_posture(*posture, map.clone());
            Ok((p, map))
        }
        Err(e) => {
            eprintln!("supervisor: {e}");
            Err(e.exit_code())
        }
    }
}

fn learn(
    r: &Run,
    output: &std::path::Path,
    base: Option<PathBuf>,
    posture: bpf::Posture,
    cmd: Vec<OsString>,
) -> Result<i32, Stop> {
    // The base, and how the learnt policy names it: a ready policy by its
    // name, a file by its absolute path.
    let base = match base {
        None => None,
        Some(b) => {
            let source = policy::Source::resolve(&b)?;
            let name = if policy::ready::find(&b.to_string_lossy()).is_some()
                && !source.name.contains('/')
                && !b.exists()
            {
                b.to_string_lossy().trim_end_matches(".lua").to_string()
            } else {
                std::fs::canonicalize(&b)
                    .unwrap_or(b)
                    .to_string_lossy()
                    .into_owned()
            };
            Some((source, name))
        }
    };
    let (prepared, map) = match prepare(&cmd, &posture) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let text: Vec<String> = cmd
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (source, name) = match base {
        Some((s, n)) => (Some(s), Some(n)),
        None => (None, None),
    };
    supervisor::learn::learn(
        prepared,
        map,
        r,
        output,
        &text.join(" "),
        source.as_ref(),
        name,
    )
}

/// `supervisor oci-profile`: the profile on stdout.
fn oci_profile(policy: &str, listener: &str, allow_list: bool) -> i32 {
    let path = std::path::Path::new(policy);
    let name = if policy.contains('/') || path.is_file() {
        if !path.is_file() {
            eprintln!("supervisor: no policy file {policy}");
            return exit::SUPERVISOR;
        }
        match path.file_stem().and_then(|s| s.to_str()) {
            Some(n) => n.to_string(),
            None => {
                eprintln!("supervisor: policy file {policy} has no usable name");
                return exit::SUPERVISOR;
            }
        }
    } else {
        policy.trim_end_matches(".lua").to_string()
    };
    if let Err(e) = agent::policy_name_ok(&name) {
        eprintln!("supervisor: {e}");
        return exit::SUPERVISOR;
    }
    let mut profile = agent::profile::profile(&name, listener);
    if allow_list {
        profile = agent::allowlist::allow_list(profile);
    }
    let text = match serde_json::to_string_pretty(&profile) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("supervisor: cannot write the profile: {e}");
            return exit::SUPERVISOR;
        }
    };
    println!("{text}");
    0
}
