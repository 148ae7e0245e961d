//! `supervisor run --policy p.lua -- cmd args…`

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use supervisor::{exit, launch, policy};

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

#[derive(Subcommand)]
enum Command {
    /// Run a program under a policy.
    Run {
        /// The Lua policy file.
        #[arg(long, short = 'p', value_name = "FILE")]
        policy: PathBuf,
        /// The program and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        cmd: Vec<OsString>,
    },
}

fn main() {
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
        Command::Run { policy, cmd } => run(policy, cmd),
    };
    std::process::exit(code);
}

fn run(policy_path: PathBuf, cmd: Vec<OsString>) -> i32 {
    if let Err(e) = std::fs::metadata(&policy_path) {
        eprintln!(
            "supervisor: cannot read policy {}: {e}",
            policy_path.display()
        );
        return exit::POLICY;
    }
    let map = bpf::SyscallMap::native();
    let filter = match bpf::notify_filter(&map) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("supervisor: cannot build the seccomp filter: {e}");
            return exit::SUPERVISOR;
        }
    };
    let (program, args) = cmd.split_first().expect("clap requires CMD");
    let prepared = match launch::Prepared::new(program, args, filter) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("supervisor: {e}");
            return e.exit_code();
        }
    };
    match policy::run(&policy_path, prepared, map) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("supervisor: {e}");
            exit::POLICY
        }
    }
}
