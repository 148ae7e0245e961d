//! Flag words of the file calls, decoded into the string lists of the
//! libc_service spec.

/// `open`/`openat` flags → spec names.  The spec's names come first; the
/// extensions (`close_on_exec`, `non_blocking`, `no_ctty`, `no_atime`,
/// `data_sync`) are documented in docs/policy.md.
pub fn open_flags(flags: i32) -> Vec<&'static str> {
    let mut v = Vec::with_capacity(4);
    v.push(match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "read_only",
        libc::O_WRONLY => "write_only",
        _ => "read_write",
    });
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    let sync = flags & libc::O_SYNC == libc::O_SYNC;
    let named: [(bool, &'static str); 13] = [
        (flags & libc::O_APPEND != 0, "append"),
        (flags & libc::O_CREAT != 0, "create"),
        (!tmpfile && flags & libc::O_DIRECTORY != 0, "directory"),
        (flags & libc::O_EXCL != 0, "exclusive"),
        (flags & libc::O_NOFOLLOW != 0, "no_follow"),
        (flags & libc::O_PATH != 0, "path"),
        (sync, "sync_all_on_write"),
        (tmpfile, "temporary"),
        (flags & libc::O_TRUNC != 0, "truncate"),
        (flags & libc::O_CLOEXEC != 0, "close_on_exec"),
        (flags & libc::O_NONBLOCK != 0, "non_blocking"),
        (flags & libc::O_NOCTTY != 0, "no_ctty"),
        (flags & libc::O_NOATIME != 0, "no_atime"),
    ];
    v.extend(named.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
    if !sync && flags & libc::O_DSYNC != 0 {
        v.push("data_sync");
    }
    v
}

/// openat2 `RESOLVE_*` flags → spec names.
pub fn resolve_flags(resolve: u64) -> Vec<&'static str> {
    const NAMES: [(u64, &str); 6] = [
        (libc::RESOLVE_BENEATH, "resolve_beneath"),
        (libc::RESOLVE_IN_ROOT, "resolve_in_root"),
        (libc::RESOLVE_NO_MAGICLINKS, "resolve_no_magiclinks"),
        (libc::RESOLVE_NO_SYMLINKS, "resolve_no_symlinks"),
        (libc::RESOLVE_NO_XDEV, "resolve_no_xdev"),
        (libc::RESOLVE_CACHED, "resolve_cached"),
    ];
    NAMES
        .iter()
        .filter(|(bit, _)| resolve & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// All `RESOLVE_*` bits the kernel knows.
pub const RESOLVE_ALL: u64 = libc::RESOLVE_BENEATH
    | libc::RESOLVE_IN_ROOT
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_CACHED;

/// `renameat2` flags → names (an extension: the spec's rename has none).
pub fn rename_flags(flags: u32) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & libc::RENAME_NOREPLACE != 0 {
        v.push("no_replace");
    }
    if flags & libc::RENAME_EXCHANGE != 0 {
        v.push("exchange");
    }
    if flags & libc::RENAME_WHITEOUT != 0 {
        v.push("whiteout");
    }
    v
}

/// An access mode: "f" for F_OK, else the list of "r", "w", "x".
pub enum Amode {
    Exists,
    Modes(Vec<&'static str>),
}

pub fn access_mode(mode: i32) -> Amode {
    if mode == libc::F_OK {
        return Amode::Exists;
    }
    let mut v = Vec::new();
    for (bit, n) in [(libc::R_OK, "r"), (libc::W_OK, "w"), (libc::X_OK, "x")] {
        if mode & bit != 0 {
            v.push(n);
        }
    }
    Amode::Modes(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flag_names() {
        assert_eq!(open_flags(libc::O_RDONLY), ["read_only"]);
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC),
            ["write_only", "create", "truncate", "close_on_exec"]
        );
        assert_eq!(
            open_flags(libc::O_RDWR | libc::O_TMPFILE),
            ["read_write", "temporary"]
        );
        assert_eq!(open_flags(libc::O_SYNC), ["read_only", "sync_all_on_write"]);
        assert_eq!(open_flags(libc::O_DSYNC), ["read_only", "data_sync"]);
        assert_eq!(
            open_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH),
            ["read_only", "directory", "no_follow", "path"]
        );
    }

    #[test]
    fn resolve_and_rename_names() {
        assert_eq!(
            resolve_flags(libc::RESOLVE_BENEATH | libc::RESOLVE_NO_XDEV),
            ["resolve_beneath", "resolve_no_xdev"]
        );
        assert_eq!(rename_flags(libc::RENAME_EXCHANGE), ["exchange"]);
    }
}
