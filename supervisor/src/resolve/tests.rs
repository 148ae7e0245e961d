//! Tests of the resolver on the real file system (temp dirs under /tmp, this
//! process's and a child's /proc).

use super::*;

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use nix::fcntl::{open, openat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fstat, fstatat, Mode};
use nix::unistd::{getpid, gettid};

/// A directory under /tmp, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = PathBuf::from(format!("/tmp/resolve-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir(&p).unwrap();
        TempDir(p)
    }
    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.join(rel)).unwrap();
    }
    fn write(&self, rel: &str, data: &str) {
        fs::write(self.join(rel), data).unwrap();
    }
    fn symlink(&self, rel: &str, target: &str) {
        symlink(target, self.join(rel)).unwrap();
    }
    /// Canonical text of `rel` in the supervisor's (= "/"-rooted program's) view.
    fn text(&self, rel: &str) -> Vec<u8> {
        let mut t = self.0.as_os_str().as_encoded_bytes().to_vec();
        if !rel.is_empty() {
            t.push(b'/');
            t.extend_from_slice(rel.as_bytes());
        }
        t
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn opath(p: impl AsRef<Path>) -> OwnedFd {
    open(p.as_ref(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).unwrap()
}

/// Descriptors standing for one program (by default: this process, root "/").
struct Ctx {
    root: OwnedFd,
    start: OwnedFd,
    proc_self: OwnedFd,
    proc_thread_self: OwnedFd,
    tgid: u32,
    tid: u32,
}

impl Ctx {
    fn new(root: impl AsRef<Path>, start: impl AsRef<Path>) -> Ctx {
        let (tgid, tid) = (getpid().as_raw() as u32, gettid().as_raw() as u32);
        Ctx::for_task(root, start, tgid, tid)
    }
    fn for_task(root: impl AsRef<Path>, start: impl AsRef<Path>, tgid: u32, tid: u32) -> Ctx {
        Ctx {
            root: opath(root),
            start: opath(start),
            proc_self: opath(format!("/proc/{tgid}")),
            proc_thread_self: opath(format!("/proc/{tgid}/task/{tid}")),
            tgid,
            tid,
        }
    }
    fn lookup<'a>(&'a self, path: &'a [u8], follow_last: bool, resolve: u64) -> Lookup<'a> {
        Lookup {
            root: self.root.as_fd(),
            view: None,
            start: self.start.as_fd(),
            path,
            follow_last,
            names_last: false,
            empty_path: false,
            resolve,
            proc_self: self.proc_self.as_fd(),
            proc_thread_self: self.proc_thread_self.as_fd(),
            tgid: self.tgid,
            tid: self.tid,
        }
    }
    fn get(&self, path: &str) -> Result<Resolved, Errno> {
        resolve(&self.lookup(path.as_bytes(), true, 0))
    }
    fn nofollow(&self, path: &str) -> Result<Resolved, Errno> {
        resolve(&self.lookup(path.as_bytes(), false, 0))
    }
    fn flags(&self, path: &str, resolve_flags: u64) -> Result<Resolved, Errno> {
        resolve(&self.lookup(path.as_bytes(), true, resolve_flags))
    }
}

/// (dev, ino) of a path, not following a last symlink.
fn id_of(p: impl AsRef<Path>) -> (u64, u64) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.dev(), m.ino())
}

/// (dev, ino) of what a resolution designates.
fn id_target(r: &Resolved) -> (u64, u64) {
    let st = match &r.target {
        Target::Entry { parent, name } => fstatat(
            parent,
            name.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap(),
        Target::Object(fd) => fstat(fd).unwrap(),
    };
    (st.st_dev, st.st_ino)
}

/// (dev, ino) of the parent directory of an entry.
fn id_parent(r: &Resolved) -> (u64, u64) {
    match &r.target {
        Target::Entry { parent, .. } => {
            let st = fstat(parent).unwrap();
            (st.st_dev, st.st_ino)
        }
        Target::Object(_) => panic!("not an entry"),
    }
}

fn name(r: &Resolved) -> &[u8] {
    match &r.target {
        Target::Entry { name, .. } => name.as_bytes(),
        Target::Object(_) => panic!("not an entry"),
    }
}

fn is_object(r: &Resolved) -> bool {
    matches!(r.target, Target::Object(_))
}

fn kind(r: &Resolved) -> Option<u32> {
    match r.last {
        Last::Exists { mode } => Some(mode & libc::S_IFMT),
        _ => None,
    }
}

/// Contents of the file an entry designates, opened without following.
fn read_entry(r: &Resolved) -> String {
    let Target::Entry { parent, name } = &r.target else {
        panic!("not an entry")
    };
    let fd = openat(
        parent,
        name.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    let mut s = String::new();
    File::from(fd).read_to_string(&mut s).unwrap();
    s
}

#[test]
fn absolute_and_relative_paths() {
    let t = TempDir::new();
    t.mkdir("a/b");
    t.write("a/b/file", "x");
    let ctx = Ctx::new("/", &t.0);
    let abs = format!("{}/a/b/file", t.0.display());
    for p in [abs.as_str(), "a//b/./file", "a/b/../b/file", "./a/b/file"] {
        let r = ctx.get(p).unwrap();
        assert_eq!(r.path, t.text("a/b/file"), "{p}");
        assert_eq!(name(&r), b"file");
        assert_eq!(kind(&r), Some(libc::S_IFREG));
        assert_eq!(id_parent(&r), id_of(t.join("a/b")));
        assert_eq!(id_target(&r), id_of(t.join("a/b/file")));
        assert!(!r.trailing_slash);
    }
    // Missing last component: appended to its resolved parent.
    let r = ctx.get("a/b/../new").unwrap();
    assert_eq!(
        (r.last, r.path.as_slice()),
        (Last::Missing, &t.text("a/new")[..])
    );
    // Missing or non-directory intermediate components.
    assert_eq!(ctx.get("nope/x").unwrap_err(), Errno::ENOENT);
    assert_eq!(ctx.get("a/b/file/x").unwrap_err(), Errno::ENOTDIR);
}

#[test]
fn dotdot_at_root_stays_at_root() {
    let ctx = Ctx::new("/", "/");
    let r = ctx.get("/../../..").unwrap();
    assert_eq!(
        (r.path.as_slice(), r.last, name(&r)),
        (&b"/"[..], Last::Dot, &b"."[..])
    );
    assert_eq!(id_parent(&r), id_of("/"));
    let r = ctx.get("../../tmp/../tmp").unwrap();
    assert_eq!(r.path, b"/tmp");
    assert_eq!(id_target(&r), id_of("/tmp"));
    let r = ctx.get("/").unwrap();
    assert_eq!((r.path.as_slice(), r.last), (&b"/"[..], Last::Dot));
}

#[test]
fn chroot_like_root_cannot_be_escaped() {
    let t = TempDir::new();
    t.mkdir("etc");
    t.mkdir("sub");
    t.write("etc/passwd", "jail");
    t.symlink("abs", "/etc");
    t.symlink("up", "../../../../../../etc");
    t.symlink("sub/rootlink", "/");
    let ctx = Ctx::new(&t.0, t.join("sub"));
    for p in [
        "/../../etc/passwd",
        "/abs/passwd",
        "/up/passwd",
        "../../../etc/passwd",
        "rootlink/../etc/passwd",
        "/sub/rootlink/abs/passwd",
    ] {
        let r = ctx.get(p).unwrap();
        assert_eq!(r.path, b"/etc/passwd", "{p}");
        assert_eq!(id_target(&r), id_of(t.join("etc/passwd")), "{p}");
        assert_eq!(read_entry(&r), "jail");
    }
    // Relative paths start from the program's view of its cwd.
    let r = ctx.get("x").unwrap();
    assert_eq!((r.path.as_slice(), r.last), (&b"/sub/x"[..], Last::Missing));
    let r = ctx.get("/").unwrap();
    assert_eq!(id_parent(&r), id_of(&t.0));
    let r = ctx.get("rootlink").unwrap();
    assert_eq!((r.path.as_slice(), r.last), (&b"/"[..], Last::Dot));
}

/// A process that chrooted into `t` (its root `t`, the run's root `/`):
/// the same objects as above, but named where they really are, so that a
/// chroot into a denied directory cannot rename what it holds.
#[test]
fn after_a_chroot_names_are_given_in_the_runs_root() {
    let t = TempDir::new();
    t.mkdir("etc");
    t.mkdir("sub");
    t.write("etc/passwd", "jail");
    t.symlink("abs", "/etc");
    t.symlink("secret-link", "/etc/passwd");
    let ctx = Ctx::new(&t.0, t.join("sub"));
    let view: &[u8] = b"/";
    let get = |p: &str, follow: bool| {
        let mut l = ctx.lookup(p.as_bytes(), follow, 0);
        l.view = Some(view);
        resolve(&l)
    };
    for p in [
        "/etc/passwd",
        "/abs/passwd",
        "/../secret-link",
        "../abs/../etc/passwd",
    ] {
        let r = get(p, true).unwrap();
        assert_eq!(r.path, t.text("etc/passwd"), "{p}");
        assert_eq!(id_target(&r), id_of(t.join("etc/passwd")), "{p}");
        assert_eq!(read_entry(&r), "jail");
    }
    let r = get("x", true).unwrap();
    assert_eq!((r.path, r.last), (t.text("sub/x"), Last::Missing));
    let r = get("/", true).unwrap();
    assert_eq!((r.path, r.last), (t.text(""), Last::Dot));
    let r = get("/secret-link", false).unwrap();
    assert_eq!(r.path, t.text("secret-link"));
}

#[test]
fn symlink_chains_and_the_40_limit() {
    let t = TempDir::new();
    t.write("file", "x");
    for i in 0..40 {
        let next = if i == 39 {
            "file".into()
        } else {
            format!("l{}", i + 1)
        };
        t.symlink(&format!("l{i}"), &next);
    }
    let ctx = Ctx::new("/", &t.0);
    let r = ctx.get("l0").unwrap();
    assert_eq!(r.path, t.text("file"));
    assert_eq!(kind(&r), Some(libc::S_IFREG));
    // One more link is one too many.
    t.symlink("m", "l0");
    assert_eq!(ctx.get("m").unwrap_err(), Errno::ELOOP);
    // Intermediate links always count; an unfollowed last one does not.
    assert_eq!(ctx.get("m/x").unwrap_err(), Errno::ELOOP);
    assert_eq!(kind(&ctx.nofollow("m").unwrap()), Some(libc::S_IFLNK));
    t.symlink("loop", "loop");
    assert_eq!(ctx.get("loop").unwrap_err(), Errno::ELOOP);
    // Relative links resolve against the link's directory, absolute ones from root.
    t.mkdir("d");
    t.symlink("d/rel", "../file");
    t.symlink("d/abs", &format!("{}/file", t.0.display()));
    assert_eq!(ctx.get("d/rel").unwrap().path, t.text("file"));
    assert_eq!(ctx.get("d/abs").unwrap().path, t.text("file"));
}

#[test]
fn dangling_last_symlink() {
    let t = TempDir::new();
    t.mkdir("d");
    t.symlink("d/dl", "../nothere");
    let ctx = Ctx::new("/", &t.0);
    let r = ctx.get("d/dl").unwrap();
    assert_eq!((r.last, name(&r)), (Last::Missing, &b"nothere"[..]));
    assert_eq!(r.path, t.text("nothere"));
    assert_eq!(id_parent(&r), id_of(&t.0));
    let r = ctx.nofollow("d/dl").unwrap();
    assert_eq!((kind(&r), name(&r)), (Some(libc::S_IFLNK), &b"dl"[..]));
    assert_eq!(r.path, t.text("d/dl"));
    // Dangling through a missing directory: ENOENT when followed.
    t.symlink("deep", "nodir/x");
    assert_eq!(ctx.get("deep").unwrap_err(), Errno::ENOENT);
}

#[test]
fn trailing_slash() {
    let t = TempDir::new();
    t.mkdir("dir");
    t.write("file", "");
    t.symlink("ldir", "dir");
    t.symlink("lfile", "file");
    t.symlink("lnew", "newdir/");
    let ctx = Ctx::new("/", &t.0);
    let r = ctx.nofollow("dir/").unwrap();
    assert!(r.trailing_slash);
    assert_eq!(
        (kind(&r), r.path.clone()),
        (Some(libc::S_IFDIR), t.text("dir"))
    );
    assert_eq!(ctx.nofollow("file/").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(ctx.get("file//").unwrap_err(), Errno::ENOTDIR);
    // mkdir("newdir/") is legal: missing, trailing slash.
    let r = ctx.nofollow("newdir/").unwrap();
    assert_eq!((r.last, r.trailing_slash), (Last::Missing, true));
    assert_eq!(r.path, t.text("newdir"));
    // A trailing slash follows a last symlink even without follow_last.
    let r = ctx.nofollow("ldir/").unwrap();
    assert_eq!((name(&r), kind(&r)), (&b"dir"[..], Some(libc::S_IFDIR)));
    assert_eq!(ctx.nofollow("lfile/").unwrap_err(), Errno::ENOTDIR);
    // A symlink body ending in '/' demands a directory too.
    let r = ctx.get("lnew").unwrap();
    assert_eq!((r.last, r.trailing_slash), (Last::Missing, true));
    assert_eq!(r.path, t.text("newdir"));
    let r = ctx.nofollow("lnew").unwrap();
    assert_eq!((kind(&r), r.trailing_slash), (Some(libc::S_IFLNK), false));
}

/// A call naming its last component (mkdir, rmdir, rename, …) never
/// follows a symlink there, a trailing slash or not, and a trailing slash
/// on a non-directory is the call's to judge (mkdir("f/") is EEXIST).
#[test]
fn trailing_slash_on_a_named_last_component() {
    let t = TempDir::new();
    t.mkdir("dir");
    t.write("file", "");
    t.symlink("ldir", "dir");
    t.symlink("dangling", "missing");
    t.symlink("deep", "nodir/x");
    let ctx = Ctx::new("/", &t.0);
    let named = |p: &str| {
        let mut l = ctx.lookup(p.as_bytes(), false, 0);
        l.names_last = true;
        resolve(&l)
    };
    for (p, n, k) in [
        ("dangling/", "dangling", libc::S_IFLNK),
        ("deep/", "deep", libc::S_IFLNK),
        ("ldir/", "ldir", libc::S_IFLNK),
        ("file/", "file", libc::S_IFREG),
        ("dir/", "dir", libc::S_IFDIR),
    ] {
        let r = named(p).unwrap();
        assert_eq!(
            (name(&r), kind(&r), r.trailing_slash),
            (n.as_bytes(), Some(k), true),
            "{p}"
        );
        assert_eq!(r.path, t.text(n), "{p}");
    }
    let r = named("new/").unwrap();
    assert_eq!(
        (name(&r), r.last, r.trailing_slash),
        (&b"new"[..], Last::Missing, true)
    );
    // A symlink before the last component is followed as ever.
    let r = named("ldir/x/").unwrap();
    assert_eq!((r.last, r.path.clone()), (Last::Missing, t.text("dir/x")));
    // The lookup still follows: mkdir's old bug, the target.
    let r = ctx.nofollow("dangling/").unwrap();
    assert_eq!((name(&r), r.last), (&b"missing"[..], Last::Missing));
}

#[test]
fn dot_and_dotdot_last_components() {
    let t = TempDir::new();
    t.mkdir("dir/sub");
    t.write("file", "");
    let ctx = Ctx::new("/", &t.0);
    let r = ctx.get("dir/.").unwrap();
    assert_eq!(
        (r.last, name(&r), r.path.clone()),
        (Last::Dot, &b"."[..], t.text("dir"))
    );
    assert_eq!(id_parent(&r), id_of(t.join("dir")));
    let r = ctx.nofollow("dir/sub/..").unwrap();
    assert_eq!((r.last, r.path.clone()), (Last::Dot, t.text("dir")));
    assert_eq!(id_parent(&r), id_of(t.join("dir")));
    let r = ctx.get(".").unwrap();
    assert_eq!((r.last, r.path.clone()), (Last::Dot, t.text("")));
    assert_eq!(ctx.get("file/.").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(ctx.get("file/..").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(ctx.get("missing/.").unwrap_err(), Errno::ENOENT);
}

#[test]
fn empty_path() {
    let t = TempDir::new();
    t.write("file", "");
    let ctx = Ctx::new("/", &t.0);
    assert_eq!(ctx.get("").unwrap_err(), Errno::ENOENT);
    let mut l = ctx.lookup(b"", true, 0);
    l.empty_path = true;
    let r = resolve(&l).unwrap();
    assert_eq!(
        (r.last, name(&r), r.path.clone()),
        (Last::Dot, &b"."[..], t.text(""))
    );
    let file = opath(t.join("file"));
    l.start = file.as_fd();
    let r = resolve(&l).unwrap();
    assert!(is_object(&r));
    assert_eq!(
        (kind(&r), r.path.clone()),
        (Some(libc::S_IFREG), t.text("file"))
    );
    // A relative path from a non-directory start is ENOTDIR.
    l.path = b"x";
    assert_eq!(resolve(&l).unwrap_err(), Errno::ENOTDIR);
}

#[test]
fn proc_self_resolves_to_the_given_process() {
    let t = TempDir::new();
    t.write("f", "");
    let file = File::open(t.join("f")).unwrap();
    let n = file.as_raw_fd();
    let ctx = Ctx::new("/", "/");
    let pid = ctx.tgid;
    for p in [
        format!("/proc/self/fd/{n}"),
        format!("/dev/fd/{n}"),
        format!("/proc/thread-self/fd/{n}"),
        format!("/proc/self/fd/../fd/{n}"),
    ] {
        let r = ctx.get(&p).unwrap();
        assert!(is_object(&r), "{p}");
        assert_eq!(
            (kind(&r), r.path.clone()),
            (Some(libc::S_IFREG), t.text("f")),
            "{p}"
        );
        assert_eq!(id_target(&r), id_of(t.join("f")));
    }
    // Not following the last component: the magic link itself.
    let r = ctx.nofollow(&format!("/dev/fd/{n}")).unwrap();
    assert_eq!(kind(&r), Some(libc::S_IFLNK));
    assert_eq!(r.path, format!("/proc/{pid}/fd/{n}").into_bytes());
    // "self" itself, followed or not.
    let r = ctx.get("/proc/self").unwrap();
    assert_eq!(r.path, format!("/proc/{pid}").into_bytes());
    assert_eq!(id_parent(&r), id_of(format!("/proc/{pid}")));
    let r = ctx.nofollow("/proc/self").unwrap();
    assert_eq!(
        (kind(&r), r.path.as_slice()),
        (Some(libc::S_IFLNK), &b"/proc/self"[..])
    );
    // ".." from thread-self retraces the walked path.
    let r = ctx.get("/proc/thread-self/..").unwrap();
    assert_eq!(r.path, format!("/proc/{pid}/task").into_bytes());
    let r = ctx.get("/proc/self/..").unwrap();
    assert_eq!(r.path, b"/proc");
    // Magic links to directories can be walked through.
    let r = ctx.get("/proc/self/cwd/.").unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(r.path, cwd.as_os_str().as_encoded_bytes());
    assert_eq!(
        ctx.get(&format!("/proc/self/fd/{n}/x")).unwrap_err(),
        Errno::ENOTDIR
    );
    // /proc/self/root is the program's root: ".." stays there.
    let r = ctx.get("/proc/self/root/../tmp").unwrap();
    assert_eq!((r.path.as_slice(), name(&r)), (&b"/tmp"[..], &b"tmp"[..]));
    drop(file);
}

#[test]
fn proc_self_of_a_child_is_the_childs() {
    let t = TempDir::new();
    t.write("stdin", "child");
    t.mkdir("cwd");
    t.write("cwd/here", "");
    let mut child = std::process::Command::new("sleep")
        .arg("60")
        .stdin(File::open(t.join("stdin")).unwrap())
        .current_dir(t.join("cwd"))
        .spawn()
        .unwrap();
    let pid = child.id();
    let ctx = Ctx::for_task("/", "/", pid, pid);
    let r = ctx.get("/dev/stdin").unwrap();
    assert!(is_object(&r));
    assert_eq!(r.path, t.text("stdin"));
    assert_eq!(id_target(&r), id_of(t.join("stdin")));
    let r = ctx.get("/proc/self/cwd/here").unwrap();
    assert_eq!(
        (r.path.clone(), name(&r)),
        (t.text("cwd/here"), &b"here"[..])
    );
    let r = ctx.get("/proc/self/cwd").unwrap();
    assert!(is_object(&r));
    assert_eq!(
        (kind(&r), r.path.clone()),
        (Some(libc::S_IFDIR), t.text("cwd"))
    );
    let r = ctx.get("/proc/thread-self").unwrap();
    assert_eq!(r.path, format!("/proc/{pid}/task/{pid}").into_bytes());
    assert_eq!(id_parent(&r), id_of(format!("/proc/{pid}/task/{pid}")));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn another_process_magic_links_are_not_followed() {
    let t = TempDir::new();
    t.write("f", "");
    t.mkdir("cwd");
    let spawn = |stdin: &str, cwd: &str| {
        std::process::Command::new("sleep")
            .arg("60")
            .stdin(File::open(t.join(stdin)).unwrap())
            .current_dir(t.join(cwd))
            .spawn()
            .unwrap()
    };
    // The "program" and another process (not the supervisor: the test
    // process is that, refused on its own grounds).
    let mut program = spawn("f", "");
    let mut other = spawn("f", "cwd");
    let (pid, o) = (program.id(), other.id());
    let ctx = Ctx::for_task("/", "/", pid, pid);
    t.symlink("link", &format!("/proc/{o}/fd/0"));
    for p in [
        format!("/proc/{o}/fd/0"),
        format!("/proc/{o}/task/{o}/fd/0"),
        format!("/proc/{o}/cwd"),
        format!("/proc/{o}/cwd/x"),
        format!("/proc/{o}/root/etc"),
        t.join("link").display().to_string(),
    ] {
        assert_eq!(ctx.get(&p).unwrap_err(), Errno::EACCES, "{p}");
    }
    // Its own, by number too.
    let r = ctx.get(&format!("/proc/{pid}/fd/0")).unwrap();
    assert_eq!(r.path, t.text("f"));
    let r = ctx.get(&format!("/proc/{pid}/task/{pid}/cwd")).unwrap();
    assert_eq!(r.path, t.text(""));
    // Not following the last component: the link itself is fine.
    assert!(ctx.nofollow(&format!("/proc/{o}/fd/0")).is_ok());
    for c in [&mut program, &mut other] {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

#[test]
fn resolve_beneath() {
    let t = TempDir::new();
    t.mkdir("a");
    t.write("file", "");
    t.symlink("abs", "/etc");
    t.symlink("rel", "a/../file");
    let ctx = Ctx::new("/", &t.0);
    let b = libc::RESOLVE_BENEATH;
    assert_eq!(ctx.flags("a/../file", b).unwrap().path, t.text("file"));
    assert_eq!(ctx.flags("rel", b).unwrap().path, t.text("file"));
    for p in ["a/../../x", "..", "/etc", "abs", "abs/passwd"] {
        assert_eq!(ctx.flags(p, b).unwrap_err(), Errno::EXDEV, "{p}");
    }
    // Magic links are refused in scoped lookups.
    let proc_ctx = Ctx::new("/", "/proc");
    assert_eq!(proc_ctx.flags("self/cwd", b).unwrap_err(), Errno::EXDEV);
    assert_eq!(
        proc_ctx
            .flags("self/cwd", b | libc::RESOLVE_NO_MAGICLINKS)
            .unwrap_err(),
        Errno::ELOOP
    );
}

#[test]
fn resolve_in_root() {
    let t = TempDir::new();
    t.mkdir("etc");
    t.write("etc/passwd", "inroot");
    t.symlink("abs", "/etc");
    t.symlink("up", "../../../etc");
    let ctx = Ctx::new("/", &t.0);
    for p in [
        "/etc/passwd",
        "../../etc/passwd",
        "abs/passwd",
        "up/passwd",
        "/../abs/../etc/passwd",
    ] {
        let r = ctx.flags(p, libc::RESOLVE_IN_ROOT).unwrap();
        assert_eq!(r.path, t.text("etc/passwd"), "{p}");
        assert_eq!(read_entry(&r), "inroot");
    }
    let r = ctx.flags("/..", libc::RESOLVE_IN_ROOT).unwrap();
    assert_eq!(id_parent(&r), id_of(&t.0));
}

#[test]
fn resolve_no_symlinks_magiclinks_xdev_cached() {
    let t = TempDir::new();
    t.mkdir("dir");
    t.symlink("ldir", "dir");
    let file = File::open("/etc/hostname")
        .or_else(|_| File::open("/"))
        .unwrap();
    let n = file.as_raw_fd();
    let ctx = Ctx::new("/", &t.0);
    let ns = libc::RESOLVE_NO_SYMLINKS;
    assert_eq!(ctx.flags("ldir/x", ns).unwrap_err(), Errno::ELOOP);
    assert_eq!(ctx.flags("ldir", ns).unwrap_err(), Errno::ELOOP);
    let r = resolve(&ctx.lookup(b"ldir", false, ns)).unwrap();
    assert_eq!(kind(&r), Some(libc::S_IFLNK));
    assert_eq!(ctx.flags("dir/.", ns).unwrap().path, t.text("dir"));
    // /proc/self is an ordinary symlink; fd/N is magic.
    let nm = libc::RESOLVE_NO_MAGICLINKS;
    assert!(ctx.flags("/proc/self/fd", nm).is_ok());
    let magic = format!("/proc/self/fd/{n}");
    assert_eq!(ctx.flags(&magic, nm).unwrap_err(), Errno::ELOOP);
    assert!(resolve(&ctx.lookup(magic.as_bytes(), false, nm)).is_ok());
    assert_eq!(ctx.flags("/proc/self", ns).unwrap_err(), Errno::ELOOP);
    // /proc is a mount of its own.
    let nx = libc::RESOLVE_NO_XDEV;
    assert_eq!(ctx.flags("/proc/self", nx).unwrap_err(), Errno::EXDEV);
    assert_eq!(ctx.flags("ldir/..", nx).unwrap().path, t.text(""));
    assert_eq!(
        ctx.flags("dir", libc::RESOLVE_CACHED).unwrap_err(),
        Errno::EAGAIN
    );
    let both = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
    assert_eq!(ctx.flags("dir", both).unwrap_err(), Errno::EINVAL);
    drop(file);
}

#[test]
fn name_too_long() {
    let t = TempDir::new();
    let ctx = Ctx::new("/", &t.0);
    let long = "x".repeat(256);
    assert_eq!(ctx.get(&long).unwrap_err(), Errno::ENAMETOOLONG);
    assert_eq!(
        ctx.get(&format!("{long}/y")).unwrap_err(),
        Errno::ENAMETOOLONG
    );
    // Lookups stop at the first missing directory, as the kernel's do.
    assert_eq!(
        ctx.get(&format!("missing/{long}")).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(ctx.get(&"x".repeat(255)).unwrap().last, Last::Missing);
    let path = "./".repeat(2048);
    assert_eq!(ctx.get(&path).unwrap_err(), Errno::ENAMETOOLONG);
    assert_eq!(ctx.get(&path[..4095]).unwrap().last, Last::Dot);
    // Long symlink bodies are components like any other.
    t.symlink("ll", &long);
    assert_eq!(ctx.get("ll").unwrap_err(), Errno::ENAMETOOLONG);
}

#[test]
fn walked_prefix_is_held() {
    let t = TempDir::new();
    t.mkdir("d1/d2");
    t.write("d1/d2/f", "original");
    t.mkdir("other/d2");
    t.write("other/d2/f", "other");
    let ctx = Ctx::new("/", &t.0);
    let r = ctx.get("d1/d2/f").unwrap();
    let before = id_target(&r);
    // Move the walked directory away and put a symlink elsewhere in its place.
    fs::rename(t.join("d1"), t.join("moved")).unwrap();
    t.symlink("d1", "other");
    assert_eq!(id_target(&r), before);
    assert_eq!(read_entry(&r), "original");
    assert_eq!(read_entry(&ctx.get("d1/d2/f").unwrap()), "other");
}

/// Run `swap` in a loop on another thread while resolving `path` repeatedly;
/// the text must always name the directory whose file was reached.
fn race(t: &TempDir, path: &str, swap: impl Fn() + Send + 'static) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let swapper = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            swap();
        }
    });
    let ctx = Ctx::new("/", &t.0);
    let (mut a, mut b) = (0, 0);
    for _ in 0..3000 {
        let r = ctx.get(path).unwrap();
        let data = read_entry(&r);
        if r.path == t.text("a/f") {
            assert_eq!(data, "A");
            a += 1;
        } else {
            assert_eq!(r.path, t.text("b/f"));
            assert_eq!(data, "B");
            b += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    eprintln!("{path}: {a} via a, {b} via b");
}

#[test]
fn concurrent_symlink_swap_cannot_redirect() {
    let t = TempDir::new();
    t.mkdir("a");
    t.mkdir("b");
    t.write("a/f", "A");
    t.write("b/f", "B");
    t.symlink("alias", "b");
    let dir = opath(&t.0);
    // Atomically exchange the directory "a" and the symlink "alias" -> "b".
    race(&t, "a/f", move || {
        renameat2(&dir, "a", &dir, "alias", RenameFlags::RENAME_EXCHANGE).unwrap();
    });
    // Put "a" back as a directory for the cleanup's sake.
    if fs::symlink_metadata(t.join("a"))
        .unwrap()
        .file_type()
        .is_symlink()
    {
        let dir = opath(&t.0);
        renameat2(&dir, "a", &dir, "alias", RenameFlags::RENAME_EXCHANGE).unwrap();
    }
}

#[test]
fn concurrent_rename_cannot_mislead_dotdot() {
    let t = TempDir::new();
    t.mkdir("a/sub");
    t.mkdir("b/sub");
    t.write("a/f", "A");
    t.write("b/f", "B");
    let dir = opath(&t.0);
    // Exchange a/sub and b/sub: ".." from the held "sub" may land in b.
    race(&t, "a/sub/../f", move || {
        renameat2(&dir, "a/sub", &dir, "b/sub", RenameFlags::RENAME_EXCHANGE).unwrap();
    });
}

#[test]
fn a_failure_is_traced_to_where_it_happened() {
    let t = TempDir::new();
    t.mkdir("a");
    t.write("a/file", "");
    t.mkdir("b");
    t.symlink("a/link", "../b/nothere");
    let ctx = Ctx::new("/", &t.0);
    let traced = |p: &str| {
        let mut trace = b"stale".to_vec();
        let l = ctx.lookup(p.as_bytes(), true, 0);
        let e = super::resolve_traced(&l, &mut trace).unwrap_err();
        (e, String::from_utf8(trace).unwrap())
    };
    let text = |rel: &str| String::from_utf8(t.text(rel)).unwrap();
    assert_eq!(traced("a/missing/x"), (Errno::ENOENT, text("a/missing")));
    assert_eq!(traced("a/file/x"), (Errno::ENOTDIR, text("a/file")));
    // Through a symlink: where the walk really was.
    assert_eq!(traced("a/link/x"), (Errno::ENOENT, text("b/nothere")));
    // A trailing slash on a file.
    assert_eq!(traced("a/file/"), (Errno::ENOTDIR, text("a/file")));
    // Failures that say nothing about the file system leave it empty.
    let long = "x".repeat(300);
    assert_eq!(traced(&long), (Errno::ENAMETOOLONG, String::new()));
}

/// On a thread with its own file-system context, a directory's name is
/// taken by `fchdir` and `getcwd`: the same text as `readlink` gives, for
/// every kind of directory; what `getcwd` cannot name (an unlinked
/// directory, a file) is read by `readlink` as before.  The thread's working
/// directory is back where it was after each, and the process's never moved.
#[test]
fn directory_names_by_getcwd_are_the_readlink_texts() {
    let t = TempDir::new();
    fs::create_dir_all(t.join("a/b c/d\ne")).unwrap();
    fs::create_dir(t.join("gone")).unwrap();
    fs::write(t.join("file"), "x").unwrap();
    symlink(t.join("a"), t.join("link")).unwrap();
    let here = std::env::current_dir().unwrap();
    let base = t.0.clone();
    std::thread::spawn(move || {
        own_fs_context().unwrap();
        let cwd = std::env::current_dir().unwrap();
        let gone = opath(base.join("gone"));
        fs::remove_dir(base.join("gone")).unwrap();
        let fds = [
            opath("/"),
            opath(&base),
            opath(base.join("a/b c")),
            opath(base.join("a/b c/d\ne")),
            opath(base.join("link")),
            opath(base.join("file")),
            gone,
        ];
        for (i, fd) in fds.iter().enumerate() {
            // The directories named by getcwd, the file and the unlinked
            // directory not.
            assert_eq!(sys::dir_name(fd.as_fd()).is_some(), i < 5, "{i}");
            let by_link = sys::fd_link_for_tests(fd.as_fd()).unwrap();
            assert_eq!(sys::fd_path(fd.as_fd()).unwrap(), by_link);
            assert_eq!(std::env::current_dir().unwrap(), cwd);
        }
        assert!(sys::fd_path(fds[6].as_fd())
            .unwrap()
            .ends_with(b" (deleted)"));
    })
    .join()
    .unwrap();
    assert_eq!(std::env::current_dir().unwrap(), here);
}

/// The fast path asked to look the last component up as the program
/// (`as_program`) keeps what that lookup found for the act (a stat as
/// the program), never a directory; when the lookup fails or cannot be
/// made, the supervisor looks as without it, and a symlink to follow still
/// goes to the walk.
#[test]
fn fast_path_keeps_what_the_program_looked_up() {
    let t = TempDir::new();
    t.write("f", "x");
    t.mkdir("d");
    t.symlink("l", "f");
    let start = opath(&t.0);
    let calls = std::cell::Cell::new(0);
    let answer = std::cell::Cell::new(None::<Errno>);
    let lookup = |dir: BorrowedFd, name: &std::ffi::CStr| {
        calls.set(calls.get() + 1);
        if let Some(e) = answer.get() {
            return Some(Err(e));
        }
        Some(openat(
            dir,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ))
    };
    let fast = |path: &str, follow: bool| {
        fast::resolve(start.as_fd(), path.as_bytes(), follow, false, Some(&lookup))
    };
    // A file: what the program found is kept, and it is the file.
    let r = fast("f", true).unwrap().unwrap();
    let found = r.found.as_ref().expect("kept");
    let st = fstat(found).unwrap();
    assert_eq!((st.st_dev, st.st_ino), id_of(t.join("f")));
    assert!(matches!(r.last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFREG));
    assert_eq!(calls.get(), 1);
    // A directory: looked up again by the act.
    let r = fast("d", true).unwrap().unwrap();
    assert!(r.found.is_none());
    assert!(matches!(r.last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFDIR));
    // A symlink: the link itself when not followed; the walk when followed.
    let r = fast("l", false).unwrap().unwrap();
    let st = fstat(r.found.as_ref().expect("kept")).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFLNK);
    assert!(fast("l", true).is_none());
    // The program may not look (no search permission): nothing kept, the
    // supervisor's look decides what the entry is.
    answer.set(Some(Errno::EACCES));
    let r = fast("f", true).unwrap().unwrap();
    assert!(r.found.is_none());
    assert!(matches!(r.last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFREG));
    answer.set(Some(Errno::ENOENT));
    let r = fast("missing", true).unwrap().unwrap();
    assert!(r.found.is_none());
    assert_eq!(r.last, Last::Missing);
    // Without the question: never.
    answer.set(None);
    let r = fast::resolve(start.as_fd(), b"f", true, false, None)
        .unwrap()
        .unwrap();
    assert!(r.found.is_none());
}
