//! `--summary`: counts per function × decision, and what was denied,
//! printed on stderr when the run ends (in the spirit of Lunatik's
//! `systrack`, for the sandbox).

use std::collections::BTreeMap;
use std::fmt::Write;

/// The counts of one run.
#[derive(Default)]
pub struct Summary {
    /// (function, decision, answer) → (requests, denied).
    counts: BTreeMap<(String, String, String), (u64, u64)>,
    /// (function, target, errno) → times denied.
    denied: BTreeMap<(String, String, String), u64>,
    total: u64,
    total_denied: u64,
    abandoned: u64,
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
        let c = self
            .counts
            .entry((function.into(), decision.into(), answer.into()))
            .or_default();
        c.0 += 1;
        if let Some((target, errno)) = denied {
            c.1 += 1;
            self.total_denied += 1;
            *self
                .denied
                .entry((function.into(), target.into(), errno.into()))
                .or_default() += 1;
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
        let rows: Vec<[String; 5]> = self
            .counts
            .iter()
            .map(|((f, d, a), (n, den))| {
                [
                    f.clone(),
                    d.clone(),
                    a.clone(),
                    n.to_string(),
                    den.to_string(),
                ]
            })
            .collect();
        table(
            &mut o,
            ["function", "decision", "answer", "count", "denied"],
            &rows,
            &[false, false, false, true, true],
        );
        if !self.denied.is_empty() {
            o.push_str("denied:\n");
            let rows: Vec<[String; 4]> = self
                .denied
                .iter()
                .map(|((f, t, e), n)| [f.clone(), t.clone(), e.clone(), n.to_string()])
                .collect();
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
}
