//! Decoding notifications into requests, one syscall kind at a time.
//!
//! Each notification is crafted here, as `fuzzing::request` does, and
//! decoded with this very thread as "the program": its pointers lead into
//! local buffers, to NULL, or to a page that is not mapped, and every copy
//! is a real `process_vm_readv` of the current thread (no mocked memory).
//! The socket calls are in [`net`].
//!
//! The assertions state what `decode` does today; where that differs from
//! the kernel, the test says so.

use std::ffi::CStr;

use bpf::syscalls::TABLE;
use bpf::{Sys, SyscallMap};
use nix::errno::Errno;

use super::{decode, Args, Decoded, Dir, Function, PathArg, Request, StatOut};
use kernel::memory::PATH_MAX;
use kernel::notify::sys::SeccompData;

mod attr;
mod net;

/// Garbage in the upper half of a register: ignored for every `int`
/// argument (descriptors, flags, modes, lengths), as by the kernel.
const JUNK: u64 = 0xdead_beef_0000_0000;

/// `AT_FDCWD` as a caller passes it: sign-extended to the register.
const CWD: u64 = libc::AT_FDCWD as i64 as u64;

/// `__O_TMPFILE`: `O_TMPFILE` is this bit with `O_DIRECTORY`.
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// This thread: the "program" whose memory `decode` copies.
fn tid() -> u32 {
    nix::unistd::gettid().as_raw() as u32
}

/// The notification of `sys` with these argument registers.
fn notif(sys: Sys, args: [u64; 6]) -> SeccompData {
    let nr = SyscallMap::native()
        .present()
        .iter()
        .find(|(s, _)| *s == sys)
        .map_or(-1, |&(_, nr)| nr);
    SeccompData {
        nr,
        args,
        ..SeccompData::default()
    }
}

fn run(sys: Sys, args: [u64; 6]) -> Decoded {
    decode(sys, &notif(sys, args), tid())
}

#[track_caller]
fn request(sys: Sys, args: [u64; 6]) -> Request {
    match run(sys, args) {
        Decoded::Policy(r) => {
            assert_eq!(r.sys, sys);
            r
        }
        other => panic!("{}: expected a request, got {other:?}", sys.name()),
    }
}

/// Decodes into a request of `function` with exactly `args`.
#[track_caller]
fn expect(sys: Sys, regs: [u64; 6], function: Function, args: Args) {
    let r = request(sys, regs);
    assert_eq!(r.function, function, "{}", sys.name());
    assert_eq!(r.args, args, "{}", sys.name());
}

/// Decodes into an immediate failure; returns its errno.
#[track_caller]
fn errno(sys: Sys, args: [u64; 6]) -> Errno {
    match run(sys, args) {
        Decoded::Fail(e) => e,
        other => panic!("{}: expected a failure, got {other:?}", sys.name()),
    }
}

#[track_caller]
fn fd_stat(sys: Sys, args: [u64; 6]) -> (i32, StatOut) {
    match run(sys, args) {
        Decoded::FdStat { fd, out } => (fd, out),
        other => panic!("{}: expected an fd stat, got {other:?}", sys.name()),
    }
}

fn ptr(s: &CStr) -> u64 {
    s.as_ptr() as u64
}

fn cwd(path: &[u8]) -> PathArg {
    PathArg {
        dir: Dir::Cwd,
        path: path.to_vec(),
    }
}

fn at(fd: i32, path: &[u8]) -> PathArg {
    PathArg {
        dir: Dir::Fd(fd),
        path: path.to_vec(),
    }
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}

/// A readable page followed by an unmapped one: a pointer `k` bytes before
/// the hole reads `k` bytes, then faults.
struct Edge {
    base: *mut u8,
    page: usize,
}

impl Edge {
    /// The readable page holds `fill` repeated.
    fn new(fill: u8) -> Edge {
        let page = page_size();
        // SAFETY: a fresh private anonymous mapping of two pages; it aliases
        // nothing of this program.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        let base = p.cast::<u8>();
        // SAFETY: `base` is the start of the fresh writable mapping, at
        // least `page` bytes long, referenced by nothing else yet.
        unsafe { std::ptr::write_bytes(base, fill, page) };
        let hole = (base as usize + page) as *mut libc::c_void;
        // SAFETY: unmaps the second page of the mapping made above; no
        // reference into it exists.
        let r = unsafe { libc::munmap(hole, page) };
        assert_eq!(r, 0, "munmap");
        Edge { base, page }
    }

    /// The address `back` bytes before the hole.
    fn before_hole(&self, back: usize) -> u64 {
        (self.base as usize + self.page - back) as u64
    }

    /// Writes `bytes` so that they end `end_back` bytes before the hole.
    fn put(&mut self, bytes: &[u8], end_back: usize) -> u64 {
        assert!(end_back + bytes.len() <= self.page, "does not fit");
        let start = self.page - end_back - bytes.len();
        // SAFETY: the first page (`page` bytes from `base`) is mapped
        // readable and writable for the life of this Edge, which owns it;
        // `&mut self` excludes any other access while the slice lives.
        let page = unsafe { std::slice::from_raw_parts_mut(self.base, self.page) };
        page[start..start + bytes.len()].copy_from_slice(bytes);
        self.base as u64 + start as u64
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        // SAFETY: unmaps the first page, owned by this Edge; no reference
        // into it outlives `&mut self`.
        unsafe { libc::munmap(self.base.cast(), self.page) };
    }
}

/// Addresses no program can read: the first page (below `mmap_min_addr`)
/// and the last address of the 64-bit space.
const WILD: [u64; 2] = [8, u64::MAX];

// ---------------------------------------------------------------------
// Every syscall of the table.

/// Every syscall of bpf's table decodes from a well-formed notification
/// into its kind of outcome.  The match is exhaustive: a syscall added to
/// the table does not compile until it has a case here.
#[test]
fn every_table_syscall_decodes() {
    let path = ptr(c"/tmp/x");
    let h = how(0, 0, 0, 24);
    let sa = net::sin([127, 0, 0, 1], 80);
    let iov = [0u8; 16];
    let msg = net::msghdr(sa.as_ptr() as u64, 16, iov.as_ptr() as u64, 1, 0, 0);
    let stat = 0x1000u64;
    for &(sys, name, _) in TABLE {
        let (args, want): ([u64; 6], &str) = match sys {
            Sys::Open => ([path, 0, 0, 0, 0, 0], "policy"),
            Sys::Creat => ([path, 0o644, 0, 0, 0, 0], "policy"),
            Sys::Openat => ([CWD, path, 0, 0, 0, 0], "policy"),
            Sys::Openat2 => ([CWD, path, h.as_ptr() as u64, 24, 0, 0], "policy"),
            Sys::Unlink | Sys::Rmdir => ([path, 0, 0, 0, 0, 0], "policy"),
            Sys::Unlinkat => ([CWD, path, 0, 0, 0, 0], "policy"),
            Sys::Rename => ([path, path, 0, 0, 0, 0], "policy"),
            Sys::Renameat | Sys::Renameat2 => ([CWD, path, CWD, path, 0, 0], "policy"),
            Sys::Stat | Sys::Lstat => ([path, stat, 0, 0, 0, 0], "policy"),
            Sys::Newfstatat => ([CWD, path, stat, 0, 0, 0], "policy"),
            Sys::Statx => ([CWD, path, 0, 0x7ff, stat, 0], "policy"),
            Sys::Access => ([path, 0, 0, 0, 0, 0], "policy"),
            Sys::Faccessat | Sys::Faccessat2 => ([CWD, path, 0, 0, 0, 0], "policy"),
            Sys::Mkdir => ([path, 0o755, 0, 0, 0, 0], "policy"),
            Sys::Mkdirat => ([CWD, path, 0o755, 0, 0, 0], "policy"),
            Sys::Chmod => ([path, 0o644, 0, 0, 0, 0], "policy"),
            Sys::Fchmodat | Sys::Fchmodat2 => ([CWD, path, 0o644, 0, 0, 0], "policy"),
            Sys::Chown
            | Sys::Lchown
            | Sys::Utime
            | Sys::Utimes
            | Sys::Truncate
            | Sys::Setxattr
            | Sys::Lsetxattr
            | Sys::Removexattr
            | Sys::Lremovexattr
            | Sys::Symlink
            | Sys::Link
            | Sys::Mknod
            | Sys::Fchownat
            | Sys::Futimesat
            | Sys::Utimensat
            | Sys::Symlinkat
            | Sys::Linkat
            | Sys::Mknodat
            | Sys::Setxattrat
            | Sys::Removexattrat
            | Sys::Execve
            | Sys::Execveat => (with_path(sys, path), "policy"),
            Sys::Fchmod | Sys::Fchown | Sys::Fremovexattr => {
                ([3, ptr(c"user.a"), 0, 0, 0, 0], "policy")
            }
            Sys::Fsetxattr => ([3, ptr(c"user.a"), 0, 0, 0, 0], "policy"),
            Sys::Connect | Sys::Bind => ([3, sa.as_ptr() as u64, 16, 0, 0, 0], "socket"),
            Sys::Sendto => (
                [3, iov.as_ptr() as u64, 16, 0, sa.as_ptr() as u64, 16],
                "socket",
            ),
            Sys::Sendmsg => ([3, msg.as_ptr() as u64, 0, 0, 0, 0], "socket"),
            Sys::Sendmmsg => ([3, msg.as_ptr() as u64, 1, 0, 0, 0], "socket"),
            Sys::Listen => ([3, 16, 0, 0, 0, 0], "listen"),
            Sys::Readlinkat => ([3, path, stat, 64, 0, 0], "unmediated"),
        };
        let got = match run(sys, args) {
            Decoded::Policy(r) => {
                assert_eq!(r.sys, sys, "{name}");
                "policy"
            }
            Decoded::Socket(_) => "socket",
            Decoded::Listen { .. } => "listen",
            Decoded::FdStat { .. } => "fd stat",
            Decoded::FdReadlink { .. } => "fd readlink",
            Decoded::Unmediated => "unmediated",
            Decoded::Value(_) => "value",
            Decoded::Fail(e) => panic!("{name}: {e}"),
        };
        assert_eq!(got, want, "{name}");
    }
}

// ---------------------------------------------------------------------
// open, creat, openat, openat2.

#[test]
fn open_copies_path_flags_and_mode() {
    let p = ptr(c"/etc/passwd");
    let open = |flags: i32, path: &[u8], mode: u32| Args::Open {
        at: cwd(path),
        flags,
        mode,
        resolve: 0,
    };
    // No creation: the mode register is not part of the request.
    expect(
        Sys::Open,
        [p, libc::O_RDONLY as u64, 0o644, 0, 0, 0],
        Function::Open,
        open(libc::O_RDONLY, b"/etc/passwd", 0),
    );
    // O_CREAT: the mode, masked to S_IALLUGO (0o7777) as the kernel does.
    let f = libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC;
    expect(
        Sys::Open,
        [p, f as u64, 0o10_4644, 0, 0, 0],
        Function::Open,
        open(f, b"/etc/passwd", 0o4644),
    );
    // O_TMPFILE creates too.
    let f = libc::O_TMPFILE | libc::O_RDWR;
    expect(
        Sys::Open,
        [ptr(c"/tmp"), f as u64, 0o600, 0, 0, 0],
        Function::Open,
        open(f, b"/tmp", 0o600),
    );
    // __O_TMPFILE without O_DIRECTORY is not O_TMPFILE: no mode.
    expect(
        Sys::Open,
        [ptr(c"/tmp"), O_TMPFILE_BIT as u64, 0o600, 0, 0, 0],
        Function::Open,
        open(O_TMPFILE_BIT, b"/tmp", 0),
    );
    // Flags and mode are `int`/`umode_t`: junk above is dropped; bits open
    // does not know are kept as given (the kernel ignores them).
    expect(
        Sys::Open,
        [p, JUNK | 0x4 | libc::O_CREAT as u64, JUNK | 0o640, 0, 0, 0],
        Function::Open,
        open(0x4 | libc::O_CREAT, b"/etc/passwd", 0o640),
    );
}

#[test]
fn creat_is_open_for_writing_with_create_and_truncate() {
    expect(
        Sys::Creat,
        [ptr(c"out.txt"), 0o10_0755, 0xffff, 0, 0, 0],
        Function::Open,
        Args::Open {
            at: cwd(b"out.txt"),
            flags: libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            mode: 0o755,
            resolve: 0,
        },
    );
}

#[test]
fn openat_from_the_cwd_is_open_and_from_a_descriptor_openat() {
    let p = ptr(c"a/b");
    let args = |dir: Dir| Args::Open {
        at: PathArg {
            dir,
            path: b"a/b".to_vec(),
        },
        flags: libc::O_RDONLY | libc::O_DIRECTORY,
        mode: 0,
        resolve: 0,
    };
    let flags = (libc::O_RDONLY | libc::O_DIRECTORY) as u64;
    expect(
        Sys::Openat,
        [CWD, p, flags, 0o777, 0, 0],
        Function::Open,
        args(Dir::Cwd),
    );
    // AT_FDCWD zero-extended is AT_FDCWD too.
    expect(
        Sys::Openat,
        [libc::AT_FDCWD as u32 as u64, p, flags, 0, 0, 0],
        Function::Open,
        args(Dir::Cwd),
    );
    expect(
        Sys::Openat,
        [5, p, flags, 0, 0, 0],
        Function::Openat,
        args(Dir::Fd(5)),
    );
    // The fd register's upper half is ignored (the kernel's `int dfd`).
    expect(
        Sys::Openat,
        [JUNK | 5, p, flags, 0, 0, 0],
        Function::Openat,
        args(Dir::Fd(5)),
    );
    expect(
        Sys::Openat,
        [JUNK | (libc::AT_FDCWD as u32 as u64), p, flags, 0, 0, 0],
        Function::Open,
        args(Dir::Cwd),
    );
    // A negative descriptor other than AT_FDCWD is kept, for the kernel's
    // EBADF later.
    expect(
        Sys::Openat,
        [u64::MAX, p, flags, 0, 0, 0],
        Function::Openat,
        args(Dir::Fd(-1)),
    );
    // An absolute path with a descriptor is still Openat (today's choice:
    // the function follows the descriptor register, not the path).
    expect(
        Sys::Openat,
        [5, ptr(c"/etc"), 0, 0, 0, 0],
        Function::Openat,
        Args::Open {
            at: at(5, b"/etc"),
            flags: 0,
            mode: 0,
            resolve: 0,
        },
    );
    // Creating: mode from the fourth register, masked.
    expect(
        Sys::Openat,
        [7, p, (libc::O_CREAT | libc::O_EXCL) as u64, 0o17_7777, 0, 0],
        Function::Openat,
        Args::Open {
            at: at(7, b"a/b"),
            flags: libc::O_CREAT | libc::O_EXCL,
            mode: 0o7777,
            resolve: 0,
        },
    );
}

/// A `struct open_how` of `size` bytes (zero beyond the 24 of version 0).
fn how(flags: u64, mode: u64, resolve: u64, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size.max(24)];
    v[0..8].copy_from_slice(&flags.to_ne_bytes());
    v[8..16].copy_from_slice(&mode.to_ne_bytes());
    v[16..24].copy_from_slice(&resolve.to_ne_bytes());
    v
}

#[test]
fn openat2_copies_open_how() {
    let p = ptr(c"dir/file");
    let flags = (libc::O_CREAT | libc::O_WRONLY) as u64;
    let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    let h = how(flags, 0o600, resolve, 24);
    let want = |dir: Dir| Args::Open {
        at: PathArg {
            dir,
            path: b"dir/file".to_vec(),
        },
        flags: libc::O_CREAT | libc::O_WRONLY,
        mode: 0o600,
        resolve,
    };
    expect(
        Sys::Openat2,
        [CWD, p, h.as_ptr() as u64, 24, 0, 0],
        Function::Open,
        want(Dir::Cwd),
    );
    expect(
        Sys::Openat2,
        [JUNK | 9, p, h.as_ptr() as u64, 24, 0, 0],
        Function::Openat,
        want(Dir::Fd(9)),
    );
    // A larger struct whose tail is zero is the same (size up to a page).
    for size in [32, 4096] {
        let h = how(flags, 0o600, resolve, size);
        expect(
            Sys::Openat2,
            [CWD, p, h.as_ptr() as u64, size as u64, 0, 0],
            Function::Open,
            want(Dir::Cwd),
        );
    }
    // O_TMPFILE takes a mode; every RESOLVE_* bit is known (but
    // RESOLVE_BENEATH excludes RESOLVE_IN_ROOT, and RESOLVE_CACHED
    // O_TMPFILE: see openat2_flags_resolve_and_mode).
    let f = libc::O_TMPFILE | libc::O_RDWR;
    let all = super::flags::RESOLVE_ALL & !(libc::RESOLVE_IN_ROOT | libc::RESOLVE_CACHED);
    let h = how(f as u64, 0o7777, all, 24);
    expect(
        Sys::Openat2,
        [CWD, ptr(c"/tmp"), h.as_ptr() as u64, 24, 0, 0],
        Function::Open,
        Args::Open {
            at: cwd(b"/tmp"),
            flags: f,
            mode: 0o7777,
            resolve: all,
        },
    );
}

#[test]
fn openat2_size_and_tail() {
    let p = ptr(c"f");
    let h = how(0, 0, 0, 8192);
    let call = |size: u64| errno(Sys::Openat2, [CWD, p, h.as_ptr() as u64, size, 0, 0]);
    // Below OPEN_HOW_SIZE_VER0: EINVAL; above a page: E2BIG (copy_struct_from_user).
    assert_eq!(call(0), Errno::EINVAL);
    assert_eq!(call(23), Errno::EINVAL);
    assert_eq!(call(4097), Errno::E2BIG);
    assert_eq!(call(u64::MAX), Errno::E2BIG);
    // The size is checked before the pointer.
    assert_eq!(
        errno(Sys::Openat2, [CWD, p, 0, 23, 0, 0]),
        Errno::EINVAL,
        "size before pointer"
    );
    assert_eq!(errno(Sys::Openat2, [CWD, p, 0, 5000, 0, 0]), Errno::E2BIG);
    // A non-zero byte past the 24 known ones: E2BIG, wherever it is.
    for (size, at) in [(25, 24), (32, 31), (4096, 4095)] {
        let mut h = how(0, 0, 0, size);
        h[at] = 1;
        assert_eq!(
            errno(Sys::Openat2, [CWD, p, h.as_ptr() as u64, size as u64, 0, 0]),
            Errno::E2BIG,
            "size {size}, byte {at}"
        );
    }
}

#[test]
fn openat2_flags_resolve_and_mode() {
    let p = ptr(c"f");
    let call = |flags: u64, mode: u64, resolve: u64| {
        let h = how(flags, mode, resolve, 24);
        errno(Sys::Openat2, [CWD, p, h.as_ptr() as u64, 24, 0, 0])
    };
    // Unknown open flags, in the low word or above it: EINVAL.
    assert_eq!(call(0o1_0000_0000, 0, 0), Errno::EINVAL);
    assert_eq!(call(1 << 32, 0, 0), Errno::EINVAL);
    assert_eq!(call(1 << 63, 0, 0), Errno::EINVAL);
    // Unknown RESOLVE_* bits: EINVAL.
    assert_eq!(call(0, 0, 0x40), Errno::EINVAL);
    assert_eq!(call(0, 0, 1 << 40), Errno::EINVAL);
    // A mode without O_CREAT/O_TMPFILE, or beyond S_IALLUGO: EINVAL.
    assert_eq!(call(libc::O_RDONLY as u64, 0o600, 0), Errno::EINVAL);
    assert_eq!(call(libc::O_CREAT as u64, 0o10000, 0), Errno::EINVAL);
    assert_eq!(call(libc::O_CREAT as u64, 1 << 40, 0), Errno::EINVAL);
    // __O_TMPFILE alone is not O_TMPFILE: a mode is EINVAL (the kernel
    // answers EINVAL too, for the incomplete O_TMPFILE).
    assert_eq!(call(O_TMPFILE_BIT as u64, 0o600, 0), Errno::EINVAL);
    // Flags are checked before the path is copied.
    let h = how(1 << 32, 0, 0, 24);
    assert_eq!(
        errno(Sys::Openat2, [CWD, 0, h.as_ptr() as u64, 24, 0, 0]),
        Errno::EINVAL
    );

    // What the kernel's build_open_flags rejects: bits that are no O_*
    // flag (VALID_OPEN_FLAGS is 0o37777703 on x86_64), RESOLVE_BENEATH with
    // RESOLVE_IN_ROOT, O_PATH with other flags than O_DIRECTORY,
    // O_NOFOLLOW, O_CLOEXEC (EINVAL); RESOLVE_CACHED with O_CREAT, O_TRUNC or
    // O_TMPFILE (EAGAIN).
    for (flags, resolve, e) in [
        (0x4, 0, Errno::EINVAL),
        (0x20, 0, Errno::EINVAL),
        (0o4000_0000, 0, Errno::EINVAL),
        (
            0,
            libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT,
            Errno::EINVAL,
        ),
        ((libc::O_PATH | libc::O_RDWR) as u64, 0, Errno::EINVAL),
        ((libc::O_PATH | libc::O_NOATIME) as u64, 0, Errno::EINVAL),
        (libc::O_CREAT as u64, libc::RESOLVE_CACHED, Errno::EAGAIN),
        (libc::O_TRUNC as u64, libc::RESOLVE_CACHED, Errno::EAGAIN),
    ] {
        let h = how(flags, 0, resolve, 24);
        assert_eq!(
            errno(Sys::Openat2, [CWD, p, h.as_ptr() as u64, 24, 0, 0]),
            e,
            "flags {flags:#o} resolve {resolve:#x}"
        );
    }
    // O_PATH with what it may come with is a request.
    let f = (libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) as u64;
    let h = how(f, 0, 0, 24);
    let r = request(Sys::Openat2, [CWD, p, h.as_ptr() as u64, 24, 0, 0]);
    assert_eq!(r.function, Function::Open);
}

#[test]
fn openat2_bad_pointers() {
    let h = how(0, 0, 0, 24);
    // NULL or unreadable open_how: EFAULT.
    assert_eq!(
        errno(Sys::Openat2, [CWD, ptr(c"f"), 0, 24, 0, 0]),
        Errno::EFAULT
    );
    for w in WILD {
        assert_eq!(
            errno(Sys::Openat2, [CWD, ptr(c"f"), w, 24, 0, 0]),
            Errno::EFAULT
        );
    }
    // An open_how whose tail runs into the hole: EFAULT (the kernel's
    // check_zeroed_user faults too).
    let mut e = Edge::new(0);
    let at = e.put(&h, 0);
    assert!(matches!(
        run(Sys::Openat2, [CWD, ptr(c"f"), at, 24, 0, 0]),
        Decoded::Policy(_)
    ));
    assert_eq!(
        errno(Sys::Openat2, [CWD, ptr(c"f"), at, 32, 0, 0]),
        Errno::EFAULT
    );
    // The path: NULL is EFAULT, empty is ENOENT.
    assert_eq!(
        errno(Sys::Openat2, [CWD, 0, h.as_ptr() as u64, 24, 0, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        errno(Sys::Openat2, [CWD, ptr(c""), h.as_ptr() as u64, 24, 0, 0]),
        Errno::ENOENT
    );
}

// ---------------------------------------------------------------------
// unlink, unlinkat, rmdir.

#[test]
fn unlink_and_rmdir() {
    expect(
        Sys::Unlink,
        [ptr(c"old"), JUNK, 0, 0, 0, 0],
        Function::Unlink,
        Args::Unlink { at: cwd(b"old") },
    );
    expect(
        Sys::Rmdir,
        [ptr(c"/tmp/d/"), 0, 0, 0, 0, 0],
        Function::Rmdir,
        Args::Unlink {
            at: cwd(b"/tmp/d/"),
        },
    );
}

#[test]
fn unlinkat_removedir_is_rmdir() {
    let p = ptr(c"x");
    expect(
        Sys::Unlinkat,
        [CWD, p, 0, 0, 0, 0],
        Function::Unlink,
        Args::Unlink { at: cwd(b"x") },
    );
    expect(
        Sys::Unlinkat,
        [JUNK | 4, p, 0, 0, 0, 0],
        Function::Unlink,
        Args::Unlink { at: at(4, b"x") },
    );
    expect(
        Sys::Unlinkat,
        [4, p, libc::AT_REMOVEDIR as u64, 0, 0, 0],
        Function::Rmdir,
        Args::Unlink { at: at(4, b"x") },
    );
    // The flags are an `int`: junk above is ignored.
    expect(
        Sys::Unlinkat,
        [CWD, p, JUNK | libc::AT_REMOVEDIR as u64, 0, 0, 0],
        Function::Rmdir,
        Args::Unlink { at: cwd(b"x") },
    );
    // Any other flag: EINVAL, before the path is looked at (as the kernel).
    for bad in [libc::AT_SYMLINK_NOFOLLOW, libc::AT_EMPTY_PATH, 1, i32::MIN] {
        assert_eq!(
            errno(Sys::Unlinkat, [CWD, p, bad as u32 as u64, 0, 0, 0]),
            Errno::EINVAL
        );
        assert_eq!(
            errno(Sys::Unlinkat, [CWD, 0, bad as u32 as u64, 0, 0, 0]),
            Errno::EINVAL
        );
    }
}

// ---------------------------------------------------------------------
// rename, renameat, renameat2.

#[test]
fn rename_calls() {
    let (a, b) = (ptr(c"a"), ptr(c"dir/b"));
    expect(
        Sys::Rename,
        [a, b, 0xffff, 0, 0, 0],
        Function::Rename,
        Args::Rename {
            from: cwd(b"a"),
            to: cwd(b"dir/b"),
            flags: 0,
        },
    );
    // renameat has no flags register: the fifth is not read.
    expect(
        Sys::Renameat,
        [JUNK | 3, a, CWD, b, libc::RENAME_EXCHANGE as u64, 0],
        Function::Rename,
        Args::Rename {
            from: at(3, b"a"),
            to: cwd(b"dir/b"),
            flags: 0,
        },
    );
    for f in [
        0,
        libc::RENAME_NOREPLACE,
        libc::RENAME_EXCHANGE,
        libc::RENAME_WHITEOUT,
        libc::RENAME_NOREPLACE | libc::RENAME_WHITEOUT,
    ] {
        expect(
            Sys::Renameat2,
            [CWD, a, 6, b, JUNK | f as u64, 0],
            Function::Rename,
            Args::Rename {
                from: cwd(b"a"),
                to: at(6, b"dir/b"),
                flags: f,
            },
        );
    }
}

#[test]
fn rename_errors() {
    let (a, b) = (ptr(c"a"), ptr(c"b"));
    // Unknown renameat2 flag: EINVAL.
    for bad in [8u64, 1 << 31] {
        assert_eq!(
            errno(Sys::Renameat2, [CWD, a, CWD, b, bad, 0]),
            Errno::EINVAL
        );
    }
    // Bad or empty paths, either side.
    assert_eq!(errno(Sys::Rename, [0, b, 0, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(errno(Sys::Rename, [a, 0, 0, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(errno(Sys::Rename, [ptr(c""), b, 0, 0, 0, 0]), Errno::ENOENT);
    assert_eq!(
        errno(Sys::Renameat, [CWD, a, CWD, ptr(c""), 0, 0]),
        Errno::ENOENT
    );
    assert_eq!(errno(Sys::Renameat2, [CWD, a, CWD, 0, 0, 0]), Errno::EFAULT);
    // The first path's error comes first.
    assert_eq!(errno(Sys::Rename, [ptr(c""), 0, 0, 0, 0, 0]), Errno::ENOENT);

    // The flags are checked before the paths are copied (do_renameat2
    // checks them first): a bad path with an unknown flag is EINVAL; so is
    // RENAME_EXCHANGE with RENAME_NOREPLACE or RENAME_WHITEOUT.
    assert_eq!(
        errno(Sys::Renameat2, [CWD, 0, CWD, b, 0x80, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        errno(Sys::Renameat2, [CWD, ptr(c""), CWD, b, 0x80, 0]),
        Errno::EINVAL
    );
    for f in [
        libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE,
        libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT,
    ] {
        assert_eq!(
            errno(Sys::Renameat2, [CWD, a, CWD, b, f as u64, 0]),
            Errno::EINVAL
        );
    }
}

// ---------------------------------------------------------------------
// stat, lstat, newfstatat, statx.

#[test]
fn stat_and_lstat() {
    let p = ptr(c"/etc");
    // A stat of /etc into the buffer at `addr`.
    let etc = |addr| Args::Stat {
        at: cwd(b"/etc"),
        out: StatOut::Stat { addr },
    };
    expect(
        Sys::Stat,
        [p, 0x7000, 0, 0, 0, 0],
        Function::Stat,
        etc(0x7000),
    );
    expect(
        Sys::Lstat,
        [p, 0x7008, 0, 0, 0, 0],
        Function::Lstat,
        etc(0x7008),
    );
    // The buffer is not looked at here (written after the decision).
    expect(Sys::Stat, [p, 0, 0, 0, 0, 0], Function::Stat, etc(0));
    assert_eq!(errno(Sys::Stat, [0, 0x7000, 0, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(
        errno(Sys::Lstat, [ptr(c""), 0x7000, 0, 0, 0, 0]),
        Errno::ENOENT
    );
}

#[test]
fn newfstatat_flags() {
    let p = ptr(c"f");
    let out = StatOut::Stat { addr: 0x5000 };
    let call = |fd: u64, flags: i32| [fd, p, 0x5000, flags as u32 as u64, 0, 0];
    expect(
        Sys::Newfstatat,
        call(CWD, 0),
        Function::Stat,
        Args::Stat { at: cwd(b"f"), out },
    );
    expect(
        Sys::Newfstatat,
        call(JUNK | 3, libc::AT_SYMLINK_NOFOLLOW),
        Function::Lstat,
        Args::Stat {
            at: at(3, b"f"),
            out,
        },
    );
    expect(
        Sys::Newfstatat,
        call(3, libc::AT_NO_AUTOMOUNT),
        Function::Stat,
        Args::Stat {
            at: at(3, b"f"),
            out,
        },
    );
    // AT_EMPTY_PATH with a non-empty path changes nothing.
    expect(
        Sys::Newfstatat,
        call(3, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW),
        Function::Lstat,
        Args::Stat {
            at: at(3, b"f"),
            out,
        },
    );
    // Unknown flags: EINVAL, before the path.
    assert_eq!(errno(Sys::Newfstatat, call(CWD, 0x10000)), Errno::EINVAL);
    assert_eq!(
        errno(Sys::Newfstatat, [CWD, 0, 0x5000, 0x1, 0, 0]),
        Errno::EINVAL
    );
    // The AT_STATX_* sync flags: the kernel's vfs_statx accepts (and
    // ignores) them for fstatat too, both bits included.
    for sync in [0x2000, 0x4000, 0x6000] {
        let r = request(Sys::Newfstatat, call(CWD, sync));
        assert_eq!(r.function, Function::Stat);
    }
    // A NULL or empty path without AT_EMPTY_PATH.
    assert_eq!(
        errno(Sys::Newfstatat, [CWD, 0, 0x5000, 0, 0, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        errno(Sys::Newfstatat, [3, ptr(c""), 0x5000, 0, 0, 0]),
        Errno::ENOENT
    );
}

#[test]
fn empty_path_stat_is_an_fd_stat() {
    let out = StatOut::Stat { addr: 0x5000 };
    let e = libc::AT_EMPTY_PATH as u64;
    // Empty path or (since Linux 6.11) NULL: the descriptor itself.
    for path in [ptr(c""), 0] {
        assert_eq!(
            fd_stat(Sys::Newfstatat, [JUNK | 4, path, 0x5000, e, 0, 0]),
            (4, out)
        );
        assert_eq!(
            fd_stat(
                Sys::Newfstatat,
                [4, path, 0x5000, e | libc::AT_SYMLINK_NOFOLLOW as u64, 0, 0]
            ),
            (4, out)
        );
        // AT_FDCWD: the working directory (fd_stat handles AT_FDCWD).
        assert_eq!(
            fd_stat(Sys::Newfstatat, [CWD, path, 0x5000, e, 0, 0]),
            (libc::AT_FDCWD, out)
        );
        let sx = StatOut::Statx {
            addr: 0x6000,
            mask: 0x7ff,
            flags: 0x4000,
        };
        assert_eq!(
            fd_stat(Sys::Statx, [5, path, e | 0x4000, 0x7ff, 0x6000, 0]),
            (5, sx)
        );
    }
    // Today: an unknown flag with AT_EMPTY_PATH and an empty path is
    // EINVAL; the kernel (6.11 and later) takes the fd path first and
    // ignores the other bits (fstatat and statx both succeed).
    assert_eq!(
        errno(Sys::Newfstatat, [4, ptr(c""), 0x5000, e | 0x10000, 0, 0]),
        Errno::EINVAL
    );
    assert_eq!(
        errno(Sys::Statx, [4, ptr(c""), e | 0x10000, 0x7ff, 0x6000, 0]),
        Errno::EINVAL
    );
}

#[test]
fn statx_mask_and_sync_flags() {
    let p = ptr(c"f");
    let regs =
        |fd: u64, flags: i32, mask: u32| [fd, p, flags as u32 as u64, mask as u64, 0x6000, 0];
    let sx = |mask: u32, flags: i32| StatOut::Statx {
        addr: 0x6000,
        mask,
        flags,
    };
    expect(
        Sys::Statx,
        regs(CWD, 0, 0xfff),
        Function::Stat,
        Args::Stat {
            at: cwd(b"f"),
            out: sx(0xfff, 0),
        },
    );
    // The out flags keep only the sync bits.
    expect(
        Sys::Statx,
        regs(
            JUNK | 3,
            libc::AT_SYMLINK_NOFOLLOW | 0x2000,
            libc::STATX_BASIC_STATS,
        ),
        Function::Lstat,
        Args::Stat {
            at: at(3, b"f"),
            out: sx(libc::STATX_BASIC_STATS, 0x2000),
        },
    );
    expect(
        Sys::Statx,
        regs(3, libc::AT_NO_AUTOMOUNT | 0x4000, 0),
        Function::Stat,
        Args::Stat {
            at: at(3, b"f"),
            out: sx(0, 0x4000),
        },
    );
    // The mask is `unsigned int`: junk above is dropped.
    expect(
        Sys::Statx,
        [CWD, p, 0, JUNK | 0x7ff, 0x6000, 0],
        Function::Stat,
        Args::Stat {
            at: cwd(b"f"),
            out: sx(0x7ff, 0),
        },
    );
    // STATX__RESERVED, both sync flags, an unknown flag: EINVAL, checked
    // before the path (here NULL).
    assert_eq!(errno(Sys::Statx, regs(CWD, 0, 0x8000_0000)), Errno::EINVAL);
    assert_eq!(errno(Sys::Statx, regs(CWD, 0x6000, 0x7ff)), Errno::EINVAL);
    assert_eq!(errno(Sys::Statx, regs(CWD, 0x10000, 0x7ff)), Errno::EINVAL);
    assert_eq!(
        errno(Sys::Statx, [CWD, 0, 0, 0x8000_0000, 0x6000, 0]),
        Errno::EINVAL
    );
    // NULL or empty path without AT_EMPTY_PATH.
    assert_eq!(
        errno(Sys::Statx, [CWD, 0, 0, 0x7ff, 0x6000, 0]),
        Errno::EFAULT
    );
    assert_eq!(
        errno(Sys::Statx, [CWD, ptr(c""), 0, 0x7ff, 0x6000, 0]),
        Errno::ENOENT
    );
}

// ---------------------------------------------------------------------
// access, faccessat, faccessat2.

#[test]
fn access_calls() {
    let p = ptr(c"/bin/sh");
    let rwx = libc::R_OK | libc::W_OK | libc::X_OK;
    expect(
        Sys::Access,
        [p, JUNK | rwx as u64, 0, 0, 0, 0],
        Function::Access,
        Args::Access {
            at: cwd(b"/bin/sh"),
            mode: rwx,
            flags: 0,
        },
    );
    // faccessat has no flags register: the fourth is not read.
    expect(
        Sys::Faccessat,
        [
            JUNK | 3,
            p,
            libc::F_OK as u64,
            libc::AT_EACCESS as u64,
            0,
            0,
        ],
        Function::Access,
        Args::Access {
            at: at(3, b"/bin/sh"),
            mode: libc::F_OK,
            flags: 0,
        },
    );
    expect(
        Sys::Faccessat2,
        [CWD, p, libc::X_OK as u64, libc::AT_EACCESS as u64, 0, 0],
        Function::Eaccess,
        Args::Access {
            at: cwd(b"/bin/sh"),
            mode: libc::X_OK,
            flags: libc::AT_EACCESS,
        },
    );
    let f = libc::AT_SYMLINK_NOFOLLOW;
    expect(
        Sys::Faccessat2,
        [CWD, p, libc::R_OK as u64, JUNK | f as u64, 0, 0],
        Function::Access,
        Args::Access {
            at: cwd(b"/bin/sh"),
            mode: libc::R_OK,
            flags: f,
        },
    );
    // AT_EMPTY_PATH: an empty path is the descriptor, for the policy.
    expect(
        Sys::Faccessat2,
        [
            7,
            ptr(c""),
            libc::R_OK as u64,
            libc::AT_EMPTY_PATH as u64,
            0,
            0,
        ],
        Function::Access,
        Args::Access {
            at: at(7, b""),
            mode: libc::R_OK,
            flags: libc::AT_EMPTY_PATH,
        },
    );
}

#[test]
fn access_errors() {
    let p = ptr(c"f");
    // A mode beyond R_OK|W_OK|X_OK: EINVAL, before the path.
    for sys in [Sys::Access, Sys::Faccessat, Sys::Faccessat2] {
        let regs = match sys {
            Sys::Access => [0, 8, 0, 0, 0, 0],
            _ => [CWD, 0, 8, 0, 0, 0],
        };
        assert_eq!(errno(sys, regs), Errno::EINVAL, "{}", sys.name());
    }
    assert_eq!(
        errno(Sys::Access, [p, u32::MAX as u64, 0, 0, 0, 0]),
        Errno::EINVAL
    );
    // An unknown faccessat2 flag: EINVAL.
    for bad in [libc::AT_SYMLINK_FOLLOW, libc::AT_NO_AUTOMOUNT, 1] {
        assert_eq!(
            errno(Sys::Faccessat2, [CWD, p, 0, bad as u64, 0, 0]),
            Errno::EINVAL
        );
    }
    // An empty path without AT_EMPTY_PATH: ENOENT.
    assert_eq!(errno(Sys::Access, [ptr(c""), 0, 0, 0, 0, 0]), Errno::ENOENT);
    assert_eq!(
        errno(Sys::Faccessat, [3, ptr(c""), 0, 0, 0, 0]),
        Errno::ENOENT
    );
    assert_eq!(
        errno(
            Sys::Faccessat2,
            [3, ptr(c""), 0, libc::AT_EACCESS as u64, 0, 0]
        ),
        Errno::ENOENT
    );
    // NULL is EFAULT even with AT_EMPTY_PATH (as the kernel's faccessat2).
    assert_eq!(
        errno(Sys::Faccessat2, [3, 0, 0, libc::AT_EMPTY_PATH as u64, 0, 0]),
        Errno::EFAULT
    );
}

// ---------------------------------------------------------------------
// mkdir, mkdirat.

#[test]
fn mkdir_mode_is_masked() {
    let p = ptr(c"new");
    expect(
        Sys::Mkdir,
        [p, 0o755, 0, 0, 0, 0],
        Function::Mkdir,
        Args::Mkdir {
            at: cwd(b"new"),
            mode: 0o755,
        },
    );
    // Masked to 0o1777, what mkdir(2) keeps (file type bits and junk
    // dropped; setuid and setgid too: a directory's setgid bit comes from
    // its parent; the sticky bit kept).
    expect(
        Sys::Mkdir,
        [p, JUNK | 0o4_7777, 0, 0, 0, 0],
        Function::Mkdir,
        Args::Mkdir {
            at: cwd(b"new"),
            mode: 0o1777,
        },
    );
    expect(
        Sys::Mkdirat,
        [JUNK | 8, p, 0o1_0700, 0, 0, 0],
        Function::Mkdir,
        Args::Mkdir {
            at: at(8, b"new"),
            mode: 0o700,
        },
    );
    expect(
        Sys::Mkdirat,
        [CWD, p, 0, 0, 0, 0],
        Function::Mkdir,
        Args::Mkdir {
            at: cwd(b"new"),
            mode: 0,
        },
    );
    assert_eq!(errno(Sys::Mkdirat, [CWD, 0, 0o755, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(
        errno(Sys::Mkdir, [ptr(c""), 0o755, 0, 0, 0, 0]),
        Errno::ENOENT
    );
}

// ---------------------------------------------------------------------
// listen.

#[test]
fn listen_is_done_by_the_supervisor() {
    for (regs, want) in [
        ([3u64, 128], (3, 128)),
        ([JUNK | 3, JUNK | 16], (3, 16)),
        ([u64::MAX, u64::MAX], (-1, -1)),
        ([0, 0], (0, 0)),
    ] {
        match run(Sys::Listen, [regs[0], regs[1], 0, 0, 0, 0]) {
            Decoded::Listen { fd, backlog } => assert_eq!((fd, backlog), want),
            other => panic!("listen: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------
// Path arguments: pointers and lengths, the same for every file call.

/// The register holding the (first) path of each file call, in a
/// notification that is otherwise valid.
fn with_path(sys: Sys, path: u64) -> [u64; 6] {
    match sys {
        Sys::Open | Sys::Unlink | Sys::Rmdir | Sys::Access => [path, 0, 0, 0, 0, 0],
        Sys::Creat | Sys::Mkdir | Sys::Chmod => [path, 0o644, 0, 0, 0, 0],
        Sys::Stat | Sys::Lstat => [path, 0x5000, 0, 0, 0, 0],
        Sys::Rename => [path, ptr(c"to"), 0, 0, 0, 0],
        Sys::Renameat | Sys::Renameat2 => [CWD, path, CWD, ptr(c"to"), 0, 0],
        Sys::Openat | Sys::Unlinkat | Sys::Faccessat | Sys::Faccessat2 => [CWD, path, 0, 0, 0, 0],
        Sys::Mkdirat | Sys::Fchmodat | Sys::Fchmodat2 => [CWD, path, 0o755, 0, 0, 0],
        Sys::Chown | Sys::Lchown | Sys::Utime | Sys::Utimes | Sys::Truncate => {
            [path, 0, 0, 0, 0, 0]
        }
        Sys::Fchownat | Sys::Futimesat | Sys::Utimensat => [CWD, path, 0, 0, 0, 0],
        Sys::Setxattr | Sys::Lsetxattr | Sys::Removexattr | Sys::Lremovexattr => {
            [path, ptr(c"user.a"), 0, 0, 0, 0]
        }
        Sys::Symlink => [ptr(c"target"), path, 0, 0, 0, 0],
        Sys::Symlinkat => [ptr(c"target"), CWD, path, 0, 0, 0],
        Sys::Link => [path, ptr(c"to"), 0, 0, 0, 0],
        Sys::Linkat => [CWD, path, CWD, ptr(c"to"), 0, 0],
        Sys::Mknod => [path, libc::S_IFIFO as u64 | 0o644, 0, 0, 0, 0],
        Sys::Mknodat => [CWD, path, libc::S_IFIFO as u64 | 0o644, 0, 0, 0],
        Sys::Setxattrat => [CWD, path, 0, ptr(c"user.a"), XATTR_ARGS.as_ptr() as u64, 16],
        Sys::Removexattrat => [CWD, path, 0, ptr(c"user.a"), 0, 0],
        Sys::Newfstatat => [CWD, path, 0x5000, 0, 0, 0],
        Sys::Execve => [path, 0, 0, 0, 0, 0],
        Sys::Execveat => [CWD, path, 0, 0, 0, 0],
        Sys::Statx => [CWD, path, 0, 0x7ff, 0x5000, 0],
        Sys::Openat2
        | Sys::Connect
        | Sys::Bind
        | Sys::Sendto
        | Sys::Sendmsg
        | Sys::Sendmmsg
        | Sys::Listen
        | Sys::Fchmod
        | Sys::Fchown
        | Sys::Fsetxattr
        | Sys::Fremovexattr
        | Sys::Readlinkat => unreachable!("{} is not a plain path call", sys.name()),
    }
}

/// The file calls, openat2 aside (its open_how is another register).
/// setxattrat's `struct xattr_args`: no value, no flags.
static XATTR_ARGS: [u64; 2] = [0, 0];

const FILE_CALLS: [Sys; 43] = [
    Sys::Execve,
    Sys::Execveat,
    Sys::Open,
    Sys::Creat,
    Sys::Openat,
    Sys::Unlink,
    Sys::Unlinkat,
    Sys::Rmdir,
    Sys::Rename,
    Sys::Renameat,
    Sys::Renameat2,
    Sys::Stat,
    Sys::Lstat,
    Sys::Newfstatat,
    Sys::Statx,
    Sys::Access,
    Sys::Faccessat,
    Sys::Faccessat2,
    Sys::Mkdir,
    Sys::Mkdirat,
    Sys::Chmod,
    Sys::Fchmodat,
    Sys::Fchmodat2,
    Sys::Chown,
    Sys::Lchown,
    Sys::Fchownat,
    Sys::Utime,
    Sys::Utimes,
    Sys::Futimesat,
    Sys::Utimensat,
    Sys::Truncate,
    Sys::Setxattr,
    Sys::Lsetxattr,
    Sys::Removexattr,
    Sys::Lremovexattr,
    Sys::Symlink,
    Sys::Symlinkat,
    Sys::Link,
    Sys::Linkat,
    Sys::Mknod,
    Sys::Mknodat,
    Sys::Setxattrat,
    Sys::Removexattrat,
];

#[track_caller]
fn every_file_call(path: u64, want: Result<&[u8], Errno>) {
    for sys in FILE_CALLS {
        match (run(sys, with_path(sys, path)), want) {
            (Decoded::Policy(r), Ok(p)) => {
                assert_eq!(r.paths()[0].path, p, "{}", sys.name());
            }
            (Decoded::Fail(e), Err(w)) => assert_eq!(e, w, "{}", sys.name()),
            (other, _) => panic!("{}: want {want:?}, got {other:?}", sys.name()),
        }
    }
    let h = how(0, 0, 0, 24);
    match (
        run(Sys::Openat2, [CWD, path, h.as_ptr() as u64, 24, 0, 0]),
        want,
    ) {
        (Decoded::Policy(r), Ok(p)) => assert_eq!(r.paths()[0].path, p, "openat2"),
        (Decoded::Fail(e), Err(w)) => assert_eq!(e, w, "openat2"),
        (other, _) => panic!("openat2: want {want:?}, got {other:?}"),
    }
}

#[test]
fn null_and_wild_paths_are_efault() {
    every_file_call(0, Err(Errno::EFAULT));
    for w in WILD {
        every_file_call(w, Err(Errno::EFAULT));
    }
    // The second path of a rename too.
    for sys in [Sys::Rename, Sys::Renameat, Sys::Renameat2] {
        let regs = match sys {
            Sys::Rename => [ptr(c"a"), 0, 0, 0, 0, 0],
            _ => [CWD, ptr(c"a"), CWD, 0, 0, 0],
        };
        assert_eq!(errno(sys, regs), Errno::EFAULT, "{}", sys.name());
    }
}

#[test]
fn empty_path_is_enoent() {
    every_file_call(ptr(c""), Err(Errno::ENOENT));
}

#[test]
fn path_stops_at_the_first_nul() {
    let buf = b"/a/b\0/c\0";
    every_file_call(buf.as_ptr() as u64, Ok(&b"/a/b"[..]));
    // Any byte but NUL is part of the path.
    let odd = b"\xff\x01 ../\n\0";
    every_file_call(odd.as_ptr() as u64, Ok(&b"\xff\x01 ../\n"[..]));
}

#[test]
fn path_length_limit() {
    // PATH_MAX - 1 bytes and a NUL: the longest path.
    let mut longest = vec![b'a'; PATH_MAX - 1];
    longest.push(0);
    every_file_call(longest.as_ptr() as u64, Ok(&longest[..PATH_MAX - 1]));
    // PATH_MAX bytes without a NUL: ENAMETOOLONG, whatever follows.
    let mut long = vec![b'a'; PATH_MAX];
    long.push(0);
    every_file_call(long.as_ptr() as u64, Err(Errno::ENAMETOOLONG));
    let long = vec![b'b'; 3 * PATH_MAX];
    every_file_call(long.as_ptr() as u64, Err(Errno::ENAMETOOLONG));
}

#[test]
fn path_running_into_an_unmapped_page() {
    let mut e = Edge::new(b'a');
    // No NUL before the hole: EFAULT (the kernel's strncpy_from_user
    // faults the same way).
    every_file_call(e.before_hole(1), Err(Errno::EFAULT));
    every_file_call(e.before_hole(100), Err(Errno::EFAULT));
    every_file_call(e.before_hole(PATH_MAX - 1), Err(Errno::EFAULT));
    // PATH_MAX bytes end right at the hole: the limit is reached before
    // the hole is touched, so ENAMETOOLONG (as the kernel, which copies at
    // most PATH_MAX bytes).
    every_file_call(e.before_hole(PATH_MAX), Err(Errno::ENAMETOOLONG));
    // A path whose NUL is the last byte before the hole is read whole.
    let at = e.put(b"/x/y\0", 0);
    every_file_call(at, Ok(&b"/x/y"[..]));
    // An empty path right before the hole.
    let at = e.put(b"\0", 0);
    every_file_call(at, Err(Errno::ENOENT));
}

#[test]
fn path_crossing_pages_is_read_whole() {
    // A path that starts near the end of a page of this buffer and goes
    // on into the next one: read page by page, no byte lost.
    let page = page_size();
    let mut buf = vec![b'z'; 3 * page];
    let start = page - (buf.as_ptr() as usize % page) + page - 10;
    buf[start + 30] = 0;
    every_file_call(buf[start..].as_ptr() as u64, Ok(&[b'z'; 30][..]));
}

/// readlinkat: the size first (EINVAL), then the path; an empty one is the
/// descriptor's own symlink (read by the supervisor), any other the
/// kernel's (not a request).
#[test]
fn readlinkat_reads_the_descriptors_symlink_or_is_the_kernels() {
    let buf = 0x1000u64;
    for size in [0u64, 0xffff_ffff, 0x1_0000_0000] {
        assert!(
            matches!(
                run(Sys::Readlinkat, [3, ptr(c""), buf, size, 0, 0]),
                Decoded::Fail(Errno::EINVAL)
            ),
            "size {size:#x}"
        );
    }
    match run(Sys::Readlinkat, [(1u64 << 32) | 5, ptr(c""), buf, 64, 0, 0]) {
        Decoded::FdReadlink { fd, buf: b, size } => assert_eq!((fd, b, size), (5, buf, 64)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(Sys::Readlinkat, [CWD, ptr(c""), buf, 64, 0, 0]),
        Decoded::FdReadlink {
            fd: libc::AT_FDCWD,
            ..
        }
    ));
    assert!(matches!(
        run(Sys::Readlinkat, [3, ptr(c"link"), buf, 64, 0, 0]),
        Decoded::Unmediated
    ));
    assert!(matches!(
        run(Sys::Readlinkat, [3, 8, buf, 64, 0, 0]),
        Decoded::Fail(Errno::EFAULT)
    ));
}
