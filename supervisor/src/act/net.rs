//! The socket calls done by the supervisor: on the program's own socket
//! (duplicated with `pidfd_getfd`), with the address copied at decode time.
//!
//! A unix path is resolved in the program's view like a file path; the
//! supervisor then reaches the object it resolved through
//! `/proc/self/fd/N`, so that a symlink swapped in afterwards is never
//! followed.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::authority::Authority;
use super::bindname;
use crate::answer::{Job, Outcome};
use crate::pending::Pending;
use crate::request::net::{NetAddr, Payload, SockCall, SockOp};
use crate::request::Args;
use crate::resolve::{Last, Target};
use kernel::memory;
use kernel::sys;
use kernel::task::{Task, Writer};

/// The most payload copied for one send.  A stream send may send less
/// than asked (the caller sees the count); a datagram this large would
/// not fit any socket buffer anyway.
const PAYLOAD_MAX: usize = 4 << 20;

/// The program's socket as the supervisor holds it.
#[derive(Debug)]
pub struct Socket {
    pub fd: OwnedFd,
    pub domain: i32,
    pub ty: i32,
    pub protocol: i32,
    /// `O_NONBLOCK` on the open file description (shared with the program).
    pub nonblocking: bool,
}

impl Socket {
    /// Duplicates the program's descriptor `fd` and identifies the socket.
    pub fn of(task: &mut Task, fd: i32) -> Result<Socket, Errno> {
        let dup = task.getfd(fd)?;
        let domain = sys::sock_int(dup.as_fd(), libc::SO_DOMAIN)?;
        let ty = sys::sock_int(dup.as_fd(), libc::SO_TYPE)?;
        let protocol = sys::sock_int(dup.as_fd(), libc::SO_PROTOCOL)?;
        let nonblocking = sys::file_flags(dup.as_fd())? & libc::O_NONBLOCK != 0;
        Ok(Socket {
            fd: dup,
            domain,
            ty,
            protocol,
            nonblocking,
        })
    }

    /// A socket the supervisor holds itself (a policy's descriptor).
    pub fn of_own(fd: BorrowedFd) -> Result<Socket, Errno> {
        let dup = fd.try_clone_to_owned().map_err(|_| Errno::EMFILE)?;
        Ok(Socket {
            domain: sys::sock_int(fd, libc::SO_DOMAIN)?,
            ty: sys::sock_int(fd, libc::SO_TYPE)?,
            protocol: sys::sock_int(fd, libc::SO_PROTOCOL)?,
            nonblocking: sys::file_flags(fd)? & libc::O_NONBLOCK != 0,
            fd: dup,
        })
    }

    /// Does the supervisor decide on this socket's addresses at all?  Other
    /// families (netlink, packet, vsock, …) only accept addresses of their
    /// own family, which the program may use freely.
    pub fn is_mapped_family(&self) -> bool {
        matches!(self.domain, libc::AF_UNIX | libc::AF_INET | libc::AF_INET6)
    }

    fn blocks(&self, flags: i32) -> bool {
        !self.nonblocking && flags & libc::MSG_DONTWAIT == 0
    }
}

/// Does `call` exactly as asked, on the copy (calls that reach no mapped
/// address: sends on connected sockets, unnamed unix addresses, …).
pub fn plain(task: &mut Task, sock: Socket, call: &SockCall) -> Outcome {
    match call.op {
        SockOp::Connect => connect(
            &Authority::Supervisor,
            sock,
            call.addr.clone().unwrap_or_default(),
            None,
        ),
        SockOp::Bind => {
            sys::bind_raw(sock.fd.as_fd(), call.addr.as_deref().unwrap_or_default()).into()
        }
        SockOp::Send => match &call.payload {
            Some(p) => send(task, &sock, call.addr.clone(), p),
            None => Outcome::Fail(Errno::EINVAL),
        },
    }
}

/// A policy's descriptor `fd` takes the place of the program's socket
/// (same number, same close-on-exec): connect and bind then succeed, a
/// send goes out on the new socket.
pub fn replace(p: &mut Pending, fd: OwnedFd, call: &SockCall) -> Outcome {
    let cloexec = match p.task.fd_cloexec(call.fd) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e).normalize(),
    };
    if let Err(e) = p.task.settle() {
        return Outcome::Fail(e).normalize();
    }
    let then = match (&call.payload, call.op) {
        (Some(pl), SockOp::Send) => then_send(&mut p.task, fd.as_fd(), None, pl),
        _ => Box::new(|| Outcome::Value(0)),
    };
    Outcome::Install {
        fds: vec![(fd, Some(call.fd))],
        cloexec,
        then: Some(then),
    }
}

/// What a call whose socket was just replaced by `fd` answers: the send of
/// `payload` on it, read from the program now.
pub fn then_send(task: &mut Task, fd: BorrowedFd, to: Option<Vec<u8>>, payload: &Payload) -> Job {
    let r = Socket::of_own(fd)
        .map_err(Outcome::Fail)
        .and_then(|sock| send_job(task, &sock, to, payload));
    match r {
        Ok(job) => job,
        Err(o) => Box::new(move || o),
    }
}

/// `use_master_credentials` / `use_program_credentials` on a socket
/// request: performed with `who`'s authority.
pub(super) fn perform(p: &mut Pending, who: &Authority) -> Result<Outcome, Errno> {
    let Args::Socket { call, addr, .. } = &p.req.args else {
        return Err(Errno::EINVAL);
    };
    let (call, addr) = (call.clone(), addr.clone());
    let sock = p.sock.take().ok_or(Errno::EBADF)?;
    // A unix path is resolved in the program's view; an abstract name or an
    // inet address is used as copied.
    let target = if matches!(addr, NetAddr::Unix(_)) && !addr.is_abstract() {
        let r = p
            .take_resolved()?
            .into_iter()
            .next()
            .ok_or(Errno::EINVAL)??;
        Some(r)
    } else {
        None
    };
    let umask = match (&target, call.op) {
        (Some(_), SockOp::Bind) => p.task.status()?.umask,
        _ => 0,
    };
    p.task.settle()?;
    let raw = call.addr.clone().unwrap_or_default();
    let Some(r) = target else {
        return Ok(match call.op {
            SockOp::Connect => connect(who, sock, raw, None),
            SockOp::Bind => who.run(|| sys::bind_raw(sock.fd.as_fd(), &raw)).into(),
            SockOp::Send => match &call.payload {
                Some(pl) => send_as(who, &mut p.task, &sock, Some(raw), pl, None),
                None => Outcome::Fail(Errno::EINVAL),
            },
        });
    };
    let slash = r.trailing_slash;
    Ok(match (call.op, r.target, r.last) {
        // filename_create: "x/" of a missing name is ENOENT.
        (SockOp::Bind, Target::Entry { .. }, Last::Missing) if slash => {
            Outcome::Fail(Errno::ENOENT)
        }
        (SockOp::Bind, Target::Entry { parent, name }, Last::Missing) => {
            bind_unix(who, &sock, parent.as_fd(), &name, &raw, umask).into()
        }
        (SockOp::Bind, _, _) => Outcome::Fail(Errno::EADDRINUSE),
        (op, Target::Entry { parent, name }, Last::Exists { .. } | Last::Dot) => {
            let obj = sys::openat(
                parent.as_fd(),
                &name,
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
            )?;
            via_object(who, &mut p.task, sock, op, obj, &call)
        }
        (op, Target::Object(obj), _) => via_object(who, &mut p.task, sock, op, obj, &call),
        (_, Target::Entry { .. }, Last::Missing) => Outcome::Fail(Errno::ENOENT),
    })
}

/// Connects (or sends) to the unix socket `obj` resolved for the program.
fn via_object(
    who: &Authority,
    task: &mut Task,
    sock: Socket,
    op: SockOp,
    obj: OwnedFd,
    call: &SockCall,
) -> Outcome {
    match nix::sys::stat::fstat(obj.as_fd()) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFSOCK => {}
        // What connect(2) says for a path that is not a socket.
        Ok(_) => return Outcome::Fail(Errno::ECONNREFUSED),
        Err(e) => return Outcome::Fail(e),
    }
    let name = match unix_name(&format!("/proc/self/fd/{}", obj.as_raw_fd())) {
        Ok(n) => n,
        Err(e) => return Outcome::Fail(e),
    };
    match op {
        SockOp::Connect => connect(who, sock, name, Some(obj)),
        SockOp::Bind => Outcome::Fail(Errno::EADDRINUSE),
        // The object stays open until the send is done, deferred or not:
        // `name` reaches it through this descriptor.
        SockOp::Send => match &call.payload {
            Some(pl) => send_as(who, task, &sock, Some(name), pl, Some(obj)),
            None => Outcome::Fail(Errno::EINVAL),
        },
    }
}

/// A `sockaddr_un` for `path`.
fn unix_name(path: &str) -> Result<Vec<u8>, Errno> {
    let mut v = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    if path.len() >= 108 {
        return Err(Errno::ENAMETOOLONG);
    }
    v.extend_from_slice(path.as_bytes());
    v.push(0);
    Ok(v)
}

/// Binds `sock` to `name` in `parent`, with `who`'s authority and the
/// mode the program would have got (the socket's mode less its umask; the
/// supervisor's umask is 0).
///
/// The address the socket keeps (getsockname, a peer's getpeername) is the
/// one bound: the program's own string (`raw`), bound where every
/// directory it walks is the supervisor's and the last one is `parent`
/// (`act::bindname`), race-free.  Where that cannot be built (a walk
/// through entries of `parent`, no `CAP_SYS_ADMIN`, a mount of another
/// namespace) the socket is bound through `/proc/self/fd/N/name` (the
/// race-free alias), which getsockname shows.
fn bind_unix(
    who: &Authority,
    sock: &Socket,
    parent: BorrowedFd,
    name: &std::ffi::CStr,
    raw: &[u8],
    umask: u32,
) -> Result<(), Errno> {
    let n = name.to_str().map_err(|_| Errno::EINVAL)?;
    let mode = nix::sys::stat::fstat(sock.fd.as_fd())?.st_mode & 0o777;
    // The path as the kernel reads it: up to its first NUL.
    let path = raw.get(2..).unwrap_or_default();
    let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(path.len())];
    let bound = match bindname::plan(path, name.to_bytes()) {
        Some(plan) => bindname::bind(who, sock.fd.as_fd(), parent, raw, &plan),
        None => bindname::Bound::Fallback,
    };
    match bound {
        bindname::Bound::Done(r) => r?,
        bindname::Bound::Fallback => {
            let addr = unix_name(&format!("/proc/self/fd/{}/{n}", parent.as_raw_fd()))?;
            who.run(|| sys::bind_raw(sock.fd.as_fd(), &addr))?;
        }
    }
    let want = mode & !umask;
    if want != mode {
        who.run(|| sys::fchmodat_nofollow(parent, name, want))?;
    }
    Ok(())
}

/// connect(2) on the copy; off the loop when the socket blocks.  `keep`
/// stays open until the connect is done (the object `addr` names).
fn connect(who: &Authority, sock: Socket, addr: Vec<u8>, keep: Option<OwnedFd>) -> Outcome {
    if sock.nonblocking {
        return who.run(|| sys::connect_raw(sock.fd.as_fd(), &addr)).into();
    }
    // On the blocking thread itself, which a signal to the program's
    // thread interrupts.
    let who = who.here();
    Outcome::Blocking(Box::new(move || {
        let r = who.run(|| sys::connect_raw(sock.fd.as_fd(), &addr));
        drop(keep);
        r.into()
    }))
}

/// Sends `payload` on `sock`, to `name` if given.  The payload and the
/// descriptors of its control messages are copied now; the send happens
/// off the loop when it may block.
pub fn send(task: &mut Task, sock: &Socket, name: Option<Vec<u8>>, payload: &Payload) -> Outcome {
    send_as(&Authority::Supervisor, task, sock, name, payload, None)
}

/// [`send`] with `who`'s authority, holding `keep` until it is done.
fn send_as(
    who: &Authority,
    task: &mut Task,
    sock: &Socket,
    name: Option<Vec<u8>>,
    payload: &Payload,
    keep: Option<OwnedFd>,
) -> Outcome {
    match send_job_as(who, task, sock, name, payload, keep) {
        Ok(job) => job(),
        Err(o) => o,
    }
}

/// The send of `payload` on `sock` to `name`, read from the program now and
/// sent when the job runs (an `Outcome::Blocking` when it may block); or
/// the outcome of a failure to read it.
pub fn send_job(
    task: &mut Task,
    sock: &Socket,
    name: Option<Vec<u8>>,
    payload: &Payload,
) -> Result<Job, Outcome> {
    send_job_as(&Authority::Supervisor, task, sock, name, payload, None)
}

/// [`send_job`] with `who`'s authority; `keep` (the object `name`
/// reaches) is held until the send is done.
fn send_job_as(
    who: &Authority,
    task: &mut Task,
    sock: &Socket,
    name: Option<Vec<u8>>,
    payload: &Payload,
    keep: Option<OwnedFd>,
) -> Result<Job, Outcome> {
    let prepared = match prepare(task, sock, payload) {
        Ok(p) => p,
        Err(e) => return Err(Outcome::Fail(e).normalize()),
    };
    let fd = match sock.fd.try_clone() {
        Ok(fd) => fd,
        Err(e) => {
            return Err(Outcome::Fail(Errno::from_raw(
                e.raw_os_error().unwrap_or(libc::EMFILE),
            )))
        }
    };
    let writer = task.writer();
    let flags = payload.flags;
    let mmsg = payload.mmsg_len_at;
    let blocks = sock.blocks(flags);
    // A send that may block is done by the blocking thread itself, which a
    // signal to the program's thread interrupts.
    let who = if blocks { who.here() } else { who.clone() };
    let job = move || {
        let r = prepared.send(&who, fd.as_fd(), name.as_deref(), flags);
        drop(keep);
        finish_send(&writer, r, flags, mmsg)
    };
    Ok(if blocks {
        Box::new(move || Outcome::Blocking(Box::new(job)))
    } else {
        Box::new(job)
    })
}

/// The reply for a send the policy answered with `send(0)`: the data is
/// dropped and the call reports it all sent.
pub fn pretend_sent(task: &Task, call: &SockCall) -> Outcome {
    let Some(p) = &call.payload else {
        return Outcome::Value(0);
    };
    let n = p.total().min(PAYLOAD_MAX);
    finish_send(&task.writer(), Ok(n), libc::MSG_NOSIGNAL, p.mmsg_len_at)
}

fn finish_send(w: &Writer, r: Result<usize, Errno>, flags: i32, mmsg: Option<u64>) -> Outcome {
    match r {
        Ok(n) => match mmsg {
            // sendmmsg: message 0 was sent; its msg_len is set.
            Some(at) => match w.write(at, &(n as u32).to_ne_bytes()) {
                Ok(()) => Outcome::Value(1),
                Err(e) => Outcome::Fail(e).normalize(),
            },
            None => Outcome::Value(n as i64),
        },
        Err(Errno::EPIPE) if flags & libc::MSG_NOSIGNAL == 0 => {
            // As the kernel does for the program's own send.  The thread is
            // still blocked in this notification, so its tid is its own.
            let _ = sys::tkill(w.tid(), libc::SIGPIPE);
            Outcome::Fail(Errno::EPIPE)
        }
        Err(e) => Outcome::Fail(e),
    }
}

/// A send ready to go: the payload and control, descriptors held.
struct Prepared {
    data: Vec<u8>,
    control: Vec<u8>,
    /// Held until sent: the descriptors the control messages name.
    _fds: Vec<OwnedFd>,
    /// Credentials added for a unix socket (the program's, not ours).
    added_creds: Option<Vec<u8>>,
}

impl Prepared {
    fn send(
        &self,
        who: &Authority,
        fd: BorrowedFd,
        name: Option<&[u8]>,
        flags: i32,
    ) -> Result<usize, Errno> {
        if let Some(with) = &self.added_creds {
            // The credentials were checked against the program's; only the
            // pid (the program's, not the sender's) needs CAP_SYS_ADMIN, the
            // one capability added, for this one send.
            let vouch = who.with_capability(CAP_SYS_ADMIN);
            match vouch.run(|| sys::sendmsg_raw(fd, name, &self.data, with, flags)) {
                // Only a privileged supervisor may speak for another pid.
                Err(Errno::EPERM) => {}
                r => return r,
            }
        }
        who.run(|| sys::sendmsg_raw(fd, name, &self.data, &self.control, flags))
    }
}

fn prepare(task: &mut Task, sock: &Socket, payload: &Payload) -> Result<Prepared, Errno> {
    let mut data = Vec::with_capacity(payload.total().min(PAYLOAD_MAX));
    for &(base, len) in &payload.iov {
        let room = PAYLOAD_MAX - data.len();
        let take = len.min(room);
        if take == 0 {
            continue;
        }
        let start = data.len();
        data.resize(start + take, 0);
        memory::read_exact(task.tid, base, &mut data[start..])?;
    }
    let (control, fds, has_creds) = translate_control(task, &payload.control)?;
    let added_creds = if sock.domain == libc::AF_UNIX && !has_creds {
        let st = task.status()?;
        let mut c = control.clone();
        push_cmsg(
            &mut c,
            libc::SOL_SOCKET,
            libc::SCM_CREDENTIALS,
            &ucred(st.tgid, st.uids[0], st.gids[0]),
        );
        Some(c)
    } else {
        None
    };
    // What was copied belongs to this very notification.
    task.settle()?;
    Ok(Prepared {
        data,
        control,
        _fds: fds,
        added_creds,
    })
}

fn ucred(pid: u32, uid: u32, gid: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(12);
    v.extend(pid.to_ne_bytes());
    v.extend(uid.to_ne_bytes());
    v.extend(gid.to_ne_bytes());
    v
}

const CAP_SYS_ADMIN: u32 = 21;

const CMSG_HDR: usize = std::mem::size_of::<libc::cmsghdr>();

fn align(n: usize) -> usize {
    (n + 7) & !7
}

fn push_cmsg(out: &mut Vec<u8>, level: i32, ty: i32, data: &[u8]) {
    let start = out.len();
    out.extend(((CMSG_HDR + data.len()) as u64).to_ne_bytes());
    out.extend(level.to_ne_bytes());
    out.extend(ty.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(start + align(CMSG_HDR + data.len()), 0);
}

/// Rewrites the program's control messages for the supervisor's send:
/// SCM_RIGHTS names the program's descriptors (duplicated here), and
/// SCM_CREDENTIALS must be the program's own (checked as the kernel checks
/// an unprivileged sender, then given with the pid as the supervisor sees
/// it).  Other messages are passed as they are.
fn translate_control(task: &mut Task, ctl: &[u8]) -> Result<(Vec<u8>, Vec<OwnedFd>, bool), Errno> {
    let mut out = Vec::with_capacity(ctl.len());
    let mut fds = Vec::new();
    let mut creds = false;
    let mut off = 0;
    while off + CMSG_HDR <= ctl.len() {
        let len = u64::from_ne_bytes(ctl[off..off + 8].try_into().expect("8")) as usize;
        if len < CMSG_HDR || len > ctl.len() - off {
            return Err(Errno::EINVAL);
        }
        let level = i32::from_ne_bytes(ctl[off + 8..off + 12].try_into().expect("4"));
        let ty = i32::from_ne_bytes(ctl[off + 12..off + 16].try_into().expect("4"));
        let data = &ctl[off + CMSG_HDR..off + len];
        match (level, ty) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                if !data.len().is_multiple_of(4) {
                    return Err(Errno::EINVAL);
                }
                let mut ours = Vec::with_capacity(data.len());
                for c in data.chunks_exact(4) {
                    let theirs = i32::from_ne_bytes(c.try_into().expect("4"));
                    let fd = task.getfd(theirs).map_err(|e| match e {
                        Errno::ESRCH => Errno::ESRCH,
                        _ => Errno::EBADF,
                    })?;
                    ours.extend(fd.as_raw_fd().to_ne_bytes());
                    fds.push(fd);
                }
                push_cmsg(&mut out, level, ty, &ours);
            }
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) => {
                if data.len() != 12 {
                    return Err(Errno::EINVAL);
                }
                let word = |i: usize| u32::from_ne_bytes(data[i..i + 4].try_into().expect("4"));
                let (pid, uid, gid) = (word(0), word(4), word(8));
                let st = task.status()?;
                if pid != st.own_tgid || !st.uids.contains(&uid) || !st.gids.contains(&gid) {
                    return Err(Errno::EPERM);
                }
                push_cmsg(&mut out, level, ty, &ucred(st.tgid, uid, gid));
                creds = true;
            }
            _ => push_cmsg(&mut out, level, ty, data),
        }
        off += align(len);
    }
    Ok((out, fds, creds))
}
