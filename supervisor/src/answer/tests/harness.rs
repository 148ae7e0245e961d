//! A real seccomp user-notification filter around one syscall of a forked
//! child, for tests of the answer path (no mock of the kernel).
//!
//! The child is forked from the (multithreaded) test process, so between
//! `fork` and `_exit` it makes raw syscalls only: no allocation, no lock.
//! It closes every descriptor but its end of the report pipe, sets
//! `no_new_privs`, loads a filter that sends one syscall to a new listener,
//! reports the listener's number, makes the trapped call, and reports the
//! call's result (and, for an open, what it read from the descriptor).
//! The parent takes the listener with `pidfd_getfd`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use nix::errno::Errno;

use crate::answer::Answerer;
use crate::audit::Recorder;
use crate::pending::{Pending, Root};
use crate::request::{Args, Dir, PathArg, Request};
use kernel::notify::{Listener, Notif};
use kernel::task::Task;

/// The trapped call the child makes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `getppid()`: the kernel's own answer is the test process's pid.
    Getppid,
    /// `openat(AT_FDCWD, MARKER, O_RDONLY)`, then a read of up to 32 bytes
    /// from the descriptor it returns (and its `F_GETFD` flags).
    OpenRead,
}

/// A path that exists nowhere: the kernel's own open of it fails ENOENT.
const MARKER: &[u8] = b"/nonexistent/supervisor-answer-test\0";

/// What the child reports, one fixed-size message per write (atomic on a
/// pipe).
#[repr(C)]
#[derive(Clone, Copy)]
struct Msg {
    /// `TAG_*`.
    tag: i64,
    /// The listener's number, or the call's return value.
    ret: i64,
    /// The errno of a failed step (0 if none).
    errno: i64,
    /// For `OpenRead`: the bytes read, and the descriptor's flags.
    len: i64,
    fdflags: i64,
    data: [u8; 32],
}

const TAG_SETUP_FAILED: i64 = 0;
const TAG_LISTENER: i64 = 1;
const TAG_RESULT: i64 = 2;

/// The trapped call's result, as the child saw it.
#[derive(Debug)]
pub(crate) struct Report {
    pub ret: i64,
    pub errno: i32,
    /// What was read from the returned descriptor (`OpenRead`).
    pub data: Vec<u8>,
    /// `fcntl(F_GETFD)` of the returned descriptor (`OpenRead`).
    pub fdflags: i64,
}

/// A classic-BPF program: `nr` goes to the listener, everything else runs.
/// (No architecture check: the child only makes native calls.)
fn filter(nr: i64) -> bpf::Program {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    const RET_USER_NOTIF: u32 = 0x7fc0_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let insns: [(u16, u8, u8, u32); 4] = [
        (LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        (JEQ_K, 0, 1, nr as u32),
        (RET_K, 0, 0, RET_USER_NOTIF),
        (RET_K, 0, 0, RET_ALLOW),
    ];
    let mut bytes = Vec::new();
    for (code, jt, jf, k) in insns {
        bytes.extend_from_slice(&code.to_ne_bytes());
        bytes.push(jt);
        bytes.push(jf);
        bytes.extend_from_slice(&k.to_ne_bytes());
    }
    bpf::Program::from_bytes(&bytes).expect("a well-formed program")
}

/// Skips a test whose kernel feature is missing, printing why; on CI
/// (`CI=true`) fails it instead.
pub(crate) fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and a kernel feature is missing: {why}");
    }
    eprintln!("skipped: {why}");
}

/// One forked child blocked (soon) in its trapped call, and our listener.
pub(crate) struct Child {
    pub pid: libc::pid_t,
    reports: OwnedFd,
    pub listener: Arc<Listener>,
    pub proc: Arc<OwnedFd>,
    reaped: bool,
}

impl Child {
    /// Forks a child that makes `call` under a notify filter.  `None` (the
    /// reason printed) if the kernel cannot do it and `CI` is not `true`.
    pub(crate) fn start(call: Call) -> Option<Child> {
        match Child::try_start(call) {
            Ok(c) => Some(c),
            Err(why) => {
                skip(&why);
                None
            }
        }
    }

    fn try_start(call: Call) -> Result<Child, String> {
        let nr = match call {
            Call::Getppid => libc::SYS_getppid,
            Call::OpenRead => libc::SYS_openat,
        };
        let prog = filter(nr);
        let proc = kernel::sys::open_dir_path(c"/proc").map_err(|e| format!("/proc: {e}"))?;
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe2: {e}"))?;
        // SAFETY: the child runs `child_main`, which makes raw syscalls
        // only and ends in `_exit`: safe after fork in a multithreaded
        // process.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", Errno::last()));
        }
        if pid == 0 {
            child_main(&prog, call, w.as_raw_fd());
        }
        drop(w);
        // Kills and reaps the child on the way out of a failed start.
        let fail = |why: String| {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            why
        };
        let m = read_msg(r.as_fd());
        match m.tag {
            TAG_LISTENER => {}
            TAG_SETUP_FAILED => {
                return Err(fail(format!(
                    "cannot load a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER (step {}): {}",
                    m.ret,
                    Errno::from_raw(m.errno as i32)
                )))
            }
            t => panic!("{}", fail(format!("unexpected message {t} from the child"))),
        }
        let pidfd = kernel::sys::pidfd_open(pid).map_err(|e| fail(format!("pidfd_open: {e}")))?;
        let l = kernel::sys::pidfd_getfd(pidfd.as_fd(), m.ret as i32)
            .map_err(|e| fail(format!("pidfd_getfd: {e}")))?;
        Ok(Child {
            pid,
            reports: r,
            listener: Arc::new(Listener::new(l)),
            proc: Arc::new(proc),
            reaped: false,
        })
    }

    /// Receives the child's notification.
    pub(crate) fn recv(&self) -> Notif {
        let n = self
            .listener
            .recv()
            .expect("receive")
            .expect("a notification");
        assert_eq!(n.pid, self.pid as u32, "the notification is the child's");
        n
    }

    /// An answerer on our listener, recording to `audit`.
    pub(crate) fn answerer(&self, audit: Recorder) -> Answerer {
        Answerer::new(self.listener.clone(), self.proc.clone(), audit)
    }

    /// A task for notification `n`.
    pub(crate) fn task(&self, n: &Notif) -> Task {
        Task::new(self.listener.clone(), self.proc.clone(), n.pid, n.id).expect("task")
    }

    /// Notification `n` held as a request for the policy, as the session
    /// holds it (its audit record opened and described first).
    pub(crate) fn pending(&self, a: &Answerer, n: &Notif) -> Box<Pending> {
        let req = request();
        a.audit().received(&self.listener, n.id, n.pid, "mkdirat");
        a.audit().request(n.id, &req);
        Box::new(Pending::new(
            req,
            self.task(n),
            Arc::new(Root::new()),
            a.clone(),
        ))
    }

    /// Waits for the call's result, then reaps the child.
    pub(crate) fn report(mut self) -> Report {
        let m = read_msg(self.reports.as_fd());
        assert_eq!(m.tag, TAG_RESULT);
        let st = self.reap();
        assert_eq!(st, 0, "the child's exit status");
        Report {
            ret: m.ret,
            errno: m.errno as i32,
            data: m.data[..m.len.clamp(0, 32) as usize].to_vec(),
            fdflags: m.fdflags,
        }
    }

    /// Kills the child (blocked or not); [`Drop`] reaps it.
    pub(crate) fn kill(&mut self) {
        // SAFETY: signalling our own unreaped child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    fn reap(&mut self) -> i32 {
        let mut st = 0;
        // SAFETY: waiting for our own child; `st` is writable.
        let r = unsafe { libc::waitpid(self.pid, &mut st, 0) };
        assert_eq!(r, self.pid, "waitpid: {}", Errno::last());
        self.reaped = true;
        st
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let mut st = 0;
            // SAFETY: waiting for our own child; `st` is writable.
            unsafe { libc::waitpid(self.pid, &mut st, 0) };
        }
    }
}

/// A request to hold the notification under (its contents do not matter
/// to the answer path).
pub(crate) fn request() -> Request {
    Request {
        function: crate::request::Function::Mkdir,
        sys: bpf::Sys::Mkdirat,
        args: Args::Mkdir {
            at: PathArg {
                dir: Dir::Cwd,
                path: b"/nonexistent/supervisor-answer-test".to_vec(),
            },
            mode: 0o755,
        },
    }
}

/// A memfd holding `content`, its offset back at 0.
pub(crate) fn memfd(content: &[u8]) -> OwnedFd {
    // SAFETY: a NUL-terminated name; the result is a new descriptor.
    let fd = unsafe { libc::memfd_create(c"answer-test".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", Errno::last());
    // SAFETY: `fd` was just returned to us and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `content` is readable for its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), content.as_ptr().cast(), content.len()) };
    assert_eq!(n, content.len() as isize);
    // SAFETY: integer arguments only.
    unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET) };
    fd
}

/// Reads one message from the child (waiting at most 20 s).
fn read_msg(fd: BorrowedFd) -> Msg {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
    assert!(n > 0, "the child reported nothing within 20 s ({n})");
    let mut m = std::mem::MaybeUninit::<Msg>::zeroed();
    let size = std::mem::size_of::<Msg>();
    // SAFETY: `m` is a writable buffer of `size` bytes.
    let got = unsafe { libc::read(fd.as_raw_fd(), m.as_mut_ptr().cast(), size) };
    assert_eq!(got, size as isize, "a short report from the child");
    // SAFETY: zeroed, then written; every bit pattern is a valid Msg
    // (integers and bytes).
    unsafe { m.assume_init() }
}

/// The forked child: raw syscalls only (async-signal-safe), never returns.
fn child_main(prog: &bpf::Program, call: Call, w: RawFd) -> ! {
    let send = |m: &Msg| {
        // SAFETY: `m` is readable for its size; a write below PIPE_BUF is
        // atomic.
        unsafe { libc::write(w, (m as *const Msg).cast(), std::mem::size_of::<Msg>()) };
    };
    let errno = || {
        // SAFETY: the calling thread's errno slot.
        i64::from(unsafe { *libc::__errno_location() })
    };
    let mut m = Msg {
        tag: TAG_SETUP_FAILED,
        ret: 0,
        errno: 0,
        len: 0,
        fdflags: -1,
        data: [0; 32],
    };
    // SAFETY: raw syscalls with integer arguments; closing descriptors we
    // inherited (the parent's copies stay open).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // Only our end of the pipe stays open: other tests' listeners and
        // pipes must not be held by this child.
        if w > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (w - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (w + 1) as u32, u32::MAX, 0u32);
    }
    if let Err(e) = bpf::sys::set_no_new_privs() {
        m.ret = 1;
        m.errno = i64::from(e);
        send(&m);
        // SAFETY: ends the child without running anything of the parent's.
        unsafe { libc::_exit(1) };
    }
    match bpf::sys::load(prog, bpf::sys::FLAG_NEW_LISTENER) {
        Ok(l) => {
            m.tag = TAG_LISTENER;
            m.ret = i64::from(l);
            send(&m);
        }
        Err(e) => {
            m.ret = 2;
            m.errno = i64::from(e);
            send(&m);
            // SAFETY: as above.
            unsafe { libc::_exit(1) };
        }
    }
    m.tag = TAG_RESULT;
    m.ret = match call {
        // SAFETY: no arguments.
        Call::Getppid => unsafe { libc::syscall(libc::SYS_getppid) },
        // SAFETY: MARKER is NUL-terminated and static.
        Call::OpenRead => unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                MARKER.as_ptr(),
                libc::O_RDONLY,
            )
        },
    };
    m.errno = if m.ret < 0 { errno() } else { 0 };
    if call == Call::OpenRead && m.ret >= 0 {
        let fd = m.ret as i32;
        // SAFETY: `m.data` is writable for its length; integer arguments.
        unsafe {
            m.fdflags = i64::from(libc::fcntl(fd, libc::F_GETFD));
            let n = libc::read(fd, m.data.as_mut_ptr().cast(), m.data.len());
            m.len = n as i64;
        }
    }
    send(&m);
    // SAFETY: as above.
    unsafe { libc::_exit(0) }
}

/// An audit trail writing JSON lines to a file in a fresh directory.
pub(crate) struct Log {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    pub recorder: Recorder,
}

impl Log {
    pub(crate) fn start() -> Log {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("audit.jsonl");
        let recorder = Recorder::start(&crate::audit::Config {
            log: Some(path.clone()),
            summary: false,
            denials_only: false,
            verbose: false,
        })
        .expect("audit log");
        Log {
            _dir: dir,
            path,
            recorder,
        }
    }

    /// Every record written so far, parsed.
    pub(crate) fn records(&self) -> Vec<serde_json::Value> {
        self.recorder.flush();
        std::fs::read_to_string(&self.path)
            .expect("read the log")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// The records of thread `tid`.
    pub(crate) fn of(&self, tid: libc::pid_t) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r["tid"] == serde_json::json!(tid))
            .collect()
    }

    /// The one record of thread `tid` (fails unless there is exactly one).
    pub(crate) fn one(&self, tid: libc::pid_t) -> serde_json::Value {
        let mut v = self.of(tid);
        assert_eq!(v.len(), 1, "records of {tid}: {v:?}");
        v.pop().expect("one")
    }
}

impl Log {
    /// The one record of thread `tid`, waiting up to 10 s for it.
    pub(crate) fn wait_one(&self, tid: libc::pid_t) -> serde_json::Value {
        let t = std::time::Instant::now();
        while self.of(tid).is_empty() && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.one(tid)
    }
}

/// Waits (up to 10 s) until notification `id` is no longer pending.
pub(crate) fn wait_gone(l: &Listener, id: u64) {
    let t = std::time::Instant::now();
    while l.id_valid(id) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "notification {id} still pending"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
