//! Generation of the notify filter with libseccomp.

use std::io::{Read, Seek, SeekFrom};

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

use crate::posture::{When, REFUSED};
use crate::syscalls::{Disposition, SyscallMap, TABLE};
use crate::Error;

/// A classic-BPF seccomp program, ready for `seccomp(2)`.
#[derive(Debug, Clone)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
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
        Ok(Program { insns })
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
    /// Refuse the calls of [`REFUSED`] (the default); `false` lets them
    /// run, for trusted programs (`--allow-unmapped`).
    pub refuse_unmapped: bool,
}

impl Default for Posture {
    fn default() -> Self {
        Posture {
            refuse_unmapped: true,
        }
    }
}

/// Which calls of the table go to the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trapped {
    /// Every call of the table (a policy that sees requests).
    #[default]
    All,
    /// The socket calls only: for a policy that leaves every file call to
    /// the kernel (no master loop, no slave filter, no audit trail), where
    /// trapping a file call would only CONTINUE it.  The supervisor still
    /// sees the socket calls, for its DNS stub.
    Sockets,
}

/// The supervisor's filter for the native architecture: the syscalls of
/// the table that `trapped` selects go to the listener; with
/// `posture.refuse_unmapped`, the calls that would go around the table fail
/// with their errno; a foreign ABI (i386 through `int 0x80`, x32) kills the
/// process; everything else runs untouched.
pub fn notify_filter(
    map: &SyscallMap,
    posture: &Posture,
    trapped: Trapped,
) -> Result<Program, Error> {
    // The launcher sets no_new_privs itself, before loading.
    let mut ctx = context(ScmpAction::Allow)?;
    for &(sys, nr) in map.present() {
        if trapped == Trapped::Sockets && !sys.is_socket() {
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
            Disposition::Posture if !posture.refuse_unmapped => continue,
            Disposition::Notify | Disposition::Posture => {
                ctx.add_rule_exact(ScmpAction::Notify, syscall).map(drop)
            }
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
        }
        .map_err(|source| Error::Rule { name, source })?;
    }
    if posture.refuse_unmapped {
        refuse(&mut ctx, map)?;
    }
    export(&ctx)
}

/// Adds the refusals of [`REFUSED`] that exist on the map's architecture.
fn refuse(ctx: &mut ScmpFilterContext, map: &SyscallMap) -> Result<(), Error> {
    for r in REFUSED {
        let nr = match ScmpSyscall::from_name_by_arch(r.name, map.arch()) {
            Ok(nr) if i32::from(nr) >= 0 => nr,
            // Not a syscall of this architecture (or unknown to this
            // libseccomp): nothing to refuse.
            _ => continue,
        };
        let action = ScmpAction::Errno(r.errno);
        let name = r.name;
        match r.when {
            When::Always => ctx.add_rule_exact(action, nr).map(drop),
            When::Masked { arg, mask, values } => values.iter().try_for_each(|&v| {
                let cmp = ScmpArgCompare::new(arg, ScmpCompareOp::MaskedEqual(mask), v);
                ctx.add_rule_conditional_exact(action, nr, &[cmp]).map(drop)
            }),
        }
        .map_err(|source| Error::Rule { name, source })?;
    }
    Ok(())
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
            },
            Trapped::All,
        )
        .unwrap();
        assert!(strict.instructions().len() > open.instructions().len() + REFUSED.len() / 2);
    }

    #[test]
    fn sockets_only_leaves_the_file_calls_out() {
        let map = SyscallMap::native();
        let all = notify_filter(&map, &Posture::default(), Trapped::All).unwrap();
        let sockets = notify_filter(&map, &Posture::default(), Trapped::Sockets).unwrap();
        let files = map.present().iter().filter(|(s, _)| !s.is_socket()).count();
        assert!(files >= 15);
        // At least one jump and one return fewer per file call.
        assert!(sockets.instructions().len() + files <= all.instructions().len());
    }

    #[test]
    fn malformed_programs_are_refused() {
        assert!(Program::from_bytes(&[]).is_err());
        assert!(Program::from_bytes(&[0; 7]).is_err());
    }
}
