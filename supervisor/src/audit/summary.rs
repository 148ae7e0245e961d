//! `--summary`: counts per function × decision, and what was denied,
//! printed on stderr when the run ends (in the spirit of Lunatik's
//! `systrack`, for the sandbox).
//!
//! Bounded whatever the program does: the denials are counted per kind
//! (function × errno) with the first [`EXAMPLES`] distinct targets of each
//! (cut to [`TARGET_CHARS`] characters) and a count of the others; the rows
//! of counts (function × decision × answer, where a decision may carry a
//! policy's description) stop at [`ROWS`], the rest counted on one row.
//! Every text from the program or the policy is printed escaped
//! ([`escape`]): no control character reaches the terminal.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Distinct denied targets shown per (function, errno).
pub const EXAMPLES: usize = 8;
/// Characters of a target kept (paths may be 4 KiB).
pub const TARGET_CHARS: usize = 200;
/// Distinct (function, decision, answer) rows kept.
pub const ROWS: usize = 512;

/// The denials of one (function, errno).
#[derive(Default)]
struct Denials {
    /// The first distinct targets, in order of arrival, with their counts.
    examples: Vec<(String, u64)>,
    /// Denials of other targets.
    others: u64,
}

/// The counts of one run.
#[derive(Default)]
pub struct Summary {
    /// (function, decision, answer) → (requests, denied).
    counts: BTreeMap<(String, String, String), (u64, u64)>,
    /// Requests past [`ROWS`] distinct rows: (requests, denied).
    other_rows: (u64, u64),
    /// (function, errno) → what was denied.
    denied: BTreeMap<(String, String), Denials>,
    total: u64,
    total_denied: u64,
    abandoned: u64,
}

/// `s` with every control character (C0, DEL, C1), the Unicode line and
/// paragraph separators and the bidirectional overrides escaped as the
/// JSONL log escapes them (`\n`, `\t`, `\u001b`…), and `\` doubled: what
/// is printed is text, never a terminal command or a forged row.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c) =>
            {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// `s` cut to [`TARGET_CHARS`] characters (`…` marks the cut).
fn cut(s: &str) -> String {
    match s.char_indices().nth(TARGET_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Summary {
    /// Counts one finished request.
    pub fn add(
        &mut self,
        function: &str,
        decision: &str,
        answer: &str,
        denied: Option<(&str, &str)>,
        abandoned: bool,
    ) {
        self.total += 1;
        self.abandoned += u64::from(abandoned);
        let den = u64::from(denied.is_some());
        let key = (function.to_owned(), decision.to_owned(), answer.to_owned());
        let full = self.counts.len() >= ROWS;
        match self.counts.get_mut(&key) {
            Some(c) => *c = (c.0 + 1, c.1 + den),
            None if !full => {
                self.counts.insert(key, (1, den));
            }
            None => self.other_rows = (self.other_rows.0 + 1, self.other_rows.1 + den),
        }
        if let Some((target, errno)) = denied {
            self.total_denied += 1;
            let d = self
                .denied
                .entry((function.into(), errno.into()))
                .or_default();
            let target = cut(target);
            if let Some((_, n)) = d.examples.iter_mut().find(|(t, _)| *t == target) {
                *n += 1;
            } else if d.examples.len() < EXAMPLES {
                d.examples.push((target, 1));
            } else {
                d.others += 1;
            }
        }
    }

    /// The table.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "supervisor: summary: {} requests, {} denied, {} abandoned",
            self.total, self.total_denied, self.abandoned
        );
        if self.total == 0 {
            return o;
        }
        let mut rows: Vec<[String; 5]> = self
            .counts
            .iter()
            .map(|((f, d, a), (n, den))| {
                [
                    escape(f),
                    escape(d),
                    escape(a),
                    n.to_string(),
                    den.to_string(),
                ]
            })
            .collect();
        if self.other_rows.0 > 0 {
            rows.push([
                "(other rows)".into(),
                String::new(),
                String::new(),
                self.other_rows.0.to_string(),
                self.other_rows.1.to_string(),
            ]);
        }
        table(
            &mut o,
            ["function", "decision", "answer", "count", "denied"],
            &rows,
            &[false, false, false, true, true],
        );
        if !self.denied.is_empty() {
            o.push_str("denied:\n");
            let mut rows: Vec<[String; 4]> = Vec::new();
            for ((f, e), d) in &self.denied {
                let mut examples: Vec<&(String, u64)> = d.examples.iter().collect();
                examples.sort();
                for (t, n) in examples {
                    rows.push([escape(f), escape(t), escape(e), n.to_string()]);
                }
                if d.others > 0 {
                    rows.push([
                        escape(f),
                        format!("(others, beyond the first {EXAMPLES})"),
                        escape(e),
                        d.others.to_string(),
                    ]);
                }
            }
            table(
                &mut o,
                ["function", "path or address", "errno", "count"],
                &rows,
                &[false, false, false, true],
            );
        }
        o
    }
}

/// Aligned columns, two spaces of indent; `right` columns right-aligned.
fn table<const N: usize>(o: &mut String, head: [&str; N], rows: &[[String; N]], right: &[bool]) {
    let mut w = head.map(|h| h.chars().count());
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        o.push(' ');
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            o.push(' ');
            if right[i] {
                o.push_str(&" ".repeat(pad));
                o.push_str(c);
            } else {
                o.push_str(c);
                if i + 1 < N {
                    o.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < N {
                o.push(' ');
            }
        }
        o.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_denials() {
        let mut s = Summary::default();
        s.add(
            "open",
            "policy p.lua:5",
            "use_master_credentials",
            None,
            false,
        );
        s.add(
            "open",
            "policy p.lua:5",
            "use_master_credentials",
            None,
            false,
        );
        s.add(
            "open",
            "policy p.lua:3",
            "send",
            Some(("/root/.ssh/x", "EACCES")),
            false,
        );
        s.add(
            "connect_inet",
            "policy p.lua:3",
            "send",
            Some(("10.0.0.1:80", "EACCES")),
            false,
        );
        let t = s.render();
        assert!(
            t.starts_with("supervisor: summary: 4 requests, 2 denied, 0 abandoned\n"),
            "{t}"
        );
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].contains("function") && lines[1].contains("denied"),
            "{t}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [
                        "open",
                        "policy",
                        "p.lua:5",
                        "use_master_credentials",
                        "2",
                        "0"
                    ]),
            "{t}"
        );
        let den = t.split("denied:\n").nth(1).expect("a denied section");
        assert!(
            den.contains("/root/.ssh/x") && den.contains("10.0.0.1:80"),
            "{t}"
        );
    }

    #[test]
    fn empty_run() {
        let t = Summary::default().render();
        assert_eq!(
            t,
            "supervisor: summary: 0 requests, 0 denied, 0 abandoned\n"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_rows_cannot_be_forged() {
        let mut s = Summary::default();
        let evil = "/x\u{1b}[2J\u{1b}]0;owned\u{7}\n  open  /forged  EACCES  1\u{9b}31m\u{202e}\\";
        s.add(
            "open",
            "policy p.lua:3",
            "send",
            Some((evil, "EACCES")),
            false,
        );
        s.add("open", "describe \u{1b}[31m", "send", None, false);
        let t = s.render();
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(!t.contains('\u{202e}'), "{t:?}");
        assert!(
            t.contains("/x\\u001b[2J\\u001b]0;owned\\u0007\\n  open  /forged"),
            "{t}"
        );
        assert!(t.contains("\\u009b31m\\u202e\\\\"), "{t}");
        // One row per denial: the newline did not make a second one.
        let den = t.split("denied:\n").nth(1).unwrap();
        assert_eq!(den.lines().count(), 2, "{t}");
    }

    #[test]
    fn a_hundred_thousand_distinct_denials_keep_a_bounded_table() {
        let mut s = Summary::default();
        let long = "y".repeat(4000);
        for i in 0..100_000 {
            let p = format!("/denied/{i}/{long}");
            s.add(
                "open",
                "policy p.lua:3",
                "send",
                Some((&p, "EACCES")),
                false,
            );
            s.add(
                "stat",
                &format!("describe {i}"),
                "send",
                Some((&p, "ENOENT")),
                false,
            );
        }
        let kept: usize = s
            .denied
            .values()
            .map(|d| d.examples.iter().map(|(t, _)| t.len()).sum::<usize>())
            .sum();
        assert!(kept <= 2 * EXAMPLES * (TARGET_CHARS + 4), "{kept}");
        assert_eq!(s.counts.len(), ROWS);
        let t = s.render();
        assert!(
            t.starts_with("supervisor: summary: 200000 requests, 200000 denied, 0 abandoned\n"),
            "{t}"
        );
        assert!(
            t.contains(&format!("(others, beyond the first {EXAMPLES})")),
            "{t}"
        );
        assert!(t.contains(&(100_000 - EXAMPLES).to_string()), "{t}");
        assert!(t.contains("(other rows)"), "{t}");
        assert!(t.len() < 200_000, "{}", t.len());
    }
}
