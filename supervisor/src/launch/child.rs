//! The child between `fork` and `execve`: raw syscalls only, no
//! allocation, no locks (async-signal-safe).

use std::os::fd::RawFd;

use super::Step;

/// Everything the child needs, prepared before `fork`.
pub(super) struct Image<'a> {
    pub sock: RawFd,
    pub parent: libc::pid_t,
    pub exe: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    pub filter: &'a bpf::Program,
}

fn errno() -> i32 {
    // SAFETY: the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sends `[step, errno]` and, with `fd`, the descriptor as SCM_RIGHTS.
fn report(sock: RawFd, step: Step, err: i32, fd: Option<RawFd>) {
    let mut body = [0u8; 8];
    body[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    body[4..].copy_from_slice(&err.to_ne_bytes());
    let mut iov = libc::iovec {
        iov_base: body.as_mut_ptr().cast(),
        iov_len: body.len(),
    };
    // Room for one cmsghdr carrying one int, aligned as cmsghdr.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr is plain data; every pointer set below points into
    // this stack frame, which outlives the sendmsg call.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(fd) = fd {
            let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut RawFd, fd);
        }
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
    }
}

fn fail(sock: RawFd, step: Step, err: i32) -> ! {
    report(sock, step, err, None);
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(crate::exit::SUPERVISOR) }
}

/// Runs in the child; never returns.
pub(super) fn run(img: &Image) -> ! {
    // SAFETY: integer-argument prctl/getppid.
    unsafe {
        // The program dies with the supervisor, SIGKILL included.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != img.parent {
            libc::_exit(crate::exit::SUPERVISOR);
        }
    }
    // SAFETY: resetting a disposition is async-signal-safe.  Rust's runtime
    // ignores SIGPIPE in the supervisor; the program must get the default.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    if let Err(e) = bpf::sys::set_no_new_privs() {
        fail(img.sock, Step::NoNewPrivs, e);
    }
    // The filter comes last: from here on every mapped call of this process
    // waits for the supervisor.
    let listener = match bpf::sys::load_listener(img.filter) {
        Ok(fd) => fd,
        Err(e) => fail(img.sock, Step::Filter, e),
    };
    report(img.sock, Step::Listener, 0, Some(listener));
    // SAFETY: closing our copy; the supervisor holds its own.  The listener
    // is close-on-exec anyway: the program never sees it.
    unsafe { libc::close(listener) };
    // SAFETY: exe, argv and envp are NUL-terminated C strings and
    // NULL-terminated arrays prepared before fork and alive in this image.
    unsafe { libc::execve(img.exe, img.argv, img.envp) };
    let e = errno();
    report(img.sock, Step::Exec, e, None);
    // SAFETY: as above.
    unsafe { libc::_exit(if e == libc::ENOENT { 127 } else { 126 }) }
}
