//! `--summary`: what was denied, then the counts per function ×
//! decision, printed on stderr when the run ends (in the spirit of
//! Lunatik's `systrack`, for the sandbox).
//!
//! Layout (docs/audit.md): the denials first, grouped by who decided
//! (a policy line, a rule, the posture, the Landlock backstop), each
//! group's rows `function errno count target`; then the requests, most
//! frequent first.  Every line fits [`WIDTH`] columns (a long target is
//! cut in the middle, a long decision at its end) and noise is folded:
//! a target denied again adds to its count, targets beyond the first
//! [`EXAMPLES`] of a group fold by where they are (`/proc/1234/…`), and
//! request rows beyond the first [`SHOWN`] fold into one.
//!
//! Bounded whatever the program does: at most [`GROUPS`] denial groups
//! (decision × function × errno), each with [`EXAMPLES`] targets and
//! [`EXAMPLES`] folds (cut to [`TARGET_CHARS`] characters) and a count of
//! the rest; at most [`ROWS`] rows of counts, the rest counted on one row.
//! Every text from the program or the policy is printed escaped
//! ([`escape`]): no control character reaches the terminal.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Distinct denied targets kept per group (and as many folds).
pub const EXAMPLES: usize = 8;
/// Characters of a target or a decision kept (paths may be 4 KiB).
pub const TARGET_CHARS: usize = 200;
/// Distinct (function, decision, answer) rows kept.
pub const ROWS: usize = 512;
/// Distinct denial groups (decision, function, errno) kept.
pub const GROUPS: usize = 64;
/// Rows of counts printed; the others are folded into one.
pub const SHOWN: usize = 24;
/// The widest line printed.
pub const WIDTH: usize = 100;

/// A row of counts: (function, decision, answer).
type Row = (String, String, String);

/// The denials of one (decision, function, errno).
#[derive(Default)]
struct Denials {
    /// The first distinct targets, in order of arrival, with their counts.
    examples: Vec<(String, u64)>,
    /// Other targets, folded by where they are ([`fold`]).
    folded: Vec<(String, u64)>,
    /// Denials of other targets still.
    others: u64,
}

impl Denials {
    fn total(&self) -> u64 {
        self.examples.iter().map(|e| e.1).sum::<u64>()
            + self.folded.iter().map(|e| e.1).sum::<u64>()
            + self.others
    }
}

/// The counts of one run.
#[derive(Default)]
pub struct Summary {
    /// (function, decision, answer) → (requests, denied).
    counts: BTreeMap<Row, (u64, u64)>,
    /// Requests past [`ROWS`] distinct rows: (requests, denied).
    other_rows: (u64, u64),
    /// (decision, function, errno) → what was denied.
    denied: BTreeMap<(String, String, String), Denials>,
    /// Denials past [`GROUPS`] groups.
    other_denials: u64,
    total: u64,
    total_denied: u64,
    abandoned: u64,
    /// What the policy left untrapped ([`untrapped_line`]).
    pub untrapped: Option<String>,
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

/// `s` cut to [`TARGET_CHARS`] characters: its middle (`…`), so that a
/// path keeps its file name.
fn cut(s: &str) -> String {
    fit_middle(s, TARGET_CHARS)
}

/// Where a path is, for folding: its first two directories (`/proc/1234/…`,
/// `/home/u/…`), then its first one (`/proc/…`), if it has them; none for
/// what is not a path (an address, a name).
fn folds(target: &str) -> impl Iterator<Item = String> + '_ {
    let rest = target.strip_prefix('/').unwrap_or("");
    let dirs: Vec<&str> = rest.split('/').collect();
    // The directories only: the last part is the file.
    let n = dirs.len().saturating_sub(1).min(2);
    (1..=n)
        .rev()
        .map(move |k| format!("/{}/…", dirs[..k].join("/")))
}

/// `s` in at most `w` characters: the middle cut out (`…`), so that the
/// end of a path, its file name, stays.  Looks at `w` characters of `s`
/// at most, however long it is.
fn fit_middle(s: &str, w: usize) -> String {
    if w < 3 || s.char_indices().nth(w).is_none() {
        return s.to_owned();
    }
    let head = (w - 1) / 2;
    let tail = w - 1 - head;
    let a = s.char_indices().nth(head).map_or(s.len(), |(i, _)| i);
    let b = s.char_indices().rev().nth(tail - 1).map_or(0, |(i, _)| i);
    format!("{}…{}", &s[..a], &s[b..])
}

/// `s` in at most `w` characters: cut at the end (`…`).
fn fit_end(s: &str, w: usize) -> String {
    if s.chars().count() <= w || w < 2 {
        return s.to_owned();
    }
    let a: String = s.chars().take(w - 1).collect();
    format!("{a}…")
}

/// `s` padded to `w` characters.
fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(w.saturating_sub(n)))
}

/// `-v`'s line for one denial, as it is answered: the call, what it
/// named (cut to [`TARGET_CHARS`]), the errno and who decided, escaped.
pub fn denial_line(function: &str, target: &str, errno: &str, decision: &str) -> String {
    format!(
        "supervisor: denied: {} {}: {} ({})\n",
        escape(function),
        escape(&cut(target)),
        escape(errno),
        escape(&cut(decision))
    )
}

/// The line of `-v` (at the start) and `--summary` when the policy left
/// calls to the kernel: they are not requests, not in the counts.
pub fn untrapped_line(kinds: &[&str], calls: &str, at: &str) -> String {
    format!(
        "supervisor: untrapped by the policy ({}): calls that need only {} (allowed everywhere) \
         are the kernel's, not requests, not counted or logged: {}\n",
        escape(at),
        kinds.join(", "),
        calls
    )
}

/// `-v`'s line at the start when an init script enforced a Landlock
/// backstop: what it refuses everywhere (`launch::Child::landlock`: the
/// filesystem rights, then the network rights from bit 16).
pub fn landlock_line(refused: u64) -> String {
    const NAMES: [&str; 18] = [
        "execute",
        "write_file",
        "read_file",
        "read_dir",
        "remove_dir",
        "remove_file",
        "make_char",
        "make_dir",
        "make_reg",
        "make_sock",
        "make_fifo",
        "make_block",
        "make_sym",
        "refer",
        "truncate",
        "ioctl_dev",
        "bind_tcp",
        "connect_tcp",
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| refused & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    format!(
        "supervisor: Landlock backstop (init script): the program may not {} by itself\n",
        names.join(", ")
    )
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
        let full = self.counts.len() >= ROWS;
        let key = (function.to_owned(), cut(decision), answer.to_owned());
        match self.counts.get_mut(&key) {
            Some(c) => *c = (c.0 + 1, c.1 + den),
            None if !full => {
                self.counts.insert(key.clone(), (1, den));
            }
            None => self.other_rows = (self.other_rows.0 + 1, self.other_rows.1 + den),
        }
        if let Some((target, errno)) = denied {
            self.total_denied += 1;
            let gkey = (key.1, key.0, errno.to_owned());
            let groups = self.denied.len();
            let d = match self.denied.get_mut(&gkey) {
                Some(d) => d,
                None if groups < GROUPS => self.denied.entry(gkey).or_default(),
                None => {
                    self.other_denials += 1;
                    return;
                }
            };
            let target = cut(target);
            if let Some((_, n)) = d.examples.iter_mut().find(|(t, _)| *t == target) {
                *n += 1;
            } else if d.examples.len() < EXAMPLES {
                d.examples.push((target, 1));
            } else {
                // A fold it is in already; else a new one, the finest while
                // there is room, the coarsest in the last place.
                let f: Vec<String> = folds(&target).collect();
                if let Some((_, n)) = d.folded.iter_mut().find(|(t, _)| f.contains(t)) {
                    *n += 1;
                } else if let (Some(fine), Some(coarse)) = (f.first(), f.last()) {
                    match d.folded.len() {
                        n if n + 1 < EXAMPLES => d.folded.push((fine.clone(), 1)),
                        n if n < EXAMPLES => d.folded.push((coarse.clone(), 1)),
                        _ => d.others += 1,
                    }
                } else {
                    d.others += 1;
                }
            }
        }
    }

    /// The report.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "supervisor: summary: {} requests, {} denied, {} abandoned",
            self.total, self.total_denied, self.abandoned
        );
        if let Some(u) = &self.untrapped {
            o.push_str(u);
        }
        if self.total == 0 {
            return o;
        }
        if !self.denied.is_empty() || self.other_denials > 0 {
            self.render_denials(&mut o);
        }
        self.render_counts(&mut o);
        o
    }

    /// `denied:`, by who decided (most denials first), each group's rows
    /// `function errno count target`.
    fn render_denials(&self, o: &mut String) {
        o.push_str("denied:\n");
        // decision → rows (function, errno, count, target).
        let mut by: BTreeMap<&str, Vec<[String; 4]>> = BTreeMap::new();
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for ((dec, f, e), d) in &self.denied {
            *totals.entry(dec).or_default() += d.total();
            let rows = by.entry(dec).or_default();
            let mut examples: Vec<&(String, u64)> = d.examples.iter().collect();
            examples.sort();
            for (t, n) in examples {
                rows.push([escape(f), escape(e), n.to_string(), escape(t)]);
            }
            for (t, n) in &d.folded {
                rows.push([escape(f), escape(e), n.to_string(), escape(t)]);
            }
            if d.others > 0 {
                rows.push([
                    escape(f),
                    escape(e),
                    d.others.to_string(),
                    "(others)".into(),
                ]);
            }
        }
        let mut order: Vec<(&str, u64)> = totals.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let all = by.values().flatten();
        let mut w = [0usize; 3];
        for r in all {
            for i in 0..3 {
                w[i] = w[i].max(r[i].chars().count());
            }
        }
        w[0] = w[0].min(16);
        w[1] = w[1].min(14);
        for (dec, _) in order {
            let _ = writeln!(o, "  {}", fit_end(&escape(dec), WIDTH - 2));
            for r in &by[dec] {
                let head = format!(
                    "    {}  {}  {:>c$}  ",
                    pad(&fit_end(&r[0], w[0]), w[0]),
                    pad(&fit_end(&r[1], w[1]), w[1]),
                    r[2],
                    c = w[2]
                );
                let room = WIDTH.saturating_sub(head.chars().count()).max(20);
                let _ = writeln!(o, "{head}{}", fit_middle(&r[3], room));
            }
        }
        if self.other_denials > 0 {
            let _ = writeln!(
                o,
                "  (more denials, beyond the first {GROUPS} kinds): {}",
                self.other_denials
            );
        }
    }

    /// `requests:` per function × answer × decision, most first.
    fn render_counts(&self, o: &mut String) {
        o.push_str("requests:\n");
        let mut rows: Vec<(&Row, &(u64, u64))> = self.counts.iter().collect();
        rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
        let mut shown: Vec<[String; 5]> = rows
            .iter()
            .take(SHOWN)
            .map(|((f, d, a), (n, den))| {
                [
                    escape(f),
                    escape(a),
                    n.to_string(),
                    den.to_string(),
                    escape(d),
                ]
            })
            .collect();
        let (mut n, mut den) = self.other_rows;
        let mut folded = usize::from(n > 0);
        for (_, (c, d)) in rows.iter().skip(SHOWN) {
            n += c;
            den += d;
            folded += 1;
        }
        if folded > 0 {
            shown.push([
                format!("({folded} more rows)"),
                String::new(),
                n.to_string(),
                den.to_string(),
                String::new(),
            ]);
        }
        let head = ["function", "answer", "count", "denied", "decided by"];
        let mut w = head.map(|h| h.chars().count());
        for r in &shown {
            for i in 0..4 {
                w[i] = w[i].max(r[i].chars().count());
            }
        }
        w[0] = w[0].min(18);
        w[1] = w[1].min(23);
        let line = |o: &mut String, r: [&str; 5]| {
            let head = format!(
                "  {}  {}  {:>c$}  {:>d$}  ",
                pad(&fit_end(r[0], w[0]), w[0]),
                pad(&fit_end(r[1], w[1]), w[1]),
                r[2],
                r[3],
                c = w[2],
                d = w[3]
            );
            let room = WIDTH.saturating_sub(head.chars().count()).max(20);
            let _ = writeln!(o, "{head}{}", fit_end(r[4], room).trim_end());
        };
        line(o, head);
        for r in &shown {
            line(o, [&r[0], &r[1], &r[2], &r[3], &r[4]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widest(t: &str) -> usize {
        t.lines().map(|l| l.chars().count()).max().unwrap_or(0)
    }

    #[test]
    fn denials_first_grouped_by_decision_then_the_counts() {
        let mut s = Summary::default();
        for _ in 0..2 {
            s.add(
                "open",
                "policy p.lua:5",
                "use_master_credentials",
                None,
                false,
            );
        }
        s.add(
            "open",
            "rule 4 (deny read /root/.ssh/)",
            "send",
            Some(("/root/.ssh/x", "EACCES")),
            false,
        );
        s.add(
            "open",
            "rule 4 (deny read /root/.ssh/)",
            "send",
            Some(("/root/.ssh/x", "EACCES")),
            false,
        );
        s.add(
            "connect_inet",
            "default deny connect",
            "send",
            Some(("10.0.0.1:80", "EACCES")),
            false,
        );
        s.add(
            "socket",
            "posture (socket family)",
            "posture",
            Some(("vsock", "EAFNOSUPPORT")),
            false,
        );
        let t = s.render();
        assert!(
            t.starts_with("supervisor: summary: 6 requests, 4 denied, 0 abandoned\ndenied:\n"),
            "{t}"
        );
        let lines: Vec<&str> = t.lines().collect();
        // The group with the most denials first, then its rows.
        assert_eq!(lines[2], "  rule 4 (deny read /root/.ssh/)", "{t}");
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["open", "EACCES", "2", "/root/.ssh/x"],
            "{t}"
        );
        let den = t.split("requests:\n").next().unwrap();
        assert!(den.contains("  posture (socket family)\n"), "{t}");
        assert!(
            den.contains("10.0.0.1:80") && den.contains("EAFNOSUPPORT"),
            "{t}"
        );
        let counts = t.split("requests:\n").nth(1).expect("the counts");
        let rows: Vec<Vec<&str>> = counts
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["function", "answer", "count", "denied", "decided", "by"]
        );
        // Most requests first.
        assert_eq!(
            rows[1],
            [
                "open",
                "use_master_credentials",
                "2",
                "0",
                "policy",
                "p.lua:5"
            ]
        );
        assert!(widest(&t) <= WIDTH, "{t}");
    }

    #[test]
    fn a_denial_line_is_one_escaped_line() {
        let l = denial_line("open", "/x\n\u{1b}[2J", "EACCES", "rule 4 (deny read /x)");
        assert_eq!(
            l,
            "supervisor: denied: open /x\\n\\u001b[2J: EACCES (rule 4 (deny read /x))\n"
        );
    }

    #[test]
    fn the_landlock_line_names_the_rights() {
        let l = landlock_line(1 << 1 | 1 << 8 | 1 << 17);
        assert_eq!(
            l,
            "supervisor: Landlock backstop (init script): the program may not \
             write_file, make_reg, connect_tcp by itself\n"
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
    fn long_paths_and_decisions_fit_in_a_hundred_columns() {
        let mut s = Summary::default();
        let long = format!("/very/{}/end.txt", "long-directory-name/".repeat(30));
        let dec = format!("rule 1 (deny read {})", "/x".repeat(200));
        s.add("open", &dec, "send", Some((&long, "EACCES")), false);
        s.add(
            "a_very_long_function_name_indeed",
            &dec,
            "use_program_credentials",
            None,
            false,
        );
        let t = s.render();
        assert!(widest(&t) <= WIDTH, "{t}");
        // The path keeps its beginning and its file name.
        assert!(
            t.lines()
                .any(|l| l.contains("/very/long-") && l.ends_with("/end.txt")),
            "{t}"
        );
    }

    #[test]
    fn noise_is_folded_with_counts() {
        let mut s = Summary::default();
        // The same socket on every lookup: one row, counted.
        for _ in 0..50 {
            s.add(
                "connect_unix",
                "default deny connect",
                "send",
                Some(("/var/run/nscd/socket", "EACCES")),
                false,
            );
        }
        // Many files of a few directories: the first ones, then by place.
        for i in 0..100 {
            s.add(
                "open",
                "rule 9 (deny read /proc/*/environ)",
                "send",
                Some((&format!("/proc/{}/environ", 1000 + i % 3), "EACCES")),
                false,
            );
            s.add(
                "open",
                "default deny read",
                "send",
                Some((&format!("/srv/data/{i}"), "EACCES")),
                false,
            );
        }
        // Many rows of counts: the first ones, then one.
        for i in 0..40 {
            s.add(
                "stat",
                &format!("policy p.lua:{i}"),
                "use_slave_credentials",
                None,
                false,
            );
        }
        let t = s.render();
        let den = t.split("requests:\n").next().unwrap();
        assert!(
            den.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["connect_unix", "EACCES", "50", "/var/run/nscd/socket"]),
            "{t}"
        );
        assert!(
            den.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["open", "EACCES", "92", "/srv/data/…"]),
            "{t}"
        );
        assert_eq!(
            den.lines()
                .filter(|l| l.starts_with("    ") && l.contains("/proc/"))
                .count(),
            3,
            "{t}"
        );
        let counts = t.split("requests:\n").nth(1).unwrap();
        assert_eq!(counts.lines().count(), 1 + SHOWN + 1, "{t}");
        assert!(
            counts.contains(&format!("({} more rows)", 3 + 40 - SHOWN)),
            "{t}"
        );
        assert!(widest(&t) <= WIDTH, "{t}");
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
        assert!(t.contains("describe \\u001b[31m"), "{t}");
        // One row per denial: the newline did not make a second one.
        let den = t.split("requests:\n").next().unwrap();
        let den = den.split("denied:\n").nth(1).unwrap();
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
                &format!("describe {i} {long}"),
                "send",
                Some((&p, "ENOENT")),
                false,
            );
        }
        let kept: usize = s
            .denied
            .iter()
            .map(|(k, d)| {
                k.0.len()
                    + d.examples.iter().map(|(t, _)| t.len()).sum::<usize>()
                    + d.folded.iter().map(|(t, _)| t.len()).sum::<usize>()
            })
            .sum();
        assert!(
            kept <= GROUPS * (1 + 2 * EXAMPLES) * (TARGET_CHARS + 4),
            "{kept}"
        );
        assert_eq!(s.counts.len(), ROWS);
        assert_eq!(s.denied.len(), GROUPS);
        let t = s.render();
        assert!(
            t.starts_with("supervisor: summary: 200000 requests, 200000 denied, 0 abandoned\n"),
            "{t}"
        );
        // Every denial is counted somewhere in the table.
        let den = t.split("requests:\n").next().unwrap();
        let shown: u64 = den
            .lines()
            .filter(|l| l.starts_with("    "))
            .map(|l| l.split_whitespace().nth(2).unwrap().parse::<u64>().unwrap())
            .sum();
        let beyond: u64 = den
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "  (more denials, beyond the first {GROUPS} kinds): "
                ))
            })
            .map(|n| n.parse().unwrap())
            .unwrap_or(0);
        assert_eq!(shown + beyond, 200_000, "{t}");
        assert!(den.contains("/denied/…"), "{t}");
        assert!(t.contains("more rows)"), "{t}");
        assert!(t.len() < 200_000, "{}", t.len());
        assert!(widest(&t) <= WIDTH, "{t}");
    }
}
