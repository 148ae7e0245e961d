//! A container's audit trail (`supervisor agent --log FILE --summary DIR`):
//! the records of `supervisor run --log`, each with the container's id,
//! appended to the agent's log (a descriptor the agent hands its helper),
//! and the summary written to a file of its own when the container ends.
//!
//! The agent, its own events and every container's helper append to one
//! file opened `O_APPEND`: each `write` lands whole at the end of the file,
//! so lines from several processes never interleave.

use std::fs::File;
use std::io::Write;

use super::{Config, Recorder};

/// Where a recorder writes, besides stderr.
#[derive(Debug, Default)]
pub struct Sinks {
    /// The log, already open, and its name for messages.
    pub log: Option<(File, String)>,
    /// The summary's file, in place of stderr.
    pub summary: Option<File>,
    /// The container id every record carries (`"container"`).
    pub container: Option<String>,
}

impl Recorder {
    /// A container's recorder: records to `sinks` (nothing when both the
    /// log and the summary are absent).
    pub fn attached(cfg: &Config, sinks: Sinks) -> Recorder {
        if sinks.log.is_none() && sinks.summary.is_none() && !cfg.summary && !cfg.verbose {
            return Recorder(None);
        }
        Recorder::build(cfg, sinks)
    }
}

/// Writes the rendered summary to `to`, else to stderr.
pub(super) fn summary(text: String, to: Option<File>) {
    match to {
        Some(mut f) => {
            if let Err(e) = f.write_all(text.as_bytes()) {
                eprintln!("supervisor: cannot write the summary: {e}");
            }
        }
        None => eprint!("{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Answered, Decision};

    #[test]
    fn a_containers_records_carry_its_id_and_its_summary_goes_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("agent.log");
        let sum = dir.path().join("c1.txt");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let r = Recorder::attached(
            &Config::default(),
            Sinks {
                log: Some((f, log.display().to_string())),
                summary: Some(File::create(&sum).unwrap()),
                container: Some("c1".into()),
            },
        );
        let n = r.lookup(Some(7), "example.com").unwrap();
        r.decide(
            super::super::Key::Lookup(n),
            Decision::Supervisor("a test denial"),
        );
        r.lookup_answered(Some(n), Answered::Gai("noname"));
        assert!(r.finish());
        let text = std::fs::read_to_string(&log).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["container"], "c1");
        assert_eq!(v["function"], "getaddrinfo");
        let s = std::fs::read_to_string(&sum).unwrap();
        assert!(s.starts_with("supervisor: summary: 1 requests"), "{s}");
    }
}
