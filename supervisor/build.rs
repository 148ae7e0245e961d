//! Puts the commit the binary was built from into `--version`
//! (`SUPERVISOR_COMMIT`): the checkout's HEAD; "unknown commit" when not built from a checkout (a crate
//! tarball, a source package) or without git.

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let commit = git(&dir, &["rev-parse", "--short=12", "HEAD"])
        .map(|c| format!("commit {c}"))
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=SUPERVISOR_COMMIT={commit}");
    // Rebuild when HEAD moves or the index changes (a commit, a checkout).
    if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        for f in ["HEAD", "index"] {
            println!("cargo:rerun-if-changed={}", git_dir.join(f).display());
        }
        if let Some(common) = git(
            &dir,
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        ) {
            println!(
                "cargo:rerun-if-changed={}",
                Path::new(&common).join("refs").display()
            );
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// `git ARGS` in `dir`, its trimmed output, or None when git is missing,
/// fails, or `dir` is not in a checkout.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
