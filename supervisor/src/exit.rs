//! The supervisor's own exit codes.  Otherwise it exits with the program's
//! status, or 128 + the signal that killed it.

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
