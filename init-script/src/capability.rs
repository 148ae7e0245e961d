//! `cap_from_text` and `cap_from_name` (libcap's textual forms), parsed
//! with the `caps` crate's names.
//!
//! A text is whitespace-separated clauses `LIST OP FLAGS [OP FLAGS]…`:
//! LIST is comma-separated names (`cap_chown`, case-insensitive, or a
//! number) or `all`, empty meaning all; OP is `=` (set exactly), `+`
//! (raise) or `-` (lower); FLAGS are letters of `e`, `i`, `p`.  `"="`
//! clears every set.

use std::str::FromStr;

use caps::Capability;

/// The three sets of a `cap_t`, as bit masks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// The capability number of a libcap name (`"cap_sys_admin"`, any case)
/// or a decimal number.
pub fn from_name(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return (n < 64).then_some(n);
    }
    Capability::from_str(&name.to_ascii_uppercase())
        .ok()
        .map(|c| c.index())
}

/// Every capability the running kernel knows.
fn all() -> u64 {
    caps::runtime::thread_all_supported()
        .iter()
        .fold(0, |m, c| m | c.bitmask())
}

/// Parses a libcap text; `None` when malformed (libcap's `EINVAL`).
pub fn from_text(text: &str) -> Option<CapSets> {
    let mut sets = CapSets::default();
    for clause in text.split_whitespace() {
        let op_at = clause.find(['=', '+', '-'])?;
        let (list, mut rest) = clause.split_at(op_at);
        let mut mask = 0u64;
        if list.is_empty() || list.eq_ignore_ascii_case("all") {
            mask = all();
        } else {
            for n in list.split(',') {
                mask |= 1u64 << from_name(n)?;
            }
        }
        while let Some(op) = rest.chars().next() {
            if !matches!(op, '=' | '+' | '-') {
                return None;
            }
            rest = &rest[1..];
            let end = rest.find(['=', '+', '-']).unwrap_or(rest.len());
            let (flags, tail) = rest.split_at(end);
            rest = tail;
            // "cap_x+" without flags is malformed, "=" alone is not.
            if flags.is_empty() && op != '=' {
                return None;
            }
            let mut targets: Vec<&mut u64> = Vec::new();
            if op == '=' {
                sets.effective &= !mask;
                sets.permitted &= !mask;
                sets.inheritable &= !mask;
            }
            let (mut e, mut p, mut i) = (false, false, false);
            for f in flags.chars() {
                match f {
                    'e' => e = true,
                    'p' => p = true,
                    'i' => i = true,
                    _ => return None,
                }
            }
            if e {
                targets.push(&mut sets.effective);
            }
            if p {
                targets.push(&mut sets.permitted);
            }
            if i {
                targets.push(&mut sets.inheritable);
            }
            for t in targets {
                if op == '-' {
                    *t &= !mask;
                } else {
                    *t |= mask;
                }
            }
        }
    }
    Some(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_equals_clears_everything() {
        assert_eq!(from_text("="), Some(CapSets::default()));
    }

    #[test]
    fn names_and_flags() {
        let s = from_text("cap_chown,CAP_KILL=ep cap_kill-e").unwrap();
        assert_eq!(s.permitted, (1 << 0) | (1 << 5));
        assert_eq!(s.effective, 1 << 0);
        assert_eq!(s.inheritable, 0);
        let all = from_text("all=eip").unwrap();
        assert!(all.effective & 1 != 0 && all.effective == all.inheritable);
    }

    #[test]
    fn malformed_texts() {
        for t in ["cap_nope=e", "cap_chown", "cap_chown=x", "cap_chown+"] {
            assert_eq!(from_text(t), None, "{t}");
        }
        assert_eq!(from_name("cap_sys_admin"), Some(21));
        assert_eq!(from_name("nope"), None);
    }
}
