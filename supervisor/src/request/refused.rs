//! The paths of the calls the posture refuses (bpf/src/posture.rs), read
//! for the record only: a refusal is answered with its errno whatever
//! the path, and shows in `--log` and `--summary` with the call and the
//! path it named, like every denial.

use kernel::memory;

/// Per refused syscall, its path arguments (register index) as the
/// program passed them.
const PATHS: &[(&str, &[usize])] = &[
    ("mknod", &[0]),
    ("mknodat", &[1]),
    ("mount", &[0, 1]),
    ("umount2", &[0]),
    ("pivot_root", &[0, 1]),
    ("open_tree", &[1]),
    ("open_tree_attr", &[1]),
    ("move_mount", &[1, 3]),
    ("fspick", &[1]),
    ("mount_setattr", &[1]),
    ("name_to_handle_at", &[1]),
    ("acct", &[0]),
    ("swapon", &[0]),
    ("swapoff", &[0]),
    ("uselib", &[0]),
];

/// The paths the refused call `syscall` of thread `tid` named, as text
/// (one that cannot be read, or NULL: none).  The caller checks that the
/// notification is still valid before trusting them.
pub fn paths(syscall: &str, args: &[u64; 6], tid: u32) -> Vec<Vec<u8>> {
    let Some((_, at)) = PATHS.iter().find(|(n, _)| *n == syscall) else {
        return Vec::new();
    };
    at.iter()
        .filter_map(|&i| match args[i] {
            0 => None,
            addr => memory::read_path(tid, addr).ok(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call listed is one the posture refuses (a renamed or removed
    /// refusal fails here).
    #[test]
    fn every_listed_call_is_refused_by_the_posture() {
        for (name, _) in PATHS {
            assert!(
                bpf::posture::REFUSED.iter().any(|r| r.name == *name),
                "{name}"
            );
        }
    }
}
