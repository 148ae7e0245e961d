//! `supervisor stubs DIR`: LuaLS type definitions (`---@meta` files) of
//! every module a policy or an init script sees — `libc_service` (master,
//! slave, init, errno), `host`, `rules`, `errno`, and the init script's
//! globals with the `C` table — for editors and `lua-language-server
//! --check`.  The functions are written here (tests/it/everyday.rs and the
//! tests below hold them to the real API); the constants come from the
//! tables the supervisor itself installs.

use std::path::{Path, PathBuf};

use crate::cli::{create_dir, write, WriteError};

const LIBC_SERVICE: &str = include_str!("libc_service.lua");
const HOST: &str = include_str!("host.lua");
const RULES: &str = include_str!("rules.lua");
const INIT_SCRIPT: &str = include_str!("init_script.lua");

/// The files: name and text.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("libc_service.lua", LIBC_SERVICE.to_string()),
        ("host.lua", HOST.to_string()),
        ("rules.lua", RULES.to_string()),
        ("errno.lua", errno()),
        ("init_script.lua", init_script()),
    ]
}

/// Writes the definitions into `dir`.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    create_dir(dir)?;
    let mut written = Vec::new();
    for (name, text) in files() {
        written.push(write(dir, name, text.as_bytes())?);
    }
    Ok(written)
}

/// `errno`: every name the supervisor knows (libc_service.errno).
fn errno() -> String {
    let mut s =
        String::from("---@meta errno\n-- errno names → numbers (Linux).\n\n---@class errno\n");
    for (name, v) in libc_service::errno::ERRNOS {
        s.push_str(&format!("---@field {name} integer {v}\n"));
    }
    s.push_str("local errno = {}\n\nreturn errno\n");
    s
}

/// The init script's globals, `C`'s constants from the init-script crate.
fn init_script() -> String {
    let mut consts = String::new();
    for (name, v) in init_script::consts::CONSTANTS {
        consts.push_str(&format!("---@field {name} integer {v}\n"));
    }
    INIT_SCRIPT.replace("--@@CONSTANTS@@\n", &consts)
}

/// The names a stub file defines: `function X.name(` / `function X:name(`
/// for table `x`, and `---@field name` of class `class`.
#[cfg(test)]
fn defined(text: &str, table: &str, class: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_class = false;
    for line in text.lines() {
        for sep in ['.', ':'] {
            if let Some(rest) = line.strip_prefix(&format!("function {table}{sep}")) {
                names.push(rest.split('(').next().unwrap_or_default().to_string());
            }
        }
        if let Some(c) = line.strip_prefix("---@class ") {
            in_class = c.split_whitespace().next() == Some(class);
        } else if in_class {
            match line.strip_prefix("---@field ") {
                Some(f) => names.push(f.split([' ', '?']).next().unwrap_or_default().to_string()),
                None => in_class = false,
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests;
