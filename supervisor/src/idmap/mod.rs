//! Opening the id maps of a nested user namespace as the program.
//!
//! The kernel checks a write to `/proc/<pid>/uid_map`, `gid_map`,
//! `projid_map` and `setgroups` against whoever *opened* the file, and
//! the opener must live in the namespace of `<pid>` or in its parent
//! (`proc_uid_map_write`).  The acting thread of the supervisor lives in
//! the supervisor's user namespace: when that is the parent (a program's
//! first user namespace) it opens the file with the program's credentials
//! (act/file.rs); when the namespace is nested deeper (Chromium's zygote
//! moves to a second one; under ci.lua an unprivileged program is in one
//! already) no thread of the supervisor can.  Then a short-lived helper
//! (`supervisor __open-id-map`, this binary re-executed: single-threaded,
//! as `setns` into a user namespace requires) joins the parent namespace,
//! takes the program's ids as seen there, opens the entry the policy
//! decided on (held: the `/proc/<pid>` directory resolved) and hands the
//! descriptor back over its stdin, a socket.  It never has more than the
//! program could do: the write is checked against the program (the
//! writer) too.

mod sys;

use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

/// The hidden subcommand of the helper.
pub const SUBCOMMAND: &str = "__open-id-map";

/// How long the supervisor waits for the helper's answer.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// The parent user namespace of the process whose `/proc/<pid>` is
/// `proc_dir`, when it is not the supervisor's own (the helper is needed);
/// `None` when the acting thread can open the file itself.
pub fn nested_parent(proc_dir: BorrowedFd) -> Result<Option<OwnedFd>, Errno> {
    let ns = nix::fcntl::openat(
        proc_dir,
        c"ns/user",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let parent = match sys::parent_ns(ns.as_fd()) {
        Ok(p) => p,
        // Our own namespace, or one above it: the acting thread opens.
        Err(Errno::EPERM) => return Ok(None),
        Err(e) => return Err(e),
    };
    let ours = nix::sys::stat::stat(c"/proc/self/ns/user")?;
    let theirs = nix::sys::stat::fstat(&parent)?;
    if (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino) {
        return Ok(None);
    }
    Ok(Some(parent))
}

/// Opens `name` (`flags`) in `proc_dir` from user namespace `userns` with
/// the ids the program has there, by the helper.
pub fn open(
    userns: OwnedFd,
    proc_dir: BorrowedFd,
    name: &CString,
    flags: i32,
) -> Result<OwnedFd, Errno> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let mut child = std::process::Command::new("/proc/self/exe")
        .arg0("supervisor")
        .arg(SUBCOMMAND)
        .stdin(std::process::Stdio::from(theirs))
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let r = exchange(&ours, userns, proc_dir, name, flags);
    drop(ours);
    let _ = child.kill();
    let _ = child.wait();
    r
}

fn exchange(
    sock: &OwnedFd,
    userns: OwnedFd,
    proc_dir: BorrowedFd,
    name: &CString,
    flags: i32,
) -> Result<OwnedFd, Errno> {
    let mut msg = flags.to_ne_bytes().to_vec();
    msg.extend_from_slice(name.as_bytes());
    let fds = [userns.as_raw_fd(), proc_dir.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&msg)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    nix::sys::socket::setsockopt(
        sock,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(DEADLINE.as_secs() as i64, 0),
    )?;
    let (errno, fds) = receive(sock.as_raw_fd(), 1)?;
    let e = i32::from_ne_bytes(errno.get(..4).ok_or(Errno::EIO)?.try_into().expect("4"));
    if e != 0 {
        return Err(Errno::from_raw(e));
    }
    fds.into_iter().next().ok_or(Errno::EIO)
}

/// One message on `sock`: its bytes and the descriptors it carried.
fn receive(sock: RawFd, want: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), Errno> {
    let mut buf = vec![0u8; 4 + 4096];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let m = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for c in m.cmsgs().map_err(|_| Errno::EIO)? {
        if let ControlMessageOwned::ScmRights(v) = c {
            for fd in v {
                // SAFETY: received with SCM_RIGHTS: new descriptors of ours.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let n = m.bytes;
    buf.truncate(n);
    if fds.len() > want {
        return Err(Errno::EIO);
    }
    Ok((buf, fds))
}

/// The helper: receives the namespace, the directory, the flags and the
/// name on its stdin; joins the namespace, takes the program's ids there,
/// opens; answers the errno (0) and the descriptor.
pub fn main() -> i32 {
    let r = helper();
    let (errno, fd) = match &r {
        Ok(fd) => (0, Some(fd.as_raw_fd())),
        Err(e) => (*e as i32, None),
    };
    let fds: Vec<RawFd> = fd.into_iter().collect();
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let c: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    let bytes = errno.to_ne_bytes();
    match sendmsg::<()>(0, &[IoSlice::new(&bytes)], c, MsgFlags::empty(), None) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}

fn helper() -> Result<OwnedFd, Errno> {
    let (msg, mut fds) = receive(0, 2)?;
    if fds.len() != 2 || msg.len() < 5 {
        return Err(Errno::EINVAL);
    }
    let flags = i32::from_ne_bytes(msg[..4].try_into().expect("4"));
    let name = CString::new(&msg[4..]).map_err(|_| Errno::EINVAL)?;
    let dir = fds.pop().expect("2");
    let userns = fds.pop().expect("2");
    nix::sched::setns(&userns, nix::sched::CloneFlags::CLONE_NEWUSER)?;
    // The program's ids as this namespace sees them (status is translated
    // to the reader's namespace).
    let status = {
        let fd = nix::fcntl::openat(
            &dir,
            c"status",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let mut buf = [0u8; 4096];
        let n = nix::unistd::read(&fd, &mut buf)?;
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let effective = |key: &str| -> Result<u32, Errno> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .ok_or(Errno::EIO)
    };
    let (uid, gid) = (effective("Uid:")?, effective("Gid:")?);
    // setgroups may be denied in that namespace; the groups play no part.
    let _ = nix::unistd::setgroups(&[]);
    let g = nix::unistd::Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g)?;
    let u = nix::unistd::Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(
        (flags & !(libc::O_CREAT | libc::O_TMPFILE)) | libc::O_CLOEXEC | libc::O_NOFOLLOW,
    );
    nix::fcntl::openat(&dir, name.as_c_str(), flags, nix::sys::stat::Mode::empty())
}
