//! The metadata calls: chmod, fchmodat, fchmodat2.

use bpf::Sys;
use nix::errno::Errno;

use super::{at, cwd, errno, expect, ptr, CWD, JUNK};
use crate::request::attr::Change;
use crate::request::{Args, Function};

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
