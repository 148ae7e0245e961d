//! A container's audit trail, from the agent to its helper.
//!
//! * `--log FILE`: the agent opens FILE once (append) and each helper
//!   inherits it (`--log-fd N` on the helper's command line): the helper
//!   appends the records of `supervisor run --log` (same JSON, plus
//!   `"container"`: the container's id) for every request of its
//!   container, beside the agent's own events (`serving`, `ended`, …).
//!   `O_APPEND` makes every `write` land whole at the end of the file.
//! * `--summary DIR`: each helper writes its container's summary (the
//!   table of `supervisor run --summary`) to `DIR/ID.txt` when the
//!   container ends ([`summary_file`]; made 0600, replaced if the id comes
//!   again).
//!
//! The helper opens the summary file and takes the log before it serves
//! the container (and before it takes a non-root container's ids); if
//! either cannot be had, the container is not served (its trapped calls
//! fail), as `supervisor run` never starts a program whose log cannot be
//! opened.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::audit::Sinks;

/// The helper's options (after its positional arguments).
pub const LOG_FD: &str = "--log-fd";
pub const SUMMARY: &str = "--summary";

/// `DIR/ID.txt`: the container id as a file name, every byte outside
/// letters, digits, `_`, `-` and `.` (and a leading `.`) written `%XX`.
pub fn summary_file(dir: &Path, id: &str) -> PathBuf {
    let mut name = String::with_capacity(id.len() + 4);
    for (i, b) in id.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b"_-".contains(&b) || (b == b'.' && i > 0);
        if plain {
            name.push(b as char);
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.is_empty() {
        name.push('%');
    }
    name.push_str(".txt");
    dir.join(name)
}

/// The helper's audit arguments for container `id`: the inherited log's
/// descriptor, the summary's file.
pub fn helper_args(log: Option<&File>, summary_dir: Option<&Path>, id: &str) -> Vec<OsString> {
    let mut a = Vec::new();
    if let Some(f) = log {
        a.push(LOG_FD.into());
        a.push(f.as_raw_fd().to_string().into());
    }
    if let Some(d) = summary_dir {
        a.push(SUMMARY.into());
        a.push(summary_file(d, id).into_os_string());
    }
    a
}

/// The helper's audit options, as given.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub log_fd: Option<i32>,
    pub summary: Option<PathBuf>,
}

/// Parses the options after the positional arguments; `None` on anything
/// else.
pub fn parse(rest: &[OsString]) -> Option<Options> {
    let mut o = Options::default();
    let mut it = rest.iter();
    while let Some(k) = it.next() {
        let v = it.next()?;
        if k == LOG_FD && o.log_fd.is_none() {
            o.log_fd = Some(v.to_str()?.parse().ok()?);
        } else if k == SUMMARY && o.summary.is_none() {
            o.summary = Some(PathBuf::from(v));
        } else {
            return None;
        }
    }
    Some(o)
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("no agent log at descriptor {0}: {1}")]
    Log(i32, nix::errno::Errno),
    #[error("cannot create the summary file {0}: {1}")]
    Summary(String, std::io::Error),
}

/// Takes the inherited log and creates the summary file, for container
/// `id`.
pub fn sinks(o: &Options, id: &str) -> Result<Sinks, SinkError> {
    let log = match o.log_fd {
        Some(fd) => {
            let owned: OwnedFd = super::sys::own_fd(fd).map_err(|e| SinkError::Log(fd, e))?;
            let _ = nix::fcntl::fcntl(
                &owned,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            );
            // Its name, for the message if it cannot be written.
            let name = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| format!("(the agent's log, descriptor {fd})"));
            Some((File::from(owned), name))
        }
        None => None,
    };
    let summary = match &o.summary {
        Some(p) => {
            use std::os::unix::fs::OpenOptionsExt;
            Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(p)
                    .map_err(|e| SinkError::Summary(p.display().to_string(), e))?,
            )
        }
        None => None,
    };
    Ok(Sinks {
        log,
        summary,
        container: Some(id.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_files_are_named_after_the_container_never_outside_the_directory() {
        let d = Path::new("/s");
        assert_eq!(summary_file(d, "web-1.a_b"), Path::new("/s/web-1.a_b.txt"));
        assert_eq!(summary_file(d, "../x"), Path::new("/s/%2E.%2Fx.txt"));
        assert_eq!(summary_file(d, "a/b"), Path::new("/s/a%2Fb.txt"));
        assert_eq!(summary_file(d, ""), Path::new("/s/%.txt"));
    }

    #[test]
    fn helper_options_round_trip() {
        let f = File::open("/dev/null").unwrap();
        let a = helper_args(Some(&f), Some(Path::new("/s")), "c1");
        let o = parse(&a).unwrap();
        assert_eq!(o.log_fd, Some(f.as_raw_fd()));
        assert_eq!(o.summary.as_deref(), Some(Path::new("/s/c1.txt")));
        assert_eq!(parse(&[]), Some(Options::default()));
        assert_eq!(parse(&["--other".into(), "1".into()]), None);
        assert_eq!(parse(&[LOG_FD.into()]), None);
    }
}
