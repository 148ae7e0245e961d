//! The processes the supervisor starts for itself (not the program's):
//! the program must never reach them through `/proc` (see
//! `resolve::Walker::refuse_supervisor`).

use std::sync::Mutex;

static OWN: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Records `pid` (a child of the supervisor that is not the program).
pub fn register(pid: i32) {
    if let Ok(mut v) = OWN.lock() {
        v.push(pid);
    }
}

/// Whether `pid` is one of the supervisor's own processes.
pub fn is_own(pid: i32) -> bool {
    OWN.lock().map(|v| v.contains(&pid)).unwrap_or(true)
}
