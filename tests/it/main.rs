//! Integration tests: the real supervisor binary on real programs.
//!
//! * `file_calls`: the file calls under the example policies, for busybox
//!   and a C probe built with musl (static) and glibc (dynamic);
//! * `races`: path-buffer and symlink races against a denying policy;
//! * `bad_input`: broken policies and programs, exit codes and messages;
//! * `launcher`: foreign ABIs, unmapped syscalls, threads, fork, vfork, exec;
//! * `init_script`: init scripts (namespaces, Landlock, capabilities,
//!   seccomp filters, errexit) before the program starts;
//! * `observe`: the audit log (`--log`), `--summary`, `supervisor check`.
//! * `waiting`: what ends the request loop's wait besides notifications.
//! * `slave`: slave filters in front of the master.
//! * `ci_jobs`: ordinary CI jobs (npm, cargo, go, make, tar, pip) under
//!   policies/ci.lua, compared with native runs.
//! * `refusals`: a refusal of each layer (policy, rules, posture, Landlock
//!   backstop) in the log and the summary.
//!
//! The C probes (tests/probes/*.c) are compiled once per run with
//! `musl-gcc -static` and `gcc`; a missing compiler fails the tests.

mod util;

mod abuse;
mod attack_bypass;
mod attack_escapes;
mod attack_lifecycle;
mod attack_memory;
mod attack_paths;
mod attack_posture;
mod attack_races;
mod attack_summary;
mod attack_terminal;
mod bad_input;
mod ci_job;
mod ci_jobs;
mod ci_paths;
mod containers;
mod containers_exec;
mod containers_nonroot;
mod dns;
mod everyday;
mod exec;
mod exec_verify;
mod file_calls;
mod init_script;
mod jobctl;
mod launcher;
mod learn;
mod net;
mod observe;
mod opath;
mod paths;
mod races;
mod ready;
mod refusals;
mod rules;
mod selfsandbox;
mod serving;
mod slave;
mod soak;
mod transparency;
mod trapped;
mod untrapped;
mod waiting;
