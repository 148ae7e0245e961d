//! `supervisor __init …`: the init-script helper (hidden; only the
//! launcher starts it).
//!
//! The supervisor never runs Lua after `fork`: with an init script, the
//! forked child re-executes the supervisor binary (from the descriptor of
//! `/proc/self/exe` opened before `fork`) with this subcommand.  The helper
//! is a fresh single-threaded process; it
//!
//! 1. takes its descriptors (launch socket, the script and the filter as
//!    sealed memfds, the script's `arg`) from its command line and marks
//!    them close-on-exec,
//! 2. runs the script in a fresh Lua state (a failure is reported on the
//!    launch socket as [`Step::Script`] and the helper exits 1),
//! 3. marks close-on-exec every descriptor the script opened,
//! 4. then does what the plain child does: death signal, `no_new_privs`,
//!    the notify filter, the listener handed over, `execve`.

use std::ffi::{CString, OsString};
use std::io::Read;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use super::{child, open_fds, Step};

/// The hidden subcommand.
pub const SUBCOMMAND: &str = "__init";

/// The helper's command line:
/// `supervisor __init SOCK PARENT SCRIPT BPF ARG|- NAME EXE -- ARGV…`
/// (PARENT, the supervisor's pid, is informative: the helper's parent is
/// the keeper).
struct Args {
    sock: RawFd,
    script: RawFd,
    bpf: RawFd,
    arg: Option<RawFd>,
    name: String,
    exe: CString,
    argv: Vec<CString>,
}

fn parse(args: &[OsString]) -> Option<Args> {
    let num = |i: usize| -> Option<i32> { args.get(i)?.to_str()?.parse().ok() };
    if args.get(1)? != SUBCOMMAND || args.get(9)? != "--" {
        return None;
    }
    let arg = match args.get(6)?.to_str()? {
        "-" => None,
        _ => Some(num(6)?),
    };
    let cstr = |s: &OsString| CString::new(s.as_bytes()).ok();
    Some(Args {
        sock: num(2)?,
        script: num(4)?,
        bpf: num(5)?,
        arg,
        name: args.get(7)?.to_str()?.to_string(),
        exe: cstr(args.get(8)?)?,
        argv: args[10..].iter().map(cstr).collect::<Option<Vec<_>>>()?,
    })
}

/// Reads a sealed memfd passed by the supervisor.
fn read_memfd(fd: RawFd) -> Result<Vec<u8>, Errno> {
    let owned = child::own_fd(fd).ok_or(Errno::EBADF)?;
    let mut f = std::fs::File::from(owned);
    let mut v = Vec::new();
    f.read_to_end(&mut v)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(v)
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The helper's `main`: returns only on failure, with the exit code
/// (otherwise it becomes the program).
pub fn main() -> i32 {
    // Our parent is the keeper (launch/keeper.rs): the death signal set
    // before the exec still holds, so it is alive now.
    // SAFETY: getppid has no arguments.
    let parent = unsafe { libc::getppid() };
    // Asked before the script: a filter of the script's own must not turn
    // the Landlock scope off unnoticed.
    let scope = child::can_scope_out();
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(a) = parse(&args) else {
        eprintln!(
            "supervisor: {SUBCOMMAND} is internal: it is started by `supervisor run` with an init script"
        );
        return crate::exit::SUPERVISOR;
    };
    let sock = a.sock;
    let fail = |what: &str, e: Errno| -> i32 {
        eprintln!("supervisor: init-script helper: {what}: {e}");
        child::report(sock, Step::Helper, e as i32);
        crate::exit::SUPERVISOR
    };
    child::set_cloexec(sock);
    if let Some(arg) = a.arg {
        child::set_cloexec(arg);
    }
    let source = match read_memfd(a.script) {
        Ok(s) => s,
        Err(e) => return fail("cannot read the script", e),
    };
    let filter = match read_memfd(a.bpf)
        .and_then(|b| bpf::Program::from_bytes(&b).map_err(|_| Errno::EINVAL))
    {
        Ok(f) => f,
        Err(e) => return fail("cannot read the filter", e),
    };
    let envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.as_bytes()).ok()
        })
        .collect();

    // Whatever the script opens must not reach the program.
    let before = open_fds();
    let highest = before.iter().copied().max().unwrap_or(2);

    let on_errexit = init_script::Hook(Box::new(move || {
        child::report(sock, Step::Script, 0);
    }));
    let opts = init_script::Options {
        arg: a.arg,
        on_errexit: Some(on_errexit),
    };
    if let Err(e) = init_script::run(&source, &a.name, opts) {
        eprintln!("init script: {e}");
        child::report(sock, Step::Script, 0);
        return 1;
    }
    // What the script's Landlock backstop refuses everywhere: the
    // supervisor records those refusals (audit, layer "landlock").
    // One word: the filesystem rights in the low 16 bits, the network
    // rights above (launch::Child::landlock).
    let refused = init_script::landlock::refused_everywhere() & 0xffff
        | (init_script::landlock::refused_net_everywhere() & 0xffff) << 16;
    if refused != 0 {
        child::report(sock, Step::Landlock, refused as u32 as i32);
    }

    if let Err(e) = child::cloexec_from(highest + 1) {
        return fail(
            "cannot mark the script's descriptors close-on-exec",
            Errno::from_raw(e),
        );
    }
    for fd in 0..=highest {
        if !before.contains(&fd) || Some(fd) == a.arg || fd == sock {
            child::set_cloexec(fd);
        }
    }
    let argv = ptrs(&a.argv);
    let envp_ptrs = ptrs(&envp);
    child::finish_helper(sock, parent, scope, &filter, &a.exe, &argv, &envp_ptrs)
}
