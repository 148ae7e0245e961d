//! The ready policies (policies/*.lua), built into the binary: `--policy
//! ci` runs policies/ci.lua without the file; `supervisor policy list`
//! and `supervisor policy show NAME` print them for copying and editing.

/// A ready policy.
#[derive(Debug)]
pub struct Ready {
    /// Its name (`ci`), the file's without `.lua`.
    pub name: &'static str,
    /// Its source.
    pub source: &'static str,
}

impl Ready {
    /// What it is for: the first sentence of its leading comment.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        for line in self.source.lines() {
            let Some(l) = line.strip_prefix("--") else {
                break;
            };
            let l = l.trim();
            if l.is_empty() && !text.is_empty() {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(l);
            if let Some(end) = text.find(": ").or_else(|| text.find(". ")) {
                text.truncate(end);
                break;
            }
        }
        text.trim_end_matches(['.', ':']).to_string()
    }
}

const fn ready(name: &'static str, source: &'static str) -> Ready {
    Ready { name, source }
}

/// Every ready policy, by name.
pub const READY: &[Ready] = &[
    ready("allow-all", include_str!("../../../policies/allow-all.lua")),
    ready(
        "allow-all-with-audit",
        include_str!("../../../policies/allow-all-with-audit.lua"),
    ),
    ready(
        "broker-all",
        include_str!("../../../policies/broker-all.lua"),
    ),
    ready(
        "broker-as-program",
        include_str!("../../../policies/broker-as-program.lua"),
    ),
    ready("ci", include_str!("../../../policies/ci.lua")),
    ready("deny-path", include_str!("../../../policies/deny-path.lua")),
    ready(
        "dns-blocklist",
        include_str!("../../../policies/dns-blocklist.lua"),
    ),
    ready(
        "exec-allowlist",
        include_str!("../../../policies/exec-allowlist.lua"),
    ),
    ready("fake-file", include_str!("../../../policies/fake-file.lua")),
    ready("fake-stat", include_str!("../../../policies/fake-stat.lua")),
    ready("isolated", include_str!("../../../policies/isolated.lua")),
    ready(
        "no-network",
        include_str!("../../../policies/no-network.lua"),
    ),
    ready("read-only", include_str!("../../../policies/read-only.lua")),
    ready(
        "read-only-filters",
        include_str!("../../../policies/read-only-filters.lua"),
    ),
];

/// The ready policy called `name` (`ci` or `ci.lua`).
pub fn find(name: &str) -> Option<&'static Ready> {
    let name = name.strip_suffix(".lua").unwrap_or(name);
    READY.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_file_is_built_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".lua").map(str::to_string))
            .collect();
        files.sort();
        let names: Vec<&str> = READY.iter().map(|r| r.name).collect();
        assert_eq!(files, names);
        assert_eq!(find("ci.lua").map(|r| r.name), Some("ci"));
        assert!(find("nope").is_none());
        for r in READY {
            assert!(!r.summary().is_empty(), "{} has no summary", r.name);
        }
    }
}
