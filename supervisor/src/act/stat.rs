//! stat results: performing stat/statx for the program, and filling its
//! `struct stat` / `struct statx` from a policy's table.

use std::ffi::CStr;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::request::StatOut;
use kernel::memory;
use kernel::sys;
use kernel::task::Task;

/// A stat result as the policy gives it (missing fields are 0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FakeStat {
    pub dev: u64,
    pub ino: u64,
    /// Mode with the S_IFMT type bits.
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    /// (seconds, nanoseconds)
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
}

const STATX_BASIC_STATS: u32 = 0x7ff;

impl FakeStat {
    pub fn to_stat(&self) -> libc::stat {
        // SAFETY: an all-zero stat is a valid value of this plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        st.st_dev = self.dev;
        st.st_ino = self.ino;
        st.st_mode = self.mode;
        st.st_nlink = self.nlink as _;
        st.st_uid = self.uid;
        st.st_gid = self.gid;
        st.st_rdev = self.rdev;
        st.st_size = self.size;
        st.st_blksize = self.blksize as _;
        st.st_blocks = self.blocks;
        st.st_atime = self.atime.0;
        st.st_atime_nsec = self.atime.1 as _;
        st.st_mtime = self.mtime.0;
        st.st_mtime_nsec = self.mtime.1 as _;
        st.st_ctime = self.ctime.0;
        st.st_ctime_nsec = self.ctime.1 as _;
        st
    }

    pub fn to_statx(&self) -> libc::statx {
        // SAFETY: an all-zero statx is a valid value of this plain C struct.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        let ts = |(sec, nsec): (i64, u32)| {
            // SAFETY: an all-zero statx_timestamp is a valid value.
            let mut t: libc::statx_timestamp = unsafe { std::mem::zeroed() };
            t.tv_sec = sec;
            t.tv_nsec = nsec;
            t
        };
        st.stx_mask = STATX_BASIC_STATS;
        st.stx_blksize = self.blksize as u32;
        st.stx_nlink = self.nlink as u32;
        st.stx_uid = self.uid;
        st.stx_gid = self.gid;
        st.stx_mode = self.mode as u16;
        st.stx_ino = self.ino;
        st.stx_size = self.size as u64;
        st.stx_blocks = self.blocks as u64;
        st.stx_atime = ts(self.atime);
        st.stx_mtime = ts(self.mtime);
        st.stx_ctime = ts(self.ctime);
        st.stx_rdev_major = libc::major(self.rdev);
        st.stx_rdev_minor = libc::minor(self.rdev);
        st.stx_dev_major = libc::major(self.dev);
        st.stx_dev_minor = libc::minor(self.dev);
        st
    }

    // The field types differ between x86_64 and aarch64.
    #[allow(clippy::useless_conversion)]
    pub fn from_stat(st: &libc::stat) -> Self {
        FakeStat {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            nlink: u64::from(st.st_nlink),
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size,
            blksize: i64::from(st.st_blksize),
            blocks: st.st_blocks,
            atime: (st.st_atime, st.st_atime_nsec as u32),
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime, st.st_ctime_nsec as u32),
        }
    }
}

/// Writes `bytes` at `addr` in the program, checking just before that the
/// notification is still pending: its thread is alive, so its tid names it
/// and no other process.
fn write_checked(task: &mut Task, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
    task.check()?;
    memory::write(task.tid, addr, bytes)
}

/// Writes a policy's table into the program's buffer.
pub fn write_fake(task: &mut Task, out: StatOut, st: &FakeStat) -> Result<(), Errno> {
    match out {
        StatOut::Stat { addr } => write_checked(task, addr, sys::struct_bytes(&st.to_stat())),
        StatOut::Statx { addr, .. } => write_checked(task, addr, sys::struct_bytes(&st.to_statx())),
    }
}

/// Performs the stat the program asked for on `(dir, name)` with `flags`
/// (AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH) and writes the raw result into its
/// buffer.  `is_dir`: `name` was a directory when resolved
/// ([`super::authority::Authority::stat`]).
pub fn stat_into(
    who: &super::authority::Authority,
    task: &mut Task,
    out: StatOut,
    (dir, name, is_dir): (BorrowedFd, &CStr, bool),
    flags: i32,
) -> Result<(), Errno> {
    match out {
        StatOut::Stat { addr } => {
            let st = who.stat(dir, name, flags, is_dir, sys::fstatat)?;
            write_checked(task, addr, sys::struct_bytes(&st))
        }
        StatOut::Statx {
            addr,
            mask,
            flags: sync,
        } => {
            let st = who.stat(dir, name, flags | sync, is_dir, |d, n, f| {
                sys::statx(d, n, f, mask)
            })?;
            write_checked(task, addr, sys::struct_bytes(&st))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_roundtrip() {
        let f = FakeStat {
            dev: libc::makedev(8, 1),
            ino: 42,
            mode: libc::S_IFREG | 0o644,
            nlink: 2,
            size: 1234,
            mtime: (1_700_000_000, 5),
            ..Default::default()
        };
        assert_eq!(FakeStat::from_stat(&f.to_stat()), f);
        let x = f.to_statx();
        assert_eq!(x.stx_nlink, 2);
        assert_eq!(x.stx_dev_major, 8);
        assert_eq!(x.stx_mtime.tv_sec, 1_700_000_000);
    }
}
