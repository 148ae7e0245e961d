//! The posture in docs/security.md, generated from the code: the refusals
//! ([`crate::posture::REFUSED`]), the socket families
//! ([`crate::families`]), the trapped calls ([`crate::syscalls::TABLE`]) and
//! the allow-list ([`crate::known`]).  A test compares it with the section
//! between the markers in docs/security.md; `UPDATE_DOCS=1 cargo test -p
//! bpf posture_doc` rewrites that section.

use std::fmt::Write;

use crate::creds::{self, WATCHED};
use crate::families::{DEFAULT, OTHERS};
use crate::known::{ALLOWED, CHECKED_AGAINST, LAST_KNOWN, NEWER, NOT_ALLOWED};
use crate::posture::{When, REFUSED};
use crate::syscalls::TABLE;

/// The first line of the generated section.
pub const BEGIN: &str =
    "<!-- BEGIN posture: generated from bpf/src (doc.rs); UPDATE_DOCS=1 cargo test -p bpf posture_doc -->";
/// Its last line.
pub const END: &str = "<!-- END posture -->";

fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EACCES => "EACCES",
        _ => "E?",
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The section, markers included.
pub fn posture_markdown() -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{BEGIN}");
    let _ = writeln!(
        o,
        "\nChecked against **{CHECKED_AGAINST}** (x86_64 and arm64 syscall tables; the last \
         number is {LAST_KNOWN}, `{}`).\n",
        NEWER.last().map_or("?", |(n, _)| n)
    );
    o.push_str("#### Refused (`bpf/src/posture.rs`)\n\n");
    o.push_str("| syscall | when | errno | why |\n|---|---|---|---|\n");
    for r in REFUSED {
        let when = match r.when {
            When::Always => "always".to_string(),
            When::Masked { arg, mask, values } => {
                let vals: Vec<String> = values.iter().map(|v| format!("{v:#o}")).collect();
                let vals = if r.name == "ioctl" {
                    values.iter().map(|v| ioctl_name(*v)).collect::<Vec<_>>()
                } else {
                    vals
                };
                format!("argument {arg} & {mask:#o} is {}", vals.join(", "))
            }
        };
        let _ = writeln!(
            o,
            "| `{}` | {when} | {} | {} |",
            r.name,
            errno_name(r.errno),
            r.why
        );
    }
    let _ = writeln!(
        o,
        "| any syscall not listed in this section (one newer than {CHECKED_AGAINST}) | always | \
         ENOSYS | not known to be harmless; `--allow-unknown-syscalls` lets them run |"
    );
    o.push_str("\n#### Socket families (`bpf/src/families.rs`)\n\n");
    o.push_str(
        "`socket` and `socketpair` of another family fail with EAFNOSUPPORT (the supervisor \
         answers, and records it), unless the policy names the family \
         (`libc_service.families = { \"vsock\" }`).\n\n",
    );
    o.push_str("| family | created | what it reaches |\n|---|---|---|\n");
    for f in DEFAULT {
        let _ = writeln!(o, "| `{}` ({}) | yes | {} |", f.name, f.number, f.reach);
    }
    for f in OTHERS {
        let _ = writeln!(
            o,
            "| `{}` ({}) | if the policy names it | {} |",
            f.name, f.number, f.reach
        );
    }
    let _ = writeln!(o, "| any other number | never | no kernel has it yet |");
    let trapped: Vec<&str> = TABLE.iter().map(|(_, n, _)| *n).collect();
    let _ = writeln!(
        o,
        "\n#### Trapped: the requests (`bpf/src/syscalls.rs`)\n\n{}.",
        list(&trapped)
    );
    let watched: Vec<String> = WATCHED
        .iter()
        .map(|(n, w)| match w {
            creds::When::Always => format!("`{n}`"),
            creds::When::Set { .. } => format!("`{n}` (with `CLONE_NEWUSER`)"),
        })
        .collect();
    let _ = writeln!(
        o,
        "\n#### Watched: credential changes (`bpf/src/creds.rs`)\n\n{}, and the execs above: \
         sent to the supervisor, which marks the thread's credentials stale and answers \
         CONTINUE (those refused above stay refused).",
        watched.join(", ")
    );
    let allowed: Vec<&str> = ALLOWED
        .iter()
        .copied()
        .filter(|n| !trapped.contains(n))
        .collect();
    let _ = writeln!(
        o,
        "\n#### Allowed: the kernel runs them (`bpf/src/known.rs`, {} syscalls)\n\n{}.",
        allowed.len(),
        list(&allowed)
    );
    let _ = writeln!(
        o,
        "\n#### Known, not allowed (ENOSYS: no syscall behind the number)\n\n{}.\n",
        list(NOT_ALLOWED)
    );
    let _ = writeln!(o, "{END}");
    o
}

fn ioctl_name(v: u64) -> String {
    match v {
        0x5412 => "`TIOCSTI`".into(),
        0x541c => "`TIOCLINUX`".into(),
        0x541d => "`TIOCCONS`".into(),
        0x5423 => "`TIOCSETD`".into(),
        0xaa00 => "`USERFAULTFD_IOC_NEW`".into(),
        v => format!("{v:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posture_doc_matches_docs_security_md() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md");
        let doc = std::fs::read_to_string(path).expect("read docs/security.md");
        let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
            panic!("docs/security.md lacks the generated posture section ({BEGIN} … {END})");
        };
        let current = &doc[b..e + END.len() + 1];
        let want = posture_markdown();
        if current != want {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                let new = format!("{}{}{}", &doc[..b], want, &doc[e + END.len() + 1..]);
                std::fs::write(path, new).expect("write docs/security.md");
            } else {
                panic!(
                    "docs/security.md's posture section is out of date: run \
                     `UPDATE_DOCS=1 cargo test -p bpf posture_doc`"
                );
            }
        }
    }
}

/// The allow-list's own checks (here, with everything it is checked
/// against, rather than in known.rs).
#[cfg(test)]
mod allow_list {
    use crate::known::{number, ALLOWED, CHECKED_AGAINST, LAST_KNOWN, NEWER, NOT_ALLOWED};
    use crate::posture::{When, REFUSED};
    use crate::syscalls::TABLE;
    use libseccomp::{ScmpArch, ScmpSyscall};
    use std::collections::HashSet;

    fn kernel_names(arch: ScmpArch) -> Vec<(String, i32)> {
        let mut v = Vec::new();
        for nr in 0..=LAST_KNOWN {
            if let Some(&(n, _)) = NEWER.iter().find(|(_, x)| *x == nr) {
                v.push((n.to_string(), nr));
            } else if let Ok(name) = ScmpSyscall::from(nr).get_name_by_arch(arch) {
                v.push((name, nr));
            }
        }
        v
    }

    /// Every syscall of the checked kernel is in exactly one place.
    #[test]
    fn every_known_syscall_is_decided_once() {
        let table: HashSet<&str> = TABLE.iter().map(|(_, n, _)| *n).collect();
        let always: HashSet<&str> = REFUSED
            .iter()
            .filter(|r| r.when == When::Always)
            .map(|r| r.name)
            .collect();
        let allowed: HashSet<&str> = ALLOWED.iter().copied().collect();
        assert_eq!(allowed.len(), ALLOWED.len(), "a name twice in ALLOWED");
        let not: HashSet<&str> = NOT_ALLOWED.iter().copied().collect();
        for arch in [ScmpArch::X8664, ScmpArch::Aarch64] {
            let names = kernel_names(arch);
            assert!(names.len() > 250, "{arch:?}: {}", names.len());
            for (name, nr) in &names {
                let n = name.as_str();
                let places = [
                    allowed.contains(n) && !table.contains(n),
                    table.contains(n),
                    always.contains(n),
                    not.contains(n),
                ];
                assert_eq!(
                    places.iter().filter(|p| **p).count(),
                    1,
                    "{arch:?}: syscall {n} ({nr}) must be exactly one of allowed, trapped, \
                     refused, not allowed: {places:?}"
                );
            }
        }
        // Every name given is a syscall (of one architecture at least).
        let x = kernel_names(ScmpArch::X8664);
        let a = kernel_names(ScmpArch::Aarch64);
        for n in ALLOWED
            .iter()
            .chain(NOT_ALLOWED)
            .chain(table.iter())
            .chain(REFUSED.iter().map(|r| &r.name))
        {
            assert!(
                x.iter().chain(&a).any(|(k, _)| k == n),
                "{n} is not a syscall of {CHECKED_AGAINST}"
            );
        }
        // A refusal that depends on arguments applies to a syscall that
        // otherwise runs (or is trapped).
        for r in REFUSED {
            if let When::Masked { mask, .. } = r.when {
                assert!(
                    allowed.contains(r.name) || table.contains(r.name),
                    "{}",
                    r.name
                );
                assert!(mask <= u64::from(u32::MAX), "{}: upper bits", r.name);
            }
            // Refused whatever its arguments: then it cannot be trapped too
            // (a masked refusal, e.g. mknod of a device, may be).
            if r.when == When::Always {
                assert!(!table.contains(r.name), "{} is trapped and refused", r.name);
            }
        }
    }

    #[test]
    fn newer_syscalls_have_their_numbers_on_both_architectures() {
        assert_eq!(number("open_tree_attr", ScmpArch::X8664), Some(467));
        assert_eq!(number("open_tree_attr", ScmpArch::Aarch64), Some(467));
        assert_eq!(number("openat", ScmpArch::X8664), Some(257));
        assert_eq!(number("openat", ScmpArch::Aarch64), Some(56));
        assert_eq!(number("open", ScmpArch::Aarch64), None);
        assert_eq!(NEWER.last().map(|(_, n)| *n), Some(LAST_KNOWN));
    }

    /// The running kernel has no syscall beyond the list: a newer kernel
    /// fails this test, so that its new syscalls are decided (added to the
    /// allow-list, refused, or left refused as unknown).
    #[test]
    fn the_running_kernel_has_nothing_newer_than_the_list() {
        for nr in LAST_KNOWN + 1..LAST_KNOWN + 64 {
            // SAFETY: a syscall the kernel lacks does nothing; one it has
            // gets all-invalid arguments (-1 descriptors, NULL pointers).
            let r = unsafe { libc::syscall(nr as libc::c_long, -1, 0, 0, 0, 0, 0) };
            let e = std::io::Error::last_os_error().raw_os_error();
            assert!(
                r == -1 && e == Some(libc::ENOSYS),
                "this kernel has syscall {nr}, newer than {CHECKED_AGAINST}: decide about it \
                 in bpf/src/known.rs and posture.rs"
            );
        }
    }
}
