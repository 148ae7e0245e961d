//! The program's memory: every read is one copy taken with
//! `process_vm_readv`, every write goes through `process_vm_writev`; when
//! the program may hold a page that never arrives (a userfaultfd, a FUSE
//! server of its own: only outside the default posture), both are made by
//! a worker thread and awaited with a deadline (offload.rs), and such a
//! page fails the copy with EFAULT instead of stalling the caller.
//!
//! A read is only trusted after the caller has checked that the
//! notification is still valid (`SECCOMP_IOCTL_NOTIF_ID_VALID`): that
//! proves the tid was not reused between the notification and the copy.

use std::io::{IoSlice, IoSliceMut};

use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

/// `PATH_MAX`, terminating NUL included.
pub const PATH_MAX: usize = 4096;
const PAGE: u64 = 4096;

/// Reads `len` bytes at `addr`; a short read is EFAULT.
pub fn read_exact(tid: u32, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    if buf.is_empty() {
        return Ok(());
    }
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    if crate::offload::guarded() {
        crate::offload::read(tid, addr, buf)
    } else {
        direct_read(tid, addr, buf)
    }
}

/// [`read_exact`] on the calling thread (the worker's).
pub(crate) fn direct_read(tid: u32, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    let len = buf.len();
    let remote = [RemoteIoVec {
        base: addr as usize,
        len,
    }];
    let n = process_vm_readv(
        Pid::from_raw(tid as i32),
        &mut [IoSliceMut::new(buf)],
        &remote,
    )
    .map_err(fault)?;
    if n == len {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Reads a NUL-terminated path at `addr`, page by page so that a string
/// ending just before an unmapped page is still read.  Returns the bytes
/// without the NUL.  Errors as the kernel's `getname`: EFAULT for a bad
/// pointer, ENAMETOOLONG when no NUL is found within `PATH_MAX` bytes.
pub fn read_path(tid: u32, addr: u64) -> Result<Vec<u8>, Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    let mut out = Vec::with_capacity(256);
    let mut cur = addr;
    let mut chunk = [0u8; PAGE as usize];
    while out.len() < PATH_MAX {
        let to_page_end = PAGE - (cur % PAGE);
        let want = (to_page_end as usize).min(PATH_MAX - out.len());
        let buf = &mut chunk[..want];
        read_exact(tid, cur, buf)?;
        if let Some(nul) = buf.iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..nul]);
            return Ok(out);
        }
        out.extend_from_slice(buf);
        cur = cur.checked_add(want as u64).ok_or(Errno::EFAULT)?;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Writes `data` at `addr` in the program; EFAULT on a read-only, unmapped
/// or short destination.
pub fn write(tid: u32, addr: u64, data: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Err(Errno::EFAULT);
    }
    if crate::offload::guarded() {
        crate::offload::write(tid, addr, data)
    } else {
        direct_write(tid, addr, data)
    }
}

/// [`write`] on the calling thread (the worker's).
pub(crate) fn direct_write(tid: u32, addr: u64, data: &[u8]) -> Result<(), Errno> {
    let remote = [RemoteIoVec {
        base: addr as usize,
        len: data.len(),
    }];
    let n = process_vm_writev(Pid::from_raw(tid as i32), &[IoSlice::new(data)], &remote)
        .map_err(fault)?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

fn fault(e: Errno) -> Errno {
    match e {
        // The task is gone: whatever we answer is discarded.
        Errno::ESRCH => Errno::ESRCH,
        Errno::ENOMEM => Errno::ENOMEM,
        _ => Errno::EFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> u32 {
        std::process::id()
    }

    #[test]
    fn reads_a_path() {
        let s = b"/etc/passwd\0junk";
        assert_eq!(read_path(me(), s.as_ptr() as u64).unwrap(), b"/etc/passwd");
    }

    #[test]
    fn null_and_unterminated() {
        assert_eq!(read_path(me(), 0), Err(Errno::EFAULT));
        let long = vec![b'a'; 3 * PATH_MAX];
        assert_eq!(
            read_path(me(), long.as_ptr() as u64),
            Err(Errno::ENAMETOOLONG)
        );
        assert_eq!(read_path(me(), 8), Err(Errno::EFAULT));
    }

    #[test]
    fn writes_and_faults_on_read_only() {
        let mut buf = [0u8; 4];
        write(me(), buf.as_mut_ptr() as u64, b"abcd").unwrap();
        assert_eq!(&buf, b"abcd");
        static RO: [u8; 4] = [0; 4];
        assert_eq!(write(me(), RO.as_ptr() as u64, b"abcd"), Err(Errno::EFAULT));
    }
}
