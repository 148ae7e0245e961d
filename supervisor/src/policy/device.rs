//! Which opens reach a device: a block or character device other than the
//! harmless ones is a decision of its own (the `device` rules kind,
//! `master:device()`), apart from reading or writing its path.  Reading a
//! raw disk (`/dev/sda`, a loop device) reads every file on it, denied or
//! not.

use crate::resolve::{Last, Resolved};

/// The devices every program may open as its path allows: the data sinks
/// and sources, and terminals (`/dev/fd/N` and `/proc/self/fd/N` resolve
/// to the program's own objects, never to these paths).
const HARMLESS: [&[u8]; 7] = [
    b"/dev/null",
    b"/dev/zero",
    b"/dev/full",
    b"/dev/random",
    b"/dev/urandom",
    b"/dev/tty",
    b"/dev/ptmx",
];

/// `"block"` or `"char"` when `r` is a device that is not harmless.
pub fn kind_of(r: &Resolved) -> Option<&'static str> {
    let Last::Exists { mode } = r.last else {
        return None;
    };
    let kind = match mode & libc::S_IFMT {
        libc::S_IFBLK => "block",
        libc::S_IFCHR => "char",
        _ => return None,
    };
    let p = &r.path[..];
    let harmless =
        HARMLESS.contains(&p) || (p.starts_with(b"/dev/pts/") && !p[9..].contains(&b'/'));
    (!harmless).then_some(kind)
}
