//! Writing a rules policy (docs/rules format) that allows what a learning
//! run saw, generalising only where that is sound and saying why:
//!
//! * **never learnt**: secrets ([`secret`]: `$HOME/.ssh`, `.gnupg`, cloud
//!   and registry credentials, `/etc/shadow`, SSH host keys, processes'
//!   environment and memory) — whatever the job did with them; they are
//!   listed in the policy's comments, and a policy without a base denies
//!   them by explicit rules, so no learnt prefix can reach them;
//! * **the root** (`stat("/")`, `rm`'s check of `/`) becomes a rule on the
//!   root alone (`exact = true`), never `/`, which is the file system;
//! * **probes of missing paths** (PATH lookups: `stat`/`access` of each
//!   PATH entry until the hit; configuration searched in several places)
//!   stay exact and never count towards folding;
//! * **reads** in a directory D fold into `D/` when the program read at
//!   least [`FOLD_MIN`] distinct existing entries of D, D is at least
//!   [`FOLD_DEPTH`] components deep (never `/usr/`, `/etc/`), is neither
//!   `$HOME` nor above it, and no component of D is hidden (`.cache`,
//!   `.ssh`…).  Folded directories count as entries of their parent, so
//!   whole trees fold level by level;
//! * **everything** under a directory the program created itself (a
//!   successful mkdir) folds into that directory: nothing else can be in
//!   it.  A made directory with a random name (mkdtemp) becomes a glob;
//! * a **temporary name** — created in a temporary directory (`/tmp`,
//!   `/var/tmp`, `/dev/shm`, `$TMPDIR`), or created and deleted in the run
//!   anywhere — with a random part ([`temp_glob`]: mkstemp's `XXXXXX`,
//!   mktemp(1)'s `tmp.XXXXXXXXXX`, Python's `tmpXXXXXXXX`) becomes a glob
//!   on that part only: `/tmp/ccAb12Cd.s` → `/tmp/cc*.s`;
//! * `/proc/<pid>/…` → `/proc/*/…`, `pipe:[N]` → `pipe:*`,
//!   `socket:[N]` → `socket:*`, `/dev/pts/N` → `/dev/pts/*` (numbers that
//!   change from run to run).
//!
//! Everything else is exact: a path, an address and port, a name.  Each
//! rule is preceded by a comment: the calls that produced it (counts), the
//! paths it stands for, and the generalisation made, if any.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Fold reads of at least this many entries of one directory…
pub const FOLD_MIN: usize = 4;
/// …at least this many components deep.
pub const FOLD_DEPTH: usize = 3;

use super::names::{depth, hidden, parent, secret_rules, under, unnumber};
pub use super::names::{literal, secret, temp_glob};
pub use super::seen::{Context, Seen, Why};
/// The kinds of the rules format (docs/rules.md).
pub use crate::policy::rules::Kind;

/// The kinds whose subjects are file paths, in the order the policy
/// lists them: every kind of the rules' table but the network's (a kind
/// added there is learnt as a path kind).
fn path_kinds() -> impl Iterator<Item = Kind> {
    ::rules::KINDS
        .into_iter()
        .filter(|k| !matches!(k, Kind::Connect | Kind::Bind | Kind::Resolve))
}

/// One rule of a kind, with why it is there.
#[derive(Debug, Default, Clone)]
struct Out {
    why: Why,
    /// The paths it stands for (at most a few kept, for the comment).
    paths: BTreeSet<Vec<u8>>,
    /// How many paths.
    count: usize,
    /// The generalisation made, if any.
    how: Option<String>,
}

impl Out {
    fn add(&mut self, path: &[u8], why: &Why) {
        self.why.merge(why);
        self.count += 1;
        if self.paths.len() < 3 {
            self.paths.insert(path.to_vec());
        }
    }
    fn absorb(&mut self, o: Out) {
        self.why.merge(&o.why);
        self.count += o.count;
        for p in o.paths {
            if self.paths.len() < 3 {
                self.paths.insert(p);
            }
        }
    }
}

/// What generating a kind gives: its rules, and what was never learnt.
struct KindRules {
    rules: BTreeMap<Vec<u8>, Out>,
    refused: BTreeMap<Vec<u8>, Why>,
}

/// Is `d` a temporary directory (where names are per run)?
fn temp_dir(d: &[u8], ctx: &Context) -> bool {
    [&b"/tmp"[..], b"/var/tmp", b"/dev/shm"]
        .iter()
        .any(|t| under(d, t))
        || ctx.tmpdir.as_deref().is_some_and(|t| under(d, t))
}

/// The glob of a directory the job made, if its name is random and it is
/// temporary (in a temporary directory, or deleted in the run).
fn made_glob(d: &[u8], ctx: &Context, deleted: bool) -> Vec<u8> {
    let in_temp = parent(d).is_some_and(|p| temp_dir(p, ctx));
    match temp_glob(d, in_temp) {
        Some(g) if deleted || in_temp => g,
        _ => d.to_vec(),
    }
}

/// Folds exact read paths into directory prefixes (see the module doc).
fn fold_reads(rules: &mut BTreeMap<Vec<u8>, Out>, ctx: &Context) {
    let home = ctx.home.as_deref().map(literal);
    loop {
        let mut by_dir: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for (p, o) in rules.iter() {
            if o.why.missing || o.how.as_deref().is_some_and(|h| !h.starts_with("folded")) {
                continue;
            }
            if !p.starts_with(b"/") || p.contains(&b'*') {
                continue;
            }
            if let Some(d) = parent(p) {
                *by_dir.entry(d.to_vec()).or_default() += 1;
            }
        }
        let fold: Vec<Vec<u8>> = by_dir
            .into_iter()
            .filter(|(d, n)| {
                *n >= FOLD_MIN
                    && depth(d) >= FOLD_DEPTH
                    && !hidden(d)
                    && !home.as_deref().is_some_and(|h| under(h, d))
            })
            .map(|(d, _)| d)
            .collect();
        if fold.is_empty() {
            return;
        }
        for d in fold {
            let inside: Vec<Vec<u8>> = rules
                .iter()
                .filter(|(p, o)| under(p, &d) && !o.why.missing && p.as_slice() != d.as_slice())
                .map(|(p, _)| p.clone())
                .collect();
            let mut o = rules.remove(&d).unwrap_or_default();
            for p in inside {
                if let Some(x) = rules.remove(&p) {
                    o.absorb(x);
                }
            }
            o.how = Some(format!(
                "folded: {} existing entries read below it (≥{FOLD_MIN} in one directory)",
                o.count
            ));
            rules.insert(d, o);
        }
    }
}

/// The rules of one kind.
fn kind_rules(seen: &Seen, k: Kind, ctx: &Context) -> KindRules {
    let mut rules: BTreeMap<Vec<u8>, Out> = BTreeMap::new();
    let mut refused = BTreeMap::new();
    let Some(paths) = seen.paths.get(&k) else {
        return KindRules { rules, refused };
    };
    // The topmost directories the program made.
    let made: Vec<&Vec<u8>> = seen
        .made_dirs
        .iter()
        .filter(|d| !seen.made_dirs.iter().any(|o| o != *d && under(d, o)))
        .collect();
    for (p, why) in paths {
        if secret(p, ctx.home.as_deref()) {
            refused.insert(p.clone(), why.clone());
            continue;
        }
        let (key, how) = if let Some(d) = made.iter().find(|d| under(p, d)) {
            let g = made_glob(&literal(d), ctx, seen.deleted.contains(*d));
            let random = g != literal(d);
            let mut key = g;
            key.push(b'/');
            let how = if random {
                "a directory with a random name (mkdtemp) the job made, and what it put there"
            } else {
                "a directory the job made, and what it put there"
            };
            (key, Some(how.to_string()))
        } else if let Some(g) = seen
            .created
            .contains(p)
            .then(|| {
                let in_temp = parent(p).is_some_and(|d| temp_dir(d, ctx));
                let deleted = seen.deleted.contains(p);
                (in_temp || deleted)
                    .then(|| temp_glob(&literal(p), in_temp))
                    .flatten()
            })
            .flatten()
        {
            (
                g,
                Some("temporary names: the random part of the name is a *".to_string()),
            )
        } else {
            let lit = literal(p);
            let un = unnumber(&lit);
            let how = (un != lit).then(|| {
                "a number that changes from run to run (pid, pipe, terminal) is a *".to_string()
            });
            (un, how)
        };
        let o = rules.entry(key).or_default();
        o.add(p, why);
        if o.how.is_none() {
            o.how = how;
        }
    }
    if k == Kind::Read {
        fold_reads(&mut rules, ctx);
    }
    // What a prefix already covers goes into it.
    let prefixes: Vec<Vec<u8>> = rules
        .keys()
        .filter(|p| p.ends_with(b"/") && p.len() > 1)
        .cloned()
        .collect();
    for d in prefixes {
        let inside: Vec<Vec<u8>> = rules
            .keys()
            .filter(|p| p.as_slice() != d.as_slice() && !p.contains(&b'*') && under(p, &d))
            .cloned()
            .collect();
        for p in inside {
            if let Some(x) = rules.remove(&p) {
                if let Some(o) = rules.get_mut(&d) {
                    o.absorb(x);
                }
            }
        }
    }
    KindRules { rules, refused }
}

/// A Lua string literal of `b` (bytes as they are; `\ddd` for the others).
pub fn lua_str(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                // Three digits always: a digit may follow.
                let _ = write!(s, "\\{c:03}");
            }
        }
    }
    s.push('"');
    s
}

/// A path for a comment: printable, one line, not too long.
fn shown(p: &[u8]) -> String {
    let mut s = String::new();
    for c in String::from_utf8_lossy(p).chars() {
        if c.is_control() {
            let _ = write!(s, "\\x{:02x}", c as u32);
        } else {
            s.push(c);
        }
    }
    if s.chars().count() > 90 {
        let t: String = s.chars().take(87).collect();
        s = t + "...";
    }
    s
}

/// The comment of a path rule.
fn comment(o: &Out, pattern: &[u8], ctx: &Context) -> String {
    let mut c = format!("  -- {}", o.why.text());
    if o.count > 1 || o.paths.iter().any(|p| literal(p) != pattern) {
        let eg: Vec<String> = o.paths.iter().map(|p| shown(p)).collect();
        let _ = write!(
            c,
            " on {} path{}: {}{}",
            o.count,
            if o.count == 1 { "" } else { "s" },
            eg.join(", "),
            if o.count > eg.len() { ", …" } else { "" }
        );
    }
    if let Some(h) = &o.how {
        let _ = write!(c, "\n  --   {h}");
    }
    if o.why.missing {
        let p = o.paths.iter().next().map(|p| p.as_slice()).unwrap_or(b"");
        let lookup = parent(p).and_then(|d| {
            let d = d.strip_suffix(b"/").unwrap_or(d);
            ctx.path_dirs
                .iter()
                .any(|x| x.as_slice() == d)
                .then(|| String::from_utf8_lossy(&p[d.len() + 1..]).into_owned())
        });
        let entry = ctx.path_dirs.iter().any(|x| x.as_slice() == p);
        match lookup {
            None if entry => c.push_str(
                "\n  --   not found: a PATH entry that does not exist (PATH lookups), exact",
            ),
            Some(cmd) => {
                let _ = write!(
                    c,
                    "\n  --   not found: a PATH lookup of {}, exact (not the directory)",
                    shown(cmd.as_bytes())
                );
            }
            None => c.push_str("\n  --   not found there: a probe, exact (never folded)"),
        }
    }
    if pattern == b"/" {
        c.push_str("\n  --   the root alone (exact = true), not the file system below it");
    }
    if ctx.home.as_deref().is_some_and(|h| literal(h) == pattern) {
        c.push_str("\n  --   $HOME itself (stat, listing), nothing in it: no trailing /");
    }
    c
}

/// One rule line.
fn rule_line(kind: Kind, pattern: &[u8], port: Option<u16>) -> String {
    let mut l = format!("  {{ \"allow\", \"{}\", {}", kind.name(), lua_str(pattern));
    if let Some(port) = port {
        let _ = write!(l, ", port = {port}");
    }
    if pattern == b"/" {
        l.push_str(", exact = true");
    }
    l.push_str(" },");
    l
}

/// The rules (with their comments), at the table's indentation.
fn body(seen: &Seen, ctx: &Context) -> String {
    let mut o = String::new();
    let mut refused: BTreeMap<(Kind, Vec<u8>), Why> = BTreeMap::new();
    for k in path_kinds() {
        let kr = kind_rules(seen, k, ctx);
        for (p, w) in kr.refused {
            refused.insert((k, p), w);
        }
        if kr.rules.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n  -- {}", k.name());
        for (p, r) in &kr.rules {
            let _ = writeln!(o, "{}", comment(r, p, ctx));
            let _ = writeln!(o, "{}", rule_line(k, p, None));
        }
    }
    for (k, set) in [(Kind::Connect, &seen.connects), (Kind::Bind, &seen.binds)] {
        if set.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n  -- {}", k.name());
        for ((addr, port), why) in set {
            // A unix socket's path is a path pattern.
            let addr = match addr.strip_prefix("unix:") {
                Some(p) => {
                    if secret(p.as_bytes(), ctx.home.as_deref()) {
                        refused.insert((k, p.as_bytes().to_vec()), why.clone());
                        continue;
                    }
                    let mut a = b"unix:".to_vec();
                    a.extend(literal(p.as_bytes()));
                    a
                }
                None => addr.as_bytes().to_vec(),
            };
            let _ = writeln!(o, "  -- {}", why.text());
            let _ = writeln!(o, "{}", rule_line(k, &addr, *port));
        }
    }
    if !seen.names.is_empty() {
        o.push_str("\n  -- resolve\n");
        for (n, why) in &seen.names {
            let _ = writeln!(o, "  -- {}", why.text());
            let _ = writeln!(
                o,
                "  {{ \"allow\", \"resolve\", {} }},",
                lua_str(n.replace('$', "$$").as_bytes())
            );
        }
    }
    if !seen.refused_by_base.is_empty() {
        let base = ctx.base.as_deref().unwrap_or("the base");
        let _ = writeln!(
            o,
            "\n  -- Denied by {base}'s own rules, so never learnt (they stay denied):"
        );
        for ((k, p, rule), why) in &seen.refused_by_base {
            let what = if p.is_empty() {
                String::new()
            } else {
                format!(" {}", shown(p))
            };
            let _ = writeln!(o, "  --   {}{what}: {rule} ({})", k.name(), why.text());
        }
    }
    if !refused.is_empty() {
        o.push_str(
            "\n  -- Never learnt (secrets: add a rule by hand if the job must have them):\n",
        );
        for ((k, p), why) in &refused {
            let _ = writeln!(o, "  --   {} {} ({})", k.name(), shown(p), why.text());
        }
    }
    o
}

/// The policy text.
pub fn policy(seen: &Seen, ctx: &Context) -> String {
    let mut o = String::new();
    let cmd = ctx.cmd.replace(['\n', '\r'], " ");
    match &ctx.base {
        Some(base) => {
            let _ = writeln!(
                o,
                "-- Learnt by `supervisor learn --base {base}` from: {cmd}"
            );
            let _ = writeln!(
                o,
                "-- The rules below complete the policy {base}: they apply only where its\n\
                 -- rules have none of their own (instead of its defaults), never over one\n\
                 -- of its rules, so its protections (denials, init script, private /tmp,\n\
                 -- Landlock) stay.  They allow what the job did beyond {base}, generalised\n\
                 -- only where sound (see docs/audit.md); every other call is decided by {base}."
            );
            o.push_str("local rules = require \"rules\"\n");
            let _ = write!(o, "return rules.extend({}, {{", lua_str(base.as_bytes()));
            let b = body(seen, ctx);
            if b.is_empty() {
                o.push_str("\n  -- nothing: the job did nothing the base denied by default\n");
            } else {
                o.push_str(&b);
            }
            o.push_str("})\n");
        }
        None => {
            let _ = writeln!(o, "-- Learnt by `supervisor learn` from: {cmd}");
            o.push_str(
                "-- Allows what the program did then, generalised only where sound (see\n\
                 -- docs/audit.md); everything else is denied.\n\
                 local rules = require \"rules\"\n\
                 return rules.run {\n  \
                 default = { read = \"deny\", write = \"deny\", create = \"deny\", delete = \"deny\",\n              \
                 connect = \"deny\", bind = \"deny\", resolve = \"deny\" },\n",
            );
            o.push_str(
                "\n  -- Secrets: denied whatever else is allowed (more specific than any\n  \
                 -- learnt directory).\n",
            );
            for p in secret_rules(ctx.home.as_deref()) {
                let _ = writeln!(
                    o,
                    "  {{ \"deny\", {{ \"read\", \"write\", \"create\", \"delete\" }}, {} }},",
                    lua_str(&p)
                );
                // A socket there is an agent holding keys.
                if p.ends_with(b"/") {
                    let mut u = b"unix:".to_vec();
                    u.extend_from_slice(&p);
                    let _ = writeln!(o, "  {{ \"deny\", \"connect\", {} }},", lua_str(&u));
                }
            }
            o.push_str(&body(seen, ctx));
            o.push_str("}\n");
        }
    }
    o
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
