//! Where a policy comes from: a file, or a ready policy by name.

use std::path::Path;

use super::ready;
use crate::run::Stop;

/// A policy's text and the name its messages carry (`FILE:LINE`).
#[derive(Debug, Clone)]
pub struct Source {
    /// `policies/ci.lua`, or `ci.lua` for the built-in one.
    pub name: String,
    pub text: Vec<u8>,
}

impl Source {
    /// `--policy ARG`: a path (it contains a `/` or ends in `.lua`, or
    /// names an existing file), else the name of a ready policy.
    pub fn resolve(arg: &Path) -> Result<Source, Stop> {
        let text = arg.to_string_lossy();
        let is_path = text.contains('/') || text.ends_with(".lua") || arg.exists();
        if is_path {
            return Source::file(arg);
        }
        match ready::find(&text) {
            Some(r) => Ok(Source {
                name: format!("{}.lua", r.name),
                text: r.source.as_bytes().to_vec(),
            }),
            None => Err(Stop::UnknownPolicy {
                name: text.into_owned(),
                known: ready::READY
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The policy in file `path`.
    pub fn file(path: &Path) -> Result<Source, Stop> {
        let text = std::fs::read(path).map_err(|source| Stop::PolicyRead {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Source {
            name: path.display().to_string(),
            text,
        })
    }
}
