//! The decisions of the posture that depend on a syscall's arguments
//! (registers): a few classic-BPF instructions placed before the program
//! libseccomp generates.
//!
//! libseccomp cannot say "notify this syscall unless its first argument is
//! one of these values" (a socket family), nor "allow it unless…" in a
//! filter whose default refuses.  This prologue can: for the native
//! architecture, it looks at the syscalls that have such decisions and
//! returns their action; every other call (and every call of a foreign
//! architecture) jumps to the first instruction of libseccomp's program,
//! which starts afresh (it loads what it needs).  All jumps are forward,
//! within the prologue or to its end.
//!
//! An argument is compared on its low 32 bits (offset `16 + 8 * n` of
//! `seccomp_data`, little-endian), as the kernel reads an `int` or
//! `unsigned int` argument: upper bits set in the register change nothing.

/// `seccomp_data.nr` and `.arch`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// The low half of argument `n` (little-endian).
fn off_arg(n: u32) -> u32 {
    16 + 8 * n
}

/// `BPF_LD | BPF_W | BPF_ABS`.
const BPF_LD_W_ABS: u16 = 0x20;
/// `BPF_ALU | BPF_AND | BPF_K`.
const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
const BPF_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JA: u16 = 0x05;
const BPF_RET_K: u16 = 0x06;

/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_USER_NOTIF`.
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_ERRNO | errno`.
pub fn ret_errno(errno: i32) -> u32 {
    0x0005_0000 | (errno as u32 & 0xffff)
}

/// What one check does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Return this seccomp action.
    Return(u32),
    /// Go on to libseccomp's program (the syscall's own rules).
    Continue,
    /// Go on to the next rule of the prologue (as `otherwise`: more
    /// checks of the same syscall than one rule holds).
    Next,
}

/// One decision on one argument of one syscall: when `(arg & mask)` is one
/// of `values`, `matched`.
#[derive(Debug, Clone)]
pub struct Check {
    pub arg: u32,
    pub mask: u32,
    pub values: Vec<u32>,
    pub matched: Outcome,
}

/// The checks of one syscall, in order, then what happens to a call no
/// check matched.
#[derive(Debug, Clone)]
pub struct Rule {
    pub nr: u32,
    pub checks: Vec<Check>,
    pub otherwise: Outcome,
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// A jump to the end of the prologue, fixed up once its length is known.
const TO_END: u32 = u32::MAX;

/// The prologue for `rules` on the architecture `audit_arch`
/// (`AUDIT_ARCH_*`).  Empty if there are no rules.
pub fn build(audit_arch: u32, rules: &[Rule]) -> Vec<libc::sock_filter> {
    if rules.is_empty() {
        return Vec::new();
    }
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        // Another architecture: libseccomp's program deals with it.
        jump(BPF_JEQ_K, audit_arch, 1, 0),
        stmt(BPF_JA, TO_END),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    for rule in rules {
        let mut body = Vec::new();
        for c in &rule.checks {
            body.push(stmt(BPF_LD_W_ABS, off_arg(c.arg)));
            if c.mask != u32::MAX {
                body.push(stmt(BPF_ALU_AND_K, c.mask));
            }
            for &v in &c.values {
                // Not this value: skip the action.
                body.push(jump(BPF_JEQ_K, v, 0, 1));
                body.push(action(c.matched));
            }
        }
        body.push(action(rule.otherwise));
        // Not this syscall: on to the next rule, the number still in the
        // register (the body ends in a return or a jump to the end).
        let skip =
            u8::try_from(body.len()).expect("a prologue rule of fewer than 256 instructions");
        p.push(jump(BPF_JEQ_K, rule.nr, 0, skip));
        p.extend(body);
    }
    // Fix the jumps to the end (the first instruction after the prologue).
    let len = p.len();
    for (i, insn) in p.iter_mut().enumerate() {
        if insn.code == BPF_JA && insn.k == TO_END {
            insn.k = (len - i - 1) as u32;
        }
    }
    p
}

fn action(o: Outcome) -> libc::sock_filter {
    match o {
        Outcome::Return(k) => stmt(BPF_RET_K, k),
        Outcome::Continue => stmt(BPF_JA, TO_END),
        // The number back in the register, for the next rule's test.
        Outcome::Next => stmt(BPF_LD_W_ABS, OFF_NR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny classic-BPF interpreter for the instructions the prologue
    /// uses; `None`: fell off the end (libseccomp's program runs).
    pub(crate) fn run(p: &[libc::sock_filter], data: &[u8; 64]) -> Option<u32> {
        let word =
            |off: u32| u32::from_le_bytes(data[off as usize..off as usize + 4].try_into().unwrap());
        let (mut a, mut pc) = (0u32, 0usize);
        while pc < p.len() {
            let i = p[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => a = word(i.k),
                BPF_ALU_AND_K => a &= i.k,
                BPF_JA => pc += i.k as usize,
                BPF_JEQ_K => pc += if a == i.k { i.jt } else { i.jf } as usize,
                BPF_RET_K => return Some(i.k),
                c => panic!("unexpected code {c:#x}"),
            }
        }
        assert_eq!(pc, p.len(), "jumped past the end");
        None
    }

    pub(crate) fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
        let mut d = [0u8; 64];
        d[0..4].copy_from_slice(&nr.to_le_bytes());
        d[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            d[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        d
    }

    #[test]
    fn checks_and_fallthrough() {
        let arch = 0xc000_003e;
        let rules = [
            Rule {
                nr: 41,
                checks: vec![Check {
                    arg: 0,
                    mask: u32::MAX,
                    values: vec![1, 2],
                    matched: Outcome::Continue,
                }],
                otherwise: Outcome::Return(RET_USER_NOTIF),
            },
            Rule {
                nr: 16,
                checks: vec![Check {
                    arg: 1,
                    mask: u32::MAX,
                    values: vec![0x5412],
                    matched: Outcome::Return(ret_errno(1)),
                }],
                otherwise: Outcome::Continue,
            },
            Rule {
                nr: 133,
                checks: vec![Check {
                    arg: 1,
                    mask: 0o170000,
                    values: vec![0o100000],
                    matched: Outcome::Return(ret_errno(1)),
                }],
                otherwise: Outcome::Continue,
            },
        ];
        let p = build(arch, &rules);
        assert_eq!(run(&p, &data(arch, 41, [1, 0, 0, 0, 0, 0])), None);
        assert_eq!(run(&p, &data(arch, 41, [2 | 1 << 32, 0, 0, 0, 0, 0])), None);
        assert_eq!(
            run(&p, &data(arch, 41, [40, 0, 0, 0, 0, 0])),
            Some(RET_USER_NOTIF)
        );
        assert_eq!(
            run(&p, &data(arch, 41, [40 | 1 << 32, 0, 0, 0, 0, 0])),
            Some(RET_USER_NOTIF)
        );
        assert_eq!(
            run(&p, &data(arch, 16, [0, 0x5412, 0, 0, 0, 0])),
            Some(ret_errno(1))
        );
        assert_eq!(
            run(&p, &data(arch, 16, [0, 1 << 32 | 0x5412, 0, 0, 0, 0])),
            Some(ret_errno(1))
        );
        assert_eq!(run(&p, &data(arch, 16, [0, 0x5401, 0, 0, 0, 0])), None);
        assert_eq!(
            run(&p, &data(arch, 133, [0, 0o100644, 0, 0, 0, 0])),
            Some(ret_errno(1))
        );
        assert_eq!(run(&p, &data(arch, 133, [0, 0o010644, 0, 0, 0, 0])), None);
        // Other syscalls and other architectures go on to libseccomp.
        assert_eq!(run(&p, &data(arch, 0, [40, 0x5412, 0, 0, 0, 0])), None);
        assert_eq!(run(&p, &data(0x4000_0003, 41, [40, 0, 0, 0, 0, 0])), None);
        // x32 numbers are not the native ones.
        assert_eq!(run(&p, &data(arch, 0x4000_0029, [40, 0, 0, 0, 0, 0])), None);
        assert!(build(arch, &[]).is_empty());
    }

    #[test]
    fn rules_of_one_syscall_chain_with_next() {
        let arch = 0xc000_003e;
        let rule = |values: Vec<u32>, otherwise| Rule {
            nr: 257,
            checks: vec![Check {
                arg: 2,
                mask: 0o3,
                values,
                matched: Outcome::Return(RET_ALLOW),
            }],
            otherwise,
        };
        let p = build(
            arch,
            &[
                rule(vec![1], Outcome::Next),
                rule(vec![2], Outcome::Continue),
            ],
        );
        let open = |flags: u64| run(&p, &data(arch, 257, [0, 0, flags, 0, 0, 0]));
        assert_eq!(open(1), Some(RET_ALLOW));
        assert_eq!(open(2 | 0o100), Some(RET_ALLOW));
        assert_eq!(open(0), None);
        assert_eq!(open(3), None);
        assert_eq!(run(&p, &data(arch, 2, [0, 1, 1, 0, 0, 0])), None);
    }
}
