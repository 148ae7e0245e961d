//! The audit trail of a run: `--log FILE` (one JSON line per request) and
//! `--summary` (a table on stderr at exit).  See docs/audit.md.
//!
//! The [`Recorder`] is owned by the run (`Run`, in run.rs) and handed to
//! whoever records.  Every notification gets exactly one record, and so
//! does every name lookup: a record opens when the request arrives
//! ([`Recorder::received`], [`Recorder::lookup`]), learns what the request
//! is ([`Recorder::request`]) and who decided ([`Recorder::decide`],
//! [`Recorder::decided`], [`Recorder::supervisor`]), and is written when
//! the answer is sent — by the answer module (the one place every answer goes
//! through), by [`Recorder::gone`] when there is no one left to answer, or,
//! for the records still open when the run ends, by [`Recorder::finish`]
//! as abandoned.
//!
//! Off (neither option given) the recorder is `None`: every hook is one
//! branch.
//!
//! A record that cannot be written ends the run (fail closed): the error is
//! reported once, the program is killed, no other request is answered, and
//! the supervisor exits with `SUPERVISOR` (exit.rs).

mod container;
mod decision;
mod exe;
mod json;
mod record;
mod summary;
mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

pub use container::Sinks;
pub use decision::{Decision, How};
pub use record::Answered;
use record::{Arguments, Entry};
use summary::Summary;

use crate::request::Request;
use kernel::notify::Listener;

/// What a record is kept under until it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A seccomp notification, by its id.
    Notif(u64),
    /// A name lookup, by its number in the run.
    Lookup(u64),
}

/// What to record.
#[derive(Debug, Default, Clone)]
pub struct Config {
    /// `--log FILE`: created (or truncated), mode 0600.
    pub log: Option<PathBuf>,
    /// `--summary`.
    pub summary: bool,
    /// `--log-level denied`: the log holds the denials only (the summary
    /// still counts everything).
    pub denials_only: bool,
    /// `-v`: each denial on stderr as it is answered, one line.
    pub verbose: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the log file {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

struct Inner {
    open: HashMap<Key, Entry>,
    /// Each process's pid and executable, read once per image.
    exes: exe::Cache,
    log: Option<writer::Writer>,
    /// Only denials go to the log.
    denials_only: bool,
    /// Each denial on stderr (`-v`).
    verbose: bool,
    summary: Option<Summary>,
    /// Where the summary goes: stderr, or this file (a container's,
    /// `supervisor agent --summary DIR`).
    summary_to: Option<File>,
    finished: bool,
}

struct Audit {
    inner: Mutex<Inner>,
    /// The log failed: nothing is answered any more.
    stopped: AtomicBool,
    log_path: String,
    /// The program's pid, to kill it when the log fails.
    program: AtomicI32,
    lookups: AtomicU64,
    /// The filesystem rights the program's Landlock backstop refuses on
    /// every file (`launch::Child::landlock`).
    landlock: AtomicU64,
    /// `-v`.
    verbose: bool,
    /// The container each record is of (`supervisor agent`).
    container: Option<std::sync::Arc<str>>,
}

/// The audit trail of one run: a cheap handle, cloned into every thread
/// that answers.  `Recorder::default()` records nothing.
#[derive(Clone, Default)]
pub struct Recorder(Option<Arc<Audit>>);

impl Recorder {
    /// Starts auditing (before the program starts).  Records nothing unless
    /// `cfg` asks for something.
    pub fn start(cfg: &Config) -> Result<Recorder, AuditError> {
        if cfg.log.is_none() && !cfg.summary && !cfg.verbose {
            return Ok(Recorder(None));
        }
        let log = match &cfg.log {
            Some(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                // std opens with O_CLOEXEC: the program never inherits the log.
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(p)
                    .map_err(|source| AuditError::Open {
                        path: p.display().to_string(),
                        source,
                    })?;
                Some(f)
            }
            None => None,
        };
        let path = cfg.log.as_ref().map(|p| p.display().to_string());
        Ok(Recorder::build(
            cfg,
            Sinks {
                log: log.map(|f| (f, path.unwrap_or_default())),
                ..Sinks::default()
            },
        ))
    }

    /// The recorder of `cfg` writing to `sinks` (its log already open).
    fn build(cfg: &Config, sinks: Sinks) -> Recorder {
        let (log, log_path) = match sinks.log {
            Some((f, p)) => (Some(f), p),
            None => (None, String::new()),
        };
        let a = |me: &Weak<Audit>| Audit {
            stopped: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                open: HashMap::new(),
                exes: exe::Cache::default(),
                log: log.map(|f| {
                    let me = me.clone();
                    writer::Writer::new(
                        f,
                        Box::new(move |err| {
                            if let Some(a) = me.upgrade() {
                                fail(&a, err)
                            }
                        }),
                    )
                }),
                denials_only: cfg.denials_only,
                verbose: cfg.verbose,
                summary: (cfg.summary || sinks.summary.is_some()).then(Summary::default),
                summary_to: sinks.summary,
                finished: false,
            }),
            log_path,
            program: AtomicI32::new(0),
            lookups: AtomicU64::new(0),
            landlock: AtomicU64::new(0),
            verbose: cfg.verbose,
            container: sinks.container.map(Into::into),
        };
        Recorder(Some(Arc::new_cyclic(a)))
    }

    /// Is the run audited?
    #[inline]
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Waits until every record written so far is in the log file (the
    /// log's thread writes them).
    #[cfg(test)]
    pub fn flush(&self) {
        if let Some((_, g)) = self.inner() {
            if let Some(w) = g.log.as_ref() {
                w.flush();
            }
        }
    }

    /// Has the log failed?  No request may be answered any more.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.0.as_ref().is_some_and(|a| a.stopped.load(Relaxed))
    }

    fn inner(&self) -> Option<(&Audit, MutexGuard<'_, Inner>)> {
        let a = self.0.as_deref()?;
        let g = a.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.finished {
            return None;
        }
        Some((a, g))
    }

    fn with(&self, key: Key, f: impl FnOnce(&mut Entry)) {
        if let Some((_, mut g)) = self.inner() {
            if let Some(e) = g.open.get_mut(&key) {
                f(e);
            }
        }
    }

    /// The program started with this pid.
    pub fn program_started(&self, pid: i32) {
        if let Some(a) = &self.0 {
            a.program.store(pid, Relaxed);
        }
    }

    /// The program's Landlock backstop refuses these filesystem rights on
    /// every file (see act/backstop.rs): recorded when the policy leaves
    /// such a call to the kernel.
    pub fn set_landlock(&self, refused: u64) {
        if let Some(a) = &self.0 {
            a.landlock.store(refused, Relaxed);
            if a.verbose && refused != 0 {
                eprint!("{}", summary::landlock_line(refused));
            }
        }
    }

    /// The policy left calls to the kernel (a rules policy's `untrapped`,
    /// decided at `at`): `kinds` are allowed everywhere, `calls` the calls
    /// no longer trapped.  Said once, before the program starts: on
    /// stderr with `-v`, in the summary, and as the log's first line
    /// (`{"time":…,"untrapped":["create",…],"calls":"…","decision":"…"}`),
    /// since those calls will have no records.
    pub fn untrapped(&self, (kinds, calls): &(Vec<&'static str>, String), at: &str) {
        let Some((audit, mut g)) = self.inner() else {
            return;
        };
        let line = summary::untrapped_line(kinds, calls, at);
        if audit.verbose {
            eprint!("{line}");
        }
        if let Some(s) = g.summary.as_mut() {
            s.untrapped = Some(line);
        }
        let mut o = String::from("{");
        json::key(&mut o, "time");
        json::str(&mut o, &json::time(std::time::SystemTime::now()));
        if let Some(c) = &audit.container {
            json::key(&mut o, "container");
            json::str(&mut o, c);
        }
        json::key(&mut o, "untrapped");
        o.push('[');
        for (i, k) in kinds.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            json::str(&mut o, k);
        }
        o.push(']');
        json::key(&mut o, "calls");
        json::str(&mut o, calls);
        json::key(&mut o, "decision");
        json::str(&mut o, at);
        o.push_str("}\n");
        if let Some(w) = g.log.as_mut() {
            if let Err(e) = w.preface(&o) {
                drop(g);
                fail(audit, &e);
            }
        }
    }

    /// `-v` was given.
    pub fn verbose(&self) -> bool {
        self.0.as_ref().is_some_and(|a| a.verbose)
    }

    /// What [`Recorder::set_landlock`] set; 0 when the run is not audited.
    #[inline]
    pub fn landlock(&self) -> u64 {
        self.0.as_ref().map_or(0, |a| a.landlock.load(Relaxed))
    }

    /// Thread `tid` sent notification `id` for `syscall`.
    pub fn received(&self, l: &Listener, id: u64, tid: u32, syscall: &'static str) {
        if !self.enabled() {
            return;
        }
        let mut e = Entry::new(Some(tid), Some(syscall));
        e.container = self.0.as_ref().and_then(|a| a.container.clone());
        let Some((_, mut g)) = self.inner() else {
            return;
        };
        if g.log.is_none() {
            g.open.insert(Key::Notif(id), e);
            return;
        }
        // Read while the notification is pending, then checked: if it is
        // still pending, the thread was alive throughout and its tid not
        // reused, so what was read (or found still to be its process's,
        // audit/exe.rs) is that thread's.
        if matches!(syscall, "execve" | "execveat") {
            drop(g);
            let pid = thread_group(tid);
            let exe = read_exe(tid);
            let valid = l.id_valid(id);
            let Some((_, mut g)) = self.inner() else {
                return;
            };
            g.exes.exec_received(id, pid.filter(|_| valid));
            if valid {
                (e.pid, e.exe) = (pid, exe);
            }
            g.open.insert(Key::Notif(id), e);
            return;
        }
        let ticket = match g.exes.lookup(tid) {
            exe::Found::Hit(exe) => {
                drop(g);
                if l.id_valid(id) {
                    (e.pid, e.exe) = (Some(tid), exe);
                }
                if let Some((_, mut g)) = self.inner() {
                    g.open.insert(Key::Notif(id), e);
                }
                return;
            }
            exe::Found::Miss(t) => t,
        };
        // A main thread's pidfd, taken before the check (so that it is
        // this thread's process), to keep what is read.
        let pidfd = g.exes.wants(tid, &ticket);
        drop(g);
        let pid = if pidfd.is_some() {
            Some(tid)
        } else {
            thread_group(tid)
        };
        let exe = read_exe(tid);
        let valid = l.id_valid(id);
        let Some((_, mut g)) = self.inner() else {
            return;
        };
        if valid {
            if let Some(fd) = pidfd {
                g.exes.fill(tid, &ticket, fd, exe.clone());
            }
            (e.pid, e.exe) = (pid, exe);
        }
        g.open.insert(Key::Notif(id), e);
    }

    /// Notification `id`, an exec, is let through with its thread seized
    /// and verified at the exec event: its record closes after the exec.
    pub fn exec_verified(&self, id: u64) {
        if let Some((_, mut g)) = self.inner() {
            g.exes.exec_verified(id);
        }
    }
}

/// `/proc/<tid>/exe`, as bytes (`None`: unreadable).
fn read_exe(tid: u32) -> Option<std::sync::Arc<[u8]>> {
    let p = std::fs::read_link(format!("/proc/{tid}/exe")).ok()?;
    Some(p.into_os_string().into_encoded_bytes().into())
}

/// The thread group (process) of thread `tid`.
fn thread_group(tid: u32) -> Option<u32> {
    // A thread-group leader's pid is its tid: the common case costs one
    // syscall (tgkill with signal 0, which makes no descriptor, unlike
    // pidfd_open) instead of rendering /proc/<tid>/status.  Another
    // thread (or one that is gone, whose status read then fails): the
    // status's Tgid.
    if kernel::sys::is_thread_group_leader(tid) == Ok(true) {
        return Some(tid);
    }
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
}

impl Recorder {
    /// Notification `id` is this request for the policy.
    pub fn request(&self, id: u64, req: &Request) {
        if !self.enabled() {
            return;
        }
        // Copied as is: turned into JSON by the log's thread.
        let args = Arguments::Request(Box::new(req.clone()));
        self.with(Key::Notif(id), |e| {
            e.function = req.function.name();
            e.args = args;
            e.target = None;
        });
    }

    /// The supervisor answers notification `id` itself, because of `why`.
    pub fn supervisor(&self, id: u64, why: &'static str) {
        self.decide(Key::Notif(id), Decision::Supervisor(why));
    }

    /// Notification `id` is a call the posture refuses (`r`) naming
    /// `paths` (as the program passed them): recorded as a denial of
    /// `r.syscall` on its paths (on `r.target` if it names none).
    pub fn refused(&self, id: u64, r: &bpf::posture::Refused, nr: i32, paths: &[Vec<u8>]) {
        if !self.enabled() {
            return;
        }
        let mut args = String::from("{");
        json::key(&mut args, "nr");
        args.push_str(&nr.to_string());
        json::key(&mut args, "refused");
        json::str(&mut args, &r.target);
        for (i, p) in paths.iter().enumerate() {
            json::key(&mut args, if i == 0 { "path" } else { "path2" });
            json::bytes(&mut args, p);
        }
        args.push('}');
        let target = if paths.is_empty() {
            r.target.clone()
        } else {
            let texts: Vec<String> = paths
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            texts.join(" -> ")
        };
        self.with(Key::Notif(id), |e| {
            e.syscall = Some(r.syscall);
            e.function = r.syscall;
            e.args = Arguments::Json(args);
            e.target = Some(target);
            e.decision = Some(Decision::Posture(r.why));
        });
    }

    /// Sets the decision of `key`.
    pub fn decide(&self, key: Key, d: Decision) {
        if self.enabled() {
            self.with(key, |e| e.decision = Some(d));
        }
    }

    /// The policy answers `key` with `how`, from the Lua line `at()` (called
    /// only when auditing) — or under the description given by [`describe`].
    pub fn decided(&self, key: Key, how: How, at: impl FnOnce() -> String) {
        if !self.enabled() {
            return;
        }
        // A description given (a rule's text) is the decision; the Lua line
        // is looked up only without one.
        let mut described = false;
        self.with(key, |e| {
            if let Some(text) = e.label.take() {
                e.decision = Some(Decision::Rule { text, how });
                described = true;
            }
        });
        if described {
            return;
        }
        let at = at();
        self.with(key, |e| {
            e.decision = Some(Decision::Policy { at: at.into(), how })
        });
    }

    /// A description of the answer about to be given to `key`.
    pub fn describe(&self, key: Key, text: &str) {
        if self.enabled() {
            self.with(key, |e| e.label = Some(text.into()));
        }
    }

    /// The paths `resolved()` found for notification `id` (`None`: did not
    /// resolve).
    pub fn resolved<'a>(&self, id: u64, paths: impl Iterator<Item = Option<&'a [u8]>>) {
        if !self.enabled() {
            return;
        }
        // Copied as is: turned into JSON by the log's thread.
        let paths: Vec<Option<Box<[u8]>>> = paths.map(|p| p.map(Into::into)).collect();
        self.with(Key::Notif(id), |e| e.resolved = Some(paths));
    }

    /// Notification `id` was answered with `a`; `delivered` is false when the
    /// thread was gone.
    pub fn answered(&self, id: u64, a: Answered, delivered: bool) {
        if self.enabled() {
            let a = if delivered { a } else { Answered::Abandoned };
            self.close(Key::Notif(id), a);
        }
    }

    /// Notification `id` will never be answered: its thread is gone.
    pub fn gone(&self, id: u64) {
        if self.enabled() {
            self.close(Key::Notif(id), Answered::Abandoned);
        }
    }

    /// A name lookup arrived; its key.
    pub fn lookup(&self, tid: Option<u32>, name: &str) -> Option<u64> {
        let (a, mut g) = self.inner()?;
        let n = a.lookups.fetch_add(1, Relaxed);
        let mut e = Entry::new(tid, None);
        e.container = a.container.clone();
        e.function = "getaddrinfo";
        let mut args = String::from("{");
        json::key(&mut args, "name");
        json::str(&mut args, name);
        args.push('}');
        e.args = Arguments::Json(args);
        e.target = Some(name.to_owned());
        g.open.insert(Key::Lookup(n), e);
        Some(n)
    }

    /// Lookup `key` was answered with `a`.
    pub fn lookup_answered(&self, key: Option<u64>, a: Answered) {
        let Some(k) = key else { return };
        self.close(Key::Lookup(k), a);
    }

    /// Writes the record of `key`.
    fn close(&self, key: Key, a: Answered) {
        let Some((audit, mut g)) = self.inner() else {
            return;
        };
        let Some(e) = g.open.remove(&key) else {
            return;
        };
        if let Key::Notif(id) = key {
            g.exes.closed(id, a == Answered::Continue);
        }
        if let Err(err) = write(audit, &mut g, e, a) {
            drop(g);
            fail(audit, &err);
        }
    }
}

fn write(audit: &Audit, g: &mut Inner, e: Entry, a: Answered) -> std::io::Result<()> {
    let d = e.decision.as_ref();
    let denied = (matches!(a, Answered::Errno(_) | Answered::Gai(_))
        && d.is_some_and(Decision::denies_on_error))
        || a == Answered::Killed;
    if denied && g.verbose {
        let errno = a.error_name();
        eprint!(
            "{}",
            summary::denial_line(
                e.function,
                e.target().as_deref().unwrap_or("?"),
                errno.as_deref().unwrap_or("?"),
                &d.map_or_else(|| "none".into(), |d| d.to_string()),
            )
        );
    }
    if let Some(s) = g.summary.as_mut() {
        let errno = a.error_name();
        let target = e.target();
        let target = target.as_deref().unwrap_or("?");
        s.add(
            e.function,
            &d.map_or_else(|| "none".into(), |d| d.to_string()),
            d.map_or("none", Decision::answer),
            denied.then(|| (target, errno.as_deref().unwrap_or("?"))),
            a == Answered::Abandoned,
        );
    }
    if audit.stopped.load(Relaxed) {
        return Ok(());
    }
    if g.denials_only && !denied {
        return Ok(());
    }
    match g.log.as_mut() {
        Some(w) => w.write(e, a, denied),
        None => Ok(()),
    }
}

/// The log cannot be written: report once, stop answering, end the run.
fn fail(audit: &Audit, err: &std::io::Error) {
    if audit.stopped.swap(true, Relaxed) {
        return;
    }
    eprintln!(
        "supervisor: cannot write the audit log {}: {err}; ending the run",
        audit.log_path
    );
    // The request loop sees the program die and ends the run as usual,
    // killing what the program left behind; the exit code is then ours.
    let pid = audit.program.load(Relaxed);
    if pid > 0 {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

impl Recorder {
    /// The run is over: writes the records still open (abandoned) and prints
    /// the summary.  Returns false if the log failed (the run must end with
    /// `SUPERVISOR` (exit.rs)).
    pub fn finish(&self) -> bool {
        let Some((audit, mut g)) = self.inner() else {
            return !self.stopped();
        };
        let mut left: Vec<(Key, Entry)> = g.open.drain().collect();
        left.sort_by_key(|(_, e)| e.start);
        let mut failed = None;
        for (_, e) in left {
            if let Err(err) = write(audit, &mut g, e, Answered::Abandoned) {
                failed = Some(err);
                break;
            }
        }
        g.finished = true;
        let summary = g.summary.take();
        let summary_to = g.summary_to.take();
        let log = g.log.take();
        drop(g);
        // Every record handed to the log's thread is written before the
        // run ends.
        if let Some(mut w) = log {
            if let Err(err) = w.finish() {
                failed = failed.or(Some(err));
            }
        }
        if let Some(err) = failed {
            fail(audit, &err);
        }
        if let Some(s) = summary {
            container::summary(s.render(), summary_to);
        }
        !self.stopped()
    }
}
