//! The supervisor's own exit codes.  Otherwise it exits with the program's
//! status, or 128 + the signal that killed it.  Only `main` exits: the
//! library ends a run with a `Stop` (run.rs), whose code is one of
//! these.

/// `--timeout` expired: the job was ended (SIGTERM, then SIGKILL after
/// `--kill-after`), whatever its own exit status.
pub const TIMEOUT: i32 = 121;
/// A slave filter failed: a Lua error in it, a return value of the wrong
/// type, a yield outside its real function.  The program is killed.
pub const SLAVE_FILTER: i32 = 122;
/// The init script failed (a Lua error, errexit on a failing C call, or
/// its process ended before the program started).  The program never ran.
pub const INIT_SCRIPT: i32 = 123;
/// The policy failed: file missing or unreadable, syntax error, runtime
/// error, a reply of the wrong type.  The program (if started) is killed.
pub const POLICY: i32 = 124;
/// The supervisor itself failed: bad usage, the filter refused, an
/// internal error.
pub const SUPERVISOR: i32 = 125;
/// The program exists but cannot be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The program was not found.
pub const NOT_FOUND: i32 = 127;
