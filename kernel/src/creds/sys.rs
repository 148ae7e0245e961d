//! The raw, per-thread syscalls of acting as the program, and the one
//! other unsafe step: a job borrowed by an acting thread while its lender
//! waits ([`lend`]).

use nix::errno::Errno;

pub fn setgroups(groups: &[u32]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe a live slice of gid_t
    // (u32); the kernel only reads it.  Raw syscall: this thread only.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    Errno::result(r).map(drop)
}

pub fn setresgid(r: u32, e: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments only; -1 leaves the saved gid.  Raw
    // syscall: this thread only.
    let r = unsafe { libc::syscall(libc::SYS_setresgid, r, e, u32::MAX) };
    Errno::result(r).map(drop)
}

pub fn setresuid(r: u32, e: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments only; -1 leaves the saved uid.  Raw
    // syscall: this thread only.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, r, e, u32::MAX) };
    Errno::result(r).map(drop)
}

/// Returns the previous fsuid (`u32::MAX`: only ask).
pub fn setfsuid(id: u32) -> u32 {
    // SAFETY: integer argument only.  Raw syscall: this thread only.
    unsafe { libc::syscall(libc::SYS_setfsuid, id) as u32 }
}

/// Returns the previous fsgid (`u32::MAX`: only ask).
pub fn setfsgid(id: u32) -> u32 {
    // SAFETY: integer argument only.  Raw syscall: this thread only.
    unsafe { libc::syscall(libc::SYS_setfsgid, id) as u32 }
}

const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// This thread's effective capabilities.
pub fn capget_effective() -> Result<u64, Errno> {
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: a version-3 header (pid 0: this thread) and room for the
    // two data structs it calls for, live for the call.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    Errno::result(r)?;
    Ok(u64::from(data[0].effective) | u64::from(data[1].effective) << 32)
}

pub fn capset(eff: u64, prm: u64, inh: u64) -> Result<(), Errno> {
    let hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let half = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
    let data = [false, true].map(|hi| Data {
        effective: half(eff, hi),
        permitted: half(prm, hi),
        inheritable: half(inh, hi),
    });
    // SAFETY: a version-3 header (pid 0: this thread) and the two
    // data structs it calls for, both live for the call; the kernel
    // only reads them.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) };
    Errno::result(r).map(drop)
}

/// A job lent to another thread: the lender's closure, borrowed for as long
/// as the lender waits in [`lend`].  Dropping it (run or not) ends the
/// loan.
pub struct Lent {
    job: *mut (dyn FnMut() + Send),
    done: std::sync::Arc<Done>,
}

/// The end of a loan: set, then the lender woken.
struct Done {
    flag: std::sync::atomic::AtomicBool,
    lender: std::thread::Thread,
}

// SAFETY: the closure behind `job` is `Send`, and it is only called by
// whoever holds the `Lent`, once, while the lender waits (see `lend`).
unsafe impl Send for Lent {}

impl Lent {
    /// Calls the lent closure on this thread (a panic in it is caught: it
    /// ends the loan like a return).
    pub fn run(self) {
        let job = self.job;
        // SAFETY: `lend` keeps the closure alive and unaliased until this
        // `Lent` is dropped (below, after the call): it waits for that.
        let f = unsafe { &mut *job };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        drop(self);
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        // `done` is shared: it outlives the lender's return.
        self.done
            .flag
            .store(true, std::sync::atomic::Ordering::Release);
        self.done.lender.unpark();
    }
}

/// Hands `f` to another thread through `send` (which must pass the `Lent`
/// on, or drop it) and waits until that thread has run it or dropped it:
/// only then does `lend` return, so `f` may borrow from the caller's stack
/// like a scoped thread's closure.  (A `Lent` leaked instead of dropped
/// would make the wait last for ever: never undefined behaviour.)
pub fn lend<'a>(f: &'a mut (dyn FnMut() + Send + 'a), send: impl FnOnce(Lent)) {
    let done = std::sync::Arc::new(Done {
        flag: std::sync::atomic::AtomicBool::new(false),
        lender: std::thread::current(),
    });
    // SAFETY: only the lifetime is erased; the wait below outlives every
    // use of the pointer (the `Lent` sets `done` when dropped, after its
    // one call).
    let job: *mut (dyn FnMut() + Send + 'static) = unsafe {
        std::mem::transmute::<*mut (dyn FnMut() + Send + 'a), *mut (dyn FnMut() + Send + 'static)>(
            f,
        )
    };
    send(Lent {
        job,
        done: done.clone(),
    });
    while !done.flag.load(std::sync::atomic::Ordering::Acquire) {
        std::thread::park();
    }
}
