//! Generation of the notify filter with libseccomp.

use std::io::{Read, Seek, SeekFrom};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};

use crate::creds::{self, Watch, WATCHED};
use crate::families::Families;
use crate::known::{self, ALLOWED};
use crate::posture::{When, NOTED, REFUSED};
use crate::prologue::{self, Outcome};
use crate::syscalls::{Disposition, SyscallMap, TABLE};
use crate::untrapped::{Untrap, Untrapped};
use crate::Error;

/// A classic-BPF seccomp program, ready for `seccomp(2)`.
#[derive(Debug, Clone)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
    watch: Watch,
}

impl Program {
    /// Wraps raw instructions (8 bytes each, native endian).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        const INSN: usize = std::mem::size_of::<libc::sock_filter>();
        if bytes.is_empty()
            || !bytes.len().is_multiple_of(INSN)
            || bytes.len() / INSN > u16::MAX as usize
        {
            return Err(Error::Malformed(bytes.len()));
        }
        let insns = bytes
            .chunks_exact(INSN)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program {
            insns,
            watch: Watch::Unseen,
        })
    }

    /// Does the filter send every call that changes a thread's
    /// credentials to the supervisor ([`crate::creds`])?
    pub fn watch(&self) -> Watch {
        self.watch
    }

    /// The instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.insns
    }

    /// The program as raw bytes (what an init script hands to
    /// `seccomp_set_mode_filter`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * 8);
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    /// A `sock_fprog` pointing into this program.  Valid while `self` lives.
    pub fn as_fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        }
    }
}

/// Exports a libseccomp context as a [`Program`].
pub fn export(ctx: &ScmpFilterContext) -> Result<Program, Error> {
    let mut file = memfd().map_err(Error::Buffer)?;
    ctx.export_bpf(&file).map_err(Error::Export)?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(Error::Buffer)?;
    file.read_to_end(&mut bytes).map_err(Error::Buffer)?;
    Program::from_bytes(&bytes)
}

fn memfd() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: the name is a NUL-terminated literal; memfd_create returns a
    // new descriptor that nothing else owns, handed to File.
    let fd = unsafe { libc::memfd_create(c"supervisor-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, owned, valid descriptor.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// A context with `default`, a foreign ABI killing the process, and
/// no_new_privs left to whoever loads the program.
pub(crate) fn context(default: ScmpAction) -> Result<ScmpFilterContext, Error> {
    let mut ctx = ScmpFilterContext::new(default).map_err(Error::Context)?;
    ctx.set_act_badarch(ScmpAction::KillProcess)
        .map_err(|source| Error::Attribute {
            attr: "act_badarch",
            source,
        })?;
    ctx.set_ctl_nnp(false).map_err(|source| Error::Attribute {
        attr: "ctl_nnp",
        source,
    })?;
    Ok(ctx)
}

/// What the notify filter does besides trapping the mapped calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posture {
    /// Refuse the calls of [`REFUSED`], the syscalls outside the
    /// allow-list ([`crate::known`]) and the socket families outside
    /// [`crate::families::DEFAULT`] (the default); `false` lets everything
    /// run, for trusted programs (`--allow-unmapped`).
    pub refuse_unmapped: bool,
    /// Let the syscalls outside the allow-list run (a kernel newer than
    /// [`crate::known::CHECKED_AGAINST`]: `--allow-unknown-syscalls`).
    pub allow_unknown: bool,
    /// Socket families created besides the default ones (the policy's
    /// `libc_service.families`).
    pub families: Families,
    /// The refusals go to the supervisor, which answers their errno and
    /// records them (`--log`, `--summary`), instead of being answered by
    /// the filter.  Refused socket families always go to the supervisor.
    pub notify_refusals: bool,
}

impl Default for Posture {
    fn default() -> Self {
        Posture {
            refuse_unmapped: true,
            allow_unknown: false,
            families: Families::NONE,
            notify_refusals: false,
        }
    }
}

/// Which calls of the table go to the listener.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trapped {
    /// Every call of the table (a policy that sees requests).
    #[default]
    All,
    /// Every call of the table but those the policy leaves to the kernel
    /// ([`Untrapped`]: a rules policy's `untrapped = "allowed everywhere"`).
    /// The credential watch, the execs, the socket calls and the posture
    /// stay as with [`Trapped::All`].
    AllBut(Untrapped),
    /// The socket calls only: for a policy that leaves every file call to
    /// the kernel (no master loop, no slave filter, no audit trail), where
    /// trapping a file call would only CONTINUE it.  The supervisor still
    /// sees the socket calls, for its DNS stub.
    Sockets,
}

/// `AUDIT_ARCH_*` of the architectures the posture supports.
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    match arch {
        ScmpArch::X8664 => Some(0xc000_003e),
        ScmpArch::Aarch64 => Some(0xc000_00b7),
        _ => None,
    }
}

/// The supervisor's filter for the native architecture: the syscalls of
/// the table that `trapped` selects go to the listener; under the default
/// posture only the allow-list runs, the refusals fail with their errno
/// (or go to the supervisor, `posture.notify_refusals`), and so does a
/// socket of a family not allowed; a foreign ABI (i386 through `int 0x80`,
/// x32) kills the process.
pub fn notify_filter(
    map: &SyscallMap,
    posture: &Posture,
    trapped: Trapped,
) -> Result<Program, Error> {
    if !posture.refuse_unmapped {
        return unrefused(map, trapped);
    }
    let arch = map.arch();
    let audit_arch = audit_arch(arch).ok_or(Error::Architecture(arch))?;
    let refuse = |errno: i32| {
        if posture.notify_refusals {
            ScmpAction::Notify
        } else {
            ScmpAction::Errno(errno)
        }
    };
    // The launcher sets no_new_privs itself, before loading.
    let default = if posture.allow_unknown {
        ScmpAction::Allow
    } else {
        refuse(libc::ENOSYS)
    };
    let mut ctx = context(default)?;
    // A binary tree of syscall numbers: the allow-list is long.
    ctx.set_ctl_optimize(2).map_err(|source| Error::Attribute {
        attr: "ctl_optimize",
        source,
    })?;
    for &(sys, nr) in map.present() {
        let name = sys.name();
        let syscall = ScmpSyscall::from(nr);
        let disposition = if (trapped == Trapped::Sockets && !sys.is_socket())
            || trapped.untrap(sys) == Some(&Untrap::Always)
        {
            None
        } else {
            Some(
                TABLE
                    .iter()
                    .find(|(s, _, _)| *s == sys)
                    .map(|(_, _, d)| *d)
                    .unwrap_or(Disposition::Notify),
            )
        };
        match disposition {
            None => add(&mut ctx, default, ScmpAction::Allow, syscall, &[]),
            Some(Disposition::Notify | Disposition::Posture) => {
                add(&mut ctx, default, ScmpAction::Notify, syscall, &[])
            }
            // mknod: the types the table traps; the device types are
            // refused before, in the prologue (REFUSED, masked).
            // The other values run (the kernel answers them, e.g. EPERM for
            // a directory): every value under the mask gets a rule, else
            // the default (unknown syscall) would answer them.
            Some(Disposition::NotifyIfMasked { arg, mask, values }) => masked_values(mask)
                .try_for_each(|v| {
                    let action = if values.contains(&v) {
                        ScmpAction::Notify
                    } else {
                        ScmpAction::Allow
                    };
                    let cmp = [ScmpArgCompare::new(
                        arg,
                        ScmpCompareOp::MaskedEqual(mask),
                        v,
                    )];
                    add(&mut ctx, default, action, syscall, &cmp)
                }),
            Some(Disposition::NotifyIfSet(arg)) => {
                let set = [ScmpArgCompare::new(arg, ScmpCompareOp::NotEqual, 0)];
                let unset = [ScmpArgCompare::new(arg, ScmpCompareOp::Equal, 0)];
                add(&mut ctx, default, ScmpAction::Notify, syscall, &set)
                    .and_then(|()| add(&mut ctx, default, ScmpAction::Allow, syscall, &unset))
            }
            Some(Disposition::NotifyUnlessEqual { arg, value }) => {
                let other = [ScmpArgCompare::new(arg, ScmpCompareOp::NotEqual, value)];
                let equal = [ScmpArgCompare::new(arg, ScmpCompareOp::Equal, value)];
                add(&mut ctx, default, ScmpAction::Notify, syscall, &other)
                    .and_then(|()| add(&mut ctx, default, ScmpAction::Allow, syscall, &equal))
            }
        }
        .map_err(|source| Error::Rule { name, source })?;
    }
    let watching = trapped != Trapped::Sockets;
    for &name in ALLOWED {
        if TABLE.iter().any(|(_, n, _)| *n == name) {
            // The table decides (trapped, or allowed above).
            continue;
        }
        if watching && WATCHED.iter().any(|(n, _)| *n == name) {
            // Watched, below.
            continue;
        }
        let Some(nr) = known::number(name, arch) else {
            continue;
        };
        // Allowed once the supervisor has noted it (posture::NOTED).
        let action = if NOTED.contains(&name) {
            ScmpAction::Notify
        } else {
            ScmpAction::Allow
        };
        add(&mut ctx, default, action, ScmpSyscall::from(nr), &[])
            .map_err(|source| Error::Rule { name, source })?;
    }
    for r in REFUSED {
        if r.when != When::Always {
            continue;
        }
        let Some(nr) = known::number(r.name, arch) else {
            // Not a syscall of this architecture.
            continue;
        };
        let name = r.name;
        add(
            &mut ctx,
            default,
            refuse(r.errno),
            ScmpSyscall::from(nr),
            &[],
        )
        .map_err(|source| Error::Rule { name, source })?;
    }
    if watching {
        watch(&mut ctx, arch, default, true)?;
    }
    let mut rules = prologue_rules(arch, posture);
    rules.extend(untrap_rules(map, &trapped));
    let prologue = prologue::build(audit_arch, &rules);
    let mut insns = prologue;
    insns.extend_from_slice(export(&ctx)?.instructions());
    if insns.len() > BPF_MAXINSNS {
        return Err(Error::Malformed(insns.len() * 8));
    }
    Ok(Program {
        insns,
        watch: if watching {
            Watch::Trapped {
                posture_refuses: true,
            }
        } else {
            Watch::Unseen
        },
    })
}

/// The rules of the watched calls ([`crate::creds`]): each goes to the
/// supervisor, but those the posture refuses always (`refusing`: their
/// refusal stays, and reaches the supervisor only to be recorded); an
/// argument-dependent one runs otherwise.
fn watch(
    ctx: &mut ScmpFilterContext,
    arch: ScmpArch,
    default: ScmpAction,
    refusing: bool,
) -> Result<(), Error> {
    for &(name, when) in WATCHED {
        let Some(nr) = known::number(name, arch) else {
            continue;
        };
        if refusing
            && REFUSED
                .iter()
                .any(|r| r.name == name && r.when == When::Always)
        {
            continue;
        }
        let syscall = ScmpSyscall::from(nr);
        match when {
            creds::When::Always => add(ctx, default, ScmpAction::Notify, syscall, &[]),
            creds::When::Set { arg, mask } => {
                let cmp = |v| {
                    [ScmpArgCompare::new(
                        arg,
                        ScmpCompareOp::MaskedEqual(mask),
                        v,
                    )]
                };
                add(ctx, default, ScmpAction::Notify, syscall, &cmp(mask))
                    .and_then(|()| add(ctx, default, ScmpAction::Allow, syscall, &cmp(0)))
            }
        }
        .map_err(|source| Error::Rule { name, source })?;
    }
    Ok(())
}

/// Every value `x & mask` can take (the mask is a run of bits, at most 8
/// of them: a file type nibble).
fn masked_values(mask: u64) -> impl Iterator<Item = u64> {
    let shift = mask.trailing_zeros();
    let n = (mask >> shift).count_ones().min(8);
    (0..1u64 << n).map(move |i| i << shift)
}

/// Adds a rule, unless its action is the default (libseccomp refuses
/// such a rule: the default already applies).
fn add(
    ctx: &mut ScmpFilterContext,
    default: ScmpAction,
    action: ScmpAction,
    syscall: ScmpSyscall,
    cmp: &[ScmpArgCompare],
) -> Result<(), libseccomp::error::SeccompError> {
    if action == default {
        return Ok(());
    }
    if cmp.is_empty() {
        ctx.add_rule_exact(action, syscall).map(drop)
    } else {
        ctx.add_rule_conditional_exact(action, syscall, cmp)
            .map(drop)
    }
}

/// The kernel's limit on a filter's length.
const BPF_MAXINSNS: usize = 4096;

/// The argument-dependent decisions: the masked refusals of [`REFUSED`]
/// and the socket families.
fn prologue_rules(arch: ScmpArch, posture: &Posture) -> Vec<prologue::Rule> {
    let mut rules: Vec<prologue::Rule> = Vec::new();
    let ret = |errno: i32| {
        Outcome::Return(if posture.notify_refusals {
            prologue::RET_USER_NOTIF
        } else {
            prologue::ret_errno(errno)
        })
    };
    for r in REFUSED {
        let When::Masked { arg, mask, values } = r.when else {
            continue;
        };
        let Some(nr) = known::number(r.name, arch) else {
            continue;
        };
        let check = prologue::Check {
            arg,
            // Never the upper half of an argument (tested below).
            mask: mask as u32,
            values: values.iter().map(|&v| v as u32).collect(),
            matched: ret(r.errno),
        };
        match rules.iter_mut().find(|x| x.nr == nr as u32) {
            Some(rule) => rule.checks.push(check),
            None => rules.push(prologue::Rule {
                nr: nr as u32,
                checks: vec![check],
                otherwise: Outcome::Continue,
            }),
        }
    }
    let allowed: Vec<u32> = posture
        .families
        .with_defaults()
        .numbers()
        .map(|n| n as u32)
        .collect();
    for name in ["socket", "socketpair"] {
        if let Some(nr) = known::number(name, arch) {
            rules.push(prologue::Rule {
                nr: nr as u32,
                checks: vec![prologue::Check {
                    arg: 0,
                    mask: u32::MAX,
                    values: allowed.clone(),
                    matched: Outcome::Continue,
                }],
                // The supervisor answers EAFNOSUPPORT and records it.
                otherwise: Outcome::Return(prologue::RET_USER_NOTIF),
            });
        }
    }
    rules
}

/// The prologue's rules of the calls left untrapped on a condition
/// ([`Untrap::Masked`]): a call whose flags are one of the values runs
/// (`SECCOMP_RET_ALLOW`), the others go on to libseccomp's program, which
/// traps them.  At most [`VALUES_PER_RULE`] values per rule (a rule's body
/// is under 256 instructions): more are chained.
fn untrap_rules(map: &SyscallMap, trapped: &Trapped) -> Vec<prologue::Rule> {
    let mut rules = Vec::new();
    for &(sys, nr) in map.present() {
        let Some(Untrap::Masked { arg, mask, values }) = trapped.untrap(sys) else {
            continue;
        };
        let chunks: Vec<&[u32]> = values.chunks(VALUES_PER_RULE).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            rules.push(prologue::Rule {
                nr: nr as u32,
                checks: vec![prologue::Check {
                    arg: *arg,
                    mask: *mask,
                    values: chunk.to_vec(),
                    matched: Outcome::Return(prologue::RET_ALLOW),
                }],
                otherwise: if i + 1 < chunks.len() {
                    Outcome::Next
                } else {
                    Outcome::Continue
                },
            });
        }
    }
    rules
}

/// Values compared by one rule of the prologue (two instructions each).
const VALUES_PER_RULE: usize = 120;

impl Trapped {
    /// When `sys` is left untrapped ([`Trapped::AllBut`]).
    fn untrap(&self, sys: crate::Sys) -> Option<&Untrap> {
        match self {
            Trapped::AllBut(u) => u.of(sys),
            _ => None,
        }
    }
}

/// `--allow-unmapped`: everything runs but the table's calls.
fn unrefused(map: &SyscallMap, trapped: Trapped) -> Result<Program, Error> {
    let mut ctx = context(ScmpAction::Allow)?;
    for &(sys, nr) in map.present() {
        if (trapped == Trapped::Sockets && !sys.is_socket())
            || trapped.untrap(sys) == Some(&Untrap::Always)
        {
            continue;
        }
        let name = sys.name();
        let disposition = TABLE
            .iter()
            .find(|(s, _, _)| *s == sys)
            .map(|(_, _, d)| *d)
            .unwrap_or(Disposition::Notify);
        let syscall = ScmpSyscall::from(nr);
        match disposition {
            Disposition::Posture => continue,
            Disposition::Notify => ctx.add_rule_exact(ScmpAction::Notify, syscall).map(drop),
            Disposition::NotifyIfMasked { arg, mask, values } => values.iter().try_for_each(|&v| {
                let cmp = ScmpArgCompare::new(arg, ScmpCompareOp::MaskedEqual(mask), v);
                ctx.add_rule_conditional_exact(ScmpAction::Notify, syscall, &[cmp])
                    .map(drop)
            }),
            Disposition::NotifyIfSet(arg) => ctx
                .add_rule_conditional_exact(
                    ScmpAction::Notify,
                    syscall,
                    &[ScmpArgCompare::new(arg, ScmpCompareOp::NotEqual, 0)],
                )
                .map(drop),
            Disposition::NotifyUnlessEqual { arg, value } => ctx
                .add_rule_conditional_exact(
                    ScmpAction::Notify,
                    syscall,
                    &[ScmpArgCompare::new(arg, ScmpCompareOp::NotEqual, value)],
                )
                .map(drop),
        }
        .map_err(|source| Error::Rule { name, source })?;
    }
    let watching = trapped != Trapped::Sockets;
    if watching {
        watch(&mut ctx, map.arch(), ScmpAction::Allow, false)?;
    }
    let mut p = export(&ctx)?;
    // The calls left untrapped on a condition: a prologue, on the
    // architectures it knows (elsewhere they stay trapped).
    if let Some(audit_arch) = audit_arch(map.arch()) {
        let rules = untrap_rules(map, &trapped);
        let mut insns = prologue::build(audit_arch, &rules);
        if !insns.is_empty() {
            insns.extend_from_slice(p.instructions());
            if insns.len() > BPF_MAXINSNS {
                return Err(Error::Malformed(insns.len() * 8));
            }
            p.insns = insns;
        }
    }
    if watching {
        p.watch = Watch::Trapped {
            posture_refuses: false,
        };
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_exports_and_roundtrips() {
        let p = notify_filter(&SyscallMap::native(), &Posture::default(), Trapped::All).unwrap();
        assert!(p.instructions().len() > 10);
        let again = Program::from_bytes(&p.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), p.to_bytes());
    }

    #[test]
    fn the_posture_adds_refusals() {
        let map = SyscallMap::native();
        let strict = notify_filter(&map, &Posture::default(), Trapped::All).unwrap();
        let open = notify_filter(
            &map,
            &Posture {
                refuse_unmapped: false,
                ..Posture::default()
            },
            Trapped::All,
        )
        .unwrap();
        assert!(strict.instructions().len() > open.instructions().len() + REFUSED.len() / 2);
    }

    #[test]
    fn every_posture_builds() {
        let map = SyscallMap::native();
        for notify_refusals in [false, true] {
            for allow_unknown in [false, true] {
                for trapped in [Trapped::All, Trapped::Sockets] {
                    let p = Posture {
                        notify_refusals,
                        allow_unknown,
                        families: Families::NONE.with(40),
                        ..Posture::default()
                    };
                    let f = notify_filter(&map, &p, trapped).unwrap();
                    assert!(f.instructions().len() < BPF_MAXINSNS);
                }
            }
        }
    }

    #[test]
    fn sockets_only_leaves_the_file_calls_out() {
        let map = SyscallMap::native();
        let unrefused = Posture {
            refuse_unmapped: false,
            ..Posture::default()
        };
        let all = notify_filter(&map, &unrefused, Trapped::All).unwrap();
        let sockets = notify_filter(&map, &unrefused, Trapped::Sockets).unwrap();
        let files = map.present().iter().filter(|(s, _)| !s.is_socket()).count();
        assert!(files >= 15);
        // At least one jump and one return fewer per file call.
        assert!(sockets.instructions().len() + files <= all.instructions().len());
        // Under the default posture the file calls are allowed instead of
        // trapped (tests/it/trapped.rs shows it).
        let all = notify_filter(&map, &Posture::default(), Trapped::All).unwrap();
        let sockets = notify_filter(&map, &Posture::default(), Trapped::Sockets).unwrap();
        assert_ne!(all.to_bytes(), sockets.to_bytes());
    }

    #[test]
    fn only_filters_that_trap_the_execs_watch_credentials() {
        let map = SyscallMap::native();
        for refuse_unmapped in [true, false] {
            for notify_refusals in [true, false] {
                let p = Posture {
                    refuse_unmapped,
                    notify_refusals,
                    ..Posture::default()
                };
                let all = notify_filter(&map, &p, Trapped::All).unwrap();
                assert_eq!(
                    all.watch(),
                    Watch::Trapped {
                        posture_refuses: refuse_unmapped
                    }
                );
                let sockets = notify_filter(&map, &p, Trapped::Sockets).unwrap();
                assert_eq!(sockets.watch(), Watch::Unseen);
            }
        }
        let raw = notify_filter(&map, &Posture::default(), Trapped::All).unwrap();
        assert_eq!(
            Program::from_bytes(&raw.to_bytes()).unwrap().watch(),
            Watch::Unseen,
            "a filter of unknown making watches nothing"
        );
    }

    #[test]
    fn calls_left_untrapped_keep_the_watch_and_fit() {
        use crate::Sys;
        let map = SyscallMap::native();
        let mut u = Untrapped::new();
        assert!(u.leave(Sys::Mkdirat, Untrap::Always));
        assert!(u.leave(Sys::Mknodat, Untrap::Always));
        // Every value of 8 flag bits: the longest chain an open gets.
        assert!(u.leave(
            Sys::Openat,
            Untrap::Masked {
                arg: 2,
                mask: 0o20310303,
                values: (0..256).collect(),
            }
        ));
        for refuse_unmapped in [true, false] {
            for notify_refusals in [true, false] {
                let p = Posture {
                    refuse_unmapped,
                    notify_refusals,
                    ..Posture::default()
                };
                let all = notify_filter(&map, &p, Trapped::All).unwrap();
                let but = notify_filter(&map, &p, Trapped::AllBut(u.clone())).unwrap();
                assert_eq!(but.watch(), all.watch());
                assert_ne!(but.to_bytes(), all.to_bytes());
                assert!(but.instructions().len() < BPF_MAXINSNS);
                // Nothing left out: the same filter as All.
                let none = notify_filter(&map, &p, Trapped::AllBut(Untrapped::new())).unwrap();
                assert_eq!(none.to_bytes(), all.to_bytes());
            }
        }
    }

    #[test]
    fn malformed_programs_are_refused() {
        assert!(Program::from_bytes(&[]).is_err());
        assert!(Program::from_bytes(&[0; 7]).is_err());
    }
}
