//! `supervisor learn`: learn → run round trips on real jobs (a C build
//! with mktemp, a Python script using tempfile, a shell pipeline through
//! `sh -c`), each passing under the learnt policy with the output it has
//! natively; a changed job touching a new file is denied (errno, --log,
//! --summary); the learnt policy never lets a job read `$HOME/.ssh`, even
//! when the job stat()ed `/` and `$HOME`, with or without `--base ci`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::util::{canon, supervisor, tempdir, write_file, Cmd, Output, Policy};

/// `supervisor learn -o OUT [--base BASE] -- ARGV` in `cwd` with `envs`.
fn learn(
    out: &Path,
    base: Option<&str>,
    argv: &[&str],
    cwd: &Path,
    envs: &[(&str, &Path)],
) -> Output {
    let mut a: Vec<OsString> = vec![supervisor().into(), "learn".into(), "-o".into(), out.into()];
    if let Some(b) = base {
        a.extend(["--base".into(), b.into()]);
    }
    a.push("--".into());
    a.extend(argv.iter().map(OsString::from));
    let mut c = Cmd::native(&a).cwd(cwd);
    for (k, v) in envs {
        c = c.env(k, v);
    }
    let o = c.run();
    assert!(!o.stderr.contains("panicked"), "{o}");
    o
}

/// `supervisor check FILE` is clean: exit 0, nothing on stderr.
fn check_clean(policy: &Path) {
    let o = Cmd::native(&[supervisor().as_ref(), "check".as_ref(), policy.as_os_str()]).run();
    o.assert_clean();
    assert!(o.stdout.contains(": ok"), "{o}");
}

/// The rules of a learnt policy (its non-comment lines).
fn rules_of(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("{ \""))
        .collect()
}

/// A job in a fresh workspace: the files it starts from, what it leaves
/// (removed before each run, so that every run starts alike).
struct Job {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    argv: Vec<String>,
    /// Relative to the workspace, or absolute.
    outputs: Vec<PathBuf>,
    envs: Vec<(&'static str, PathBuf)>,
}

impl Job {
    fn new(files: &[(&str, &str, u32)], argv: &[&str], outputs: &[&'static str]) -> Job {
        let dir = tempdir();
        let ws = canon(&dir).join("ws");
        std::fs::create_dir(&ws).unwrap();
        for (name, content, mode) in files {
            write_file(&ws.join(name), content, *mode);
        }
        Job {
            _dir: dir,
            ws,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(PathBuf::from).collect(),
            envs: Vec::new(),
        }
    }

    fn clean(&self) {
        for f in &self.outputs {
            let p = self.ws.join(f);
            let _ = std::fs::remove_file(&p);
            let _ = std::fs::remove_dir_all(&p);
        }
    }

    fn argv(&self) -> Vec<&str> {
        self.argv.iter().map(String::as_str).collect()
    }

    fn cmd(&self, policy: Option<&Path>) -> Cmd {
        let mut c = match policy {
            Some(p) => Cmd::supervised(Policy::file(p), &self.argv()),
            None => Cmd::native(&self.argv()),
        }
        .cwd(&self.ws);
        for (k, v) in &self.envs {
            c = c.env(k, v);
        }
        c
    }

    /// Natively, learnt, then again under the learnt policy: the same
    /// exit code and output.  Returns the policy's path and text.
    fn round_trip(&self, base: Option<&str>) -> (PathBuf, String) {
        self.clean();
        let native = self.cmd(None).run();
        native.assert_code(0);
        self.clean();
        let out = self.ws.parent().unwrap().join("learnt.lua");
        let envs: Vec<(&str, &Path)> = self.envs.iter().map(|(k, v)| (*k, v.as_path())).collect();
        let o = learn(&out, base, &self.argv(), &self.ws, &envs);
        o.assert_code(0);
        assert_eq!(o.stdout, native.stdout, "learning changed the output: {o}");
        let text = std::fs::read_to_string(&out).expect("the learnt policy");
        check_clean(&out);
        self.clean();
        let again = self.cmd(Some(&out)).option("--summary").run();
        assert_eq!(
            (again.code, &again.stdout),
            (native.code, &native.stdout),
            "under the learnt policy: {again}\nnatively: {native}\npolicy:\n{text}"
        );
        assert!(
            again.stderr.contains(", 0 denied"),
            "nothing denied: {again}\npolicy:\n{text}"
        );
        (out, text)
    }
}

const MAIN_C: &str = r#"#include <stdio.h>
int twice(int);
int main(void) { for (int i = 1; i <= 3; i++) printf("line %d\n", twice(i)); return 0; }
"#;
const UTIL_C: &str = "int twice(int x) { return 2 * x; }\n";
/// A build in the style of a configure script or a Makefile recipe: a
/// scratch file and directory from mktemp(1), objects made there.
const BUILD_SH: &str = r#"set -e
log=$(mktemp)
objs=$(mktemp -d)
cc -O0 -c main.c -o "$objs/main.o"
cc -O0 -c util.c -o "$objs/util.o"
cc "$objs/main.o" "$objs/util.o" -o hello
./hello > "$log"
sort -r "$log"
rm -rf "$log" "$objs"
"#;

fn c_build() -> Job {
    Job::new(
        &[
            ("main.c", MAIN_C, 0o644),
            ("util.c", UTIL_C, 0o644),
            ("build.sh", BUILD_SH, 0o755),
        ],
        &["/bin/sh", "build.sh"],
        &["hello"],
    )
}

#[test]
fn learn_round_trip_c_build_with_mktemp() {
    let job = c_build();
    let (_, text) = job.round_trip(None);
    // mktemp's names and cc's temporary files: globs on their random
    // part, not the names of the learning run.
    let rules = rules_of(&text);
    assert!(
        rules.iter().any(|r| r.contains("\"/tmp/tmp.*/\"")),
        "mktemp -d folded to a glob: {text}"
    );
    assert!(
        rules.iter().any(|r| r.contains("\"/tmp/tmp.*\"")),
        "mktemp folded to a glob: {text}"
    );
    assert!(
        rules.iter().any(|r| r.contains("\"/tmp/cc*.")),
        "cc's temporary files: {text}"
    );
    assert!(
        !rules
            .iter()
            .any(|r| r.contains("/tmp/tmp.") && !r.contains("tmp.*")),
        "no exact mktemp name: {text}"
    );
    // And the build still works when run twice (the outputs exist).
    let o = job
        .cmd(Some(&job.ws.parent().unwrap().join("learnt.lua")))
        .run();
    o.assert_code(0);
}

const JOB_PY: &str = r#"import os, tempfile
with tempfile.NamedTemporaryFile("w+", suffix=".txt") as f:
    f.write("hello\n"); f.flush(); f.seek(0)
    print(f.read().strip())
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "data")
    with open(p, "w") as g:
        g.write("x" * 10)
    print(os.path.getsize(p))
fd, name = tempfile.mkstemp()
os.write(fd, b"abc"); os.close(fd)
print(open(name).read()); os.unlink(name)
with open("result.txt", "w") as r:
    r.write("done\n")
print(open("result.txt").read().strip())
"#;

fn python() -> &'static str {
    // Debian's, not a user's shim (CI installs python3, .ci/setup).
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        panic!("python3 is missing (/usr/bin/python3: install it, see .ci/setup)")
    }
}

#[test]
fn learn_round_trip_python_tempfile() {
    let job = Job::new(
        &[("job.py", JOB_PY, 0o644)],
        &[python(), "job.py"],
        &["result.txt", "__pycache__"],
    );
    let (_, text) = job.round_trip(None);
    let rules = rules_of(&text);
    assert!(
        rules.iter().any(|r| r.contains("\"/tmp/tmp*.txt\"")),
        "NamedTemporaryFile: {text}"
    );
    assert!(
        rules.iter().any(|r| r.contains("\"/tmp/tmp*/\"")),
        "TemporaryDirectory: {text}"
    );
}

const PIPELINE: &str = "cat words.txt | tr a-z A-Z | sort | uniq -c | sort -rn > counts.txt; \
                        head -n 2 counts.txt; wc -l < counts.txt";

fn pipeline(extra: &str) -> Job {
    let script = format!("{PIPELINE}{extra}");
    Job::new(
        &[("words.txt", "b\na\nc\na\nb\na\n", 0o644)],
        &["/bin/sh", "-c", &script],
        &["counts.txt", "new.txt"],
    )
}

#[test]
fn learn_round_trip_shell_pipeline() {
    let mut job = pipeline("");
    // Debian's PATH: the shell looks each program up in the entries before
    // /usr/bin, which do not hold it.
    job.envs.push((
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    ));
    let (_, text) = job.round_trip(None);
    // PATH lookups: the programs found, and the PATH entries that did
    // not hold them exact, never whole PATH directories.
    let rules = rules_of(&text);
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/bin",
    ] {
        assert!(
            !rules.iter().any(|r| r.contains(&format!("\"{dir}/\""))),
            "{dir}/ whole: {text}"
        );
    }
    assert!(
        text.contains("a PATH lookup of tr") || text.contains("a PATH entry that does not exist"),
        "{text}"
    );
}

/// A changed job (it writes a file it never wrote while learning) fails
/// under the learnt policy: EACCES, and the denial with its path in the
/// audit log and the summary.
#[test]
fn learnt_policy_denies_a_changed_job() {
    let job = pipeline("");
    let (policy, text) = job.round_trip(None);
    let changed = pipeline("; echo extra > new.txt");
    // The same workspace: the changed job runs where the job was learnt.
    let mut argv = changed.argv();
    let script = argv.pop().unwrap().to_string();
    argv.push(&script);
    let log = job.ws.parent().unwrap().join("audit.jsonl");
    job.clean();
    let o = Cmd::supervised(Policy::file(&policy), &argv)
        .cwd(&job.ws)
        .option("--summary")
        .option("--log")
        .option(&log)
        .run();
    assert_ne!(o.code, 0, "{o}\npolicy:\n{text}");
    assert!(o.stderr.contains("new.txt: Permission denied"), "{o}");
    assert!(!job.ws.join("new.txt").exists());
    let new = job.ws.join("new.txt");
    let new = new.to_str().unwrap();
    // --summary: the denied path.
    let denied = o.stderr.split("denied:").nth(1).unwrap_or("");
    assert!(
        denied
            .lines()
            .any(|l| l.contains(new) && l.contains("EACCES")),
        "{o}"
    );
    // --log: its record.
    let records = std::fs::read_to_string(&log).unwrap();
    let rec: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["denied"] == true)
        .collect();
    assert!(
        rec.iter()
            .any(|r| r.to_string().contains(new) && r["errno"] == "EACCES"),
        "{records}"
    );
}

/// The job of the secrets test: stat() of `/` and `$HOME`, a listing of
/// `$HOME`, a file written.
const PEEK: &str = "stat -c %n / \"$HOME\" >/dev/null && ls -a \"$HOME\" >/dev/null && echo ok > out.txt && cat out.txt";

fn home_with_secret(ws: &Path) -> PathBuf {
    let home = ws.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    write_file(&home.join(".ssh/id_ed25519"), "PRIVATE KEY\n", 0o600);
    write_file(&home.join(".profile"), "# profile\n", 0o644);
    home
}

/// Reading the key under `policy` is denied.
fn key_is_denied(policy: &Path, ws: &Path, home: &Path) {
    let key = home.join(".ssh/id_ed25519");
    let o = Cmd::supervised(Policy::file(policy), &["/bin/cat", key.to_str().unwrap()])
        .cwd(ws)
        .env("HOME", home)
        .option("--summary")
        .run();
    assert_ne!(o.code, 0, "{o}");
    assert!(!o.stdout.contains("PRIVATE KEY"), "{o}");
    assert!(o.stderr.contains("Permission denied"), "{o}");
    assert!(
        o.stderr.contains("id_ed25519"),
        "the denial in --summary: {o}"
    );
}

#[test]
fn learn_base_ci_never_allows_reading_home_ssh() {
    let mut job = pipeline("");
    job.argv = vec!["/bin/sh".into(), "-c".into(), PEEK.into()];
    job.outputs = vec!["out.txt".into()];
    let home = home_with_secret(&job.ws);
    job.envs.push(("HOME", home.clone()));
    let (policy, text) = job.round_trip(Some("ci"));
    assert!(text.contains("return rules.extend(\"ci\", {"), "{text}");
    for r in rules_of(&text) {
        assert!(!r.contains(".ssh"), "{r} in\n{text}");
        assert!(
            !r.contains("\"read\", \"/\"") || r.contains("exact = true"),
            "{r}"
        );
    }
    key_is_denied(&policy, &job.ws, &home);
}

/// Without a base too: the job read the key while learning (everything is
/// allowed then), the learnt policy still denies it.
#[test]
fn learn_never_allows_reading_home_ssh_even_when_the_job_did() {
    let mut job = pipeline("");
    job.argv = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("{PEEK} && cat \"$HOME/.ssh/id_ed25519\" >/dev/null"),
    ];
    job.outputs = vec!["out.txt".into()];
    let home = home_with_secret(&job.ws);
    job.envs.push(("HOME", home.clone()));
    job.clean();
    let out = job.ws.parent().unwrap().join("learnt.lua");
    let o = learn(&out, None, &job.argv(), &job.ws, &[("HOME", &home)]);
    o.assert_code(0);
    let text = std::fs::read_to_string(&out).unwrap();
    check_clean(&out);
    let rules = rules_of(&text);
    assert!(
        rules
            .iter()
            .any(|r| r == &r#"{ "allow", "read", "/", exact = true },"#),
        "the root alone: {text}"
    );
    for r in &rules {
        assert!(
            !(r.contains(".ssh") && r.contains("allow")),
            "{r} in\n{text}"
        );
    }
    assert!(text.contains("Never learnt"), "{text}");
    // $HOME itself (its stat and listing), nothing below it; and no
    // directory above it folded (the workspace holds it here).
    let h = home.to_str().unwrap();
    let ws = job.ws.to_str().unwrap();
    for r in &rules {
        if r.contains("\"allow\"") {
            assert!(!r.contains(&format!("\"{h}/")), "{r} in\n{text}");
            assert!(!r.contains(&format!("\"{ws}/\"")), "{r} in\n{text}");
        }
    }
    key_is_denied(&out, &job.ws, &home);
    // The rest of the job (stat of / and $HOME, its listing) replays.
    job.argv[2] = PEEK.into();
    job.clean();
    let o = job.cmd(Some(&out)).run();
    o.assert_code(0);
    assert_eq!(o.stdout, "ok\n", "{o}");
}

/// A directory outside the workspace and outside /tmp (ci.lua's /tmp is
/// private): next to the C probes.
fn outside_dir() -> tempfile::TempDir {
    let base = crate::util::probe_dir().with_file_name("supervisor-it-learn");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new()
        .prefix("out-")
        .tempdir_in(&base)
        .unwrap()
}

/// `--base ci`: only what ci denies by default is learnt (a file written
/// outside the workspace), nothing ci already allows (reading the system,
/// the workspace); the job passes again under the learnt policy, which is
/// ci completed, and a changed job writing next to that file is denied.
#[test]
fn learn_base_ci_learns_only_what_the_job_needed_beyond_it() {
    let out_dir = outside_dir();
    let out = out_dir.path().canonicalize().unwrap();
    let mut job = pipeline("");
    job.argv = vec![
        "/bin/sh".into(),
        "-c".into(),
        "sort words.txt > sorted.txt && cp sorted.txt \"$OUT/report.txt\" && cat \"$OUT/report.txt\""
            .into(),
    ];
    job.outputs = vec!["sorted.txt".into(), out.join("report.txt")];
    job.envs.push(("OUT", out.clone()));
    let (policy, text) = job.round_trip(Some("ci"));
    let report = out.join("report.txt");
    let report = report.to_str().unwrap();
    let rules = rules_of(&text);
    for kind in ["create", "write"] {
        let r = format!("{{ \"allow\", \"{kind}\", \"{report}\" }},");
        assert!(rules.contains(&r.as_str()), "{r} not in\n{text}");
    }
    let ws = job.ws.to_str().unwrap();
    for r in &rules {
        assert!(!r.contains(ws), "ci allows the workspace already: {r}");
        assert!(!r.contains("\"read\""), "ci allows reading already: {r}");
    }
    // The job changed: it writes a second file there.
    job.clean();
    let script = "sort words.txt > sorted.txt && cp sorted.txt \"$OUT/other.txt\"";
    let o = Cmd::supervised(Policy::file(&policy), &["/bin/sh", "-c", script])
        .cwd(&job.ws)
        .env("OUT", &out)
        .option("--summary")
        .run();
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("other.txt': Permission denied"), "{o}");
    let other = out.join("other.txt");
    assert!(!other.exists());
    let denied = o.stderr.split("denied:").nth(1).unwrap_or("");
    assert!(
        denied
            .lines()
            .any(|l| l.contains(other.to_str().unwrap()) && l.contains("EACCES")),
        "{o}"
    );
}
