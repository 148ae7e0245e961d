//! `supervisor run --policy p.lua -- cmd args…`, `supervisor check p.lua`

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use supervisor::audit::{self, Recorder};
use supervisor::pending::Root;
use supervisor::run::{Run, Stop};
use supervisor::{agent, exit, launch, policy};

#[derive(Parser)]
#[command(
    name = "supervisor",
    version,
    about = "Run a Linux program under a seccomp user-notification filter arbitrated by a Lua policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// At exit, print on stderr a table of requests per function and
    /// decision, and what was denied.
    #[arg(long)]
    summary: bool,
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
    /// server, the program's root fixed or not); then `f` with it and the
    /// command.  Returns the exit code, after the audit trail is complete.
    fn start(
        self,
        root_fixed: bool,
        f: impl FnOnce(&Run, Vec<OsString>) -> Result<i32, Stop>,
    ) -> i32 {
        let audit = match Recorder::start(&audit::Config {
            log: self.log,
            summary: self.summary,
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
            root: std::sync::Arc::new(Root::new(root_fixed)),
            policy: None,
        };
        let code = ended(f(&run, self.cmd));
        // A run whose audit log failed exits with SUPERVISOR whatever the
        // program did.
        if run.audit.finish() {
            code
        } else {
            exit::SUPERVISOR
        }
    }
}

/// The exit code of a run's end; an error is printed, one line.
fn ended(r: Result<i32, Stop>) -> i32 {
    match r {
        Ok(code) => code,
        Err(stop) => {
            if let Some(msg) = stop.message() {
                eprintln!("supervisor: {msg}");
            }
            stop.exit_code()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a program under a policy.
    Run {
        /// The Lua policy file.
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
        #[command(flatten)]
        job: Job,
    },
    /// Run a program allowing everything (each call performed by the
    /// supervisor) and write a rules policy that allows what it did.
    Learn {
        /// Where to write the policy.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        job: Job,
    },
    /// Load a policy without starting any program: run it up to its first
    /// master:receive() and report errors with FILE:LINE.  Exit 0 if good,
    /// 124 if the policy fails, 123 if the init script does not compile.
    Check {
        /// The Lua policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// An init script to compile along (as `run --init`).
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
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
        /// Append one JSON line per container served, refused or ended.
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
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
    },
}

fn main() {
    if std::env::args_os().nth(1).as_deref() == Some(launch::helper::SUBCOMMAND.as_ref()) {
        std::process::exit(launch::helper::main());
    }
    if std::env::args_os().nth(1).as_deref() == Some(agent::container::SUBCOMMAND.as_ref()) {
        std::process::exit(agent::container::main());
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
            job,
        } => {
            let posture = bpf::Posture {
                refuse_unmapped: !allow_unmapped,
            };
            // Under the default posture nothing in the program can change
            // its root (see pending::Root).
            job.start(posture.refuse_unmapped, |r, cmd| {
                run(r, policy, init, init_arg, posture, cmd)
            })
        }
        Command::Learn { output, job } => job.start(true, |r, cmd| learn(r, &output, cmd)),
        Command::Check { policy, init } => match init.map(|f| init_script(f, None)) {
            Some(Err((msg, code))) => {
                eprintln!("supervisor: {msg}");
                code
            }
            Some(Ok(i)) => policy::check(&policy, Some(i)),
            None => policy::check(&policy, None),
        },
        Command::Agent {
            socket,
            policy_dir,
            default_policy,
            log,
        } => agent::main(agent::Config {
            socket,
            policy_dir,
            default_policy,
            log,
        }),
        Command::OciProfile { policy, listener } => oci_profile(&policy, &listener),
    };
    std::process::exit(code);
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
    if let Err(source) = std::fs::metadata(&policy_path) {
        return Err(Stop::PolicyRead {
            path: policy_path.display().to_string(),
            source,
        });
    }
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
    r.policy = Some(policy_path.display().to_string());
    policy::run(&policy_path, prepared, map, r)
}

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
            Ok((p, map))
        }
        Err(e) => {
            eprintln!("supervisor: {e}");
            Err(e.exit_code())
        }
    }
}

fn learn(r: &Run, output: &std::path::Path, cmd: Vec<OsString>) -> Result<i32, Stop> {
    let (prepared, map) = match prepare(&cmd, &bpf::Posture::default()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let text: Vec<String> = cmd
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    supervisor::learn::learn(prepared, map, r, output, &text.join(" "))
}

/// `supervisor oci-profile`: the profile on stdout.
fn oci_profile(policy: &str, listener: &str) -> i32 {
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
    let text = match serde_json::to_string_pretty(&agent::profile::profile(&name, listener)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("supervisor: cannot write the profile: {e}");
            return exit::SUPERVISOR;
        }
    };
    println!("{text}");
    0
}
