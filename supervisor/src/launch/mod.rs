//! Starting the program: everything is prepared (paths, argv, environment,
//! the BPF program) before `fork`, so that the child runs only raw
//! syscalls: `no_new_privs`, the filter, handing the listener over, `execve`.
//!
//! With an init script, the child instead re-executes the supervisor
//! binary (`/proc/self/exe`, opened before `fork`) as the hidden helper
//! `supervisor __init` ([`helper`]), which runs the script in a fresh
//! single-threaded process and then does the same steps.

mod child;
pub mod entrypoint;
mod first_exec;
pub mod helper;
mod keeper;

pub use child::can_scope_out;

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::{ForkResult, Pid};

use kernel::sys;

/// What the child reports on the socket, one step per message.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Listener = 1,
    NoNewPrivs = 2,
    Filter = 3,
    Exec = 4,
    Setup = 5,
    /// The init script failed (the helper exits 1 right after).
    Script = 6,
    /// The init-script helper could not be started or set up.
    Helper = 7,
    /// The program's pid (its first message; the keeper is its parent).
    Pid = 8,
    /// The Landlock domain scoping signals could not be entered.
    Scope = 9,
    /// Not a failure: the filesystem rights the init script's Landlock
    /// layers refuse on every file (init_script::landlock), before the
    /// listener.
    Landlock = 10,
}

impl Step {
    fn from_u32(v: u32) -> Option<Step> {
        [
            Step::Listener,
            Step::NoNewPrivs,
            Step::Filter,
            Step::Exec,
            Step::Setup,
            Step::Script,
            Step::Helper,
            Step::Pid,
            Step::Scope,
            Step::Landlock,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("program not found: {0}")]
    NotFound(String),
    #[error("program cannot be executed: {0}: {1}")]
    NotExecutable(String, Errno),
    #[error("argument or environment contains a NUL byte: {0:?}")]
    Nul(OsString),
    #[error("cannot create the launch socket: {0}")]
    Socket(Errno),
    #[error("fork failed: {0}")]
    Fork(Errno),
    #[error("cannot set no_new_privs in the child: {0}")]
    NoNewPrivs(Errno),
    #[error("the kernel refused the seccomp filter: {0} (needs Linux >= 5.19 with seccomp user notification)")]
    Filter(Errno),
    #[error("the child did not hand over the seccomp listener")]
    NoListener,
    #[error("execve {0} failed: {1}")]
    Exec(String, Errno),
    #[error("child set-up failed: {0}")]
    Setup(Errno),
    #[error("cannot enter the Landlock domain that keeps the program away from the supervisor: {0} (an init script's seccomp filter must allow landlock_create_ruleset and landlock_restrict_self)")]
    Scope(Errno),
    #[error("cannot take the seccomp listener from the child (pidfd_getfd): {0}")]
    TakeListener(Errno),
    #[error("cannot watch the child: {0}")]
    Pidfd(Errno),
    #[error("init script failed (its process exited with status {0})")]
    InitScript(i32),
    #[error("init script failed: its process ended or exec'd before the supervisor started the program (C.execve and C.fexecve cannot start the program under supervisor)")]
    InitEnded,
    #[error("cannot start the init-script helper: {0}")]
    Helper(String),
    #[error("an init script cannot run in a container (its runtime started the program): remove libc_service.init from the policy")]
    AttachedInit,
    #[error("cannot watch the container's process {0}: {1}")]
    AttachedPid(i32, Errno),
    #[error("cannot duplicate the container's seccomp listener: {0}")]
    AttachedListener(Errno),
    #[error("cannot serve the container: {0}")]
    AttachedSetup(String),
}

impl LaunchError {
    /// The supervisor's exit code for this failure (see docs/exit-codes).
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::NotFound(_) => crate::exit::NOT_FOUND,
            LaunchError::NotExecutable(..) => crate::exit::NOT_EXECUTABLE,
            LaunchError::Exec(_, Errno::ENOENT) => crate::exit::NOT_FOUND,
            LaunchError::Exec(..) => crate::exit::NOT_EXECUTABLE,
            LaunchError::InitScript(_) | LaunchError::InitEnded => crate::exit::INIT_SCRIPT,
            _ => crate::exit::SUPERVISOR,
        }
    }
}

static INHERITED: std::sync::OnceLock<Vec<i32>> = std::sync::OnceLock::new();

/// The open descriptors, except the one used to list them.
fn open_fds() -> Vec<i32> {
    use nix::dir::Dir;
    use nix::fcntl::OFlag;
    let Ok(mut dir) = Dir::open(
        "/proc/self/fd",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return Vec::new();
    };
    let own = dir.as_raw_fd();
    dir.iter()
        .flatten()
        .filter_map(|e| e.file_name().to_str().ok().and_then(|s| s.parse().ok()))
        .filter(|&fd| fd != own)
        .collect()
}

/// Records the descriptors the supervisor was started with: those (and
/// only those) are passed on to the program.  Call first thing in `main`.
pub fn record_inherited_fds() {
    let _ = INHERITED.set(open_fds());
}

/// Marks close-on-exec every descriptor the supervisor opened itself.
fn protect_fds() {
    let inherited = INHERITED.get().cloned().unwrap_or_else(|| vec![0, 1, 2]);
    for fd in open_fds() {
        if !inherited.contains(&fd) {
            // SAFETY: fcntl on a descriptor number only changes its flag.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// An init script to run in the child before the program.
pub struct Init {
    /// The Lua source.
    pub source: Vec<u8>,
    /// Its chunk name for messages (`@FILE` or `=name`).
    pub name: String,
    /// The descriptor the script sees as `arg`.
    pub arg: Option<OwnedFd>,
}

/// Everything the helper needs, made before `fork`.
struct HelperLaunch {
    exe: OwnedFd,
    _script: OwnedFd,
    _bpf: OwnedFd,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    keep: Vec<RawFd>,
}

/// A sealed (read-only) memfd holding `bytes`.
fn sealed_memfd(name: &std::ffi::CStr, bytes: &[u8]) -> Result<OwnedFd, Errno> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
    let mut done = 0;
    while done < bytes.len() {
        done += nix::unistd::write(&fd, &bytes[done..])?;
    }
    nix::unistd::lseek(&fd, 0, nix::unistd::Whence::SeekSet)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(seals)),
    )?;
    Ok(fd)
}

/// A program ready to be started.
pub struct Prepared {
    exe: CString,
    display: String,
    argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    filter: bpf::Program,
    /// The filter trapping only the socket calls, swapped in by
    /// [`Prepared::trap_sockets_only`].
    sockets_only: Option<bpf::Program>,
    /// The calls the policy leaves to the kernel ([`Prepared::untrap`]).
    untrapped: Option<bpf::Untrapped>,
    /// What the filters were built from, to build them again with the
    /// socket families the policy allows ([`Prepared::allow_families`]).
    posture: Option<(bpf::Posture, bpf::SyscallMap)>,
    init: Option<Init>,
    /// A program already running under a filter of someone else's making
    /// (a container: `supervisor agent`): nothing is started.
    attached: Option<Attached>,
}

/// A program started by someone else (an OCI runtime), already under its
/// notify filter: its listener and its pid, as the agent received them.
pub struct Attached {
    /// The seccomp listener of the program's filter.
    pub listener: OwnedFd,
    /// The pid of the program's first process (the container's init), in
    /// the supervisor's pid namespace.
    pub pid: Pid,
    /// Run once the policy has been loaded, right before the first request
    /// is served (while single-threaded): the agent's helper takes the
    /// container process's credentials there.  Its error ends the run.
    pub before_serving: Option<fn(Pid) -> Result<(), String>>,
}

/// The started program.
pub struct Child {
    /// The keeper (see keeper.rs): the program's parent, which forwards
    /// signals to it and ends with its wait status.
    pub pid: Pid,
    /// A pidfd of the keeper.
    pub pidfd: OwnedFd,
    pub listener: OwnedFd,
    /// What the init script's Landlock layers refuse the program
    /// everywhere (handled, granted under no path, on no port): the
    /// `LANDLOCK_ACCESS_FS_*` bits, and the `LANDLOCK_ACCESS_NET_*` bits
    /// shifted left by 16; 0 without such a layer.
    pub landlock: u64,
    /// The program's root directory (`O_PATH`) when it was started: the
    /// run's root, which the policy's names are relative to
    /// (`pending::Root`).
    pub root: OwnedFd,
}

/// An `O_PATH` descriptor of the root directory of process `pid`.
pub fn root_of(pid: i32) -> Result<OwnedFd, Errno> {
    let path = CString::new(format!("/proc/{pid}/root")).map_err(|_| Errno::EINVAL)?;
    sys::open_dir_path(&path)
}

fn cstring(s: &OsStr) -> Result<CString, LaunchError> {
    CString::new(s.as_bytes()).map_err(|_| LaunchError::Nul(s.to_owned()))
}

fn is_executable(p: &Path) -> Result<(), Errno> {
    let c = CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let st = nix::sys::stat::stat(c.as_c_str())?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return Err(Errno::EACCES);
    }
    nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK)
}

/// Finds `cmd` as `execvp` would (PATH search when it has no '/').
pub fn find_program(cmd: &OsStr) -> Result<PathBuf, LaunchError> {
    let shown = cmd.to_string_lossy().into_owned();
    if cmd.is_empty() {
        return Err(LaunchError::NotFound(shown));
    }
    if cmd.as_bytes().contains(&b'/') {
        let p = PathBuf::from(cmd);
        return match is_executable(&p) {
            Ok(()) => Ok(p),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Err(LaunchError::NotFound(shown)),
            Err(e) => Err(LaunchError::NotExecutable(shown, e)),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let p = dir.join(cmd);
        match is_executable(&p) {
            Ok(()) => return Ok(p),
            Err(Errno::EACCES) => denied = denied.or(Some(Errno::EACCES)),
            Err(_) => {}
        }
    }
    match denied {
        Some(e) => Err(LaunchError::NotExecutable(shown, e)),
        None => Err(LaunchError::NotFound(shown)),
    }
}

impl Prepared {
    /// Prepares `cmd args…` with the current environment.
    pub fn new(cmd: &OsStr, args: &[OsString], filter: bpf::Program) -> Result<Self, LaunchError> {
        let exe_path = find_program(cmd)?;
        let exe = cstring(exe_path.as_os_str())?;
        let mut argv = vec![cstring(cmd)?];
        for a in args {
            argv.push(cstring(a)?);
        }
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(&v);
            envp.push(cstring(&kv)?);
        }
        let ptrs = |v: &Vec<CString>| {
            v.iter()
                .map(|c| c.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        Ok(Prepared {
            exe,
            display: cmd.to_string_lossy().into_owned(),
            argv_ptrs: ptrs(&argv),
            envp_ptrs: ptrs(&envp),
            argv,
            _envp: envp,
            filter,
            sockets_only: None,
            untrapped: None,
            posture: None,
            init: None,
            attached: None,
        })
    }

    /// A program that is already running under its notify filter
    /// (`supervisor agent`: a container, its listener handed over by the
    /// runtime).  Nothing is spawned; the session serves `listener`.
    pub fn attached(attached: Attached) -> Self {
        Prepared {
            exe: CString::default(),
            display: format!("pid {}", attached.pid),
            argv: Vec::new(),
            argv_ptrs: vec![std::ptr::null()],
            _envp: Vec::new(),
            envp_ptrs: vec![std::ptr::null()],
            // Never loaded (the runtime loaded the program's filter): one
            // `ret SECCOMP_RET_KILL`, should it ever be.
            filter: bpf::Program::from_bytes(&[6, 0, 0, 0, 0, 0, 0, 0])
                .expect("one instruction is a program"),
            sockets_only: None,
            untrapped: None,
            posture: None,
            init: None,
            attached: Some(attached),
        }
    }

    /// The running program this run attaches to, if it is one.
    pub fn attached_to(&self) -> Option<&Attached> {
        self.attached.as_ref()
    }

    /// Has an init script been set?
    pub fn has_init(&self) -> bool {
        self.init.is_some()
    }

    /// What the filter to load does with the calls that change a thread's
    /// credentials (`bpf::creds`).
    pub fn watch(&self) -> bpf::creds::Watch {
        self.filter.watch()
    }

    /// Gives the filter (`bpf::Trapped::Sockets`) to load instead when the
    /// policy leaves every file call to the kernel.
    pub fn set_sockets_only_filter(&mut self, filter: bpf::Program) {
        self.sockets_only = Some(filter);
    }

    /// Notes what the filters were built from.
    /// Does the program's filter send every chroot to the supervisor and
    /// refuse every other way to change a root (the default posture, no
    /// unknown syscalls: `pending::Root::set_fixed`)?
    pub fn root_fixed(&self) -> bool {
        self.attached.is_none()
            && self
                .posture
                .as_ref()
                .is_some_and(|(p, _)| p.refuse_unmapped && !p.allow_unknown)
    }

    pub fn set_posture(&mut self, posture: bpf::Posture, map: bpf::SyscallMap) {
        self.posture = Some((posture, map));
    }

    /// Builds the filters again so that sockets of `families` are created
    /// too (besides the default ones).  Without a posture noted (a run
    /// that refuses no family) nothing changes.
    pub fn allow_families(&mut self, families: bpf::Families) -> Result<(), bpf::Error> {
        let Some((posture, map)) = self.posture.as_mut() else {
            return Ok(());
        };
        posture.families = families;
        let trapped = match &self.untrapped {
            Some(u) => bpf::Trapped::AllBut(u.clone()),
            None => bpf::Trapped::All,
        };
        let all = bpf::notify_filter(map, posture, trapped)?;
        let sockets = bpf::notify_filter(map, posture, bpf::Trapped::Sockets)?;
        self.filter = all;
        if self.sockets_only.is_some() {
            self.sockets_only = Some(sockets);
        }
        Ok(())
    }

    /// Leaves the calls of `untrapped` to the kernel: the filter to load
    /// traps every call of the table but those (`bpf::Trapped::AllBut`).
    /// `false` when there is no posture to build it from (a program
    /// attached to: its filter is the runtime's), and nothing changes.
    pub fn untrap(&mut self, untrapped: bpf::Untrapped) -> Result<bool, bpf::Error> {
        let Some((posture, map)) = self.posture.as_ref() else {
            return Ok(false);
        };
        self.filter = bpf::notify_filter(map, posture, bpf::Trapped::AllBut(untrapped.clone()))?;
        self.sockets_only = None;
        self.untrapped = Some(untrapped);
        Ok(true)
    }

    /// Loads the sockets-only filter instead of the full one, if one was
    /// given.  For a policy whose answer to every file call is
    /// use_slave_credentials, unseen: those calls then cost the program
    /// nothing.
    pub fn trap_sockets_only(&mut self) {
        if let Some(f) = self.sockets_only.take() {
            self.filter = f;
        }
    }

    /// Sets (or, with `None`, removes) the init script.
    pub fn set_init(&mut self, init: Option<Init>) {
        self.init = init;
    }

    /// The helper's descriptors and argv:
    /// `supervisor __init SOCK PARENT SCRIPT BPF ARG NAME EXE -- ARGV…`.
    fn helper_launch(
        &self,
        init: &Init,
        sock: RawFd,
        parent: i32,
    ) -> Result<HelperLaunch, LaunchError> {
        let helper = |what: &str, e: Errno| LaunchError::Helper(format!("{what}: {e}"));
        let exe = nix::fcntl::open(
            c"/proc/self/exe",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| helper("cannot open /proc/self/exe", e))?;
        let script = sealed_memfd(c"supervisor-init-script", &init.source)
            .map_err(|e| helper("cannot pass the script", e))?;
        let bpf = sealed_memfd(c"supervisor-bpf", &self.filter.to_bytes())
            .map_err(|e| helper("cannot pass the filter", e))?;
        let arg = init.arg.as_ref().map(|a| a.as_raw_fd());
        let mut keep = vec![sock, script.as_raw_fd(), bpf.as_raw_fd()];
        keep.extend(arg);
        let mut argv: Vec<CString> = Vec::new();
        for a in [
            "supervisor".to_string(),
            helper::SUBCOMMAND.to_string(),
            sock.to_string(),
            parent.to_string(),
            script.as_raw_fd().to_string(),
            bpf.as_raw_fd().to_string(),
            arg.map_or("-".to_string(), |a| a.to_string()),
        ] {
            argv.push(CString::new(a).expect("no NUL in numbers"));
        }
        argv.push(
            CString::new(init.name.as_bytes())
                .map_err(|_| LaunchError::Nul(init.name.clone().into()))?,
        );
        argv.push(self.exe.clone());
        argv.push(c"--".to_owned());
        argv.extend(self.argv.iter().cloned());
        let argv_ptrs = argv
            .iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(HelperLaunch {
            exe,
            _script: script,
            _bpf: bpf,
            _argv: argv,
            argv_ptrs,
            keep,
        })
    }

    /// Forks and execs.  Must be called while the process is single-threaded.
    pub fn spawn(&self) -> Result<Child, LaunchError> {
        // The policy may have opened files (Lua's io.open does not set
        // O_CLOEXEC): none of the supervisor's descriptors reaches the program.
        protect_fds();
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(LaunchError::Socket)?;
        let parent = nix::unistd::getpid();
        let launch = match &self.init {
            Some(init) => Some(self.helper_launch(init, theirs.as_raw_fd(), parent.as_raw())?),
            None => None,
        };
        let image = child::Image {
            sock: theirs.as_raw_fd(),
            parent: parent.as_raw(),
            exe: self.exe.as_ptr(),
            argv: self.argv_ptrs.as_ptr(),
            envp: self.envp_ptrs.as_ptr(),
            filter: &self.filter,
            scope: child::can_scope_out(),
            helper: launch.as_ref().map(|l| child::Helper {
                exe: l.exe.as_raw_fd(),
                argv: l.argv_ptrs.as_ptr(),
                keep: &l.keep,
            }),
        };
        // SAFETY: the supervisor is single-threaded here (no runtime, no
        // helper thread has been started yet); the child is the keeper,
        // which forks the program (`child::run`: raw syscalls, no
        // allocation).
        let pid = match unsafe { nix::unistd::fork() }.map_err(LaunchError::Fork)? {
            ForkResult::Child => keeper::run(&image),
            ForkResult::Parent { child } => child,
        };
        crate::own::register(pid.as_raw());
        drop(theirs);
        drop(launch);
        // Killing the keeper kills the program (its death signal).
        let kill = |e: LaunchError| {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            e
        };
        let pidfd = sys::pidfd_open(pid.as_raw()).map_err(|e| kill(LaunchError::Pidfd(e)))?;
        let (program, program_pid) = match receive_report(ours.as_fd()) {
            Report::Pid(p) => match sys::pidfd_open(p) {
                Ok(fd) => (fd, p),
                Err(e) => {
                    // The program may have failed already (and been reaped
                    // by the keeper): its own report says why.
                    let next = receive_report(ours.as_fd());
                    let err = match next {
                        Report::Failed(..) => self.error(next),
                        _ => LaunchError::Pidfd(e),
                    };
                    return Err(kill(err));
                }
            },
            other => return Err(kill(self.error(other))),
        };
        // An init script's Landlock backstop, if it made one.
        let mut landlock = 0;
        let mut next = receive_report(ours.as_fd());
        if let Report::Landlock(bits) = next {
            landlock = u64::from(bits);
            next = receive_report(ours.as_fd());
        }
        let root;
        let listener = match next {
            Report::Listener(n) => {
                let fd = sys::pidfd_getfd(program.as_fd(), n)
                    .map_err(|e| kill(LaunchError::TakeListener(e)))?;
                // The run's root: the program's, set by the init script if
                // any, before any of its code runs (it waits for the byte
                // below).  Its pid is not reused meanwhile: the listener was
                // just taken through its pidfd, and it waits for us.
                root = root_of(program_pid).map_err(|e| kill(LaunchError::Setup(e)))?;
                // Go: the child may now close its copy and exec.
                let _ = nix::unistd::write(&ours, &[1u8]);
                first_exec::let_through(fd.as_fd(), program.as_fd(), program_pid, ours.as_fd());
                fd
            }
            Report::Failed(Step::Script, _) => {
                // The helper exits 1 right after reporting.
                let status = match nix::sys::wait::waitpid(pid, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                    _ => -1,
                };
                return Err(LaunchError::InitScript(status));
            }
            Report::Exec if self.init.is_some() => return Err(kill(LaunchError::InitEnded)),
            other => return Err(kill(self.error(other))),
        };
        match receive_report(ours.as_fd()) {
            Report::Exec => {}
            other => return Err(kill(self.error(other))),
        }
        // From now on no process without CAP_SYS_PTRACE may ptrace the
        // supervisor, take its descriptors or open its /proc files (the
        // listener is taken: pidfd_getfd on the child is done).
        sys::set_not_dumpable();
        Ok(Child {
            pid,
            pidfd,
            listener,
            landlock,
            root,
        })
    }

    fn error(&self, r: Report) -> LaunchError {
        match r {
            Report::Failed(Step::NoNewPrivs, e) => LaunchError::NoNewPrivs(e),
            Report::Failed(Step::Filter, e) => LaunchError::Filter(e),
            Report::Failed(Step::Exec, e) => LaunchError::Exec(self.display.clone(), e),
            Report::Failed(Step::Helper, e) => LaunchError::Helper(e.to_string()),
            Report::Failed(Step::Scope, e) => LaunchError::Scope(e),
            Report::Failed(_, e) => LaunchError::Setup(e),
            _ => LaunchError::NoListener,
        }
    }
}

enum Report {
    /// The program's pid.
    Pid(i32),
    /// The listener's number in the child.
    Listener(i32),
    /// The socket closed: `execve` succeeded (it is close-on-exec).
    Exec,
    /// The init script's Landlock refusals (`Step::Landlock`).
    Landlock(u32),
    Failed(Step, Errno),
    Garbled,
}

fn receive_report(sock: std::os::fd::BorrowedFd) -> Report {
    let mut body = [0u8; 8];
    let n = loop {
        match nix::unistd::read(sock, &mut body) {
            Err(Errno::EINTR) => continue,
            Err(_) => return Report::Garbled,
            Ok(n) => break n,
        }
    };
    if n == 0 {
        return Report::Exec;
    }
    if n != 8 {
        return Report::Garbled;
    }
    let step = u32::from_ne_bytes(body[..4].try_into().expect("4 bytes"));
    let value = i32::from_ne_bytes(body[4..].try_into().expect("4 bytes"));
    match Step::from_u32(step) {
        Some(Step::Listener) => Report::Listener(value),
        Some(Step::Pid) => Report::Pid(value),
        Some(Step::Landlock) => Report::Landlock(value as u32),
        None => Report::Garbled,
        Some(s) => Report::Failed(s, Errno::from_raw(value)),
    }
}
