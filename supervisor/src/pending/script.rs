//! The interpreter of a `#!` script, read from the held file for an exec:
//! the file the kernel will actually run (docs/security.md, "Exec").

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::resolve::{Last, Resolved, Target};

/// What the kernel reads of a file to know its format (BINPRM_BUF_SIZE).
const HEAD: usize = 256;
/// How many interpreters the kernel follows (a script whose interpreter is
/// a script, …): its binfmt recursion bound.
pub const DEPTH: usize = 4;

/// The interpreter named by the first line of the regular file `r`, if it
/// is a `#!` script (read as the supervisor, on the held object: never the
/// path again).
pub fn interpreter(r: &Resolved) -> Option<Vec<u8>> {
    let Last::Exists { mode } = r.last else {
        return None;
    };
    if mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd: OwnedFd = match &r.target {
        Target::Entry { parent, name } => {
            kernel::sys::openat(parent.as_fd(), name, flags | libc::O_CLOEXEC, 0).ok()?
        }
        Target::Object(fd) => {
            let p = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
            let flags = (flags & !libc::O_NOFOLLOW) | libc::O_CLOEXEC;
            kernel::sys::openat(fd.as_fd(), &p, flags, 0).ok()?
        }
    };
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::from(fd)
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .ok()?;
    parse(&head)
}

/// The interpreter's path in a file's first bytes (as binfmt_script reads
/// it: after `#!` and blanks, up to a blank, a newline or a NUL).
fn parse(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let name: Vec<u8> = line[start..]
        .iter()
        .copied()
        .take_while(|&b| b != b' ' && b != b'\t' && b != 0)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_interpreter_is_read_as_the_kernel_does() {
        assert_eq!(parse(b"#!/bin/sh\necho"), Some(b"/bin/sh".to_vec()));
        assert_eq!(
            parse(b"#! \t/usr/bin/env python3 -u\n"),
            Some(b"/usr/bin/env".to_vec())
        );
        assert_eq!(parse(b"#!sh"), Some(b"sh".to_vec()));
        assert_eq!(parse(b"#!\n/bin/sh"), None);
        assert_eq!(parse(b"\x7fELF"), None);
        assert_eq!(parse(b""), None);
    }
}
