//! The file calls performed for the program.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::errno::Errno;

use super::authority::Authority;
use super::stat::{stat_into, FakeStat};
use crate::answer::Outcome;
use crate::pending::Pending;
use crate::request::VALID_OPEN_FLAGS;
use crate::request::{attr, Args, Dir, Function, StatOut};
use crate::resolve::{Last, Resolved, Target};
use kernel::sys;
use kernel::task::Task;

const RESOLVE_NO_SYMLINKS: u64 = 0x04;

pub(super) fn perform(p: &mut Pending, who: &Authority) -> Result<Outcome, Errno> {
    let resolved = match who {
        Authority::Program(c) => p.take_resolved_for_stat_as(c)?,
        _ => p.take_resolved()?,
    };
    let mut targets = resolved.into_iter();
    let first = targets.next().ok_or(Errno::EINVAL)??;
    let function = p.req.function;
    let args = &p.req.args;
    let task = &mut p.task;
    let umask = match *args {
        Args::Open { flags, .. } => creating_umask(task, flags)?,
        Args::Mkdir { .. } | Args::Mknod { .. } => task.status()?.umask,
        _ => 0,
    };
    // A call on a descriptor (fchmod, …) refuses an O_PATH one (or its
    // stand-in, act/opath.rs), as the kernel does; the resolved object is
    // acted on.
    if let Args::Attr { at, flags, .. } = args {
        if let (true, Dir::Fd(fd)) = (flags & attr::FD_FORM != 0, at.dir) {
            if task.fd_flags(fd)? & libc::O_PATH as u32 != 0 || task.fd_is_stand_in(fd)? {
                task.settle()?;
                return Ok(Outcome::Fail(Errno::EBADF));
            }
        }
    }
    // The id maps of a user namespace are checked against their opener:
    // opened as the program whatever the authority (see opener_checked).
    // A namespace nested below the program's first one: the helper opens
    // (crate::idmap); otherwise the acting thread, as the program.
    let nested = match (args, &first.target) {
        (Args::Open { .. }, Target::Entry { parent, .. }) if opener_checked(&first) => {
            crate::idmap::nested_parent(parent.as_fd())?
        }
        _ => None,
    };
    let opener = match args {
        Args::Open { .. } if nested.is_none() && !who.is_program() && opener_checked(&first) => {
            Some(Authority::program(task)?)
        }
        _ => None,
    };
    // The process's own /proc/<tgid>/fd, which the kernel opens for it
    // whatever its owner (own_fd.rs).
    let own_fd = matches!(args, Args::Open { .. })
        && nested.is_none()
        && super::own_fd::applies(task, &first)?;
    // Everything read from /proc/<tid> belongs to this notification.
    task.settle()?;
    Ok(match *args {
        Args::Open { flags, .. } if nested.is_some() => {
            let (Some(ns), Target::Entry { parent, name }) = (nested, &first.target) else {
                return Err(Errno::EINVAL);
            };
            match crate::idmap::open(ns, parent.as_fd(), name, flags) {
                Ok(fd) => Outcome::Fd {
                    fd,
                    cloexec: flags & libc::O_CLOEXEC != 0,
                },
                Err(e) => Outcome::Fail(e),
            }
        }
        Args::Open { flags, .. } if own_fd => {
            let cloexec = flags & libc::O_CLOEXEC != 0;
            let mut f = flags | libc::O_CLOEXEC;
            if first.trailing_slash {
                if f & libc::O_CREAT != 0 {
                    return Ok(Outcome::Fail(Errno::EISDIR));
                }
                f |= libc::O_DIRECTORY;
            }
            let (parent, name) = entry(first)?;
            let opened = super::own_fd::open(move || {
                open_entry(&Authority::Supervisor, parent.as_fd(), &name, f, 0, false)
            });
            match opened.and_then(super::opath::installable) {
                Ok(fd) => Outcome::Fd { fd, cloexec },
                Err(e) => Outcome::Fail(e),
            }
        }
        Args::Open { flags, mode, .. } => {
            let who = opener.unwrap_or_else(|| who.clone());
            open(who, first, flags, mode & !umask)
        }
        Args::Stat { out, .. } => stat(who, task, out, first).into(),
        Args::Access { mode, flags, .. } => who.run(|| access(first, mode, flags)).into(),
        Args::Mkdir { mode, .. } => who.run(|| mkdir(first, mode & !umask)).into(),
        Args::Attr { ref change, .. } => who.run(|| super::attr::change(&first, change)).into(),
        Args::Symlink { ref target, .. } => who.run(|| super::link::symlink(target, first)).into(),
        Args::Mknod { mode, .. } => who.run(|| super::link::mknod(first, mode & !umask)).into(),
        Args::Link { .. } => {
            let second = targets.next().ok_or(Errno::EINVAL)??;
            who.run(|| super::link::link(first, second)).into()
        }
        Args::Unlink { ref at } => who
            .run(|| unlink(first, function == Function::Rmdir, &at.path))
            .into(),
        Args::Rename { flags, .. } => {
            let second = targets.next().ok_or(Errno::EINVAL)??;
            who.run(|| rename(first, second, flags)).into()
        }
        Args::Socket { .. } | Args::Exec { .. } => Outcome::Fail(Errno::EINVAL),
    })
}

/// Files of `/proc/<pid>` whose writes the kernel checks against the
/// credentials of whoever *opened* them (`file->f_cred`), as well as the
/// writer's: the id maps and `setgroups` of a user namespace.  Opened with
/// the supervisor's credentials, a write the kernel lets the program make
/// on its own fails (a root opener is not the namespace's owner: a
/// single-id map is refused), so Chromium finds no usable namespace
/// sandbox.  The supervisor's credentials would never allow more (the
/// writer, the program, is checked too), so these are opened as the
/// program.
const OPENER_CHECKED: &[&[u8]] = &[
    b"uid_map",
    b"gid_map",
    b"projid_map",
    b"setgroups",
    b"timens_offsets",
];

fn opener_checked(r: &Resolved) -> bool {
    let Target::Entry { parent, name } = &r.target else {
        return false;
    };
    OPENER_CHECKED.contains(&name.to_bytes())
        && nix::sys::statfs::fstatfs(parent)
            .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

fn creating_umask(t: &mut Task, flags: i32) -> Result<u32, Errno> {
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        Ok(t.status()?.umask)
    } else {
        Ok(0)
    }
}

fn entry(r: Resolved) -> Result<(OwnedFd, CString), Errno> {
    match r.target {
        Target::Entry { parent, name } => Ok((parent, name)),
        // Only a followed magic link ends on an object, and these calls do
        // not follow their last component.
        Target::Object(_) => Err(Errno::EINVAL),
    }
}

/// Was the last component a regular file, a directory, a symlink or
/// missing when resolved: an open of it means the same with the
/// `O_NONBLOCK` an io_uring open adds for its first, inline try
/// (`Authority::openat2`; a device or FIFO open may not).
fn plain(r: &Resolved) -> bool {
    match r.last {
        Last::Exists { mode } => matches!(
            mode & libc::S_IFMT,
            libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
        ),
        Last::Missing => true,
        _ => false,
    }
}

fn may_block(r: &Resolved, flags: i32) -> bool {
    if flags & (libc::O_NONBLOCK | libc::O_PATH) != 0 {
        return false;
    }
    match r.last {
        Last::Exists { mode } => matches!(mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFCHR),
        _ => false,
    }
}

fn open(who: Authority, r: Resolved, flags: i32, mode: u32) -> Outcome {
    let cloexec = flags & libc::O_CLOEXEC != 0;
    let blocking = may_block(&r, flags);
    // Blocking work is done by the blocking thread itself, which a signal
    // to the program's thread interrupts.
    let who = if blocking { who.here() } else { who };
    let run = move || -> Result<OwnedFd, Errno> {
        let mut f = flags | libc::O_CLOEXEC;
        match &r.target {
            Target::Entry { parent, name } => {
                if r.trailing_slash {
                    if f & libc::O_CREAT != 0 {
                        return Err(Errno::EISDIR);
                    }
                    f |= libc::O_DIRECTORY;
                }
                // The resolver followed (or, as asked, did not follow) a
                // symlink here; if one was swapped in since, fail rather
                // than follow it.  Not with O_NOFOLLOW, which the file
                // would then show in F_GETFL: with RESOLVE_NO_SYMLINKS.
                open_entry(&who, parent.as_fd(), name, f, mode, plain(&r))
            }
            Target::Object(obj) => {
                // Reached through a magic link: reopen the object itself.
                let me =
                    CString::new(format!("/proc/self/fd/{}", obj.as_raw_fd())).expect("digits");
                let f = f & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
                who.run(|| sys::openat(obj.as_fd(), &me, f, 0))
            }
        }
    };
    // ADDFD cannot carry an O_PATH file: the held object is reopened as a
    // stand-in (act/opath.rs).  Only an O_PATH open made one (no F_GETFL
    // needed to tell).
    let o_path = flags & libc::O_PATH != 0;
    let installable = move |fd| {
        if o_path {
            super::opath::installable(fd)
        } else {
            Ok(fd)
        }
    };
    let outcome = move || match run().and_then(installable) {
        Ok(fd) => Outcome::Fd { fd, cloexec },
        Err(e) => Outcome::Fail(e),
    };
    if blocking {
        Outcome::Blocking(Box::new(outcome))
    } else {
        outcome()
    }
}

/// `openat(parent, name, flags, mode)` for a resolved entry, never
/// following a symlink in `name`, with the flags open(2) would keep:
/// openat2 refuses what open(2) ignores (unknown bits, a mode without
/// O_CREAT, flags beside O_PATH), so those are dropped first, as open(2)
/// drops them.  Performed with `who`'s authority (`plain`: see
/// [`plain`]).
fn open_entry(
    who: &Authority,
    parent: std::os::fd::BorrowedFd,
    name: &std::ffi::CStr,
    flags: i32,
    mode: u32,
    plain: bool,
) -> Result<OwnedFd, Errno> {
    let mut f = flags & VALID_OPEN_FLAGS;
    if f & libc::O_PATH != 0 {
        f &= libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    }
    let creates = f & libc::O_CREAT != 0 || f & libc::O_TMPFILE == libc::O_TMPFILE;
    let mode = if creates { mode & 0o7777 } else { 0 };
    who.openat2(parent, name, (f, mode, RESOLVE_NO_SYMLINKS), plain)
}

fn stat(who: &Authority, task: &mut Task, out: StatOut, r: Resolved) -> Result<(), Errno> {
    if let (Some(found), Target::Entry { .. }) = (&r.found, &r.target) {
        // Looked up as the program by the resolution (the one permission a
        // stat checks: search on the directory), with exactly `who`'s
        // credentials (`Pending::take_resolved_for_stat_as`): what it
        // found is stat'ed, as `Authority::stat` does after its own lookup.
        return stat_into(
            &Authority::Supervisor,
            task,
            out,
            (found.as_fd(), c"", false),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
        );
    }
    match &r.target {
        Target::Entry { parent, name } => {
            let is_dir =
                matches!(r.last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFDIR);
            stat_into(
                who,
                task,
                out,
                (parent.as_fd(), name, is_dir),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        }
        Target::Object(obj) => stat_into(
            who,
            task,
            out,
            (obj.as_fd(), c"", false),
            libc::AT_EMPTY_PATH,
        ),
    }
}

/// `use_master_credentials` on a stat a slave filter forwarded: the
/// fields of the object the request names, for the filter; nothing is
/// written into the program.
pub fn stat_values(p: &mut Pending, as_program: bool) -> Result<FakeStat, Errno> {
    let who = if as_program {
        Authority::program(&mut p.task)?
    } else {
        Authority::Supervisor
    };
    let r = p
        .take_resolved()?
        .into_iter()
        .next()
        .ok_or(Errno::EINVAL)??;
    // What was resolved belongs to this very notification.
    p.task.settle()?;
    let st = who.run(|| match &r.target {
        Target::Entry { parent, name } => {
            sys::fstatat(parent.as_fd(), name, libc::AT_SYMLINK_NOFOLLOW)
        }
        Target::Object(obj) => sys::fstatat(obj.as_fd(), c"", libc::AT_EMPTY_PATH),
    })?;
    Ok(FakeStat::from_stat(&st))
}

/// An fd-only stat (`fstat` through `newfstatat`/`statx` with
/// `AT_EMPTY_PATH`): performed on the program's own descriptor.
pub fn fd_stat(task: &mut Task, fd: i32, out: StatOut) -> Outcome {
    let r = (|| {
        let obj = descriptor_object(task, fd)?;
        task.settle()?;
        stat_into(
            &Authority::Supervisor,
            task,
            out,
            (obj.as_fd(), c"", false),
            libc::AT_EMPTY_PATH,
        )
    })();
    r.into()
}

/// The object an fd-only call names: the program's descriptor `fd` (the
/// object a stand-in stands for), or its working directory (`AT_FDCWD`).
pub(super) fn descriptor_object(task: &mut Task, fd: i32) -> Result<OwnedFd, Errno> {
    if fd == libc::AT_FDCWD {
        task.cwd()
    } else {
        task.fd_object(fd)
    }
}

fn access(r: Resolved, mode: i32, flags: i32) -> Result<(), Errno> {
    let eaccess = flags & libc::AT_EACCESS;
    match &r.target {
        Target::Entry { parent, name } => sys::faccessat2(
            parent.as_fd(),
            name,
            mode,
            eaccess | libc::AT_SYMLINK_NOFOLLOW,
        ),
        Target::Object(obj) => {
            sys::faccessat2(obj.as_fd(), c"", mode, eaccess | libc::AT_EMPTY_PATH)
        }
    }
}

fn mkdir(r: Resolved, mode: u32) -> Result<(), Errno> {
    if matches!(r.last, Last::Dot) {
        return Err(Errno::EEXIST);
    }
    let (parent, name) = entry(r)?;
    nix::sys::stat::mkdirat(
        &parent,
        name.as_c_str(),
        nix::sys::stat::Mode::from_bits_retain(mode),
    )
}

/// `path`: the request's, whose last component says what rmdir of "."
/// (EINVAL), ".." (ENOTEMPTY) or "/" (EBUSY) fails with.
fn unlink(r: Resolved, rmdir: bool, path: &[u8]) -> Result<(), Errno> {
    if matches!(r.last, Last::Dot) {
        let last = path.split(|&b| b == b'/').rfind(|c| !c.is_empty());
        return Err(match last {
            _ if !rmdir => Errno::EISDIR,
            None => Errno::EBUSY,
            Some(b"..") => Errno::ENOTEMPTY,
            Some(_) => Errno::EINVAL,
        });
    }
    if !rmdir && r.trailing_slash {
        return Err(match r.last {
            Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFDIR => Errno::EISDIR,
            Last::Missing => Errno::ENOENT,
            _ => Errno::ENOTDIR,
        });
    }
    let (parent, name) = entry(r)?;
    let flag = if rmdir {
        nix::unistd::UnlinkatFlags::RemoveDir
    } else {
        nix::unistd::UnlinkatFlags::NoRemoveDir
    };
    nix::unistd::unlinkat(&parent, name.as_c_str(), flag)
}

fn rename(a: Resolved, b: Resolved, flags: u32) -> Result<(), Errno> {
    if matches!(a.last, Last::Dot) || matches!(b.last, Last::Dot) {
        return Err(Errno::EBUSY);
    }
    rename_slashes(&a, &b, flags)?;
    let (pa, na) = entry(a)?;
    let (pb, nb) = entry(b)?;
    nix::fcntl::renameat2(
        &pa,
        na.as_c_str(),
        &pb,
        nb.as_c_str(),
        nix::fcntl::RenameFlags::from_bits_retain(flags),
    )
}

/// What `do_renameat2` says of trailing slashes (the resolver did not
/// follow either last component): only a directory may have one, the
/// source's, or the target's unless the directory is exchanged with it.
fn rename_slashes(a: &Resolved, b: &Resolved, flags: u32) -> Result<(), Errno> {
    if !a.trailing_slash && !b.trailing_slash {
        return Ok(());
    }
    let is_dir = |r: &Resolved| matches!(r.last, Last::Exists { mode } if mode & libc::S_IFMT == libc::S_IFDIR);
    let exists = |r: &Resolved| matches!(r.last, Last::Exists { .. });
    if !exists(a) {
        return Err(Errno::ENOENT);
    }
    let exchange = flags & libc::RENAME_EXCHANGE != 0;
    if flags & libc::RENAME_NOREPLACE != 0 && exists(b) {
        return Err(Errno::EEXIST);
    }
    if exchange {
        if !exists(b) {
            return Err(Errno::ENOENT);
        }
        if !is_dir(b) && b.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
    }
    if !is_dir(a) && (a.trailing_slash || (!exchange && b.trailing_slash)) {
        return Err(Errno::ENOTDIR);
    }
    Ok(())
}
