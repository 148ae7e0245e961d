//! Writing a rules policy (docs/rules format) that allows what a learning
//! run saw, folding paths into directory prefixes where that is sound:
//!
//! * **reads** in a directory D fold into `D/` when the program read at
//!   least [`FOLD_MIN`] distinct entries of D, D is at least [`FOLD_DEPTH`]
//!   components deep (`/usr/lib/gcc/`, never `/usr/`, `/etc/` or
//!   `/home/u/`) and no component of D is hidden (`.ssh`, `.aws`, …: where
//!   credentials live).  Folded directories count as entries of their
//!   parent, so whole trees fold level by level.
//! * **everything** under a directory the program created itself (a
//!   successful mkdir) folds into that directory: it did not exist before,
//!   so nothing else can be in it.
//! * a **temporary file** (created, then deleted in the run) whose name
//!   ends, before its extension, in six letters or digits (mkstemp's
//!   `XXXXXX`) becomes a glob: `/tmp/ccAb12Cd.s` → `/tmp/cc*.s`.
//! * `/proc/<pid>/…` becomes `/proc/*/…` (pids differ from run to run).
//!
//! Everything else is exact: a path, an address and port, a name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Fold reads of at least this many entries of one directory…
pub const FOLD_MIN: usize = 4;
/// …at least this many components deep.
pub const FOLD_DEPTH: usize = 3;

/// The kinds of the rules format (docs/rules.md).
pub use crate::policy::rules::Kind;

/// The file kinds, in the order the policy lists them.
const FILES: [Kind; 5] = [
    Kind::Read,
    Kind::Write,
    Kind::Create,
    Kind::Delete,
    Kind::Device,
];

/// What a learning run saw.
#[derive(Default, Debug)]
pub struct Seen {
    /// Resolved paths, by kind.
    pub paths: BTreeMap<Kind, BTreeSet<Vec<u8>>>,
    /// Directories the program created (successful mkdir).
    pub made_dirs: BTreeSet<Vec<u8>>,
    /// Paths created (O_CREAT, mkdir, rename destination) and paths
    /// deleted: both = a temporary file.
    pub created: BTreeSet<Vec<u8>>,
    pub deleted: BTreeSet<Vec<u8>>,
    /// (address, port) for connect and bind; a unix socket as
    /// `unix:/path` with no port.
    pub connects: BTreeSet<(String, Option<u16>)>,
    pub binds: BTreeSet<(String, Option<u16>)>,
    /// Names looked up.
    pub names: BTreeSet<String>,
}

impl Seen {
    pub fn path(&mut self, k: Kind, p: &[u8]) {
        self.paths.entry(k).or_default().insert(p.to_vec());
    }
}

/// A rule's pattern: an exact path, a directory prefix (`/`-terminated),
/// or a glob.
fn depth(p: &[u8]) -> usize {
    p.split(|&b| b == b'/').filter(|c| !c.is_empty()).count()
}

fn parent(p: &[u8]) -> Option<&[u8]> {
    let p = p.strip_suffix(b"/").unwrap_or(p);
    let i = p.iter().rposition(|&b| b == b'/')?;
    Some(&p[..i + 1])
}

fn hidden(dir: &[u8]) -> bool {
    dir.split(|&b| b == b'/').any(|c| c.first() == Some(&b'.'))
}

/// Under `dir/` (or `dir` itself)?
fn under(p: &[u8], dir: &[u8]) -> bool {
    let d = dir.strip_suffix(b"/").unwrap_or(dir);
    p == d || (p.starts_with(d) && p.get(d.len()) == Some(&b'/'))
}

/// `/proc/1234/x` → `/proc/*/x` (and `/proc/1234/task/1235/…`).
fn unpid(p: &[u8]) -> Vec<u8> {
    let Some(rest) = p.strip_prefix(b"/proc/") else {
        return p.to_vec();
    };
    let mut out = b"/proc".to_vec();
    let mut after_task = true; // the component after /proc counts as a pid
    for c in rest.split(|&b| b == b'/') {
        out.push(b'/');
        if after_task && !c.is_empty() && c.iter().all(u8::is_ascii_digit) {
            out.push(b'*');
        } else {
            out.extend_from_slice(c);
        }
        after_task = c == b"task";
    }
    out
}

/// The glob of a temporary file's name, if it looks like mkstemp's: six
/// letters or digits, not all lowercase letters (a word), before the
/// suffix (which may hold dots: `ccw1ycL2.cdtor.o`), after a prefix.
fn temp_glob(p: &[u8]) -> Option<Vec<u8>> {
    let dir = parent(p)?;
    let name = &p[dir.len()..];
    let mut cuts: Vec<usize> = name
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'.')
        .map(|(i, _)| i)
        .collect();
    cuts.push(name.len());
    let random =
        |x: &[u8]| x.iter().all(u8::is_ascii_alphanumeric) && !x.iter().all(u8::is_ascii_lowercase);
    let cut = cuts
        .into_iter()
        .find(|&i| i > 6 && random(&name[i - 6..i]))?;
    let mut g = dir.to_vec();
    g.extend_from_slice(&name[..cut - 6]);
    g.push(b'*');
    g.extend_from_slice(&name[cut..]);
    Some(g)
}

/// Folds exact read paths into directory prefixes (see the module doc).
fn fold_reads(paths: &BTreeSet<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    let mut items: BTreeSet<Vec<u8>> = paths.clone();
    loop {
        let mut by_dir: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for p in &items {
            if let Some(d) = parent(p) {
                *by_dir.entry(d.to_vec()).or_default() += 1;
            }
        }
        let fold: Vec<Vec<u8>> = by_dir
            .into_iter()
            .filter(|(d, n)| *n >= FOLD_MIN && depth(d) >= FOLD_DEPTH && !hidden(d))
            .map(|(d, _)| d)
            .collect();
        if fold.is_empty() {
            return items;
        }
        for d in fold {
            items.retain(|p| !under(p, &d));
            items.insert(d);
        }
    }
}

/// `p` as a pattern that matches just itself (docs/rules.md): `\`, `*`
/// and `?` escaped, `$` doubled.  Escaping keeps `/`, letters and digits,
/// so the folding and globbing below work on escaped paths alike.
pub fn literal(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        match b {
            b'\\' | b'*' | b'?' => out.extend([b'\\', b]),
            b'$' => out.extend(b"$$"),
            b => out.push(b),
        }
    }
    out
}

fn literals(s: &BTreeSet<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    s.iter().map(|p| literal(p)).collect()
}

/// The patterns of one kind.
fn patterns(seen: &Seen, k: Kind) -> BTreeSet<Vec<u8>> {
    let Some(paths) = seen.paths.get(&k) else {
        return BTreeSet::new();
    };
    let paths = literals(paths);
    let (made_dirs, created, deleted) = (
        literals(&seen.made_dirs),
        literals(&seen.created),
        literals(&seen.deleted),
    );
    // The topmost directories the program made.
    let made: Vec<&Vec<u8>> = made_dirs
        .iter()
        .filter(|d| !made_dirs.iter().any(|o| o != *d && under(d, o)))
        .collect();
    let mut exact = BTreeSet::new();
    let mut out = BTreeSet::new();
    for p in &paths {
        if let Some(d) = made.iter().find(|d| under(p, d)) {
            let mut d = d.to_vec();
            d.push(b'/');
            out.insert(d);
        } else if created.contains(p) && deleted.contains(p) {
            out.insert(temp_glob(p).unwrap_or_else(|| p.clone()));
        } else {
            exact.insert(unpid(p));
        }
    }
    if k == Kind::Read {
        exact = fold_reads(&exact);
    }
    // What a prefix already covers goes.
    let prefixes: Vec<Vec<u8>> = out
        .iter()
        .chain(&exact)
        .filter(|p| p.ends_with(b"/"))
        .cloned()
        .collect();
    out.extend(exact);
    out.retain(|p| !prefixes.iter().any(|d| d != p && under(p, d)));
    out
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

/// The policy text.  `cmd` is named in the header.
pub fn policy(seen: &Seen, cmd: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "-- Learnt by `supervisor learn` from: {}",
        cmd.replace('\n', " ")
    );
    o.push_str(
        "-- Allows what the program did then (paths folded into directories where\n\
         -- sound, see docs/audit.md); everything else is denied.\n\
         local rules = require \"rules\"\n\
         return rules.run {\n  \
         default = { read = \"deny\", write = \"deny\", create = \"deny\", delete = \"deny\",\n              \
         connect = \"deny\", bind = \"deny\", resolve = \"deny\" },\n",
    );
    for k in FILES {
        let pats = patterns(seen, k);
        if !pats.is_empty() {
            let _ = writeln!(o, "  -- {}", k.name());
        }
        for p in pats {
            let _ = writeln!(o, "  {{ \"allow\", \"{}\", {} }},", k.name(), lua_str(&p));
        }
    }
    for (k, set) in [(Kind::Connect, &seen.connects), (Kind::Bind, &seen.binds)] {
        if !set.is_empty() {
            let _ = writeln!(o, "  -- {}", k.name());
        }
        for (addr, port) in set {
            // A unix socket's path is a path pattern.
            let addr = match addr.strip_prefix("unix:") {
                Some(p) => {
                    let mut a = b"unix:".to_vec();
                    a.extend(literal(p.as_bytes()));
                    String::from_utf8_lossy(&a).into_owned()
                }
                None => addr.clone(),
            };
            match port {
                Some(port) => {
                    let _ = writeln!(
                        o,
                        "  {{ \"allow\", \"{}\", {}, port = {port} }},",
                        k.name(),
                        lua_str(addr.as_bytes())
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "  {{ \"allow\", \"{}\", {} }},",
                        k.name(),
                        lua_str(addr.as_bytes())
                    );
                }
            }
        }
    }
    if !seen.names.is_empty() {
        o.push_str("  -- resolve\n");
    }
    for n in &seen.names {
        let _ = writeln!(
            o,
            "  {{ \"allow\", \"resolve\", {} }},",
            lua_str(n.replace('$', "$$").as_bytes())
        );
    }
    o.push_str("}\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn pats(seen: &Seen, k: Kind) -> Vec<String> {
        patterns(seen, k)
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect()
    }

    #[test]
    fn reads_fold_into_deep_directories_only() {
        let mut s = Seen::default();
        for p in [
            "/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
            "/usr/lib/gcc/x86_64-linux-gnu/12/crtbegin.o",
            "/usr/lib/gcc/x86_64-linux-gnu/12/crtend.o",
            "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a",
            "/etc/passwd",
            "/etc/group",
            "/etc/hosts",
            "/etc/ld.so.cache",
            "/home/u/.bashrc",
            "/home/u/.profile",
            "/home/u/a",
            "/home/u/b",
        ] {
            s.path(Kind::Read, p.as_bytes());
        }
        let r = pats(&s, Kind::Read);
        assert!(
            r.contains(&"/usr/lib/gcc/x86_64-linux-gnu/12/".to_string()),
            "{r:?}"
        );
        // Shallow directories stay exact: /etc/ and $HOME are never opened wide.
        assert!(r.contains(&"/etc/passwd".to_string()), "{r:?}");
        assert!(!r.iter().any(|p| p == "/etc/" || p == "/home/u/"), "{r:?}");
        assert_eq!(r.len(), 1 + 4 + 4, "{r:?}");
    }

    #[test]
    fn folding_climbs_but_never_into_hidden_directories() {
        let mut s = Seen::default();
        for d in ["a", "b", "c", "d"] {
            for f in ["1", "2", "3", "4"] {
                s.path(Kind::Read, format!("/opt/tool/share/{d}/{f}").as_bytes());
            }
        }
        for f in ["config", "known_hosts", "id_rsa.pub", "id_ed25519.pub"] {
            s.path(Kind::Read, format!("/home/u/.ssh/{f}").as_bytes());
        }
        let r = pats(&s, Kind::Read);
        assert!(r.contains(&"/opt/tool/share/".to_string()), "{r:?}");
        assert!(
            !r.iter().any(|p| p.starts_with("/opt/tool/share/a")),
            "{r:?}"
        );
        assert!(r.contains(&"/home/u/.ssh/known_hosts".to_string()), "{r:?}");
        assert!(!r.iter().any(|p| p.ends_with(".ssh/")), "{r:?}");
    }

    #[test]
    fn what_the_program_made_folds_into_its_directory() {
        let mut s = Seen {
            made_dirs: set(&["/w/build", "/w/build/obj"]),
            ..Default::default()
        };
        s.path(Kind::Create, b"/w/build");
        s.path(Kind::Create, b"/w/build/obj");
        s.path(Kind::Create, b"/w/build/obj/a.o");
        s.path(Kind::Write, b"/w/build/obj/a.o");
        s.path(Kind::Write, b"/w/main");
        s.path(Kind::Create, b"/w/main");
        assert_eq!(pats(&s, Kind::Create), ["/w/build/", "/w/main"]);
        assert_eq!(pats(&s, Kind::Write), ["/w/build/", "/w/main"]);
    }

    #[test]
    fn temporary_files_become_globs() {
        let mut s = Seen::default();
        let all = [
            "/tmp/ccAb12Cd.s",
            "/tmp/ccXy34Zw.o",
            "/tmp/ccw1ycL2.cdtor.o",
            "/tmp/keep.txt",
            "/tmp/x.lock",
            "/tmp/output.log",
            "/tmp/ab12CD",
        ];
        for p in all {
            s.path(Kind::Create, p.as_bytes());
            s.path(Kind::Write, p.as_bytes());
            s.created.insert(p.as_bytes().to_vec());
        }
        for p in &all[..3] {
            s.path(Kind::Delete, p.as_bytes());
            s.deleted.insert(p.as_bytes().to_vec());
        }
        for p in &all[4..] {
            s.path(Kind::Delete, p.as_bytes());
            s.deleted.insert(p.as_bytes().to_vec());
        }
        // Kept files stay exact; so do temporary ones without a random
        // part (`x.lock`, a word such as `output`) or without a prefix.
        assert_eq!(
            pats(&s, Kind::Create),
            [
                "/tmp/ab12CD",
                "/tmp/cc*.cdtor.o",
                "/tmp/cc*.o",
                "/tmp/cc*.s",
                "/tmp/keep.txt",
                "/tmp/output.log",
                "/tmp/x.lock"
            ]
        );
    }

    #[test]
    fn proc_pids_become_stars() {
        assert_eq!(unpid(b"/proc/1234/status"), b"/proc/*/status");
        assert_eq!(unpid(b"/proc/12/task/13/stat"), b"/proc/*/task/*/stat");
        assert_eq!(
            unpid(b"/proc/sys/kernel/ngroups_max"),
            b"/proc/sys/kernel/ngroups_max"
        );
        assert_eq!(unpid(b"/usr/1234"), b"/usr/1234");
    }

    #[test]
    fn paths_are_literal_patterns() {
        let mut s = Seen::default();
        s.path(Kind::Read, b"/srv/a*b?c$HOME\\d");
        // A temporary file with a special character before its random part.
        s.path(Kind::Write, b"/tmp/x$ccAb12Cd.s");
        s.created.insert(b"/tmp/x$ccAb12Cd.s".to_vec());
        s.deleted.insert(b"/tmp/x$ccAb12Cd.s".to_vec());
        s.connects.insert(("unix:/run/a*.sock".into(), None));
        assert_eq!(
            patterns(&s, Kind::Read),
            BTreeSet::from([br"/srv/a\*b\?c$$HOME\\d".to_vec()])
        );
        assert_eq!(
            patterns(&s, Kind::Write),
            BTreeSet::from([b"/tmp/x$$cc*.s".to_vec()])
        );
        assert!(policy(&s, "x").contains(r#""unix:/run/a\\*.sock""#));
    }

    #[test]
    fn lua_strings_keep_every_byte() {
        assert_eq!(lua_str(b"/a\"b\\c"), r#""/a\"b\\c""#);
        assert_eq!(lua_str(b"/x\xff1\n"), r#""/x\2551\n""#);
    }

    #[test]
    fn the_whole_policy() {
        let mut s = Seen::default();
        s.path(Kind::Read, b"/etc/hosts");
        s.connects.insert(("127.0.0.1".into(), Some(8080)));
        s.connects.insert(("unix:/run/x.sock".into(), None));
        s.binds.insert(("::1".into(), Some(0)));
        s.names.insert("example.org".into());
        let p = policy(&s, "make test");
        assert!(
            p.starts_with("-- Learnt by `supervisor learn` from: make test\n"),
            "{p}"
        );
        for line in [
            "local rules = require \"rules\"",
            "return rules.run {",
            "  { \"allow\", \"read\", \"/etc/hosts\" },",
            "  { \"allow\", \"connect\", \"127.0.0.1\", port = 8080 },",
            "  { \"allow\", \"connect\", \"unix:/run/x.sock\" },",
            "  { \"allow\", \"bind\", \"::1\", port = 0 },",
            "  { \"allow\", \"resolve\", \"example.org\" },",
        ] {
            assert!(p.lines().any(|l| l == line), "{line} not in\n{p}");
        }
        assert!(p.ends_with("}\n"));
        // It is Lua (the rules module is not needed to compile it).
        mlua::Lua::new()
            .load(&p)
            .into_function()
            .expect("the policy compiles");
    }
}
