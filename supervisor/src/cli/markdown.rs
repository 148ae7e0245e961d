//! The docs' Markdown as roff (man(7)), for supervisor-policy(5).
//!
//! Only what the docs use: headings, paragraphs, fenced code, lists,
//! tables, `code`, **bold**, *emphasis* and [links](…) (their text is
//! kept, a link to another page becomes its name).

/// `text` (the Markdown file `name`) as roff: its `#` title becomes a
/// section (`.SH`), `##` a subsection, deeper headings bold lines.
pub fn to_roff(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    let mut in_para = false;
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(fence) = trimmed.strip_prefix("```") {
            let _ = fence;
            let indent = line.len() - trimmed.len();
            out.push_str(".PP\n.RS 4\n.nf\n");
            for code in lines.by_ref() {
                if code.trim_start().starts_with("```") {
                    break;
                }
                let code = code.get(indent..).unwrap_or(code.trim_start());
                out.push_str(&escape_line(&escape(code)));
                out.push('\n');
            }
            out.push_str(".fi\n.RE\n");
            in_para = false;
            continue;
        }
        if trimmed.is_empty() {
            in_para = false;
            continue;
        }
        if let Some(h) = heading(line) {
            let (level, title) = h;
            match level {
                1 => out.push_str(&format!(
                    ".SH \"{}\"\n",
                    quoted(&inline(title).to_uppercase())
                )),
                2 => out.push_str(&format!(".SS \"{}\"\n", quoted(&inline(title)))),
                _ => out.push_str(&format!(".PP\n\\fB{}\\fR\n", inline(title))),
            }
            in_para = false;
            continue;
        }
        if trimmed.starts_with('|') {
            let mut rows = vec![line];
            while let Some(next) = lines.peek() {
                if next.trim_start().starts_with('|') {
                    rows.push(lines.next().unwrap_or_default());
                } else {
                    break;
                }
            }
            out.push_str(&table(&rows));
            in_para = false;
            continue;
        }
        if let Some(item) = list_item(trimmed) {
            let mut body = item.to_string();
            while let Some(next) = lines.peek() {
                let t = next.trim_start();
                if t.is_empty()
                    || list_item(t).is_some()
                    || heading(next).is_some()
                    || t.starts_with("```")
                {
                    break;
                }
                body.push(' ');
                body.push_str(t);
                lines.next();
            }
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&escape_line(&inline(&body)));
            out.push('\n');
            in_para = false;
            continue;
        }
        // A paragraph: its lines joined (inline code may span lines).
        let mut para = trimmed.to_string();
        while let Some(next) = lines.peek() {
            let t = next.trim_start();
            if t.is_empty()
                || heading(next).is_some()
                || t.starts_with("```")
                || t.starts_with('|')
                || list_item(t).is_some()
            {
                break;
            }
            para.push(' ');
            para.push_str(t);
            lines.next();
        }
        if !in_para {
            out.push_str(".PP\n");
        }
        out.push_str(&escape_line(&inline(&para)));
        out.push('\n');
        in_para = false;
    }
    let _ = name;
    out
}

/// `# Title` → (1, "Title").
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if level == 0 || level > 6 {
        return None;
    }
    line[level..].strip_prefix(' ').map(|t| (level, t.trim()))
}

/// `- item`, `* item`, `1. item` → "item".
fn list_item(t: &str) -> Option<&str> {
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some(rest);
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        return t[digits..].strip_prefix(". ");
    }
    None
}

/// A Markdown table: each row a tagged paragraph, its first cell the tag,
/// the others after it; the header row too when it says something.
fn table(rows: &[&str]) -> String {
    let cells = |row: &str| -> Vec<String> {
        let row = row.trim().trim_start_matches('|').trim_end_matches('|');
        split_cells(row)
            .into_iter()
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut out = String::from(".PP\n");
    for (i, row) in rows.iter().enumerate() {
        let c = cells(row);
        if c.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
            continue; // the separator
        }
        if i == 0 && c.iter().all(String::is_empty) {
            continue; // an empty header
        }
        let first = c.first().cloned().unwrap_or_default();
        let rest: Vec<String> = c[1.min(c.len())..]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        let tag = if i == 0 {
            format!("\\fI{}\\fR", inline(&first))
        } else {
            inline(&first)
        };
        out.push_str(".TP\n");
        out.push_str(&escape_line(&tag));
        out.push('\n');
        let body = rest
            .iter()
            .map(|s| inline(s))
            .collect::<Vec<_>>()
            .join(" \\(em ");
        out.push_str(&escape_line(if body.is_empty() { "\\&" } else { &body }));
        out.push('\n');
    }
    out
}

/// Splits a row on `|` outside backquotes and not escaped (`\|`).
fn split_cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut code = false;
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap_or(&mut String::new()).push('|');
                chars.next();
            }
            '`' => {
                code = !code;
                if let Some(l) = cells.last_mut() {
                    l.push(c);
                }
            }
            '|' if !code => cells.push(String::new()),
            _ => {
                if let Some(l) = cells.last_mut() {
                    l.push(c);
                }
            }
        }
    }
    cells
}

/// Inline Markdown as roff: backslashes escaped, `code` and **bold** in
/// bold, *emphasis* in italics, links as their text.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    let mut bold = false;
    let mut italic = false;
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                let mut code = String::new();
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                    code.push(d);
                }
                out.push_str("\\fB");
                out.push_str(&escape(&code));
                out.push_str(if italic {
                    "\\fI"
                } else if bold {
                    "\\fB"
                } else {
                    "\\fR"
                });
            }
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                bold = !bold;
                out.push_str(if bold { "\\fB" } else { "\\fR" });
            }
            '*' if italic || chars.peek().is_some_and(|n| !n.is_whitespace()) => {
                italic = !italic;
                out.push_str(if italic { "\\fI" } else { "\\fR" });
            }
            '[' => {
                let mut text = String::new();
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    text.push(d);
                }
                if closed && chars.peek() == Some(&'(') {
                    chars.next();
                    for d in chars.by_ref() {
                        if d == ')' {
                            break;
                        }
                    }
                    out.push_str(&inline(&text));
                } else {
                    out.push('[');
                    out.push_str(&inline(&text));
                    if closed {
                        out.push(']');
                    }
                }
            }
            _ => out.push_str(&escape(&c.to_string())),
        }
    }
    if bold || italic {
        out.push_str("\\fR");
    }
    out
}

/// Escapes roff's special characters in text.
fn escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// A line that roff would take as a request (leading `.` or `'`) is
/// protected with `\&`.
fn escape_line(s: &str) -> String {
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s.to_string()
    }
}

/// Inside a quoted macro argument, `"` is `\(dq`.
fn quoted(s: &str) -> String {
    s.replace('"', "\\(dq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_code_and_tables() {
        let r = to_roff(
            "# The API\n\nSome `master:receive()` **now**.\n\n## Part\n\n```lua\n.x = 1 -- a\\b\n```\n\n| a | b |\n|---|---|\n| `x` | y \\| z |\n",
            "t.md",
        );
        assert!(r.contains(".SH \"THE API\"\n"), "{r}");
        assert!(
            r.contains("Some \\fBmaster:receive()\\fR \\fBnow\\fR."),
            "{r}"
        );
        assert!(r.contains(".SS \"Part\"\n"), "{r}");
        assert!(r.contains(".nf\n\\&.x = 1 \\-\\- a\\eb\n.fi\n"), "{r}");
        assert!(r.contains(".TP\n\\fBx\\fR\ny | z\n"), "{r}");
    }

    #[test]
    fn links_keep_their_text() {
        assert_eq!(inline("see [rules](rules.md#x)"), "see rules");
    }
}
