//! The calls that name their last component (mkdir, mknod, symlink, link's
//! new name, rename, unlink, rmdir, open with `O_CREAT`, bind) with a
//! dangling symlink, a symlink followed by a trailing slash, `.` and `..`,
//! a trailing slash on a non-directory, and an empty path: the kernel never
//! follows that component (a trailing slash makes a *lookup* follow it, not
//! these calls), so `mkdir("dangling/")` is EEXIST, never the link's target
//! made, and `rmdir("link/")` is ENOTDIR, never the target removed.

use super::*;

#[rustfmt::skip]
const SLASHES: &[&str] = &[
    // A dangling symlink through a missing directory, an empty directory
    // and a symlink to it.
    "symlink", "nodir/x", "dnodir",
    "mkdir", "e",
    "symlink", "e", "el",
    "mkdir", "dangling/",
    "mkdir", "dangling",
    "mkdir", "dnodir/",
    "mkdir", "dl/",
    "mkdir", "l/",
    "mkdir", "f/",
    "mkdir", "d/.",
    "mkdir", "d/..",
    "mkdir", "/",
    "mkdir", "",
    "mkdir", "f/x",
    "mkdir", "new1/",
    "mkdirat", "d", "../dangling/",
    "mknod", "dangling", "fifo",
    "mknod", "dangling/", "fifo",
    "mknod", "n1/", "fifo",
    "mknod", "d/.", "fifo",
    "mknod", "d/..", "fifo",
    "mknod", "", "fifo",
    "mknod", "f/", "fifo",
    "symlink", "x", "dangling/",
    "symlink", "x", "dl/",
    "symlink", "x", "d/..",
    "symlink", "x", "",
    "symlink", "x", "s1/",
    "symlink", "x", "f/",
    "link", "f", "dangling",
    "link", "f", "dangling/",
    "link", "f", "d/.",
    "link", "f", "",
    "link", "", "h1",
    "link", "f", "h2/",
    "link", "dl/", "h3",
    "link", "dangling/", "h4",
    "rename", "f", "dangling/", "0",
    "rename", "dangling/", "r1", "0",
    "rename", "l/", "r2", "0",
    "rename", "dl/", "r3", "0",
    "rename", "el/", "r4", "0",
    "rename", "f", "d/.", "0",
    "rename", "d/..", "r5", "0",
    "rename", "", "r6", "0",
    "rename", "f", "", "0",
    "rename", "missing/", "r7", "0",
    "rename", "f", "r8/", "0",
    "rename", "f", "l/", "exchange",
    "rename", "e/", "l/", "exchange",
    "rename", "e", "dl/", "exchange",
    "rename", "e", "el/", "0",
    "rename", "dangling/", "r9", "noreplace",
    "rename", "dangling/", "f", "noreplace",
    "rename", "new1/", "new2/", "0",
    "rename", "new2", "new1/", "noreplace",
    "unlink", "dangling/",
    "unlink", "dl/",
    "unlink", "l/",
    "unlink", "d/",
    "unlink", "d/.",
    "unlink", "",
    "unlink", "missing/",
    "unlink", "f/",
    "rmdir", "el/",
    "rmdir", "dangling/",
    "rmdir", "f/",
    "rmdir", "d/.",
    "rmdir", "d/..",
    "rmdir", "/",
    "rmdir", "",
    "rmdir", "missing/",
    "rmdir", "dl/",
    "creat", "dangling/", "creat",
    "creat", "dnodir/", "creat",
    "creat", "dangling", "excl",
    "creat", "f/", "creat",
    "creat", "c1/", "creat",
    "creat", "d/.", "creat",
    "creat", "d/..", "creat",
    "creat", "", "creat",
    "creat", "dangling/", "dir",
    "creat", "f/", "dir",
    "creat", "l/", "dir",
    "creat", "dl/", "dir",
    "bind", "dangling/",
    "bind", "dangling",
    "bind", "b1/",
    "bind", "dl/",
    "bind", "d/.",
    // Last: O_CREAT without a slash follows the dangling symlink and makes
    // its target, natively too.
    "creat", "dangling", "creat",
];

/// Names the runs may have made (none but `missing`, `e`, `el`, `new1`,
/// `dnodir` should exist).
const MADE: &[&str] = &[
    "missing", "nodir", "e", "el", "new1", "new2", "n1", "s1", "h1", "h2", "h3", "h4", "r1", "r2",
    "r3", "r4", "r5", "r6", "r7", "r8", "r9", "c1", "b1", "dnodir",
];

#[test]
fn names_with_trailing_slashes_dots_and_dangling_symlinks_equal_native() {
    for kind in KINDS {
        for policy in ["broker-all", "allow-all"] {
            let o = same_as_native(kind, policy, SLASHES, MADE);
            // What the native run (equal to this one) says, for the record.
            for (label, want) in [
                ("mkdir dangling/", "EEXIST"),
                ("mkdir dnodir/", "EEXIST"),
                ("mkdir dl/", "EEXIST"),
                ("mkdir f/", "EEXIST"),
                ("mkdir d/..", "EEXIST"),
                ("mkdir ", "ENOENT"),
                ("mkdir new1/", "OK"),
                ("mkdirat d ../dangling/", "EEXIST"),
                ("mknod dangling/ fifo", "EEXIST"),
                ("mknod n1/ fifo", "ENOENT"),
                ("symlink x dangling/", "EEXIST"),
                ("link f dangling/", "EEXIST"),
                ("link f h2/", "ENOENT"),
                ("rename l/ r2 0", "ENOTDIR"),
                ("rename dl/ r3 0", "ENOTDIR"),
                ("rename el/ r4 0", "ENOTDIR"),
                ("rename d/.. r5 0", "EBUSY"),
                ("rename dangling/ f noreplace", "EEXIST"),
                ("unlink dangling/", "ENOTDIR"),
                ("unlink dl/", "ENOTDIR"),
                ("rmdir el/", "ENOTDIR"),
                ("rmdir dl/", "ENOTDIR"),
                ("rmdir d/..", "ENOTEMPTY"),
                ("rmdir d/.", "EINVAL"),
                ("rmdir /", "EBUSY"),
                ("creat dangling/ creat", "EISDIR"),
                ("creat dnodir/ creat", "EISDIR"),
                ("creat dangling excl", "EEXIST"),
                ("bind dangling/", "EADDRINUSE"),
                ("bind b1/", "ENOENT"),
                ("creat dangling creat", "OK"),
            ] {
                assert_eq!(line(&o, label), want, "{kind:?} {policy}: {label}\n{o}");
            }
            // The symlinks' targets were never made or removed but by the
            // last O_CREAT.
            assert!(o.stdout.contains("kind nodir: ENOENT"), "{o}");
            assert!(o.stdout.contains("kind e: d"), "{o}");
            assert!(o.stdout.contains("kind missing: f 0644"), "{o}");
        }
    }
}
