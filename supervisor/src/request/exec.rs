//! execve and execveat: the path of the file to run, its flags, and a
//! bounded copy of `argv` for the policy to read (docs/policy.md, "exec").
//!
//! `argv` (and `envp`) are read again by the kernel after the answer: a
//! policy may log them, never trust them (docs/security.md, "Exec").

use nix::errno::Errno;

use kernel::memory;

/// The `AT_*` flags execveat accepts (others: EINVAL).
pub const AT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
/// How many `argv` strings are copied.
pub const ARGV_MAX: usize = 64;
/// How many bytes of each are copied.
pub const ARG_MAX: usize = 1024;

/// The bounded copy of `argv`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Argv {
    /// The first [`ARGV_MAX`] strings, each cut at [`ARG_MAX`] bytes.
    pub args: Vec<Vec<u8>>,
    /// More strings, or a longer one, than were copied.
    pub truncated: bool,
}

/// The flag names of an exec (docs/policy.md).
pub fn flag_names(flags: i32) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        v.push("no_follow");
    }
    if flags & libc::AT_EMPTY_PATH != 0 {
        v.push("empty_path");
    }
    v
}

/// Does an exec with `flags` follow a symlink in its last component?
pub fn follows(flags: i32) -> bool {
    flags & libc::AT_SYMLINK_NOFOLLOW == 0
}

/// Copies `argv` (an array of pointers at `addr`, NULL-terminated; a NULL
/// array is an empty one, as for the kernel) within the bounds.  A
/// pointer that cannot be read is EFAULT, as for the kernel.
pub fn read_argv(tid: u32, addr: u64) -> Result<Argv, Errno> {
    let mut out = Argv::default();
    if addr == 0 {
        return Ok(out);
    }
    for i in 0..=ARGV_MAX {
        let mut p = [0u8; 8];
        let at = addr.checked_add(8 * i as u64).ok_or(Errno::EFAULT)?;
        memory::read_exact(tid, at, &mut p)?;
        let ptr = u64::from_ne_bytes(p);
        if ptr == 0 {
            return Ok(out);
        }
        if i == ARGV_MAX {
            out.truncated = true;
            return Ok(out);
        }
        let (s, cut) = read_bounded(tid, ptr)?;
        out.truncated |= cut;
        out.args.push(s);
    }
    Ok(out)
}

/// A NUL-terminated string at `addr`, cut at [`ARG_MAX`] bytes (then
/// `true`).  Read in pieces that never cross a page, so that a string
/// ending just before an unmapped page is read.
fn read_bounded(tid: u32, addr: u64) -> Result<(Vec<u8>, bool), Errno> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut cur = addr;
    let mut chunk = [0u8; ARG_MAX];
    while out.len() < ARG_MAX {
        let to_page_end = (PAGE - cur % PAGE) as usize;
        let want = to_page_end.min(ARG_MAX - out.len());
        let buf = &mut chunk[..want];
        memory::read_exact(tid, cur, buf)?;
        if let Some(nul) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..nul]);
            return Ok((out, false));
        }
        out.extend_from_slice(buf);
        cur = cur.checked_add(want as u64).ok_or(Errno::EFAULT)?;
    }
    Ok((out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid() -> u32 {
        std::process::id()
    }

    #[test]
    fn argv_is_copied_within_bounds() {
        let a = c"/bin/echo";
        let b = c"hello";
        let v = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
        let got = read_argv(tid(), v.as_ptr() as u64).unwrap();
        assert_eq!(got.args, [b"/bin/echo".to_vec(), b"hello".to_vec()]);
        assert!(!got.truncated);
        assert_eq!(read_argv(tid(), 0).unwrap(), Argv::default());
        let long = std::ffi::CString::new(vec![b'x'; 3 * ARG_MAX]).unwrap();
        let many: Vec<u64> = std::iter::repeat_n(long.as_ptr() as u64, ARGV_MAX + 3)
            .chain([0])
            .collect();
        let got = read_argv(tid(), many.as_ptr() as u64).unwrap();
        assert_eq!(got.args.len(), ARGV_MAX);
        assert!(got.args.iter().all(|a| a.len() == ARG_MAX));
        assert!(got.truncated);
        assert_eq!(read_argv(tid(), 8), Err(Errno::EFAULT));
        assert_eq!(
            flag_names(libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW),
            ["no_follow", "empty_path"]
        );
    }
}
