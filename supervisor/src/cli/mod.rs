//! What the command line offers besides running programs: `--version`,
//! the man pages and shell completions generated from the clap
//! definitions in main.rs (passed in as a `clap::Command`, so they always
//! describe the real options, those added later included).

pub mod complete;
pub mod man;
pub mod markdown;

use std::path::PathBuf;

/// `supervisor --version`: the crate's version and the commit it was
/// built from (build.rs; "unknown commit" outside a checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("SUPERVISOR_COMMIT"),
    ")"
);

/// Why generated files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create the directory {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates `dir` (and its parents).
pub(crate) fn create_dir(dir: &std::path::Path) -> Result<(), WriteError> {
    std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })
}

/// Writes `text` to `dir/name`.
pub(crate) fn write(dir: &std::path::Path, name: &str, text: &[u8]) -> Result<PathBuf, WriteError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| WriteError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
