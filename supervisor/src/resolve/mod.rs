//! Race-free path resolution in the sandboxed program's view of the file system.
//!
//! The supervisor acts on behalf of the program, so a path the program passes
//! must be resolved as the kernel would resolve it *for the program* (its root,
//! its cwd, its `/proc/self`), and the policy must see the canonical text of
//! exactly the object the supervisor then touches. The walk is done component
//! by component in userspace:
//!
//! * every step is `openat(cur, component, O_PATH|O_NOFOLLOW)` relative to the
//!   descriptor *held* for the previous step, so swapping a directory or a
//!   symlink concurrently can never redirect an already-walked prefix;
//! * symlinks are read (`readlinkat(fd, "")` on the held link) and spliced in
//!   front of the remaining components; absolute ones restart at the
//!   program's root, never at the supervisor's `/`;
//! * `..` is `openat(cur, "..")`, except at the root where it stays. Its
//!   canonical text is the walked prefix minus one component *only if* the
//!   directory reached is the one walked through (dev, ino and mount id are
//!   compared); if it is not (a concurrent rename), the text is taken from the
//!   descriptor actually reached, so text and object always agree;
//! * procfs is special-cased: `self`/`thread-self` at a procfs root jump to the
//!   program's `/proc/<tgid>` (`…/task/<tid>`), and magic links
//!   (`/proc/<pid>/fd/N`, `cwd`, `exe`, `ns/*`, …) jump to the object they
//!   designate.
//!
//! Limitations (documented, not emulated): permission checks are the
//! supervisor's, not the program's; a canonical text derived from the kernel
//! (`readlink /proc/self/fd/N`: the start directory, magic-link objects, `..`
//! after a race) is translated to the program's view by stripping the
//! program's root as a prefix, and is left as the supervisor's view when the
//! object lies outside that root (the program could not name it anyway) or
//! carries a ` (deleted)` suffix.

pub mod fast;
mod sys;

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use sys::{Ident, Stat};

/// What to resolve, in the program's view of the file system.
pub struct Lookup<'a> {
    /// O_PATH descriptor of the program's root directory (opened from /proc/<tid>/root).
    pub root: BorrowedFd<'a>,
    /// Supervisor-view text of the run's root, which canonical texts are
    /// relative to (`None`: `root`'s).  It differs from `root`'s once the
    /// program has chrooted: the policy is then told where the object
    /// really is (`/jail/etc/passwd`), never the name the chroot gives it.
    pub view: Option<&'a [u8]>,
    /// O_PATH descriptor of the directory relative paths start from: the program's cwd
    /// (/proc/<tid>/cwd) or the dirfd of an *at call (/proc/<tid>/fd/<n>).
    pub start: BorrowedFd<'a>,
    /// The path exactly as the program passed it (no NUL; may be empty).
    pub path: &'a [u8],
    /// Follow a symlink in the last component (false for lstat, O_NOFOLLOW, unlink, rmdir,
    /// rename, mkdir; true for open without O_NOFOLLOW, stat, access).
    pub follow_last: bool,
    /// The call names the last component itself, to make, remove or rename it (mkdir,
    /// mknod, symlink, link's new name, unlink, rmdir, rename, bind, open with O_CREAT): a
    /// trailing slash neither makes the walk follow a symlink there nor requires a
    /// directory; the caller applies the call's own rule (`Resolved::trailing_slash`).
    pub names_last: bool,
    /// AT_EMPTY_PATH: an empty path designates `start` itself (else an empty path is ENOENT).
    pub empty_path: bool,
    /// openat2 RESOLVE_* flags (libc::RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS,
    /// RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV, RESOLVE_CACHED); 0 for every other call.
    pub resolve: u64,
    /// O_PATH descriptor of /proc/<tgid> of the program, opened from the supervisor's /proc:
    /// what "/proc/self" means for the program.
    pub proc_self: BorrowedFd<'a>,
    /// O_PATH descriptor of /proc/<tgid>/task/<tid>: what "/proc/thread-self" means.
    pub proc_thread_self: BorrowedFd<'a>,
    /// The program's tgid and tid as numbers (for the canonical path text /proc/<tgid>...).
    pub tgid: u32,
    pub tid: u32,
}

/// Where the resolution ended.
///
/// Callers acting on an `Entry` must not follow a symlink in `name` again
/// (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, …): resolution already followed what
/// had to be followed, and `name` may have been swapped since.
#[derive(Debug)]
pub enum Target {
    /// A directory entry: `parent` is an O_PATH directory fd, `name` a single component
    /// (no '/', never empty; "." when the path designates the directory `parent` itself,
    /// e.g. "/", "a/.", "a/..", or an empty path with AT_EMPTY_PATH on a directory).
    Entry { parent: OwnedFd, name: CString },
    /// An object reached through a magic link (/proc/<pid>/fd/N, cwd, root, exe, map_files/*,
    /// ns/*), or `start` itself for AT_EMPTY_PATH on a non-directory: an O_PATH fd on it.
    Object(OwnedFd),
}

/// What the last component was when resolution looked at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last {
    Missing,
    /// `mode` is st_mode, S_IFMT bits included.
    Exists {
        mode: u32,
    },
    /// The last component was "." or ".." (or the path is "/", or an empty path with
    /// AT_EMPTY_PATH on a directory): `Target::Entry` with name ".".
    Dot,
}

/// The result of [`resolve`].
#[derive(Debug)]
pub struct Resolved {
    pub target: Target,
    /// Absolute, canonical path in the program's view: no "." or ".." components, no double
    /// slashes, symlinks followed as the call follows them (last component not followed when
    /// follow_last is false), a missing last component appended to its resolved parent.
    /// For a magic-link object: the link's readlink text (e.g. "pipe:[123]" or "/real/path").
    pub path: Vec<u8>,
    pub last: Last,
    /// The path ended in '/' (the last component must be a directory). Also set when the
    /// last component was a symlink whose body ends in '/', as the kernel does.
    pub trailing_slash: bool,
    /// The last component of an `Entry` as the program found it: an `O_PATH` descriptor of
    /// `name`, not followed, looked up in `parent` with the program's credentials, when the
    /// fast path was asked to ([`fast::resolve`]'s `as_program`: a stat performed as the
    /// program, resolved as it is performed).  Never a directory.
    pub found: Option<OwnedFd>,
}

/// Symlinks followed per resolution before ELOOP (the kernel's MAXSYMLINKS).
const MAXSYMLINKS: u32 = 40;
/// A path of this many bytes or more is ENAMETOOLONG (the kernel's PATH_MAX, NUL included).
const PATH_MAX: usize = 4096;
/// Longest component.
const NAME_MAX: usize = 255;
/// Inode number of the root of every procfs instance.
const PROC_ROOT_INO: u64 = 1;
const SCOPED: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
const KNOWN: u64 = SCOPED
    | libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_CACHED;

/// Resolve. Errors are the errno the real syscall would give (ENOENT for a missing
/// intermediate component, ENOTDIR, ELOOP after 40 symlinks or for RESOLVE_NO_SYMLINKS /
/// NO_MAGICLINKS violations, ENAMETOOLONG for a component > 255 bytes or a path > 4095
/// bytes, EXDEV for RESOLVE_BENEATH/NO_XDEV violations, EAGAIN for RESOLVE_CACHED).
///
/// RESOLVE_CACHED always fails with EAGAIN (we have no dcache to consult; the caller is
/// expected to retry without it, as openat2 callers must anyway). With RESOLVE_BENEATH or
/// RESOLVE_IN_ROOT, a `..` that races with a rename also fails with EAGAIN, like openat2.
pub fn resolve(l: &Lookup) -> Result<Resolved, Errno> {
    resolve_traced(l, &mut Vec::new())
}

/// [`resolve`]; on failure, `trace` holds the canonical text (program's view) of the object
/// the walk failed on: the directory reached plus the component that could not be walked
/// (missing, not a directory, a symlink loop, …), or the directory itself for `..`. It is
/// left empty when the failure says nothing about the file system (the path or flags are
/// invalid, the start descriptor is not a directory). Path rules decide on it whether the
/// errno may be told (see docs/rules.md).
pub fn resolve_traced(l: &Lookup, trace: &mut Vec<u8>) -> Result<Resolved, Errno> {
    trace.clear();
    if l.path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if l.resolve & !KNOWN != 0 || l.resolve & SCOPED == SCOPED {
        return Err(Errno::EINVAL);
    }
    if l.resolve & libc::RESOLVE_CACHED != 0 {
        return Err(Errno::EAGAIN);
    }
    let root_text = match l.view {
        Some(v) => v.to_vec(),
        None => sys::fd_path(l.root)?,
    };
    if l.path.is_empty() {
        if !l.empty_path {
            return Err(Errno::ENOENT);
        }
        let st = sys::fstat(l.start)?;
        let text = in_view(&root_text, sys::fd_path(l.start)?);
        let fd = sys::dup(l.start)?;
        let (target, last) = if st.is_dir() {
            (entry(fd, c".".into()), Last::Dot)
        } else {
            (Target::Object(fd), Last::Exists { mode: st.mode })
        };
        return Ok(Resolved {
            target,
            path: text,
            last,
            trailing_slash: false,
            found: None,
        });
    }
    Walker::new(l, root_text)?.run(trace)
}

/// The supervisor-view text of the directory `fd` (its current name, from
/// the kernel).
pub fn fd_text(fd: BorrowedFd) -> Result<Vec<u8>, Errno> {
    sys::fd_path(fd)
}

pub use sys::own_fs_context;

fn entry(parent: OwnedFd, name: CString) -> Target {
    Target::Entry { parent, name }
}

/// Translate a supervisor-view absolute path into the program's view by stripping the
/// program root's supervisor-view text `root` as a prefix. Non-absolute texts
/// ("pipe:[1]") and texts outside the root are returned unchanged (see module doc).
fn in_view(root: &[u8], text: Vec<u8>) -> Vec<u8> {
    if root == b"/" || !text.starts_with(b"/") || !text.starts_with(root) {
        return text;
    }
    match text.get(root.len()) {
        None => b"/".to_vec(),
        Some(b'/') => text[root.len()..].to_vec(),
        Some(_) => text,
    }
}

/// Whether a procfs symlink body designates a magic link rather than a textual symlink.
fn is_magic(body: &[u8]) -> bool {
    body.starts_with(b"/")
        || body.starts_with(b"anon_inode:")
        || (body.ends_with(b"]") && body.windows(2).any(|w| w == b":["))
}

/// Append one component to a canonical text.
fn push_text(text: &mut Vec<u8>, name: &[u8]) {
    if text.last() != Some(&b'/') {
        text.push(b'/');
    }
    text.extend_from_slice(name);
}

/// Outcome of one normal component.
enum Step {
    /// Keep walking from the (possibly new) current directory.
    Continue,
    /// The last component is the entry `name` in the current directory.
    Entry(CString, Last),
    /// The last component was a magic link to this object (with its canonical text).
    Object(OwnedFd, Stat, Vec<u8>),
}

/// The state of one resolution.
struct Walker<'l, 'a> {
    l: &'l Lookup<'a>,
    /// Supervisor-view text of the run's root (for [`in_view`]).
    root_text: Vec<u8>,
    /// The directory `..` cannot climb above, and absolute paths start from:
    /// the program root, or `start` under RESOLVE_BENEATH / RESOLVE_IN_ROOT.
    scope: BorrowedFd<'a>,
    scope_st: Stat,
    scope_text: Vec<u8>,
    /// The current directory (held) and its canonical text.
    cur: OwnedFd,
    cur_st: Stat,
    text: Vec<u8>,
    /// Directories walked to reach `cur`, innermost last: identity and the length of
    /// `text` when we were there. Lets `..` restore the text after checking it
    /// reached the directory it came from.
    up: Vec<(Ident, usize)>,
    /// Components still to walk, last one first.
    rest: Vec<CString>,
    links: u32,
    trailing: bool,
}

impl<'l, 'a> Walker<'l, 'a> {
    fn new(l: &'l Lookup<'a>, root_text: Vec<u8>) -> Result<Self, Errno> {
        let scoped = l.resolve & SCOPED != 0;
        let absolute = l.path[0] == b'/';
        if absolute && l.resolve & libc::RESOLVE_BENEATH != 0 {
            return Err(Errno::EXDEV);
        }
        let (start_st, start_text) = if scoped || !absolute {
            let st = sys::fstat(l.start)?;
            if !st.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            (Some(st), in_view(&root_text, sys::fd_path(l.start)?))
        } else {
            (None, Vec::new())
        };
        let (scope, scope_st, scope_text) = match start_st {
            Some(st) if scoped => (l.start, st, start_text.clone()),
            // The program's root, named in the run's view: "/" unless the
            // process has chrooted below the run's root.
            _ => (
                l.root,
                sys::fstat(l.root)?,
                match l.view {
                    Some(_) => in_view(&root_text, sys::fd_path(l.root)?),
                    None => b"/".to_vec(),
                },
            ),
        };
        let (cur, cur_st, text) = match start_st {
            Some(st) if !absolute => (sys::dup(l.start)?, st, start_text),
            _ => (sys::dup(scope)?, scope_st, scope_text.clone()),
        };
        let rest = l
            .path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(|c| CString::new(c).map_err(|_| Errno::EINVAL))
            .collect::<Result<_, _>>()?;
        Ok(Walker {
            l,
            root_text,
            scope,
            scope_st,
            scope_text,
            cur,
            cur_st,
            text,
            up: Vec::new(),
            rest,
            links: 0,
            trailing: l.path.ends_with(b"/"),
        })
    }

    fn flag(&self, f: u64) -> bool {
        self.l.resolve & f != 0
    }

    /// The failure text for `name` of the current directory (`None`: the directory).
    fn trace(&self, trace: &mut Vec<u8>, name: Option<&[u8]>) {
        trace.clear();
        trace.extend_from_slice(&self.text);
        if let Some(n) = name {
            push_text(trace, n);
        }
    }

    fn run(mut self, trace: &mut Vec<u8>) -> Result<Resolved, Errno> {
        let mut end = Last::Dot;
        while let Some(comp) = self.rest.pop() {
            let last = self.rest.is_empty();
            let (target, path, last) = match comp.as_bytes() {
                b"." => {
                    end = Last::Dot;
                    continue;
                }
                b".." => {
                    if let Err(e) = self.dotdot() {
                        self.trace(trace, None);
                        return Err(e);
                    }
                    end = Last::Dot;
                    continue;
                }
                name if name.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
                name => {
                    // A trailing slash follows the last component for a
                    // lookup, never for a call that names it (mkdir("l/"),
                    // open("l/", O_CREAT): EISDIR, whatever l is).
                    let follow = !last
                        || if self.trailing && self.l.names_last {
                            false
                        } else {
                            self.l.follow_last || self.trailing
                        };
                    let thread = name == b"thread-self";
                    if follow && (thread || name == b"self") {
                        let r = match self.at_proc_root() {
                            Ok(true) => self.proc_self(thread).map(|()| true),
                            other => other,
                        };
                        match r {
                            Ok(true) => {
                                end = Last::Exists {
                                    mode: self.cur_st.mode,
                                };
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                self.trace(trace, Some(name));
                                return Err(e);
                            }
                        }
                    }
                    end = Last::Dot;
                    // The component's bytes, kept for the trace (step takes it).
                    trace.clear();
                    trace.extend_from_slice(name);
                    let step = match self.step(comp, last, follow) {
                        Ok(s) => s,
                        Err(e) => {
                            // step() leaves the current directory and its text
                            // as they were when it failed.
                            let name = std::mem::take(trace);
                            self.trace(trace, Some(&name));
                            return Err(e);
                        }
                    };
                    match step {
                        Step::Continue => continue,
                        Step::Entry(name, last) => {
                            push_text(&mut self.text, name.as_bytes());
                            (entry(self.cur, name), self.text, last)
                        }
                        Step::Object(fd, st, text) => {
                            (Target::Object(fd), text, Last::Exists { mode: st.mode })
                        }
                    }
                }
            };
            return Ok(Resolved {
                target,
                path,
                last,
                trailing_slash: self.trailing,
                found: None,
            });
        }
        Ok(Resolved {
            target: entry(self.cur, c".".into()),
            path: self.text,
            last: end,
            trailing_slash: self.trailing,
            found: None,
        })
    }

    /// Walk one ordinary component `name` of the current directory.
    fn step(&mut self, name: CString, last: bool, follow: bool) -> Result<Step, Errno> {
        if name.as_bytes().iter().all(u8::is_ascii_digit) && self.at_proc_root()? {
            self.refuse_supervisor(&name)?;
        }
        let fd = match sys::open_nofollow(self.cur.as_fd(), &name) {
            Err(Errno::ENOENT) if last => return Ok(Step::Entry(name, Last::Missing)),
            // The program's own fd/ of a process that is not dumpable (a
            // container runtime's init after setuid: its /proc files are
            // root's) is closed to a supervisor that took the program's
            // uid; the kernel lets the process itself in.
            Err(Errno::EACCES) if self.in_own_fd_dir(&name)? => {
                return self.own_descriptor(&name, last)
            }
            r => r?,
        };
        let st = sys::fstat(fd.as_fd())?;
        self.check_xdev(&st)?;
        if st.is_symlink() && follow {
            self.count_link()?;
            let body = sys::read_link(fd.as_fd())?;
            if sys::is_procfs(fd.as_fd())? && is_magic(&body) {
                return self.magic(&name, last);
            }
            self.splice(&body, last)?;
            return Ok(Step::Continue);
        }
        if !last {
            if !st.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            self.descend(fd, st, name.as_bytes());
            return Ok(Step::Continue);
        }
        if self.trailing && !st.is_dir() && !self.l.names_last {
            return Err(Errno::ENOTDIR);
        }
        Ok(Step::Entry(name, Last::Exists { mode: st.mode }))
    }

    /// Make `fd` (the directory `name` of the current one) the current directory.
    fn descend(&mut self, fd: OwnedFd, st: Stat, name: &[u8]) {
        self.up.push((self.cur_st.ident(), self.text.len()));
        push_text(&mut self.text, name);
        self.cur = fd;
        self.cur_st = st;
    }

    /// Follow the procfs magic link `name` of the current directory.
    fn magic(&mut self, name: &CString, last: bool) -> Result<Step, Errno> {
        if self.flag(libc::RESOLVE_NO_MAGICLINKS) {
            return Err(Errno::ELOOP);
        }
        if self.flag(SCOPED) {
            return Err(Errno::EXDEV);
        }
        if !self.own_magic()? {
            return Err(Errno::EACCES);
        }
        // (A stand-in of an O_PATH descriptor: the object it stands for.)
        let obj = kernel::standin::substitute(sys::open_follow(self.cur.as_fd(), name)?)?;
        let st = sys::fstat(obj.as_fd())?;
        self.check_xdev(&st)?;
        // The text of the object we hold, not of the link we read: the program may
        // retarget its fd between the two.
        let text = in_view(&self.root_text, sys::fd_path(obj.as_fd())?);
        if !st.is_dir() && (self.trailing || !last) {
            return Err(Errno::ENOTDIR);
        }
        if last {
            return Ok(Step::Object(obj, st, text));
        }
        self.cur = obj;
        self.cur_st = st;
        self.text = text;
        self.up.clear();
        Ok(Step::Continue)
    }

    /// Is the current directory the program's own `/proc/<tgid>/fd`, and
    /// `name` a descriptor number?
    fn in_own_fd_dir(&self, name: &CString) -> Result<bool, Errno> {
        if name.as_bytes().is_empty() || !name.as_bytes().iter().all(u8::is_ascii_digit) {
            return Ok(false);
        }
        if !self.text.ends_with(b"/fd") {
            return Ok(false);
        }
        // (Not `..` of the current directory: searching it is what failed.)
        let fd_dir = sys::stat(self.l.proc_self, c"fd")?;
        Ok(fd_dir.same_inode(&self.cur_st))
    }

    /// Follows `/proc/<tgid>/fd/<name>` of the program by taking the
    /// descriptor itself (`pidfd_getfd`): the object the magic link names.
    fn own_descriptor(&mut self, name: &CString, last: bool) -> Result<Step, Errno> {
        self.count_link()?;
        if self.flag(libc::RESOLVE_NO_MAGICLINKS) {
            return Err(Errno::ELOOP);
        }
        if self.flag(SCOPED) {
            return Err(Errno::EXDEV);
        }
        let n: i32 = std::str::from_utf8(name.as_bytes())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Errno::ENOENT)?;
        let pidfd = kernel::sys::pidfd_open(self.l.tgid as i32)?;
        // The process of `proc_self` still lives after the pidfd was made,
        // so its pid was not reused: the pidfd is the program's.
        sys::stat(self.l.proc_self, c"stat").map_err(|_| Errno::ESRCH)?;
        let obj = kernel::sys::pidfd_getfd(pidfd.as_fd(), n).map_err(|e| match e {
            Errno::EBADF => Errno::ENOENT,
            e => e,
        })?;
        let obj = kernel::standin::substitute(obj)?;
        let st = sys::fstat(obj.as_fd())?;
        self.check_xdev(&st)?;
        let text = in_view(&self.root_text, sys::fd_path(obj.as_fd())?);
        if !st.is_dir() && (self.trailing || !last) {
            return Err(Errno::ENOTDIR);
        }
        if last {
            return Ok(Step::Object(obj, st, text));
        }
        self.cur = obj;
        self.cur_st = st;
        self.text = text;
        self.up.clear();
        Ok(Step::Continue)
    }

    /// Whether the magic links of the current directory are the calling
    /// process's own: the directory is, or is below, the process's
    /// `/proc/<tgid>`.  Another process's descriptors, working directory or
    /// root are never followed: the supervisor would reach them with its
    /// own authority (its own descriptors among them), not the program's.
    fn own_magic(&self) -> Result<bool, Errno> {
        let me = sys::fstat(self.l.proc_self)?;
        let mut st = self.cur_st;
        let mut dir: Option<OwnedFd> = None;
        // /proc/<pid>, …/fd, …/task/<tid>/fd: at most three levels up.
        for _ in 0..4 {
            if st.same_inode(&me) {
                return Ok(true);
            }
            if st.ino == PROC_ROOT_INO {
                break;
            }
            let up =
                sys::open_nofollow(dir.as_ref().map_or(self.cur.as_fd(), |d| d.as_fd()), c"..")?;
            st = sys::fstat(up.as_fd())?;
            dir = Some(up);
        }
        Ok(false)
    }

    /// Put the components of the symlink body `body` in front of the rest.
    fn splice(&mut self, body: &[u8], last: bool) -> Result<(), Errno> {
        if body.is_empty() {
            return Err(Errno::ENOENT);
        }
        if last && body.ends_with(b"/") {
            self.trailing = true;
        }
        for c in body.split(|&b| b == b'/').filter(|c| !c.is_empty()).rev() {
            self.rest.push(CString::new(c).map_err(|_| Errno::EINVAL)?);
        }
        if body.starts_with(b"/") {
            if self.flag(libc::RESOLVE_BENEATH) {
                return Err(Errno::EXDEV);
            }
            let st = self.scope_st;
            self.check_xdev(&st)?;
            self.cur = sys::dup(self.scope)?;
            self.cur_st = st;
            self.text = self.scope_text.clone();
            self.up.clear();
        }
        Ok(())
    }

    /// `..` from the current directory.
    fn dotdot(&mut self) -> Result<(), Errno> {
        if self.cur_st.ident() == self.scope_st.ident() {
            if self.flag(libc::RESOLVE_BENEATH) {
                return Err(Errno::EXDEV);
            }
            self.text = self.scope_text.clone();
            self.up.clear();
            return Ok(());
        }
        let fd = sys::open_nofollow(self.cur.as_fd(), c"..")?;
        let st = sys::fstat(fd.as_fd())?;
        self.check_xdev(&st)?;
        match self.up.pop() {
            Some((id, len)) if id == st.ident() => self.text.truncate(len),
            // We did not come from there: a concurrent rename (or we entered the
            // directory by a magic link or from `start`). openat2 says EAGAIN for
            // scoped lookups; otherwise describe where we really are.
            _ if self.flag(SCOPED) => return Err(Errno::EAGAIN),
            _ => {
                self.up.clear();
                self.text = in_view(&self.root_text, sys::fd_path(fd.as_fd())?);
            }
        }
        self.cur = fd;
        self.cur_st = st;
        Ok(())
    }

    /// Whether the current directory is the root of a procfs instance.
    fn at_proc_root(&self) -> Result<bool, Errno> {
        Ok(self.cur_st.ino == PROC_ROOT_INO
            && self.cur_st.is_dir()
            && sys::is_procfs(self.cur.as_fd())?)
    }

    /// `/proc/<pid>` at the procfs root we are at, when `pid` names the
    /// supervisor (any of its threads) or a process it started for itself
    /// (the DNS namespace child): EACCES.  The supervisor acts with its own
    /// credentials, which reach its own memory, descriptors and root
    /// (`mem`, `fd/N`, `root`, …): the program must never get at them, and
    /// no policy may grant it.
    fn refuse_supervisor(&self, pid: &CString) -> Result<(), Errno> {
        // Our own pid as this procfs instance numbers it; none if it is the
        // procfs of a pid namespace we are not in (it cannot show us).
        let Ok(me) = sys::read_link_at(self.cur.as_fd(), c"self") else {
            return Ok(());
        };
        if pid.as_bytes() == me.as_slice() {
            return Err(Errno::EACCES);
        }
        let mut task = me.clone();
        task.extend_from_slice(b"/task/");
        task.extend_from_slice(pid.as_bytes());
        let task = CString::new(task).map_err(|_| Errno::EINVAL)?;
        if sys::stat(self.cur.as_fd(), &task).is_ok() {
            return Err(Errno::EACCES);
        }
        let ours = me == std::process::id().to_string().as_bytes();
        let n = std::str::from_utf8(pid.as_bytes())
            .ok()
            .and_then(|s| s.parse::<i32>().ok());
        if ours && n.is_some_and(crate::own::is_own) {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// Follow `self` (or `thread-self`) at a procfs root: go to the program's
    /// /proc/<tgid> (/proc/<tgid>/task/<tid>).
    fn proc_self(&mut self, thread: bool) -> Result<(), Errno> {
        self.count_link()?;
        let target = if thread {
            self.l.proc_thread_self
        } else {
            self.l.proc_self
        };
        let fd = sys::dup(target)?;
        let st = sys::fstat(fd.as_fd())?;
        self.check_xdev(&st)?;
        self.up.push((self.cur_st.ident(), self.text.len()));
        push_text(&mut self.text, self.l.tgid.to_string().as_bytes());
        if thread {
            let pid_dir = sys::fstat(self.l.proc_self)?;
            self.up.push((pid_dir.ident(), self.text.len()));
            push_text(&mut self.text, b"task");
            let task_dir = sys::stat(self.l.proc_thread_self, c"..")?;
            self.up.push((task_dir.ident(), self.text.len()));
            push_text(&mut self.text, self.l.tid.to_string().as_bytes());
        }
        self.cur = fd;
        self.cur_st = st;
        Ok(())
    }

    /// Account for one symlink followed.
    fn count_link(&mut self) -> Result<(), Errno> {
        self.links += 1;
        if self.links > MAXSYMLINKS || self.flag(libc::RESOLVE_NO_SYMLINKS) {
            return Err(Errno::ELOOP);
        }
        Ok(())
    }

    /// RESOLVE_NO_XDEV: moving from the current directory to `to` must not cross a mount.
    fn check_xdev(&self, to: &Stat) -> Result<(), Errno> {
        if self.flag(libc::RESOLVE_NO_XDEV) && to.mnt_id != self.cur_st.mnt_id {
            return Err(Errno::EXDEV);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
