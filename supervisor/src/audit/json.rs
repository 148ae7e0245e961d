//! The little JSON the audit log needs: strings (bytes that may not be
//! UTF-8), and RFC 3339 times.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `s` as a JSON string.
pub fn str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `b` (a path, a name: bytes from the program): a JSON string if
/// it is UTF-8, else `{"hex":"2f746d70ff"}`, so that no byte is lost or
/// made up.
pub fn bytes(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => str(out, s),
        Err(_) => {
            out.push_str("{\"hex\":\"");
            for x in b {
                let _ = write!(out, "{x:02x}");
            }
            out.push_str("\"}");
        }
    }
}

/// Appends `"key":` (a key needs no escaping: they are ours).
pub fn key(out: &mut String, k: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    out.push('"');
    out.push_str(k);
    out.push_str("\":");
}

/// `t` as RFC 3339 in UTC with microseconds: `2025-01-31T12:00:00.123456Z`.
pub fn time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    let (y, m, day) = civil(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// The proleptic Gregorian date of `z` days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, r#""a\"b\\c\n\u0001é""#);
    }

    #[test]
    fn bytes_not_utf8_are_hex() {
        let mut s = String::new();
        bytes(&mut s, b"/tmp/\xff");
        assert_eq!(s, r#"{"hex":"2f746d702fff"}"#);
        let mut s = String::new();
        bytes(&mut s, b"/tmp/x");
        assert_eq!(s, r#""/tmp/x""#);
    }

    #[test]
    fn times() {
        assert_eq!(time(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 is a leap day; 2024-12-31T23:59:59.5
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(time(t), "2000-02-29T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_735_689_599_500);
        assert_eq!(time(t), "2024-12-31T23:59:59.500000Z");
    }
}
