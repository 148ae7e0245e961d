//! Integration tests: the real supervisor binary on real programs.
//!
//! * `file_calls`: the file calls under the example policies, for busybox
//!   and a C probe built with musl (static) and glibc (dynamic);
//! * `races`: path-buffer and symlink races against a denying policy;
//! * `bad_input`: broken policies and programs, exit codes and messages;
//! * `launcher`: foreign ABIs, unmapped syscalls, threads, fork, vfork, exec;
//! * `init_script`: init scripts (namespaces, Landlock, capabilities,
//!   seccomp filters, errexit) before the program starts;
//! * `slave`: slave filters in front of the master.
//!
//! The C probes (tests/probes/*.c) are compiled once per run with
//! `musl-gcc -static` and `gcc`; a missing compiler fails the tests.

mod util;

mod abuse;
mod bad_input;
mod dns;
mod file_calls;
mod init_script;
mod launcher;
mod net;
mod races;
mod slave;
