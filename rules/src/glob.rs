//! Path globs: `*` and `?` within a component, `**` for any number of
//! components, `\` to take the next character literally.

/// One component of a glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A component without wildcards (escapes removed).
    Lit(Box<[u8]>),
    /// A component with `*` or `?` (escapes kept, see [`wild`]).
    Wild(Box<[u8]>),
    /// `**`: zero or more components.
    Any,
}

/// Whether a component has an unescaped `*` or `?`.
pub fn is_wild(c: &[u8]) -> bool {
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            b'\\' => i += 2,
            b'*' | b'?' => return true,
            _ => i += 1,
        }
    }
    false
}

/// The component with its escapes removed.
pub fn unescape(c: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == b'\\' && i + 1 < c.len() {
            i += 1;
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// The number of literal bytes of a component (what specificity counts).
pub fn literal_len(c: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            b'\\' => {
                n += 1;
                i += 2;
            }
            b'*' | b'?' => i += 1,
            _ => {
                n += 1;
                i += 1;
            }
        }
    }
    n
}

/// Does `text` match the wildcard pattern `p` (`*` any run of bytes, `?`
/// one byte, `\x` the byte x)?  `slash` says whether wildcards may match
/// `/` (they may not within a path component; they may in a name that is
/// not a path, such as `pipe:[12]`).
pub fn wild(p: &[u8], text: &[u8], slash: bool) -> bool {
    // Iterative matching with one backtrack point: the last `*` seen.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        let c = text[ti];
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some(b'?') if slash || c != b'/' => {
                pi += 1;
                ti += 1;
                continue;
            }
            Some(b'\\') if p.get(pi + 1) == Some(&c) => {
                pi += 2;
                ti += 1;
                continue;
            }
            Some(&x) if x != b'\\' && x != b'?' && x == c => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            // Let the last `*` take one more byte, unless it cannot.
            Some((sp, st)) if slash || text[st] != b'/' => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// A glob over path components.
#[derive(Clone, Debug)]
pub struct Glob {
    pub segs: Vec<Seg>,
    /// The pattern ended with `/`: it matches what its components match and
    /// everything below.
    pub prefix: bool,
}

impl Glob {
    /// The byte the last component of a path must end with for the glob to
    /// match it, if the glob says (it ends in a literal byte); lets a node
    /// try only the globs that can match a path's last component.
    pub fn last_byte(&self) -> Option<u8> {
        if self.prefix {
            return None;
        }
        match self.segs.last()? {
            Seg::Lit(l) => l.last().copied(),
            Seg::Wild(w) => {
                // The last token: a wildcard, an escaped byte or a byte.
                let mut last = None;
                let mut i = 0;
                while i < w.len() {
                    match w[i] {
                        b'\\' if i + 1 < w.len() => {
                            last = Some(w[i + 1]);
                            i += 2;
                        }
                        b'*' | b'?' | b'\\' => {
                            last = None;
                            i += 1;
                        }
                        c => {
                            last = Some(c);
                            i += 1;
                        }
                    }
                }
                last
            }
            Seg::Any => None,
        }
    }

    fn seg_matches(seg: &Seg, comp: &[u8]) -> bool {
        match seg {
            Seg::Lit(l) => comp == &l[..],
            Seg::Wild(w) => wild(w, comp, false),
            Seg::Any => true,
        }
    }

    /// Does the glob match the path made of `comps`?
    pub fn matches(&self, comps: &[&[u8]]) -> bool {
        let n = comps.len();
        // Cheap rejections first: the last segment against the last
        // component, the first against the first.
        if !self.prefix {
            match (self.segs.last(), comps.last()) {
                (Some(Seg::Any), _) => {}
                (Some(seg), Some(c)) if !Self::seg_matches(seg, c) => return false,
                (Some(_), None) => return false,
                _ => {}
            }
        }
        match (self.segs.first(), comps.first()) {
            (Some(Seg::Any), _) | (None, _) => {}
            (Some(seg), Some(c)) if !Self::seg_matches(seg, c) => return false,
            (Some(_), None) => return false,
            _ => {}
        }
        if n < 128 {
            self.matches_small(comps)
        } else {
            self.matches_large(comps)
        }
    }

    /// [`Glob::matches`] for fewer than 128 components: `reach` as a bit set
    /// (bit j: the segments so far can match comps[..j]).
    fn matches_small(&self, comps: &[&[u8]]) -> bool {
        let n = comps.len();
        let all: u128 = if n + 1 >= 128 {
            u128::MAX
        } else {
            (1u128 << (n + 1)) - 1
        };
        let mut reach: u128 = 1;
        for seg in &self.segs {
            let next = match seg {
                Seg::Any => {
                    // Every position at or after the first reachable one.
                    let low = reach & reach.wrapping_neg();
                    !(low - 1) & all
                }
                seg => {
                    let mut next = 0u128;
                    let mut r = reach & (all >> 1);
                    while r != 0 {
                        let j = r.trailing_zeros() as usize;
                        r &= r - 1;
                        if j < n && Self::seg_matches(seg, comps[j]) {
                            next |= 1u128 << (j + 1);
                        }
                    }
                    next
                }
            };
            reach = next;
            if reach == 0 {
                return false;
            }
        }
        if self.prefix {
            true
        } else {
            reach & (1u128 << n) != 0
        }
    }

    fn matches_large(&self, comps: &[&[u8]]) -> bool {
        let n = comps.len();
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for seg in &self.segs {
            let mut next = vec![false; n + 1];
            match seg {
                Seg::Any => {
                    let mut on = false;
                    for j in 0..=n {
                        on |= reach[j];
                        next[j] = on;
                    }
                }
                seg => {
                    for j in 0..n {
                        next[j + 1] = reach[j] && Self::seg_matches(seg, comps[j]);
                    }
                }
            }
            reach = next;
            if !reach.contains(&true) {
                return false;
            }
        }
        if self.prefix {
            reach.contains(&true)
        } else {
            reach[n]
        }
    }
}
