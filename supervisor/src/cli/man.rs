//! `supervisor man DIR`: supervisor(1) and one page per subcommand
//! (supervisor-run(1), …) rendered by clap_mangen from the clap
//! definitions, and supervisor-policy(5), the Lua API, converted from the
//! docs (docs/policy.md and the pages it links to) when the binary is
//! built: nothing is copied by hand.

use std::path::{Path, PathBuf};

use super::{create_dir, markdown, write, WriteError};

/// The docs that make supervisor-policy(5), in order.
const POLICY_DOCS: &[(&str, &str)] = &[
    ("policy.md", include_str!("../../../docs/policy.md")),
    ("slave.md", include_str!("../../../docs/slave.md")),
    ("rules.md", include_str!("../../../docs/rules.md")),
    ("network.md", include_str!("../../../docs/network.md")),
    ("dns.md", include_str!("../../../docs/dns.md")),
    (
        "init-script.md",
        include_str!("../../../docs/init-script.md"),
    ),
    ("audit.md", include_str!("../../../docs/audit.md")),
];

/// Writes every page into `dir`; returns the files written.
pub fn write_all(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    create_dir(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for page in pages {
        let man = clap_mangen::Man::new(page)
            .manual("supervisor manual")
            .source(format!("supervisor {}", super::VERSION));
        let mut text = Vec::new();
        man.render(&mut text)
            .expect("rendering into a Vec cannot fail");
        written.push(write(dir, &man.get_filename(), &text)?);
    }
    written.push(write(dir, "supervisor-policy.5", policy_page().as_bytes())?);
    Ok(written)
}

/// supervisor-policy(5), from the docs.
pub fn policy_page() -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH SUPERVISOR-POLICY 5 \"\" \"supervisor {}\" \"supervisor manual\"\n",
        super::VERSION
    ));
    out.push_str(".SH NAME\nsupervisor-policy \\- the Lua API of supervisor policies, slave filters, rules and init scripts\n");
    out.push_str(".SH SYNOPSIS\n\\fBsupervisor run \\-\\-policy\\fR \\fIFILE\\fR \\fB\\-\\-\\fR \\fICMD\\fR ...\n");
    out.push_str(".PP\nType definitions for editors: \\fBsupervisor stubs\\fR \\fIDIR\\fR (installed in /usr/share/supervisor/lua by the package).\n");
    for (name, text) in POLICY_DOCS {
        out.push_str(&markdown::to_roff(text, name));
    }
    out.push_str(".SH SEE ALSO\n\\fBsupervisor\\fR(1), \\fBsupervisor-run\\fR(1), \\fBsupervisor-check\\fR(1), \\fBsupervisor-learn\\fR(1)\n");
    out
}
