//! The request kinds: one row per `master.function_` value.
//!
//! Adding a kind is one row here (and its variant), one decode arm
//! (`supervisor::request`), one act arm (`supervisor::act`), its rules
//! kinds, and docs.  The slave filter names, their slots, the fuzz and
//! test lists all derive from [`TABLE`]; `Function` is matched
//! exhaustively everywhere else, so the compiler lists every place a new
//! kind must be handled.

use crate::kind::Kind;

/// A request kind (`master.function_`).  The discriminant is the kind's
/// row in [`TABLE`] and its slave-filter slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Function {
    Open,
    Openat,
    Unlink,
    Rename,
    Stat,
    Lstat,
    Access,
    Eaccess,
    Mkdir,
    Rmdir,
    /// chmod, fchmodat, fchmodat2.
    Chmod,
    /// chown, lchown, fchownat.
    Chown,
    /// utime, utimes, futimesat, utimensat with a path.
    Utime,
    /// truncate.
    Truncate,
    /// setxattr, lsetxattr, removexattr, lremovexattr.
    Xattr,
    /// symlink, symlinkat.
    Symlink,
    /// link, linkat.
    Link,
    /// mknod, mknodat of a regular file, a FIFO or a socket.
    Mknod,
    /// execve, execveat.
    Exec,
    ConnectUnix,
    ConnectInet,
    ConnectInet6,
    BindUnix,
    BindInet,
    BindInet6,
    /// A name lookup (from the DNS stub, not a notification).
    Getaddrinfo,
}

/// What a request of a kind returns to the program (and so what a
/// policy's `send` and a slave filter's return must be).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// An integer (0, or -1 with an errno).
    Integer,
    /// A descriptor (installed in the program), or -1 with an errno.
    Descriptor,
    /// A stat table, or -1 with an errno.
    Stat,
    /// Addresses or a getaddrinfo error.
    Addresses,
}

/// What the table says of a kind.
#[derive(Debug)]
pub struct Row {
    pub function: Function,
    /// `master.function_`, and the key of `libc_service.slave`.
    pub name: &'static str,
    /// The real function a slave filter is given (`real_connect` for every
    /// `connect_*`).
    pub real: &'static str,
    /// The rules kinds a request of this kind may be checked as (an open
    /// is read, write or create by its flags; docs/rules.md).
    pub kinds: &'static [Kind],
    /// What it returns.
    pub returns: Returns,
}

const fn row(
    function: Function,
    name: &'static str,
    real: &'static str,
    kinds: &'static [Kind],
    returns: Returns,
) -> Row {
    Row {
        function,
        name,
        real,
        kinds,
        returns,
    }
}

use Kind::{Bind, Connect, Create, Delete, Device, Read, Resolve, Write};
use Returns::{Addresses, Descriptor, Integer, Stat};

/// Every kind, in the order of [`Function`].
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    row(Function::Open,         "open",          "real_open",        &[Read, Write, Create, Device], Descriptor),
    row(Function::Openat,       "openat",        "real_openat",      &[Read, Write, Create, Device], Descriptor),
    row(Function::Unlink,       "unlink",        "real_unlink",      &[Delete],                      Integer),
    row(Function::Rename,       "rename",        "real_rename",      &[Delete, Create],              Integer),
    row(Function::Stat,         "stat",          "real_stat",        &[Read],                        Stat),
    row(Function::Lstat,        "lstat",         "real_lstat",       &[Read],                        Stat),
    row(Function::Access,       "access",        "real_access",      &[Read],                        Integer),
    row(Function::Eaccess,      "eaccess",       "real_eaccess",     &[Read],                        Integer),
    row(Function::Mkdir,        "mkdir",         "real_mkdir",       &[Create],                      Integer),
    row(Function::Rmdir,        "rmdir",         "real_rmdir",       &[Delete],                      Integer),
    row(Function::Chmod,        "chmod",         "real_chmod",       &[Write],                       Integer),
    row(Function::Chown,        "chown",         "real_chown",       &[Write],                       Integer),
    row(Function::Utime,        "utime",         "real_utime",       &[Write],                       Integer),
    row(Function::Truncate,     "truncate",      "real_truncate",    &[Write],                       Integer),
    row(Function::Xattr,        "xattr",         "real_xattr",       &[Write],                       Integer),
    row(Function::Symlink,      "symlink",       "real_symlink",     &[Create],                      Integer),
    row(Function::Link,         "link",          "real_link",        &[Read, Write, Create],         Integer),
    row(Function::Mknod,        "mknod",         "real_mknod",       &[Create],                      Integer),
    row(Function::Exec,         "exec",          "real_exec",        &[Read],                        Integer),
    row(Function::ConnectUnix,  "connect_unix",  "real_connect",     &[Connect],                     Integer),
    row(Function::ConnectInet,  "connect_inet",  "real_connect",     &[Connect],                     Integer),
    row(Function::ConnectInet6, "connect_inet6", "real_connect",     &[Connect],                     Integer),
    row(Function::BindUnix,     "bind_unix",     "real_bind",        &[Bind, Create],                Integer),
    row(Function::BindInet,     "bind_inet",     "real_bind",        &[Bind],                        Integer),
    row(Function::BindInet6,    "bind_inet6",    "real_bind",        &[Bind],                        Integer),
    row(Function::Getaddrinfo,  "getaddrinfo",   "real_getaddrinfo", &[Resolve],                     Addresses),
];

/// The number of kinds.
pub const COUNT: usize = TABLE.len();

// Each row sits at its kind's discriminant.
const _: () = {
    let mut i = 0;
    while i < COUNT {
        assert!(TABLE[i].function as usize == i);
        i += 1;
    }
};

impl Function {
    /// Every kind, in table order.
    pub const ALL: [Function; COUNT] = {
        let mut all = [Function::Open; COUNT];
        let mut i = 0;
        while i < COUNT {
            all[i] = TABLE[i].function;
            i += 1;
        }
        all
    };

    /// The kind's row.
    pub fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// What a request of this kind returns.
    pub fn returns(self) -> Returns {
        self.row().returns
    }

    /// `master.function_`.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The slave-filter slot (the row's index).
    pub fn slot(self) -> usize {
        self as usize
    }

    /// The kind named `name`.
    pub fn by_name(name: &str) -> Option<Function> {
        TABLE.iter().find(|r| r.name == name).map(|r| r.function)
    }

    /// The kind of slot `slot`.
    pub fn of_slot(slot: usize) -> Option<Function> {
        TABLE.get(slot).map(|r| r.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for f in Function::ALL {
            assert_eq!(Function::by_name(f.name()), Some(f));
            assert_eq!(Function::of_slot(f.slot()), Some(f));
            assert!(f.row().real.starts_with("real_"));
            assert!(!f.row().kinds.is_empty());
        }
        assert_eq!(Function::by_name("fchmodat"), None);
    }
}
