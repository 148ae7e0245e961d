//! The API in-process, without calls that change the test process
//! (namespaces, credentials, filters are covered by tests/it/init_script.rs).

use std::os::fd::IntoRawFd;

use super::*;

fn state(arg: Option<RawFd>) -> Lua {
    new_state(Options {
        arg,
        on_errexit: None,
    })
    .unwrap()
}

fn eval<T: mlua::FromLuaMulti>(lua: &Lua, src: &str) -> T {
    lua.load(src)
        .eval()
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[test]
fn globals_and_constants() {
    let lua = state(Some(7));
    assert_eq!(eval::<i64>(&lua, "return arg"), 7);
    assert!(eval::<bool>(&lua, "return errexit"));
    assert_eq!(eval::<i64>(&lua, "return mode(7, 5, 0)"), 0o750);
    assert_eq!(eval::<i64>(&lua, "return C.EPERM"), libc::EPERM as i64);
    assert_eq!(
        eval::<i64>(&lua, "return C.CLONE_NEWUTS"),
        libc::CLONE_NEWUTS as i64
    );
    assert_eq!(
        eval::<i64>(&lua, "return C.MS_BIND | C.MS_REC"),
        (libc::MS_BIND | libc::MS_REC) as i64
    );
    assert_eq!(eval::<i64>(&lua, "return C.SECBIT_NOROOT_LOCKED"), 2);
    assert!(eval::<bool>(&lua, "return C.MNT_SNAPSHOT == nil"));
    assert!(eval::<bool>(&lua, "return arg ~= nil and state == nil"));
    let none = state(None);
    assert!(eval::<bool>(&none, "return arg == nil"));
}

#[test]
fn every_spec_function_exists() {
    let lua = state(None);
    for f in [
        "read",
        "write",
        "sethostname",
        "setdomainname",
        "setgroups",
        "cap_set_proc",
        "cap_drop_bound",
        "cap_set_ambient",
        "execve",
        "fexecve",
        "open",
        "mkdir",
        "chdir",
        "mkfifo",
        "mknod",
        "makedev",
        "link",
        "symlink",
        "chown",
        "chmod",
        "umask",
        "mount",
        "umount",
        "umount2",
        "unmount",
        "pivot_root",
        "chroot",
        "setsid",
        "setpgid",
        "setresuid",
        "setresgid",
        "cap_reset_ambient",
        "cap_set_secbits",
        "unshare",
        "setns",
        "cap_enter",
        "jail_attach",
        "jail_set",
        "seccomp_set_mode_filter",
        "landlock_create_ruleset",
        "landlock_add_rule",
        "landlock_restrict_self",
    ] {
        assert!(
            eval::<bool>(&lua, &format!("return type(C.{f}) == 'function'")),
            "C.{f} is missing"
        );
    }
    for f in [
        "mode",
        "write_all",
        "receive_with_fd",
        "send_with_fd",
        "set_no_new_privs",
        "seccomp_compile",
    ] {
        assert!(
            eval::<bool>(&lua, &format!("return type({f}) == 'function'")),
            "{f}"
        );
    }
}

#[test]
fn read_write_through_a_pipe() {
    let (r, w) = nix::unistd::pipe().unwrap();
    let (r, w) = (r.into_raw_fd(), w.into_raw_fd());
    let lua = state(None);
    let src = format!(
        "local n, e = C.write({w}, 'hello')
         assert(n == 5 and e == 0)
         local n2, e2 = write_all({w}, ' world')
         assert(n2 == 6 and e2 == 0)
         local s, e3 = C.read({r}, 64)
         C.close({r}); C.close({w})
         return s, e3"
    );
    let (s, e): (String, i64) = eval(&lua, &src);
    assert_eq!((s.as_str(), e), ("hello world", 0));
}

#[test]
fn errexit_false_returns_the_errno() {
    let lua = state(None);
    let (r, e): (i64, i64) = eval(
        &lua,
        "errexit = false; return C.open('/nonexistent/file', C.O_RDONLY)",
    );
    assert_eq!((r, e), (-1, libc::ENOENT as i64));
    let (s, e): (Value, i64) = eval(&lua, "return C.read(-1, 10)");
    assert!(s.is_nil());
    assert_eq!(e, libc::EBADF as i64);
    let (r, e): (i64, i64) = eval(&lua, "return C.cap_set_proc('cap_nope=e')");
    assert_eq!((r, e), (-1, libc::EINVAL as i64));
}

#[test]
fn freebsd_only_functions_fail_with_enosys() {
    let lua = state(None);
    for f in [
        "cap_enter()",
        "jail_attach(1)",
        "jail_set({}, {'create'})",
        "unmount('/', 0)",
    ] {
        let (r, e): (i64, i64) = eval(&lua, &format!("errexit = false; return C.{f}"));
        assert_eq!((r, e), (-1, libc::ENOSYS as i64), "{f}");
    }
}

#[test]
fn argument_type_errors_are_lua_errors() {
    let lua = state(None);
    for src in [
        "C.open(nil, 0)",
        "C.mkdir('/tmp/x\\0y', 448)",
        "C.read(0, -1)",
        "C.unshare('x')",
        "C.landlock_create_ruleset({handled_access_fs = {'frobnicate'}})",
        "C.landlock_create_ruleset({handled_access_fss = {'execute'}})",
        "seccomp_compile('allow', {ptrace = 'maybe'})",
        "seccomp_compile('allow', {no_such_syscall = 'kill'})",
        "C.landlock_restrict_self(0, {\"log\"})",
    ] {
        assert!(lua.load(src).exec().is_err(), "{src} should be a Lua error");
    }
}

#[test]
fn seccomp_compile_gives_bpf_bytes() {
    let lua = state(None);
    let n: i64 = eval(
        &lua,
        "return #seccomp_compile('allow', {ptrace = 'EPERM', mount = 'kill'})",
    );
    assert!(n > 0 && n % 8 == 0, "{n}");
    let (r, e): (i64, i64) = eval(
        &lua,
        "errexit = false; return C.seccomp_set_mode_filter('short')",
    );
    assert_eq!((r, e), (-1, libc::EINVAL as i64));
}

#[test]
fn landlock_version_flag() {
    let lua = state(None);
    let (v, e): (i64, i64) = eval(
        &lua,
        "errexit = false; return C.landlock_create_ruleset(nil, {'version'})",
    );
    // Any kernel: the ABI, or the errno saying Landlock is off.
    assert!((v >= 1 && e == 0) || (v == -1 && e != 0), "{v} {e}");
}

#[test]
fn errno_names() {
    assert_eq!(errno_name(libc::EPERM), "EPERM");
    assert_eq!(errno_from_name("EACCES"), Some(libc::EACCES));
    assert_eq!(errno_from_name("EWOULDBLOCK"), Some(libc::EAGAIN));
    assert_eq!(errno_from_name("EHWPOISON"), Some(libc::EHWPOISON));
    assert_eq!(errno_from_name("ENOPE"), None);
}

#[test]
fn runtime_and_syntax_errors() {
    let e = run(
        b"local x = ",
        "=t",
        Options {
            arg: None,
            on_errexit: None,
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::Syntax(_)), "{e}");
    let e = run(
        b"error('boom')",
        "=t",
        Options {
            arg: None,
            on_errexit: None,
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("boom") && e.to_string().contains("traceback"),
        "{e}"
    );
}

#[test]
fn send_and_receive_a_descriptor() {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let (r, w) = nix::unistd::pipe().unwrap();
    let (a, b, r, w) = (
        a.into_raw_fd(),
        b.into_raw_fd(),
        r.into_raw_fd(),
        w.into_raw_fd(),
    );
    let lua = state(None);
    let src = format!(
        "local n, e = send_with_fd({a}, 'with fd', {r})
         assert(n == 7 and e == 0)
         local s, fd, e2 = receive_with_fd({b}, 64)
         assert(s == 'with fd' and fd >= 0 and e2 == 0)
         write_all({w}, 'through the passed pipe')
         local got = C.read(fd, 64)
         local n3, e3 = send_with_fd({a}, 'no fd')
         local s4, fd4 = receive_with_fd({b}, 64)
         for _, x in ipairs({{{a}, {b}, {r}, {w}, fd}}) do C.close(x) end
         return got, s4, fd4"
    );
    let (got, s4, fd4): (String, String, i64) = eval(&lua, &src);
    assert_eq!(
        (got.as_str(), s4.as_str(), fd4),
        ("through the passed pipe", "no fd", -1)
    );
}
