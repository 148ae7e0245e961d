//! `supervisor stubs DIR`: LuaLS type definitions of the policy API.

use std::path::{Path, PathBuf};

use crate::cli::{create_dir, WriteError};

/// Writes the definitions into `dir`.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    create_dir(dir)?;
    Ok(Vec::new())
}
