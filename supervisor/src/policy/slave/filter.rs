//! The filters of a run and the calls they hold: an installed filter and
//! its slot (the request kind's row in `libc_service::function::TABLE`),
//! one run of a filter for one call, what its real function forwards.
//! Data only: `drive.rs` runs them.

use std::collections::HashMap;
use std::rc::Rc;

use mlua::{Function, Table, Thread, Value};

use crate::act::net::Socket;
use crate::answer::Lookup;
use crate::pending::Pending;
use crate::request::{Function as Call, Request};

/// The filter of `function` sits at its slot ([`Call::slot`]); the
/// names are the request kinds' ([`libc_service::function::TABLE`]).
pub fn name_of(slot: usize) -> &'static str {
    Call::of_slot(slot).map_or("?", Call::name)
}

/// The slot of getaddrinfo.
pub const GETADDRINFO: usize = Call::Getaddrinfo as usize;

/// The slot of a call's filter.
pub fn slot(f: Call) -> usize {
    f.slot()
}

/// An installed filter.
pub struct Filter {
    pub slot: usize,
    /// The filter (a function, or the compiled chunk).
    pub func: Function,
    /// Its `real_X`, the first argument it gets.
    pub real: Function,
}

impl Filter {
    pub fn name(&self) -> &'static str {
        name_of(self.slot)
    }

    /// `file:line` where the filter is defined, for messages about it as a
    /// whole (its return value).
    pub fn defined_at(&self) -> String {
        let i = self.func.info();
        let src = i.short_src.unwrap_or_else(|| "?".into());
        match i.line_defined {
            Some(l) if l > 0 => format!("{src}:{l}"),
            _ => src,
        }
    }
}

/// A value's type with its article, for messages ("an integer").
pub fn a_type(v: &Value) -> String {
    let t = v.type_name();
    match t.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => format!("an {t}"),
        _ => format!("a {t}"),
    }
}

/// The slave filters of a run and the calls they hold.
#[derive(Default)]
pub struct Slave {
    pub(super) filters: Vec<Option<Rc<Filter>>>,
    /// `real_X` of each slot, made once.
    pub(super) reals: Vec<Function>,
    /// What `real_X` returns for a call left to the kernel.
    pub(super) kernel: Option<Table>,
    /// Runs a filter with no master loop (see [`REAL`]).
    pub(super) direct: Option<Rc<Function>>,
    /// A master loop receives (the policy called `master:receive()`).
    pub(super) master_loop: bool,
    /// The invocation whose filter runs now.
    pub(super) running: Option<Invocation>,
    /// What the running filter's `real_X` prepared to forward.
    pub(super) prepared: Option<Rewritten>,
    /// The invocation whose forwarded call the master holds (in `ready`
    /// until `receive()` returns it, then in `State::current`/`lookup`).
    pub(super) with_master: Option<Invocation>,
    pub(super) ready: Option<Item>,
    /// Invocations waiting for a job (a blocking call, a lookup upstream).
    pub(super) waiting: HashMap<u64, Invocation>,
    pub(super) next_token: u64,
    /// Finished coroutines, for reuse.
    pub(super) pool: Vec<Thread>,
}

impl Slave {
    pub(super) fn filter(&self, slot: usize) -> Option<Rc<Filter>> {
        self.filters.get(slot).and_then(|f| f.clone())
    }
}

/// A call held by a filter.
pub enum Item {
    Call(Box<Pending>),
    Lookup(Lookup),
}

/// One run of a filter for one call.
pub struct Invocation {
    pub(super) filter: Rc<Filter>,
    /// The filter's coroutine (`None`: called directly, no master loop).
    pub(super) thread: Option<Thread>,
    /// The program's call; `None` while the master holds the forwarded one.
    pub(super) item: Option<Item>,
    /// The program's own request (or looked-up name) while the master
    /// holds the forwarded one.
    pub(super) original: Option<Request>,
    pub(super) original_name: Option<String>,
    /// The forwarded call differs from the program's.
    pub(super) changed: bool,
}

/// A call forwarded by a filter.
pub enum Rewritten {
    Call {
        req: Request,
        /// The program's socket of a rewritten fd (socket requests).
        sock: Option<Socket>,
        /// The request differs from the program's.
        changed: bool,
    },
    Lookup {
        name: String,
        changed: bool,
    },
}
