//! `supervisor doctor`: what this machine gives the supervisor, probed on
//! the running kernel, and what each missing piece costs.
//!
//! One row per feature: what was found here, and the cost when it is
//! missing — the supervisor refuses to start, some answers fail, the
//! sandbox is weaker, or runs are slower.  The exit status is 0 only when
//! every piece the default posture needs (docs/security.md) is here.
//!
//! `SUPERVISOR_DOCTOR_FAKE_MISSING=key,key` makes the named rows report
//! "missing" whatever the kernel says.  It exists only for the tests (a
//! test cannot take a feature away from the kernel); the keys are the
//! [`Row::key`]s.

mod sys;

use std::fmt::Write as _;

/// The test-only override (see the module's documentation).
pub const FAKE_MISSING_ENV: &str = "SUPERVISOR_DOCTOR_FAKE_MISSING";

/// What a missing feature costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// `supervisor run` refuses to start (exit 125).
    Refuses,
    /// Runs start, but some answers fail.
    Fails,
    /// Runs work with a weaker sandbox.
    Weaker,
    /// Runs work, slower.
    Slower,
    /// Only some policies (init scripts) are affected.
    Some,
    /// Nothing is missing: the row only informs.
    Info,
}

impl Cost {
    fn word(self) -> &'static str {
        match self {
            Cost::Refuses => "refuses to start",
            Cost::Fails => "answers fail",
            Cost::Weaker => "weaker",
            Cost::Slower => "slower",
            Cost::Some => "some policies fail",
            Cost::Info => "",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The name `SUPERVISOR_DOCTOR_FAKE_MISSING` knows the row by.
    pub key: &'static str,
    /// What the row is about.
    pub feature: &'static str,
    /// What this machine gives.
    pub here: String,
    /// Whether it is here.
    pub present: bool,
    /// The cost when it is not.
    pub cost: Cost,
    /// Whether the default posture needs it (exit 1 when missing).
    pub required: bool,
    /// What the cost means, in a few words.
    pub if_missing: String,
}

/// Every probe, in the order of the table.
pub fn probe() -> Vec<Row> {
    let fake: Vec<String> = std::env::var(FAKE_MISSING_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut rows = Vec::new();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    rows.push(Row {
        key: "kernel",
        feature: "kernel",
        here: format!("Linux {release} {}", std::env::consts::ARCH),
        present: true,
        cost: Cost::Info,
        required: false,
        if_missing: "needs 5.19; 6.6 is faster; 6.12 has the full posture".into(),
    });

    let action = sys::user_notif_action();
    let listener = sys::probe_listener();
    let l = listener.unwrap_or_default();
    let yes_no = |b: bool, no: String| if b { "yes".to_string() } else { no };
    let why = |e: nix::errno::Errno| format!("no ({})", e.desc());
    let notif = action.is_ok() && l.new_listener;
    rows.push(Row {
        key: "user_notif",
        feature: "seccomp user notification",
        here: match (&action, &listener) {
            (Err(e), _) | (_, Err(e)) => why(*e),
            _ => yes_no(l.new_listener, "no (a listener cannot be made)".into()),
        },
        present: notif,
        cost: Cost::Refuses,
        required: true,
        if_missing: "no request can reach a policy (Linux 5.0; a container's seccomp profile may forbid seccomp(2))".into(),
    });
    rows.push(Row {
        key: "wait_killable_recv",
        feature: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        here: yes_no(l.wait_killable_recv, "no".into()),
        present: l.wait_killable_recv,
        cost: Cost::Refuses,
        required: true,
        if_missing:
            "the filter is loaded with it, so that a signal never loses an answer (Linux 5.19)"
                .into(),
    });
    rows.push(Row {
        key: "addfd",
        feature: "SECCOMP_IOCTL_NOTIF_ADDFD flags",
        here: match (l.addfd_setfd, l.addfd_send) {
            (true, true) => "SETFD, SEND".into(),
            (true, false) => "SETFD only".into(),
            _ => "no".into(),
        },
        present: l.addfd_setfd && l.addfd_send,
        cost: Cost::Fails,
        required: true,
        if_missing: "opens the supervisor performs (use_master_credentials, rules, host.*) cannot be answered (SEND: Linux 5.14)".into(),
    });
    rows.push(Row {
        key: "sync_wake_up",
        feature: "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
        here: yes_no(l.sync_wake_up, "no".into()),
        present: l.sync_wake_up,
        cost: Cost::Slower,
        required: false,
        if_missing: "each request wakes the supervisor on another CPU (Linux 6.6)".into(),
    });

    let abi = sys::landlock_abi();
    let abi_n = abi.unwrap_or(0);
    rows.push(Row {
        key: "landlock",
        feature: "Landlock ABI",
        here: match abi {
            Ok(n) => n.to_string(),
            Err(nix::errno::Errno::EOPNOTSUPP) => "no (disabled: add landlock to lsm= at boot)".into(),
            Err(e) => why(e),
        },
        present: abi_n >= 6,
        cost: Cost::Weaker,
        required: true,
        if_missing: "below ABI 6 (Linux 6.12) the program can signal the supervisor; without Landlock init scripts' rulesets and ci.lua fail".into(),
    });
    rows.push(Row {
        key: "landlock_rights",
        feature: "Landlock rights",
        here: landlock_rights(abi_n),
        present: true,
        cost: Cost::Info,
        required: false,
        if_missing: "what an init script can ask for (C.landlock_create_ruleset)".into(),
    });

    let userns = sys::probe_user_namespace();
    let apparmor = read_trim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let debian = read_trim("/proc/sys/kernel/unprivileged_userns_clone");
    let mut here = match userns {
        Ok(()) => "yes".to_string(),
        Err(e) => why(e),
    };
    let root = nix::unistd::geteuid().is_root();
    if root {
        here.push_str(" (as root)");
    }
    let mut restricted = Vec::new();
    if apparmor.as_deref() == Some("1") {
        restricted.push("AppArmor restricts them for unprivileged users");
    }
    if debian.as_deref() == Some("0") {
        restricted.push("kernel.unprivileged_userns_clone=0");
    }
    if !restricted.is_empty() {
        let _ = write!(here, "; {}", restricted.join(", "));
    } else if apparmor.is_some() || debian.is_some() {
        here.push_str("; unprivileged users too");
    }
    rows.push(Row {
        key: "userns",
        feature: "user namespaces",
        here,
        // Under AppArmor's restriction an unprivileged unshare succeeds but
        // the namespace gets no capabilities: as good as missing.
        present: userns.is_ok() && (root || restricted.is_empty()),
        cost: Cost::Some,
        required: false,
        if_missing: "init scripts that unshare fail as a non-root user (ci.lua's private /tmp, isolated.lua)".into(),
    });

    let tiocsti = read_trim("/proc/sys/dev/tty/legacy_tiocsti");
    rows.push(Row {
        key: "tiocsti",
        feature: "legacy TIOCSTI off",
        here: match tiocsti.as_deref() {
            Some("0") => "yes (dev.tty.legacy_tiocsti=0)".into(),
            Some(v) => format!("no (dev.tty.legacy_tiocsti={v})"),
            None => "no (kernel before 6.2)".into(),
        },
        present: tiocsti.as_deref() == Some("0"),
        cost: Cost::Weaker,
        required: false,
        if_missing: "a program sharing your terminal can type into it: run untrusted ones without one (setsid, </dev/null) or set dev.tty.legacy_tiocsti=0".into(),
    });

    // An allowed exec is verified by tracing the program at its exec
    // event (docs/security.md, "Exec"): Yama's scope 2 leaves that to
    // CAP_SYS_PTRACE (root here), scope 3 to no one.
    let yama = read_trim("/proc/sys/kernel/yama/ptrace_scope");
    rows.push(Row {
        key: "ptrace",
        feature: "ptrace of the program (exec)",
        here: match yama.as_deref() {
            None => "yes (no Yama)".into(),
            Some(v) => format!(
                "{} (kernel.yama.ptrace_scope={v})",
                if matches!(v, "0" | "1") || (v == "2" && root) { "yes" } else { "no" }
            ),
        },
        present: match yama.as_deref() {
            None | Some("0" | "1") => true,
            Some("2") => root,
            Some(_) => false,
        },
        cost: Cost::Fails,
        required: false,
        if_missing: "execs a policy decides (use_master_credentials, use_program_credentials, the rules) fail with EPERM; use_slave_credentials still works".into(),
    });

    let (container, seccomp) = container();
    rows.push(Row {
        key: "container",
        feature: "container, its seccomp mode",
        here: format!("{container}; seccomp: {seccomp}"),
        present: true,
        cost: Cost::Info,
        required: false,
        if_missing: "a container's seccomp profile may forbid seccomp(2) or unshare: the rows above say what it lets through".into(),
    });

    for r in &mut rows {
        if fake.iter().any(|k| k == r.key) {
            r.present = false;
            r.here = format!("no (faked by {FAKE_MISSING_ENV})");
            if r.cost == Cost::Info {
                r.cost = Cost::Weaker;
            }
        }
    }
    rows
}

/// The rights of Landlock ABI `abi`, by table.
fn landlock_rights(abi: i64) -> String {
    use init_script::landlock::{FS, NET, SCOPES};
    let names = |t: &[(&str, u64, i64)]| {
        let n: Vec<&str> = t.iter().filter(|r| r.2 <= abi).map(|r| r.0).collect();
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(" ")
        }
    };
    if abi <= 0 {
        return "none".into();
    }
    format!(
        "fs: {}; net: {}; scoped: {}",
        names(FS),
        names(NET),
        names(SCOPES)
    )
}

/// A file of /proc/sys, trimmed; None when it does not exist.
fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether we run in a container (and which kind, as far as it says), and
/// our seccomp mode from /proc/self/status.
fn container() -> (String, String) {
    let mut kind = None;
    if let Ok(env) = std::fs::read("/proc/1/environ") {
        for var in env.split(|&b| b == 0) {
            if let Some(v) = var.strip_prefix(b"container=") {
                kind = Some(String::from_utf8_lossy(v).into_owned());
            }
        }
    }
    if kind.is_none() && std::path::Path::new("/.dockerenv").exists() {
        kind = Some("docker".into());
    }
    if kind.is_none() && std::path::Path::new("/run/.containerenv").exists() {
        kind = Some("podman".into());
    }
    if kind.is_none() {
        if let Ok(c) = std::fs::read_to_string("/proc/1/cgroup") {
            for k in ["docker", "kubepods", "containerd", "lxc", "libpod"] {
                if c.contains(k) {
                    kind = Some(k.into());
                    break;
                }
            }
        }
    }
    let container = match kind {
        Some(k) => format!("in a container ({k})"),
        None => "no container seen".into(),
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let seccomp = match field("Seccomp:").as_deref() {
        Some("0") => "none".to_string(),
        Some("1") => "strict".to_string(),
        Some("2") => format!(
            "filtered ({} filters)",
            field("Seccomp_filters:").unwrap_or_else(|| "?".into())
        ),
        Some(v) => format!("mode {v}"),
        None => "unknown".into(),
    };
    (container, seccomp)
}

/// Whether every piece the default posture needs is here.
pub fn ready(rows: &[Row]) -> bool {
    rows.iter().all(|r| r.present || !r.required)
}

/// The table (feature, status, what its absence costs, what is here),
/// what each missing piece means, and the verdict's line.
pub fn render(rows: &[Row]) -> String {
    let head = ["FEATURE", "STATUS", "IF MISSING", "HERE"];
    let status = |r: &Row| match (r.present, r.cost) {
        (_, Cost::Info) => "info",
        (true, _) => "ok",
        (false, _) if r.required => "MISSING",
        (false, _) => "missing",
    };
    let w0 = rows
        .iter()
        .map(|r| r.feature.len())
        .chain([head[0].len()])
        .max()
        .unwrap_or(0);
    let w1 = 7;
    let w2 = rows
        .iter()
        .map(|r| r.cost.word().len())
        .chain([head[2].len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:w0$}  {:w1$}  {:w2$}  {}",
        head[0], head[1], head[2], head[3]
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r.feature,
            status(r),
            r.cost.word(),
            r.here
        );
    }
    let missing: Vec<&Row> = rows.iter().filter(|r| !r.present).collect();
    if !missing.is_empty() {
        let _ = writeln!(out);
    }
    for r in &missing {
        let _ = writeln!(out, "{} ({}): {}", r.key, r.cost.word(), r.if_missing);
    }
    let names: Vec<&str> = missing.iter().map(|r| r.key).collect();
    let _ = writeln!(out);
    if ready(rows) {
        if names.is_empty() {
            let _ = writeln!(
                out,
                "verdict: ready: everything the default posture needs is here"
            );
        } else {
            let _ = writeln!(
                out,
                "verdict: ready: the default posture has what it needs (missing: {})",
                names.join(", ")
            );
        }
    } else {
        let _ = writeln!(
            out,
            "verdict: not ready: the default posture needs what is missing here: {}",
            names.join(", ")
        );
    }
    out
}

/// `supervisor doctor`: prints the table; 0 when ready, else 1.
pub fn main() -> i32 {
    let rows = probe();
    print!("{}", render(&rows));
    if ready(&rows) {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_probe_runs_on_this_kernel() {
        // The test machines run Linux >= 5.19 (the supervisor's tests need it).
        let l = sys::probe_listener().expect("the probe's child ran");
        assert!(
            l.new_listener && l.wait_killable_recv && l.addfd_setfd && l.addfd_send,
            "{l:?}"
        );
    }

    #[test]
    fn rights_follow_the_abi() {
        assert_eq!(landlock_rights(0), "none");
        let r = landlock_rights(1);
        assert!(
            r.contains("execute") && !r.contains("refer") && r.contains("net: none"),
            "{r}"
        );
        assert!(landlock_rights(6).contains("scoped: abstract_unix_socket signal"));
    }
}
