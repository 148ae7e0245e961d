//! The child between `fork` and `execve`: raw syscalls only, no
//! allocation, no locks (async-signal-safe).

use std::os::fd::RawFd;

use super::Step;

/// Everything the child needs, prepared before `fork`.
#[derive(Clone, Copy)]
pub(super) struct Image<'a> {
    pub sock: RawFd,
    pub parent: libc::pid_t,
    pub exe: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    pub filter: &'a bpf::Program,
    /// The kernel can scope signals (Landlock ABI 6): entering the domain
    /// must work.
    pub scope: bool,
    /// With an init script: re-execute the supervisor as the helper.
    pub helper: Option<Helper<'a>>,
}

/// The helper's executable (`/proc/self/exe`, opened before `fork`), its
/// argv, and the descriptors it must inherit.
#[derive(Clone, Copy)]
pub(super) struct Helper<'a> {
    pub exe: RawFd,
    pub argv: *const *const libc::c_char,
    pub keep: &'a [RawFd],
}

fn errno() -> i32 {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sends `[step, value]` (an errno, or the listener's number) with a
/// plain `write`: once the notify filter is loaded, `sendmsg` is a trapped
/// call, and the supervisor is not answering yet.
pub(super) fn report(sock: RawFd, step: Step, value: i32) {
    let mut body = [0u8; 8];
    body[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    body[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: writes 8 bytes from this stack buffer.
    unsafe { libc::write(sock, body.as_ptr().cast(), body.len()) };
}

/// Waits for the supervisor's go-ahead (it has taken the listener).
fn wait_ack(sock: RawFd) -> bool {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: reads at most 1 byte into this stack buffer.
        let r = unsafe { libc::read(sock, b.as_mut_ptr().cast(), 1) };
        if r == 1 {
            return true;
        }
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        return false;
    }
}

fn fail(sock: RawFd, step: Step, err: i32) -> ! {
    report(sock, step, err);
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(crate::exit::SUPERVISOR) }
}

/// Runs in the child; never returns.
pub(super) fn run(img: &Image) -> ! {
    // SAFETY: integer-argument prctl/getppid.
    unsafe {
        // The program dies with its parent, the keeper (see keeper.rs).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != img.parent {
            libc::_exit(crate::exit::SUPERVISOR);
        }
    }
    // SAFETY: resetting a disposition is async-signal-safe.  Rust's runtime
    // ignores SIGPIPE in the supervisor; the program must get the default.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if let Some(h) = &img.helper {
        exec_helper(img.sock, h, img.envp);
    }
    if let Err(e) = bpf::sys::set_no_new_privs() {
        fail(img.sock, Step::NoNewPrivs, e);
    }
    // Out of reach of the supervisor: see scope_out.
    if let Err(e) = scope_out() {
        if img.scope {
            fail(img.sock, Step::Scope, e);
        }
    }
    // The filter comes last: from here on every mapped call of this process
    // waits for the supervisor.
    let listener = match bpf::sys::load_listener(img.filter) {
        Ok(fd) => fd,
        Err(e) => fail(img.sock, Step::Filter, e),
    };
    // The supervisor takes the listener with pidfd_getfd (passing it with
    // SCM_RIGHTS would need sendmsg, now trapped), then says go.
    report(img.sock, Step::Listener, listener);
    if !wait_ack(img.sock) {
        // SAFETY: _exit is async-signal-safe and never returns.
        unsafe { libc::_exit(crate::exit::SUPERVISOR) }
    }
    // SAFETY: closing our copy; the supervisor holds its own.  The listener
    // is close-on-exec anyway: the program never sees it.
    unsafe { libc::close(listener) };
    // SAFETY: exe, argv and envp are NUL-terminated C strings and
    // NULL-terminated arrays prepared before fork and alive in this image.
    unsafe { libc::execve(img.exe, img.argv, img.envp) };
    let e = errno();
    report(img.sock, Step::Exec, e);
    // SAFETY: as above.
    unsafe { libc::_exit(if e == libc::ENOENT { 127 } else { 126 }) }
}

/// `struct landlock_ruleset_attr` (Landlock ABI 6).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `LANDLOCK_SCOPE_SIGNAL`.
const SCOPE_SIGNAL: u64 = 1 << 1;

/// Puts this process (and so the program) in a Landlock domain that
/// handles no file or network access but scopes signals: from now on it
/// can neither signal nor ptrace (`ptrace`, `process_vm_*`,
/// `pidfd_getfd`, `/proc/<pid>/mem`, …) any process outside the domain,
/// the supervisor first, whatever its credentials or capabilities.  On a
/// kernel without Landlock ABI 6 (Linux 6.12) this does nothing (the
/// supervisor warns; see docs/security.md).
pub(crate) fn scope_out() -> Result<(), i32> {
    let attr = RulesetAttr {
        handled_access_fs: 0,
        handled_access_net: 0,
        scoped: SCOPE_SIGNAL,
    };
    // SAFETY: landlock_create_ruleset reads `attr` (of the size given);
    // landlock_restrict_self and close take integers only.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        );
        if fd < 0 {
            return Err(errno());
        }
        let r = libc::syscall(libc::SYS_landlock_restrict_self, fd as libc::c_int, 0u32);
        let e = errno();
        libc::close(fd as libc::c_int);
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether [`scope_out`] can work here: the kernel's Landlock ABI is 6 or
/// more.
pub fn can_scope_out() -> bool {
    const VERSION: u32 = 1;
    // SAFETY: with the VERSION flag the kernel reads no attribute.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            VERSION,
        )
    };
    v >= 6
}

/// Re-executes the supervisor binary as the init-script helper; never
/// returns.
fn exec_helper(sock: RawFd, h: &Helper, envp: *const *const libc::c_char) -> ! {
    for &fd in h.keep {
        // SAFETY: fcntl on a descriptor number only clears its
        // close-on-exec flag, so the helper inherits it.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    // SAFETY: h.exe is open; "" is a NUL-terminated literal; argv and envp
    // are NULL-terminated arrays prepared before fork and alive here.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            h.exe,
            c"".as_ptr(),
            h.argv,
            envp,
            libc::AT_EMPTY_PATH,
        )
    };
    fail(sock, Step::Helper, errno())
}

// ---- the helper side (a fresh process: allocation is fine) -------------

/// Takes ownership of a descriptor number passed on the helper's command
/// line and marks it close-on-exec (the program must not inherit it).
pub(super) fn own_fd(fd: RawFd) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl on a descriptor number only reads/sets its flags.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return None;
    }
    // SAFETY: the supervisor passed this descriptor to the helper for it
    // alone (it was just checked to be open); nothing else owns it.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Marks a descriptor number close-on-exec (EBADF for a closed one is
/// ignored).
pub(super) fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl on a descriptor number only sets its flag.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// `close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`: every descriptor from
/// `first` on becomes close-on-exec.
pub(super) fn cloexec_from(first: RawFd) -> Result<(), i32> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: integer arguments only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// The helper's last steps, those of `run`: the death signal again (a
/// credential change in the script clears it) and the parent check,
/// default SIGPIPE (the helper's Rust runtime ignores it), no_new_privs,
/// the filter, the listener handed over, `execve`.  Never returns.
pub(super) fn finish_helper(
    sock: RawFd,
    parent: libc::pid_t,
    scope: bool,
    filter: &bpf::Program,
    exe: &std::ffi::CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    let img = Image {
        sock,
        parent,
        exe: exe.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        filter,
        scope,
        helper: None,
    };
    run(&img)
}
