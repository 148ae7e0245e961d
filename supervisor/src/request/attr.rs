//! The metadata calls (chmod, …): a change to an existing object named by
//! a path, and how its arguments read, in one place for every consumer
//! (`master:arguments()`, the audit record, slave filters, learn).

/// What a metadata call changes on the object its path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// chmod: the permission bits (`mode & 07777`, as the kernel masks it).
    Mode(u32),
}

/// One argument after the path, as the policy reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Int(i64),
    /// A mode (an integer to Lua, octal text in the log).
    Mode(u32),
}

/// The `AT_*` flags a metadata call may carry.
pub const AT_FLAGS: i32 = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;

/// The flag names of a metadata call (docs/policy.md).
pub fn flag_names(flags: i32) -> Vec<&'static str> {
    let mut v = Vec::new();
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        v.push("no_follow");
    }
    if flags & libc::AT_EMPTY_PATH != 0 {
        v.push("empty_path");
    }
    v
}

impl Change {
    /// The arguments after the path, named (for the log) and valued.
    pub fn fields(&self) -> Vec<(&'static str, Field)> {
        match *self {
            Change::Mode(m) => vec![("mode", Field::Mode(m))],
        }
    }

    /// The integers a slave filter is given after the path, and takes
    /// back in `real_X(path, …)` (docs/slave.md).
    pub fn ints(&self) -> Vec<i64> {
        match *self {
            Change::Mode(m) => vec![m as i64],
        }
    }

    /// The change with the integers a slave filter gave (as many as
    /// [`Change::ints`]); `None`: a value the kernel would refuse.
    pub fn with_ints(&self, v: &[i64]) -> Option<Change> {
        match self {
            Change::Mode(_) => {
                let m = u32::try_from(*v.first()?).ok()?;
                Some(Change::Mode(m & 0o7777))
            }
        }
    }
}

/// Does a metadata call on `at` with `flags` follow a symlink in its last
/// component?
pub fn follows(flags: i32) -> bool {
    flags & libc::AT_SYMLINK_NOFOLLOW == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slave_values() {
        assert_eq!(
            flag_names(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH),
            ["no_follow", "empty_path"]
        );
        assert!(flag_names(0).is_empty());
        let c = Change::Mode(0o644);
        assert_eq!(c.ints(), [0o644]);
        assert_eq!(c.with_ints(&[0o104755]), Some(Change::Mode(0o4755)));
        assert_eq!(c.with_ints(&[-1]), None);
        assert_eq!(c.with_ints(&[]), None);
    }
}
