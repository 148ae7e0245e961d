//! The supervisor's kernel interface: everything it asks of Linux about
//! the program, below any policy.
//!
//! * [`notify`]: the seccomp user-notification listener — receiving a
//!   notification, checking it is still pending (`ID_VALID`), and the
//!   bare send and addfd ioctls (only the supervisor's answer module
//!   calls those);
//! * [`memory`]: the program's memory, read once with `process_vm_readv`
//!   and written only with `process_vm_writev`, by a worker thread awaited
//!   with a deadline ([`offload`]);
//! * [`task`]: the notifying thread through `/proc/<tid>`, with the rule
//!   that every read is validated by `ID_VALID` before it is used;
//! * [`exec`]: an exec let through and verified at its exec event
//!   (ptrace, before the new image's first instruction);
//! * [`creds`]: a supervisor thread acting with a program thread's
//!   credentials (or its own with the capabilities lowered to the
//!   program's, where the kernel checks the caller's);
//! * [`sys`]: raw syscalls nix does not wrap (or wraps with allocations the
//!   hot path does not want).
//!
//! Nothing here knows about Lua, policies, rules or the audit trail: the
//! compiler keeps those layers above.

pub mod creds;
pub mod exec;
pub mod memory;
pub mod notify;
pub mod offload;
pub mod standin;
pub mod sys;
pub mod task;
