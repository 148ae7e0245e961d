//! Path rules of one kind: a trie of path components.  Matching walks the
//! path once from the root; the cost depends on the path's depth and on
//! the globs anchored on its way, not on the number of rules.
//!
//! Each node holds the rule for exactly its path, the rule for its path
//! and everything below (a pattern ending in `/`), and the globs whose
//! literal leading components lead to it.  Texts that are not absolute
//! paths (`pipe:[12]`, `anon_inode:[eventfd]`, an abstract unix name
//! `@name`) are matched whole against the patterns written for them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::glob::{self, Glob, Seg};
use super::spec::{best, Action, Hit, Spec};

const EXACT: u32 = 3;
const GLOB: u32 = 2;
const PREFIX: u32 = 1;

/// FNV-1a: path components are short, and the keys are the policy's own
/// (the program only chooses what is looked up, which cannot degrade a
/// map it cannot fill).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Map<V> = HashMap<Box<[u8]>, V, BuildHasherDefault<Fnv>>;

/// Components of a path looked up without allocating, up to this many.
const INLINE: usize = 32;

#[derive(Default, Debug)]
struct Node {
    children: Map<Node>,
    exact: Option<Hit>,
    prefix: Option<Hit>,
    /// Globs anchored here, by the byte a path's last component must end
    /// with (see [`Glob::last_byte`])…
    globs_by_end: HashMap<u8, Vec<(Glob, Hit)>>,
    /// …and the others.
    globs: Vec<(Glob, Hit)>,
}

/// The path rules of one kind.
#[derive(Default, Debug)]
pub struct PathSet {
    root: Node,
    /// Patterns for texts that are not absolute paths: exact ones…
    other_exact: Map<Hit>,
    /// …and wildcard ones (`*` matches any bytes there).
    other_wild: Vec<(Box<[u8]>, Hit)>,
}

/// The components of an absolute path (empty ones skipped).
fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl PathSet {
    /// Adds a pattern checked by the loader: an absolute path without `.`
    /// or `..` components, or a text without `/` that is not a path.
    pub fn insert(&mut self, pattern: &[u8], rule: u32, action: Action) {
        self.insert_as(pattern, rule, action, false);
    }

    /// [`PathSet::insert`]; `dir_only`: a pattern ending in `/` matches
    /// the directory itself only, not what is below it (`exact = true`:
    /// `/` is then the root alone).
    pub fn insert_as(&mut self, pattern: &[u8], rule: u32, action: Action, dir_only: bool) {
        if pattern.first() != Some(&b'/') {
            let spec: Spec = [glob::literal_len(pattern) as u32, 0, 0];
            if glob::is_wild(pattern) {
                let hit = Hit {
                    rule,
                    action,
                    spec: [spec[0], GLOB, 0],
                };
                self.other_wild.push((pattern.into(), hit));
            } else {
                let hit = Hit {
                    rule,
                    action,
                    spec: [spec[0], EXACT, 0],
                };
                let slot = self
                    .other_exact
                    .entry(glob::unescape(pattern).into())
                    .or_insert(hit);
                *slot = best(Some(*slot), Some(hit)).unwrap_or(hit);
            }
            return;
        }
        let prefix = pattern.ends_with(b"/") && !dir_only;
        let comps: Vec<&[u8]> = components(pattern).collect();
        let lit: usize = comps.iter().map(|c| 1 + glob::literal_len(c)).sum();
        let lit = lit.max(1) as u32; // "/" counts 1
        let first_wild = comps
            .iter()
            .position(|c| glob::is_wild(c) || *c == b"**")
            .unwrap_or(comps.len());
        let mut node = &mut self.root;
        for c in &comps[..first_wild] {
            node = node.children.entry(glob::unescape(c).into()).or_default();
        }
        if first_wild < comps.len() {
            let segs = comps[first_wild..]
                .iter()
                .map(|c| {
                    if *c == b"**" {
                        Seg::Any
                    } else if glob::is_wild(c) {
                        Seg::Wild((*c).into())
                    } else {
                        Seg::Lit(glob::unescape(c).into())
                    }
                })
                .collect();
            let hit = Hit {
                rule,
                action,
                spec: [lit, GLOB, 0],
            };
            let g = Glob { segs, prefix };
            match g.last_byte() {
                Some(b) => node.globs_by_end.entry(b).or_default().push((g, hit)),
                None => node.globs.push((g, hit)),
            }
            return;
        }
        let (slot, class) = if prefix || (comps.is_empty() && !dir_only) {
            (&mut node.prefix, PREFIX)
        } else {
            (&mut node.exact, EXACT)
        };
        let hit = Hit {
            rule,
            action,
            spec: [lit, class, 0],
        };
        *slot = best(*slot, Some(hit));
    }

    /// The most specific rule for the canonical text `path`.
    pub fn lookup(&self, path: &[u8]) -> Option<Hit> {
        if path.first() != Some(&b'/') {
            let mut found = self.other_exact.get(path).copied();
            for (p, hit) in &self.other_wild {
                if glob::wild(p, path, true) {
                    found = best(found, Some(*hit));
                }
            }
            return found;
        }
        let mut inline: [&[u8]; INLINE] = [&[]; INLINE];
        let mut n = 0;
        let mut heap = Vec::new();
        for c in components(path) {
            if n < INLINE {
                inline[n] = c;
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&inline);
                }
                heap.push(c);
            }
            n += 1;
        }
        let comps: &[&[u8]] = if n <= INLINE { &inline[..n] } else { &heap };
        let end = comps.last().and_then(|c| c.last()).copied();
        let mut node = &self.root;
        let mut found = node.prefix;
        for (i, c) in comps.iter().enumerate() {
            found = globs(node, &comps[i..], end, found);
            match node.children.get(*c) {
                Some(n) => node = n,
                None => return found,
            }
            found = best(found, node.prefix);
        }
        found = globs(node, &[], end, found);
        best(found, node.exact)
    }
}

impl PathSet {
    /// A rule with `action` that may decide some path strictly below the
    /// absolute canonical `path`: a rule on a path below it, a prefix rule
    /// on it, or a glob anchored on its way that can reach below it (globs
    /// are taken conservatively: one that may match some path below
    /// counts).  Rules on `path`'s ancestors are not looked at (see
    /// [`crate::Ruleset::below`]).
    pub fn below(&self, path: &[u8], action: Action) -> Option<Hit> {
        if path.first() != Some(&b'/') {
            return None;
        }
        let comps: Vec<&[u8]> = components(path).collect();
        let mut node = &self.root;
        let mut found = None;
        for (i, c) in comps.iter().enumerate() {
            found = best(found, reaching_globs(node, comps.len() - i, action));
            match node.children.get(*c) {
                Some(n) => node = n,
                None => return found,
            }
        }
        found = best(found, reaching_globs(node, 0, action));
        found = best(found, node.prefix.filter(|h| h.action == action));
        for child in node.children.values() {
            found = best(found, subtree(child, action));
        }
        found
    }
}

/// The globs of `node` with `action` that may match a path with more than
/// `rest` components after `node`.
fn reaching_globs(node: &Node, rest: usize, action: Action) -> Option<Hit> {
    node.globs_by_end
        .values()
        .flatten()
        .chain(node.globs.iter())
        .filter(|(g, h)| {
            h.action == action
                && (g.prefix || g.segs.len() > rest || g.segs.iter().any(|s| matches!(s, Seg::Any)))
        })
        .fold(None, |f, (_, h)| best(f, Some(*h)))
}

/// Any rule with `action` at `node` or below.
fn subtree(node: &Node, action: Action) -> Option<Hit> {
    let mut found = node.exact.filter(|h| h.action == action);
    found = best(found, node.prefix.filter(|h| h.action == action));
    found = best(found, reaching_globs(node, 0, action));
    for child in node.children.values() {
        found = best(found, subtree(child, action));
    }
    found
}

/// `found`, or a glob of `node` matching `rest` if better; `end` is the
/// last byte of the path's last component.
fn globs(node: &Node, rest: &[&[u8]], end: Option<u8>, mut found: Option<Hit>) -> Option<Hit> {
    if !node.globs_by_end.is_empty() && !rest.is_empty() {
        if let Some(v) = end.and_then(|b| node.globs_by_end.get(&b)) {
            found = try_globs(v, rest, found);
        }
    }
    try_globs(&node.globs, rest, found)
}

fn try_globs(v: &[(Glob, Hit)], rest: &[&[u8]], mut found: Option<Hit>) -> Option<Hit> {
    for (g, hit) in v {
        // Only a glob that could win is worth matching.
        if found.is_some_and(|f| f.cmp_best(hit) != std::cmp::Ordering::Greater) {
            continue;
        }
        if g.matches(rest) {
            found = best(found, Some(*hit));
        }
    }
    found
}
