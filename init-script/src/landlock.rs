//! Landlock rights by name, with the ABI version that introduced each.
//!
//! A right the running kernel lacks is an error (`EINVAL` with a message
//! naming the right and the ABI it needs), never silently dropped: a script
//! that asks to restrict something must not run unrestricted.

/// Filesystem rights (`handled_access_fs`, `allowed_access` of
/// `path_beneath` rules): name, bit, first ABI.
pub const FS: &[(&str, u64, i64)] = &[
    ("execute", 1 << 0, 1),
    ("write_file", 1 << 1, 1),
    ("read_file", 1 << 2, 1),
    ("read_dir", 1 << 3, 1),
    ("remove_dir", 1 << 4, 1),
    ("remove_file", 1 << 5, 1),
    ("make_char", 1 << 6, 1),
    ("make_dir", 1 << 7, 1),
    ("make_reg", 1 << 8, 1),
    ("make_sock", 1 << 9, 1),
    ("make_fifo", 1 << 10, 1),
    ("make_block", 1 << 11, 1),
    ("make_sym", 1 << 12, 1),
    ("refer", 1 << 13, 2),
    ("truncate", 1 << 14, 3),
    ("ioctl_dev", 1 << 15, 5),
];

/// Network rights (`handled_access_net`, `allowed_access` of `net_port`
/// rules).
pub const NET: &[(&str, u64, i64)] = &[("bind_tcp", 1 << 0, 4), ("connect_tcp", 1 << 1, 4)];

/// Scopes (`scoped`).
pub const SCOPES: &[(&str, u64, i64)] =
    &[("abstract_unix_socket", 1 << 0, 6), ("signal", 1 << 1, 6)];

/// What the script's rulesets handle and grant, by ruleset descriptor:
/// (handled filesystem rights, rights granted by its `path_beneath`
/// rules).  Kept so that the supervisor can be told which refusals the
/// Landlock domain it enforced makes everywhere ([`refused_everywhere`]).
static RULESETS: std::sync::Mutex<Vec<Noted>> = std::sync::Mutex::new(Vec::new());
/// Filesystem rights some enforced layer handles and grants nowhere.
static REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Network rights some enforced layer handles and grants on no port.
static REFUSED_NET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A ruleset the script made: its descriptor, the filesystem and network
/// rights it handles, and those its rules grant (under some path, on
/// some port).
struct Noted {
    fd: i32,
    fs: u64,
    net: u64,
    fs_granted: u64,
    net_granted: u64,
}

fn rulesets() -> std::sync::MutexGuard<'static, Vec<Noted>> {
    RULESETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ruleset `fd` was created handling the filesystem rights `fs` and the
/// network rights `net`.
pub fn note_ruleset(fd: i32, fs: u64, net: u64) {
    let mut r = rulesets();
    r.retain(|e| e.fd != fd);
    r.push(Noted {
        fd,
        fs,
        net,
        fs_granted: 0,
        net_granted: 0,
    });
}

/// A rule granting `allowed` was added to ruleset `fd`: a `path_beneath`
/// rule (`net` false) or a `net_port` rule.
pub fn note_rule(fd: i32, allowed: u64, net: bool) {
    if let Some(e) = rulesets().iter_mut().find(|e| e.fd == fd) {
        if net {
            e.net_granted |= allowed;
        } else {
            e.fs_granted |= allowed;
        }
    }
}

/// Ruleset `fd` was enforced (`landlock_restrict_self`): what it handles
/// and grants under no path (on no port) is now refused everywhere (a
/// ruleset not made by the script is not known: nothing is noted).
pub fn note_restricted(fd: i32) {
    use std::sync::atomic::Ordering::Relaxed;
    if let Some(e) = rulesets().iter().find(|e| e.fd == fd) {
        REFUSED.fetch_or(e.fs & !e.fs_granted, Relaxed);
        REFUSED_NET.fetch_or(e.net & !e.net_granted, Relaxed);
    }
}

/// The filesystem rights (bits of [`FS`]) that a Landlock layer enforced
/// by the script handles without granting them under any path: the
/// program is refused them on every file of a file system (Landlock does
/// not check pipes, sockets and other objects of internal file systems).
pub fn refused_everywhere() -> u64 {
    REFUSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The network rights (bits of [`NET`]) that a Landlock layer enforced by
/// the script handles without granting them on any port: the program's
/// TCP binds and connects are refused whatever the port.
pub fn refused_net_everywhere() -> u64 {
    REFUSED_NET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Why a list of names cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RightError {
    #[error("unknown Landlock right {name:?} in {field} (known: {known})")]
    Unknown {
        name: String,
        field: &'static str,
        known: String,
    },
    #[error("Landlock right {name:?} ({field}) needs Landlock ABI {needs}; the running kernel has ABI {has}")]
    TooNew {
        name: String,
        field: &'static str,
        needs: i64,
        has: i64,
    },
}

/// The bits of `names` from `table`, checked against the kernel's `abi`.
pub fn bits(
    table: &[(&str, u64, i64)],
    field: &'static str,
    names: &[String],
    abi: i64,
) -> Result<u64, RightError> {
    let mut out = 0;
    for n in names {
        let Some(&(_, bit, needs)) = table.iter().find(|(k, _, _)| *k == n.as_str()) else {
            return Err(RightError::Unknown {
                name: n.clone(),
                field,
                known: table
                    .iter()
                    .map(|(k, _, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if needs > abi {
            return Err(RightError::TooNew {
                name: n.clone(),
                field,
                needs,
                has: abi,
            });
        }
        out |= bit;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_map_to_bits() {
        assert_eq!(bits(FS, "f", &s(&["execute", "read_file"]), 1), Ok(0b101));
        assert_eq!(bits(NET, "n", &s(&["connect_tcp"]), 4), Ok(0b10));
        assert_eq!(bits(SCOPES, "s", &s(&["signal"]), 6), Ok(0b10));
    }

    #[test]
    fn rights_the_kernel_lacks_are_errors() {
        let e = bits(FS, "handled_access_fs", &s(&["truncate"]), 2).unwrap_err();
        assert!(e.to_string().contains("needs Landlock ABI 3"), "{e}");
        assert!(bits(FS, "f", &s(&["frobnicate"]), 7).is_err());
    }
}
