//! What a learning run saw ([`Seen`]: paths by kind, addresses, names,
//! each with the calls that touched it), and where the learnt policy
//! runs ([`Context`]: its base, `$HOME`, `$PATH`, `$TMPDIR`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::policy::rules::Kind;

/// Why a subject is there: the calls that touched it.
#[derive(Default, Debug, Clone)]
pub struct Why {
    /// Calls by function name.
    pub calls: BTreeMap<&'static str, u32>,
    /// Every call found nothing there (the path did not exist).
    pub missing: bool,
}

impl Why {
    pub fn add(&mut self, function: &'static str, missing: bool) {
        let first = self.calls.is_empty();
        *self.calls.entry(function).or_default() += 1;
        self.missing = if first {
            missing
        } else {
            self.missing && missing
        };
    }

    pub(super) fn merge(&mut self, o: &Why) {
        let first = self.calls.is_empty();
        for (f, n) in &o.calls {
            *self.calls.entry(f).or_default() += n;
        }
        self.missing = if first {
            o.missing
        } else {
            self.missing && o.missing
        };
    }

    /// `open ×3, stat ×1`.
    pub(super) fn text(&self) -> String {
        let mut s = String::new();
        for (f, n) in &self.calls {
            if !s.is_empty() {
                s.push_str(", ");
            }
            let _ = write!(s, "{f} ×{n}");
        }
        s
    }
}

/// What a learning run saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// Resolved paths (or where they failed), by kind.
    pub paths: BTreeMap<Kind, BTreeMap<Vec<u8>, Why>>,
    /// Directories the program created (successful mkdir).
    pub made_dirs: BTreeSet<Vec<u8>>,
    /// Paths created (O_CREAT, mkdir, rename destination) and paths
    /// deleted (unlink, rmdir, rename source) during the run.
    pub created: BTreeSet<Vec<u8>>,
    pub deleted: BTreeSet<Vec<u8>>,
    /// Addresses of connect and bind (`127.0.0.1`, port); a unix socket
    /// as `unix:/path` with no port.
    pub connects: BTreeMap<(String, Option<u16>), Why>,
    pub binds: BTreeMap<(String, Option<u16>), Why>,
    /// Names looked up.
    pub names: BTreeMap<String, Why>,
    /// `--base`: what a rule of the base denied (kind, path, the rule):
    /// never learnt, listed in the policy's comments.
    pub refused_by_base: BTreeMap<(Kind, Vec<u8>, String), Why>,
}

impl Seen {
    /// `function` touched `p` as `k`; `missing`: it found nothing there.
    pub fn note(&mut self, k: Kind, p: &[u8], function: &'static str, missing: bool) {
        self.paths
            .entry(k)
            .or_default()
            .entry(p.to_vec())
            .or_default()
            .add(function, missing);
    }

    /// A path of kind `k` (for tests: an unnamed call that found it).
    pub fn path(&mut self, k: Kind, p: &[u8]) {
        self.note(k, p, "call", false);
    }

    /// A connect or bind (`addr`, port).
    pub fn address(&mut self, k: Kind, addr: String, port: Option<u16>, function: &'static str) {
        let set = if k == Kind::Bind {
            &mut self.binds
        } else {
            &mut self.connects
        };
        set.entry((addr, port)).or_default().add(function, false);
    }

    /// A name lookup.
    pub fn name(&mut self, name: &str) {
        self.names
            .entry(name.to_owned())
            .or_default()
            .add("getaddrinfo", false);
    }
}

/// Where the learnt policy runs: its base, the learning environment.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The command learnt from.
    pub cmd: String,
    /// `--base NAME`: the learnt rules complete that policy.
    pub base: Option<String>,
    /// `$HOME` (canonical), if set: never folded into, its secrets listed.
    pub home: Option<Vec<u8>>,
    /// The directories of `$PATH`, to tell PATH lookups.
    pub path_dirs: Vec<Vec<u8>>,
    /// `$TMPDIR`, a temporary directory besides `/tmp`, `/var/tmp`,
    /// `/dev/shm`.
    pub tmpdir: Option<Vec<u8>>,
}

impl Context {
    /// From the environment the job was given (the supervisor's own).
    pub fn from_env(cmd: String, base: Option<String>) -> Context {
        use std::os::unix::ffi::OsStrExt;
        let canon = |v: std::ffi::OsString| {
            let p = std::path::PathBuf::from(&v);
            std::fs::canonicalize(&p)
                .unwrap_or(p)
                .as_os_str()
                .as_bytes()
                .to_vec()
        };
        let home = std::env::var_os("HOME")
            .filter(|h| h.as_bytes().starts_with(b"/") && h.len() > 1)
            .map(canon);
        let path_dirs = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .filter(|d| d.is_absolute())
                    .map(|d| canon(d.into_os_string()))
                    .collect()
            })
            .unwrap_or_default();
        let tmpdir = std::env::var_os("TMPDIR")
            .filter(|h| h.as_bytes().starts_with(b"/") && h.len() > 1)
            .map(canon);
        Context {
            cmd,
            base,
            home,
            path_dirs,
            tmpdir,
        }
    }
}
