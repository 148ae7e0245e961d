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

use super::glob::{self, Glob, Seg};
use super::spec::{best, Hit, Spec};

const EXACT: u32 = 3;
const GLOB: u32 = 2;
const PREFIX: u32 = 1;

#[derive(Default, Debug)]
struct Node {
    children: HashMap<Box<[u8]>, Node>,
    exact: Option<Hit>,
    prefix: Option<Hit>,
    globs: Vec<(Glob, Hit)>,
}

/// The path rules of one kind.
#[derive(Default, Debug)]
pub struct PathSet {
    root: Node,
    /// Patterns for texts that are not absolute paths: exact ones…
    other_exact: HashMap<Box<[u8]>, Hit>,
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
    pub fn insert(&mut self, pattern: &[u8], rule: u32, action: super::spec::Action) {
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
        let prefix = pattern.ends_with(b"/");
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
            node.globs.push((Glob { segs, prefix }, hit));
            return;
        }
        let (slot, class) = if prefix || comps.is_empty() {
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
        let comps: Vec<&[u8]> = components(path).collect();
        let mut node = &self.root;
        let mut found = node.prefix;
        for (i, c) in comps.iter().enumerate() {
            found = globs(node, &comps[i..], found);
            match node.children.get(*c) {
                Some(n) => node = n,
                None => return found,
            }
            found = best(found, node.prefix);
        }
        found = globs(node, &[], found);
        best(found, node.exact)
    }
}

/// `found`, or a glob of `node` matching `rest` if better.
fn globs(node: &Node, rest: &[&[u8]], mut found: Option<Hit>) -> Option<Hit> {
    for (g, hit) in &node.globs {
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
