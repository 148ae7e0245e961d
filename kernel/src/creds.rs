//! Acting as the program: a supervisor thread takes the credentials of a
//! program thread (its fsuid, fsgid, supplementary groups, effective
//! capabilities, and the real/effective ids a socket's peer sees) for the
//! length of one call, then takes its own back.
//!
//! Linux credentials belong to a thread, not a process: the raw syscalls
//! (`setgroups`, `setresgid`, `setresuid`, `setfsuid`, `setfsgid`,
//! `capset`) change only the calling thread.  The libc wrappers of the
//! set*id calls broadcast the change to every thread of the process
//! (POSIX semantics), so they are never used here.
//!
//! The switch keeps the supervisor's saved user and group ids: with the
//! saved uid still 0 the permitted capabilities survive a non-zero real
//! and effective uid, and the way back is always allowed.  What is
//! changed is what the kernel checks for the calls the supervisor acts on:
//!
//! | what | checked by |
//! |---|---|
//! | fsuid, fsgid, groups | every permission check on a path (DAC), the owner and group of what is created |
//! | effective capabilities | DAC overrides, `O_NOATIME`, privileged ports, setgid inheritance |
//! | euid, egid (and groups) | `SO_PEERCRED` / `SO_PEERGROUPS` of a unix connect or socketpair |
//! | real uid and gid | the default `SCM_CREDENTIALS` of a unix send |
//!
//! Two ways to act ([`run_as`]): on an acting thread of [`pool`] that
//! keeps a credential set from one call to the next (a switch costs a
//! kernel cred commit per change, 2-3 µs each on the test VM, a hand-off
//! to a thread about as much as two: the common case, a program whose
//! credentials are those of its call before, then costs no switch); or on
//! the calling thread, switched for the call and back ([`run_here`]: work
//! bound to that thread, blocking work a signal must interrupt).
//! [`Switched`] switches back when dropped; if that ever fails the
//! process aborts rather than go on working with the program's identity
//! (an acting thread of the pool retires instead).

use std::fmt;
use std::sync::{Arc, OnceLock};

use nix::errno::Errno;

/// The credentials of a thread, as `/proc/<tid>/status` shows them (ids as
/// the supervisor's user namespace sees them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Creds {
    /// Real, effective, saved, filesystem user ids.
    pub uids: [u32; 4],
    /// Real, effective, saved, filesystem group ids.
    pub gids: [u32; 4],
    /// Supplementary groups, sorted.
    pub groups: Vec<u32>,
    /// Effective capabilities (`CapEff`); 0 for a thread in another user
    /// namespace (its capabilities are not the supervisor's to give).
    pub cap_eff: u64,
    /// Permitted (`CapPrm`) and inheritable (`CapInh`) capabilities.
    pub cap_prm: u64,
    pub cap_inh: u64,
}

/// The values (trimmed) of the lines of a `/proc/<tid>/status` text that
/// start with `keys`, in one pass over the text.
pub fn status_fields<'a, const N: usize>(text: &'a str, keys: [&str; N]) -> [Option<&'a str>; N] {
    let mut out = [None; N];
    let mut left = N;
    for line in text.lines() {
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            if o.is_none() {
                if let Some(v) = line.strip_prefix(k) {
                    *o = Some(v.trim());
                    left -= 1;
                    break;
                }
            }
        }
        if left == 0 {
            break;
        }
    }
    out
}

/// Parsing `/proc/<tid>/status` failed: the field that was missing or bad.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("/proc status: field {0} is missing or malformed")]
pub struct ParseError(pub &'static str);

impl Creds {
    /// The credentials in the text of a `/proc/<tid>/status`.
    pub fn parse(status: &str) -> Result<Creds, ParseError> {
        const KEYS: [&str; 6] = ["Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:"];
        let found = status_fields(status, KEYS);
        let field = |key: &'static str| {
            KEYS.iter()
                .position(|k| *k == key)
                .and_then(|i| found[i])
                .ok_or(ParseError(key))
        };
        let ids = |key: &'static str| -> Result<[u32; 4], ParseError> {
            let mut it = field(key)?.split_whitespace().map(str::parse::<u32>);
            let mut out = [0u32; 4];
            for o in &mut out {
                *o = it
                    .next()
                    .ok_or(ParseError(key))?
                    .map_err(|_| ParseError(key))?;
            }
            Ok(out)
        };
        let caps = |key: &'static str| -> Result<u64, ParseError> {
            u64::from_str_radix(field(key)?, 16).map_err(|_| ParseError(key))
        };
        let mut groups = field("Groups:")?
            .split_whitespace()
            .map(str::parse::<u32>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ParseError("Groups:"))?;
        groups.sort_unstable();
        groups.dedup();
        Ok(Creds {
            uids: ids("Uid:")?,
            gids: ids("Gid:")?,
            groups,
            cap_eff: caps("CapEff:")?,
            cap_prm: caps("CapPrm:")?,
            cap_inh: caps("CapInh:")?,
        })
    }

    /// The calling thread's own credentials.
    pub fn of_this_thread() -> Result<Creds, OwnError> {
        let text = std::fs::read_to_string("/proc/thread-self/status")
            .map_err(|e| OwnError::Read(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
        Creds::parse(&text).map_err(OwnError::Parse)
    }

    /// Is acting with `self` the same as acting with `other`: equal in
    /// everything the switch changes (real, effective and fs ids, groups,
    /// effective capabilities)?
    pub fn acts_as(&self, own: &Creds) -> bool {
        self.uids[0] == own.uids[0]
            && self.uids[1] == own.uids[1]
            && self.uids[3] == own.uids[3]
            && self.gids[0] == own.gids[0]
            && self.gids[1] == own.gids[1]
            && self.gids[3] == own.gids[3]
            && self.cap_eff == own.cap_eff
            && same_groups(&self.groups, &own.groups)
    }
}

/// `a == b`, compared in line: a few groups at most, on every call as the
/// program (a slice `==` is a `memcmp` call).
fn same_groups(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Reading the supervisor's own credentials failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OwnError {
    #[error("reading /proc/thread-self/status: {0}")]
    Read(Errno),
    #[error("{0}")]
    Parse(ParseError),
}

/// A step of taking the program's credentials that failed (the thread
/// then has its own back, and acts on nothing).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SwitchError {
    #[error("the supervisor's own credentials: {0}")]
    Own(OwnError),
    #[error("the program's effective capabilities {want:#x} are not all permitted to the supervisor ({have:#x})")]
    CapsNotHeld { want: u64, have: u64 },
    #[error("setgroups({0:?}): {1}")]
    Groups(Vec<u32>, Errno),
    #[error("setresgid({0}, {1}, -1): {2}")]
    Gid(u32, u32, Errno),
    #[error("setfsgid({0}): the thread's fsgid is {1}")]
    Fsgid(u32, u32),
    #[error("setresuid({0}, {1}, -1): {2}")]
    Uid(u32, u32, Errno),
    #[error("setfsuid({0}): the thread's fsuid is {1}")]
    Fsuid(u32, u32),
    #[error("capset(effective {0:#x}): {1}")]
    Caps(u64, Errno),
    #[error("the acting thread retired (it could not take its own credentials back)")]
    Retired,
    #[error("already acting as the program on this thread")]
    Nested,
}

/// The supervisor's own credentials, read once: every supervisor thread
/// has them whenever it is not acting as the program.
fn own() -> Result<&'static Creds, SwitchError> {
    static OWN: OnceLock<Result<Creds, OwnError>> = OnceLock::new();
    OWN.get_or_init(Creds::of_this_thread)
        .as_ref()
        .map_err(|e| SwitchError::Own(e.clone()))
}

impl Clone for OwnError {
    fn clone(&self) -> Self {
        match self {
            OwnError::Read(e) => OwnError::Read(*e),
            OwnError::Parse(p) => OwnError::Parse(ParseError(p.0)),
        }
    }
}

thread_local! {
    static SWITCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// This thread acts as a program thread until dropped.
pub struct Switched {
    /// Nothing was changed (the program's credentials are the
    /// supervisor's): nothing to restore.
    noop: bool,
    /// What was changed (the `CHANGED_*` bits): what to take back.
    changed: u8,
    /// Not `Send`: the credentials are this thread's.
    _thread: std::marker::PhantomData<*const ()>,
}

impl fmt::Debug for Switched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switched")
            .field("noop", &self.noop)
            .finish()
    }
}

/// Takes `to` on the calling thread (see the module's table).  On error
/// the thread has its own credentials back and must not act.
pub fn switch(to: &Creds) -> Result<Switched, SwitchError> {
    if SWITCHED.with(|s| s.get()) {
        return Err(SwitchError::Nested);
    }
    let own = own()?;
    if to.acts_as(own) {
        return Ok(Switched {
            noop: true,
            changed: 0,
            _thread: std::marker::PhantomData,
        });
    }
    if to.cap_eff & !own.cap_prm != 0 {
        return Err(SwitchError::CapsNotHeld {
            want: to.cap_eff,
            have: own.cap_prm,
        });
    }
    SWITCHED.with(|s| s.set(true));
    let mut guard = Switched {
        noop: false,
        changed: 0,
        _thread: std::marker::PhantomData,
    };
    // On any error below, dropping the guard restores what was changed.
    take(to, own, &mut guard.changed)?;
    Ok(guard)
}

const CHANGED_GROUPS: u8 = 1;
const CHANGED_GIDS: u8 = 2;
const CHANGED_FSGID: u8 = 4;
const CHANGED_UIDS: u8 = 8;
const CHANGED_FSUID: u8 = 16;
const CHANGED_CAPS: u8 = 32;

fn take(to: &Creds, own: &Creds, changed: &mut u8) -> Result<(), SwitchError> {
    // Each change is a new kernel cred (a commit, the costly part): only
    // what differs is changed.
    if to.groups != own.groups {
        *changed |= CHANGED_GROUPS;
        sys::setgroups(&to.groups).map_err(|e| SwitchError::Groups(to.groups.clone(), e))?;
    }
    let (rg, eg, fg) = (to.gids[0], to.gids[1], to.gids[3]);
    if (rg, eg) != (own.gids[0], own.gids[1]) {
        *changed |= CHANGED_GIDS;
        sys::setresgid(rg, eg).map_err(|e| SwitchError::Gid(rg, eg, e))?;
    }
    if fg != eg || own.gids[3] != own.gids[1] {
        *changed |= CHANGED_FSGID;
        sys::setfsgid(fg);
        let now = sys::setfsgid(u32::MAX);
        if now != fg {
            return Err(SwitchError::Fsgid(fg, now));
        }
    }
    let (ru, eu, fu) = (to.uids[0], to.uids[1], to.uids[3]);
    if (ru, eu) != (own.uids[0], own.uids[1]) {
        *changed |= CHANGED_UIDS | CHANGED_CAPS;
        sys::setresuid(ru, eu).map_err(|e| SwitchError::Uid(ru, eu, e))?;
    }
    if fu != eu || own.uids[3] != own.uids[1] {
        *changed |= CHANGED_FSUID | CHANGED_CAPS;
        // setfsuid needs CAP_SETUID, which a non-zero euid just cleared
        // from the effective set (the permitted set is kept: the saved uid
        // is still the supervisor's).
        sys::capset(own.cap_prm, own.cap_prm, own.cap_inh)
            .map_err(|e| SwitchError::Caps(own.cap_prm, e))?;
        sys::setfsuid(fu);
        let now = sys::setfsuid(u32::MAX);
        if now != fu {
            return Err(SwitchError::Fsuid(fu, now));
        }
    }
    // The set*id calls may have changed the effective set (a non-zero euid
    // or fsuid clears it, or the fs capabilities): set it exactly.
    let eff = if *changed & CHANGED_CAPS != 0 {
        sys::capget_effective().map_err(|e| SwitchError::Caps(to.cap_eff, e))?
    } else {
        own.cap_eff
    };
    if eff != to.cap_eff {
        *changed |= CHANGED_CAPS;
        sys::capset(to.cap_eff, own.cap_prm, own.cap_inh)
            .map_err(|e| SwitchError::Caps(to.cap_eff, e))?;
    }
    Ok(())
}

/// Takes the supervisor's own credentials back: undoes what `take`
/// changed (`changed`, complete or not), in the order that keeps each step
/// allowed.
fn restore(own: &Creds, changed: u8) -> Result<(), SwitchError> {
    // Back to the supervisor's real and effective uid: always allowed (the
    // saved uid is its own); a zero euid again gives effective = permitted.
    if changed & CHANGED_UIDS != 0 {
        sys::setresuid(own.uids[0], own.uids[1])
            .map_err(|e| SwitchError::Uid(own.uids[0], own.uids[1], e))?;
    }
    // CAP_SETUID and CAP_SETGID for what follows (the uid going back to
    // 0 usually gave them back already).
    if changed & CHANGED_CAPS != 0
        && sys::capget_effective().map_err(|e| SwitchError::Caps(own.cap_prm, e))? != own.cap_prm
    {
        sys::capset(own.cap_prm, own.cap_prm, own.cap_inh)
            .map_err(|e| SwitchError::Caps(own.cap_prm, e))?;
    }
    let fu = own.uids[3];
    if changed & (CHANGED_UIDS | CHANGED_FSUID) != 0 && sys::setfsuid(u32::MAX) != fu {
        sys::setfsuid(fu);
        let now = sys::setfsuid(u32::MAX);
        if now != fu {
            return Err(SwitchError::Fsuid(fu, now));
        }
    }
    if changed & CHANGED_GIDS != 0 {
        sys::setresgid(own.gids[0], own.gids[1])
            .map_err(|e| SwitchError::Gid(own.gids[0], own.gids[1], e))?;
    }
    let fg = own.gids[3];
    if changed & (CHANGED_GIDS | CHANGED_FSGID) != 0 && sys::setfsgid(u32::MAX) != fg {
        sys::setfsgid(fg);
        let now = sys::setfsgid(u32::MAX);
        if now != fg {
            return Err(SwitchError::Fsgid(fg, now));
        }
    }
    if changed & CHANGED_GROUPS != 0 {
        sys::setgroups(&own.groups).map_err(|e| SwitchError::Groups(own.groups.clone(), e))?;
    }
    if changed & CHANGED_CAPS != 0 && own.cap_eff != own.cap_prm {
        sys::capset(own.cap_eff, own.cap_prm, own.cap_inh)
            .map_err(|e| SwitchError::Caps(own.cap_eff, e))?;
    }
    Ok(())
}

impl Drop for Switched {
    fn drop(&mut self) {
        if self.noop {
            return;
        }
        let changed = self.changed;
        let r = own().and_then(|own| restore(own, changed));
        if let Err(e) = r {
            // This thread would go on with the program's identity, or half
            // of it: never.  (Cannot happen while the supervisor keeps its
            // saved ids, which nothing else changes.)
            eprintln!("supervisor: taking back the supervisor's credentials failed: {e}");
            std::process::abort();
        }
        SWITCHED.with(|s| s.set(false));
    }
}

/// Sets the calling thread's capabilities — only its own: a raw
/// `capset`, which no libc broadcasts to the other threads (`eff`, `prm`,
/// `inh` as 64-bit sets).
pub fn capset_this_thread(eff: u64, prm: u64, inh: u64) -> Result<(), Errno> {
    sys::capset(eff, prm, inh)
}

/// Runs `f` as the program thread whose credentials are `to`: `Err` (and
/// `f` not run) if no thread could take them.
///
/// With the supervisor's own credentials `f` runs at once on the calling
/// thread.  Otherwise it runs on an acting thread that keeps `to` from one
/// call to the next ([`pool`]: no switch at all when the credentials are
/// those of the call before), the caller waiting; when every acting thread
/// is busy, on the calling thread, switched for the call and back.
pub fn run_as<T: Send>(to: &Arc<Creds>, f: impl FnOnce() -> T + Send) -> Result<T, SwitchError> {
    if SWITCHED.with(|s| s.get()) {
        return Err(SwitchError::Nested);
    }
    let own = own()?;
    if to.acts_as(own) {
        return Ok(f());
    }
    if to.cap_eff & !own.cap_prm != 0 {
        return Err(SwitchError::CapsNotHeld {
            want: to.cap_eff,
            have: own.cap_prm,
        });
    }
    match pool::run(to, f) {
        Ok(r) => r,
        Err(f) => run_here(to, f),
    }
}

/// `CAP_SYS_PTRACE`.
const CAP_SYS_PTRACE: u64 = 1 << 19;

/// The supervisor's own credentials with its effective capabilities
/// lowered to those in `cap_eff` (a program thread's), for a call it makes
/// on its own copy where the kernel checks the caller's capabilities (a
/// netlink socket joining a multicast group: `CAP_NET_ADMIN`): never lend
/// the program a capability it lacks.  `CAP_SYS_PTRACE` is kept: the
/// supervisor reads the program's memory and descriptors with it, and no
/// socket call checks it.
pub fn own_lowered_to(cap_eff: u64) -> Result<Creds, SwitchError> {
    let mut c = own()?.clone();
    c.cap_eff &= cap_eff | CAP_SYS_PTRACE;
    Ok(c)
}

/// Runs `f` as `to` on the calling thread, switched for the length of `f`
/// and back: for work bound to this thread (its working directory, a
/// blocking call that a signal to this thread must interrupt).
pub fn run_here<T>(to: &Creds, f: impl FnOnce() -> T) -> Result<T, SwitchError> {
    let guard = switch(to)?;
    let r = f();
    drop(guard);
    Ok(r)
}

pub mod cache;
mod pool;
mod sys;
pub mod uring;

#[cfg(test)]
mod tests {
    use super::*;

    const CAP_NET_BIND_SERVICE: u64 = 10;

    const STATUS: &str =
        "Name:\tx\nUmask:\t0022\nUid:\t1000\t1001\t0\t1002\nGid:\t100\t101\t0\t102\n\
                          Groups:\t27 4 27 \nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                          CapEff:\t0000000000000400\n";

    #[test]
    fn parses_status() {
        let c = Creds::parse(STATUS).unwrap();
        assert_eq!(c.uids, [1000, 1001, 0, 1002]);
        assert_eq!(c.gids, [100, 101, 0, 102]);
        assert_eq!(c.groups, vec![4, 27]);
        assert_eq!(c.cap_eff, 0x400);
        assert_eq!(c.cap_prm, 0x1ff_ffff_ffff);
        assert_eq!(c.cap_inh, 0);
    }

    #[test]
    fn missing_field_is_named() {
        let e = Creds::parse("Uid:\t1 2 3 4\n").unwrap_err();
        assert_eq!(e, ParseError("Groups:"));
        assert_eq!(
            e.to_string(),
            "/proc status: field Groups: is missing or malformed"
        );
    }

    #[test]
    fn own_credentials_are_a_noop() {
        let me = Creds::of_this_thread().unwrap();
        let g = switch(&me).unwrap();
        assert!(g.noop);
    }

    /// As root: a thread takes nobody's credentials, only it, and takes
    /// its own back.
    #[test]
    fn switches_this_thread_only_and_back() {
        let me = Creds::of_this_thread().unwrap();
        if me.uids[1] != 0 || me.cap_prm == 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the unit tests as root"
            );
            return;
        }
        let nobody = Creds {
            uids: [65534, 65534, 65534, 65533],
            gids: [65534, 65534, 65534, 65532],
            groups: vec![5, 65534],
            cap_eff: 1 << CAP_NET_BIND_SERVICE,
            cap_prm: 0,
            cap_inh: 0,
        };
        std::thread::spawn(move || {
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let (back, seen_by_other) = std::sync::mpsc::channel();
            let other = std::thread::spawn(move || {
                wait.recv().unwrap();
                back.send(Creds::of_this_thread().unwrap()).unwrap();
            });
            let seen = run_here(&nobody, || {
                go.send(()).unwrap();
                let theirs = seen_by_other.recv().unwrap();
                (Creds::of_this_thread().unwrap(), theirs)
            })
            .unwrap();
            let (seen, theirs) = seen;
            assert_eq!(seen.uids, [65534, 65534, 0, 65533]);
            assert_eq!(seen.gids, [65534, 65534, 0, 65532]);
            assert_eq!(seen.groups, vec![5, 65534]);
            assert_eq!(seen.cap_eff, 1 << CAP_NET_BIND_SERVICE);
            assert_eq!(seen.cap_prm, me.cap_prm, "the permitted set is kept");
            assert_eq!(theirs, me, "another thread is unchanged meanwhile");
            assert_eq!(Creds::of_this_thread().unwrap(), me, "taken back");
            other.join().unwrap();
        })
        .join()
        .unwrap();
    }

    /// As root: `run_as` acts on a thread holding exactly the asked
    /// credentials, call after call, with two credential sets served in
    /// turn; the caller keeps its own; the job borrows from the caller.
    #[test]
    fn acting_threads_hold_exactly_the_asked_credentials() {
        let me = Creds::of_this_thread().unwrap();
        if me.uids[1] != 0 || me.cap_prm == 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the unit tests as root"
            );
            return;
        }
        let set = |id: u32, groups: Vec<u32>, cap_eff: u64| {
            Arc::new(Creds {
                uids: [id, id, id, id],
                gids: [id, id, id, id],
                groups,
                cap_eff,
                cap_prm: 0,
                cap_inh: 0,
            })
        };
        let a = set(65534, vec![], 0);
        let b = set(1234, vec![5, 1234], 1 << CAP_NET_BIND_SERVICE);
        let mut seen = Vec::new();
        for round in 0..6 {
            let to = if round % 2 == 0 { &a } else { &b };
            let here = std::thread::current().id();
            let (c, there) = run_as(to, || {
                let c = Creds::of_this_thread().unwrap();
                seen.push(round);
                (c, std::thread::current().id())
            })
            .unwrap();
            assert_ne!(here, there, "on an acting thread");
            assert!(c.acts_as(to), "round {round}: {c:?} for {to:?}");
            assert_eq!(c.cap_eff, to.cap_eff);
            assert_eq!(
                Creds::of_this_thread().unwrap(),
                me,
                "the caller is unchanged"
            );
        }
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
        // The supervisor's own credentials: on the calling thread.
        let own = Arc::new(me.clone());
        let here = std::thread::current().id();
        assert_eq!(run_as(&own, || std::thread::current().id()).unwrap(), here);
    }

    #[test]
    fn capabilities_beyond_the_supervisors_are_refused() {
        let mut c = Creds::of_this_thread().unwrap();
        if c.cap_prm == u64::MAX {
            return;
        }
        c.uids[3] = c.uids[3].wrapping_add(1);
        c.cap_eff = !c.cap_prm;
        assert!(matches!(switch(&c), Err(SwitchError::CapsNotHeld { .. })));
    }
}
