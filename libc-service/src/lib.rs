//! The vocabulary of the libc_service model (`../shared/spec/`), shared by
//! every layer of the supervisor and by the Lua-free rules matcher:
//!
//! * [`function`]: the request kinds (`master.function_`), one row each in
//!   [`function::TABLE`]: name, slave-filter slot, real function, the
//!   rules kinds a request of that kind is checked as.  Everything that
//!   lists kinds (slave filter names, fuzz and test lists, docs) derives
//!   from it; every match over [`Function`] is exhaustive.
//! * [`kind`]: what a request does to its subject, as the rules name it.
//! * [`errno`]: errno names and numbers.
//! * [`gai`]: the spec's `getaddrinfo` errors.

pub mod errno;
pub mod function;
pub mod gai;
pub mod kind;

pub use function::{Function, Returns, Row};
pub use gai::GaiError;
pub use kind::Kind;
