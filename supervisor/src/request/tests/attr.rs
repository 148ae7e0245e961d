//! The metadata calls (chmod, chown, utime, truncate, xattr) and the
//! calls that make a name (symlink, link, mknod).

use bpf::Sys;
use nix::errno::Errno;

use super::{at, cwd, errno, expect, ptr, run, CWD, JUNK};
use crate::request::attr::{Change, Time};
use crate::request::{Args, Decoded, Function};

#[test]
fn chmod_mode_is_masked_and_flags_checked() {
    let p = ptr(c"f");
    expect(
        Sys::Chmod,
        [p, JUNK | 0o10_4755, 0, 0, 0, 0],
        Function::Chmod,
        Args::Attr {
            at: cwd(b"f"),
            flags: 0,
            change: Change::Mode(0o4755),
        },
    );
    // fchmodat has no flags register: whatever is there is ignored.
    expect(
        Sys::Fchmodat,
        [JUNK | 7, p, 0o600, u64::MAX, 0, 0],
        Function::Chmod,
        Args::Attr {
            at: at(7, b"f"),
            flags: 0,
            change: Change::Mode(0o600),
        },
    );
    expect(
        Sys::Fchmodat2,
        [CWD, p, 0o600, libc::AT_SYMLINK_NOFOLLOW as u64, 0, 0],
        Function::Chmod,
        Args::Attr {
            at: cwd(b"f"),
            flags: libc::AT_SYMLINK_NOFOLLOW,
            change: Change::Mode(0o600),
        },
    );
    // AT_EMPTY_PATH: the empty path names the descriptor.
    expect(
        Sys::Fchmodat2,
        [5, ptr(c""), 0o600, libc::AT_EMPTY_PATH as u64, 0, 0],
        Function::Chmod,
        Args::Attr {
            at: at(5, b""),
            flags: libc::AT_EMPTY_PATH,
            change: Change::Mode(0o600),
        },
    );
    assert_eq!(
        errno(Sys::Fchmodat2, [5, ptr(c""), 0o600, 0, 0, 0]),
        Errno::ENOENT
    );
    assert_eq!(
        errno(
            Sys::Fchmodat2,
            [CWD, p, 0o600, libc::AT_REMOVEDIR as u64, 0, 0]
        ),
        Errno::EINVAL
    );
    assert_eq!(errno(Sys::Chmod, [0, 0o600, 0, 0, 0, 0]), Errno::EFAULT);
    assert_eq!(
        errno(Sys::Chmod, [ptr(c""), 0o600, 0, 0, 0, 0]),
        Errno::ENOENT
    );
}

#[test]
fn chown_keeps_minus_one_and_reads_lchown_as_no_follow() {
    let p = ptr(c"f");
    expect(
        Sys::Lchown,
        [p, u32::MAX as u64, JUNK | 5, 0, 0, 0],
        Function::Chown,
        Args::Attr {
            at: cwd(b"f"),
            flags: libc::AT_SYMLINK_NOFOLLOW,
            change: Change::Owner {
                uid: u32::MAX,
                gid: 5,
            },
        },
    );
    assert_eq!(
        errno(Sys::Fchownat, [CWD, p, 0, 0, 0x4000_0000, 0]),
        Errno::EINVAL
    );
}

#[test]
fn utime_times_are_read_and_checked_as_the_kernel_does() {
    let p = ptr(c"f");
    let ts: [i64; 4] = [10, (1 << 30) - 2, 20, 5];
    let times = |t: &[i64; 4]| t.as_ptr() as u64;
    expect(
        Sys::Utimensat,
        [CWD, p, times(&ts), 0, 0, 0],
        Function::Utime,
        Args::Attr {
            at: cwd(b"f"),
            flags: 0,
            change: Change::Times([Time::Omit, Time::At(20, 5)]),
        },
    );
    // Both UTIME_OMIT: nothing to do, answered 0 without the path.
    let omit: [i64; 4] = [0, (1 << 30) - 2, 0, (1 << 30) - 2];
    match run(Sys::Utimensat, [CWD, 0x10, times(&omit), 0, 0, 0]) {
        Decoded::Value(0) => {}
        other => panic!("{other:?}"),
    }
    let bad: [i64; 4] = [0, 1_000_000_000, 0, 0];
    assert_eq!(
        errno(Sys::Utimensat, [CWD, p, times(&bad), 0, 0, 0]),
        Errno::EINVAL
    );
    // utimes: microseconds; NULL is now.
    let tv: [i64; 4] = [1, 2, 3, 999_999];
    expect(
        Sys::Utimes,
        [p, times(&tv), 0, 0, 0, 0],
        Function::Utime,
        Args::Attr {
            at: cwd(b"f"),
            flags: 0,
            change: Change::Times([Time::At(1, 2000), Time::At(3, 999_999_000)]),
        },
    );
    let tv: [i64; 4] = [1, 1_000_000, 3, 0];
    assert_eq!(
        errno(Sys::Utimes, [p, times(&tv), 0, 0, 0, 0]),
        Errno::EINVAL
    );
    expect(
        Sys::Utime,
        [p, 0, 0, 0, 0, 0],
        Function::Utime,
        Args::Attr {
            at: cwd(b"f"),
            flags: 0,
            change: Change::Times([Time::Now; 2]),
        },
    );
    assert_eq!(errno(Sys::Utime, [p, 8, 0, 0, 0, 0]), Errno::EFAULT);
}

#[test]
fn truncate_and_xattr_arguments() {
    let p = ptr(c"f");
    assert_eq!(
        errno(Sys::Truncate, [p, u64::MAX, 0, 0, 0, 0]),
        Errno::EINVAL
    );
    let value = b"abc";
    expect(
        Sys::Lsetxattr,
        [p, ptr(c"user.x"), value.as_ptr() as u64, 3, 1, 0],
        Function::Xattr,
        Args::Attr {
            at: cwd(b"f"),
            flags: libc::AT_SYMLINK_NOFOLLOW,
            change: Change::SetXattr {
                name: b"user.x".to_vec(),
                value: value.to_vec(),
                flags: 1,
            },
        },
    );
    let long = std::ffi::CString::new(vec![b'a'; 256]).unwrap();
    for (regs, want) in [
        ([p, ptr(c"user.x"), 0, 0, 4, 0], Errno::EINVAL),
        ([p, ptr(c""), 0, 0, 0, 0], Errno::ERANGE),
        ([p, ptr(&long), 0, 0, 0, 0], Errno::ERANGE),
        ([p, ptr(c"user.x"), 0, 65537, 0, 0], Errno::E2BIG),
        ([p, ptr(c"user.x"), 8, 4, 0, 0], Errno::EFAULT),
    ] {
        assert_eq!(errno(Sys::Setxattr, regs), want, "{regs:?}");
    }
    assert_eq!(errno(Sys::Removexattr, [p, 0, 0, 0, 0, 0]), Errno::EFAULT);
}

#[test]
fn symlink_link_mknod_arguments() {
    let p = ptr(c"new");
    expect(
        Sys::Symlinkat,
        [ptr(c"../t"), JUNK | 4, p, 0, 0, 0],
        Function::Symlink,
        Args::Symlink {
            target: b"../t".to_vec(),
            at: at(4, b"new"),
        },
    );
    assert_eq!(
        errno(Sys::Symlink, [ptr(c""), p, 0, 0, 0, 0]),
        Errno::ENOENT
    );
    expect(
        Sys::Linkat,
        [3, ptr(c""), CWD, p, libc::AT_EMPTY_PATH as u64, 0],
        Function::Link,
        Args::Link {
            from: at(3, b""),
            to: cwd(b"new"),
            flags: libc::AT_EMPTY_PATH,
        },
    );
    assert_eq!(
        errno(Sys::Linkat, [CWD, ptr(c""), CWD, p, 0, 0]),
        Errno::ENOENT
    );
    assert_eq!(
        errno(
            Sys::Linkat,
            [CWD, p, CWD, p, libc::AT_SYMLINK_NOFOLLOW as u64, 0]
        ),
        Errno::EINVAL
    );
    // umode_t: 16 bits; type 0 is a regular file.
    expect(
        Sys::Mknod,
        [p, 0xffff_0000 | 0o644, 0, 0, 0, 0],
        Function::Mknod,
        Args::Mknod {
            at: cwd(b"new"),
            mode: libc::S_IFREG | 0o644,
        },
    );
    for (kind, want) in [
        (libc::S_IFCHR, Errno::EPERM),
        (libc::S_IFDIR, Errno::EPERM),
        (0o170000, Errno::EINVAL),
    ] {
        assert_eq!(errno(Sys::Mknod, [p, kind as u64, 0, 0, 0, 0]), want);
    }
}

#[test]
fn calls_on_a_descriptor_are_requests_on_its_file() {
    use crate::request::attr::{on_fd, FD_FORM};
    use crate::request::{Dir, PathArg};
    expect(
        Sys::Fchmod,
        [JUNK | 4, 0o104_755, 0, 0, 0, 0],
        Function::Chmod,
        on_fd(4, Change::Mode(0o4755)),
    );
    // futimens: utimensat with a NULL path and a descriptor, no flags.
    expect(
        Sys::Utimensat,
        [4, 0, 0, 0, 0, 0],
        Function::Utime,
        on_fd(4, Change::Times([Time::Now; 2])),
    );
    assert_eq!(
        errno(
            Sys::Utimensat,
            [4, 0, 0, libc::AT_SYMLINK_NOFOLLOW as u64, 0, 0]
        ),
        Errno::EINVAL
    );
    // …but AT_FDCWD with a NULL path is the path form: EFAULT.
    assert_eq!(errno(Sys::Utimensat, [CWD, 0, 0, 0, 0, 0]), Errno::EFAULT);
    match on_fd(4, Change::Mode(0)) {
        Args::Attr { at, flags, .. } => {
            assert_eq!(
                at,
                PathArg {
                    dir: Dir::Fd(4),
                    path: vec![]
                }
            );
            assert_eq!(flags, libc::AT_EMPTY_PATH | FD_FORM);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn setxattrat_reads_its_struct_and_path() {
    let p = ptr(c"f");
    let value = b"v";
    let args: [u64; 3] = [value.as_ptr() as u64, 1 | (2u64 << 32), 9];
    expect(
        Sys::Setxattrat,
        [
            CWD,
            p,
            libc::AT_SYMLINK_NOFOLLOW as u64,
            ptr(c"user.a"),
            args.as_ptr() as u64,
            16,
        ],
        Function::Xattr,
        Args::Attr {
            at: cwd(b"f"),
            flags: libc::AT_SYMLINK_NOFOLLOW,
            change: Change::SetXattr {
                name: b"user.a".to_vec(),
                value: b"v".to_vec(),
                flags: 2,
            },
        },
    );
    let a = args.as_ptr() as u64;
    let name = ptr(c"user.a");
    for (regs, want) in [
        ([CWD, p, 0, name, a, 8], Errno::EINVAL),
        ([CWD, p, 0, name, a, 8192], Errno::E2BIG),
        // A larger struct whose extra bytes are not zero.
        ([CWD, p, 0, name, a, 24], Errno::E2BIG),
        ([CWD, p, 0x2, name, a, 16], Errno::EINVAL),
        ([CWD, ptr(c""), 0, name, a, 16], Errno::ENOENT),
    ] {
        assert_eq!(errno(Sys::Setxattrat, regs), want, "{regs:?}");
    }
    expect(
        Sys::Removexattrat,
        [7, 0, libc::AT_EMPTY_PATH as u64, name, 0, 0],
        Function::Xattr,
        crate::request::attr::on_fd(
            7,
            Change::RemoveXattr {
                name: b"user.a".to_vec(),
            },
        ),
    );
}
