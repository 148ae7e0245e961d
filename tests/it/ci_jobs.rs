//! Ordinary CI jobs under policies/ci.lua (issue 18), each in a fresh
//! temporary workspace, run natively and supervised from the same files:
//! the output must be the same, and the supervised run must not have been
//! refused anything but what every job does without (nscd, clone3) and
//! the secrets ci.lua keeps from it ($HOME/.npmrc).  Nothing reaches the
//! network: npm installs a local tarball, cargo builds a path dependency
//! `--offline`, go builds a module with no dependencies (`GOPROXY=off`),
//! pip installs from an index the test serves on 127.0.0.1.
//!
//! The tools come from .ci/setup (npm, golang-go, make, gcc, tar,
//! python3-venv) and the Rust toolchain that runs the tests.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::rules::dir_outside_tmp;
use crate::util::{canon, need, tempdir, Cmd, Output, Policy};

/// One job: its files, the shell script that runs it, its environment.
struct Job {
    /// (path relative to the workspace, content); parents are created.
    files: Vec<(&'static str, String)>,
    /// Run with `sh -c` in the workspace.
    script: String,
    /// Extra environment: `$WS` and `$HOME` in values are replaced by the
    /// run's workspace and home.
    env: Vec<(String, String)>,
}

/// The environment of a job, from pairs of literals.
fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What one run of a job left.
struct Ran {
    out: Output,
    ws: PathBuf,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

impl Job {
    fn run(&self, supervised: bool) -> Ran {
        let dir = tempdir();
        let ws = canon(&dir);
        for (p, content) in &self.files {
            let path = ws.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        let home = dir_outside_tmp("job-home");
        let argv = ["sh", "-c", &self.script];
        let mut c = if supervised {
            Cmd::supervised(Policy::example("ci"), &argv).option("--summary")
        } else {
            Cmd::native(&argv)
        };
        c = c.cwd(&ws).env("HOME", &home);
        for (k, v) in &self.env {
            let v = v
                .replace("$WS", &ws.to_string_lossy())
                .replace("$HOME", &home.to_string_lossy());
            c = c.env(k, v);
        }
        let out = c.timeout(std::time::Duration::from_secs(300)).run();
        Ran {
            out,
            ws,
            home,
            _dir: dir,
        }
    }

    /// Runs the job natively, then under ci.lua; both must succeed with
    /// the same stdout (workspace and home written `$WS`, `$HOME`), and
    /// the supervised run must have no denial.
    ///
    /// `secrets`: what the job may be refused besides (the end of a
    /// target): files ci.lua keeps from every job, which the tool reads
    /// if they exist (`$HOME/.npmrc`, `$HOME/.netrc`).
    fn same_as_native(&self, secrets: &[&str]) -> (Ran, Ran) {
        let native = self.run(false);
        native.out.assert_code(0);
        let sup = self.run(true);
        sup.out.assert_code(0);
        let norm = |r: &Ran| {
            r.out
                .stdout
                .replace(&*r.ws.to_string_lossy(), "$WS")
                .replace(&*r.home.to_string_lossy(), "$HOME")
        };
        assert_eq!(
            norm(&sup),
            norm(&native),
            "supervised and native outputs differ:\n{}\nnative: {}",
            sup.out,
            native.out
        );
        let unexpected: Vec<String> = unexpected_denials(&sup.out.stderr)
            .into_iter()
            .filter(|l| !secrets.iter().any(|s| l.ends_with(s)))
            .collect();
        assert!(
            unexpected.is_empty(),
            "the job was refused {unexpected:?}: {}",
            sup.out
        );
        (native, sup)
    }
}

/// The denials of the summary in `stderr` besides those every job gets
/// and does without: glibc's connect to nscd's socket (name service
/// lookups, which could resolve any host name: denied by ci.lua) and
/// clone3 (refused by the posture; glibc falls back to clone).
fn unexpected_denials(stderr: &str) -> Vec<String> {
    let summary = stderr
        .split("supervisor: summary: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    let Some(den) = summary.split("\ndenied:\n").nth(1) else {
        return Vec::new();
    };
    den.split("requests:\n")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| l.starts_with("    "))
        .filter(|l| {
            let target = l.split_whitespace().last().unwrap_or("");
            !matches!(
                target,
                "unix:/var/run/nscd/socket" | "unix:/run/nscd/socket" | "clone3"
            )
        })
        .map(str::to_string)
        .collect()
}

impl Drop for Ran {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// npm installs a package from a local tarball (made with tar as
/// `npm pack` makes it: a `package/` directory), then runs `npm test`
/// and a script of package.json.
#[test]
fn npm_install_of_a_local_tarball_and_npm_test() {
    need("npm", "npm");
    let job = Job {
        files: vec![
            (
                "greet/package/package.json",
                r#"{ "name": "greet", "version": "1.0.0", "main": "index.js", "license": "MIT" }"#
                    .into(),
            ),
            (
                "greet/package/index.js",
                "module.exports = (n) => 'hello, ' + n;\n".into(),
            ),
            (
                "app/package.json",
                r#"{ "name": "app", "version": "1.0.0", "private": true, "license": "MIT",
  "scripts": { "test": "node test.js", "greet": "node -e \"console.log(require('greet')('ci'))\"" } }"#
                    .into(),
            ),
            (
                "app/test.js",
                "const g = require('greet');\nif (g('x') !== 'hello, x') process.exit(1);\nconsole.log('npm test passed');\n"
                    .into(),
            ),
        ],
        script: "tar -czf greet-1.0.0.tgz -C greet package && cd app \
                 && npm install --offline --no-audit --no-fund --silent ../greet-1.0.0.tgz \
                 && npm test --silent && npm run --silent greet \
                 && cat node_modules/greet/package.json && grep -c greet package-lock.json"
            .into(),
        env: env(&[
            // The cache in the workspace; no update check.
            ("npm_config_cache", "$WS/.npm"),
            ("npm_config_update_notifier", "false"),
        ]),
    };
    let (_, sup) = job.same_as_native(&["/.npmrc"]);
    assert!(
        sup.out.stdout.contains("npm test passed\nhello, ci\n"),
        "{}",
        sup.out
    );
    assert!(sup.ws.join("app/node_modules/greet/index.js").is_file());
}

/// The Rust toolchain running the tests: cargo itself, and rustup's home
/// (the job's HOME is another directory).
fn rust_env() -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_default();
    let rustup = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| format!("{home}/.rustup"));
    vec![("RUSTUP_HOME".into(), rustup)]
}

/// cargo builds and runs a crate with a path dependency, offline, with
/// CARGO_HOME and the target directory in the workspace.
#[test]
fn cargo_build_of_a_crate_with_a_path_dependency_offline() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let script = format!(
        "cd app && '{cargo}' build --offline --quiet && ./target/debug/app \
         && '{cargo}' test --offline --quiet 2>&1 | grep -E '^test result: ok. 1 passed' | cut -c1-25"
    );
    let job = Job {
        files: vec![
            (
                "util/Cargo.toml",
                "[package]\nname = \"util\"\nversion = \"0.1.0\"\nedition = \"2021\"\n".into(),
            ),
            (
                "util/src/lib.rs",
                "pub fn add(a: i32, b: i32) -> i32 { a + b }\n".into(),
            ),
            (
                "app/Cargo.toml",
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\nutil = { path = \"../util\" }\n"
                    .into(),
            ),
            (
                "app/src/main.rs",
                "fn main() { println!(\"2 + 3 = {}\", util::add(2, 3)); }\n\
                 #[test]\nfn adds() { assert_eq!(util::add(2, 2), 4); }\n"
                    .into(),
            ),
        ],
        script,
        env: env(&[
            ("CARGO_HOME", "$WS/.cargo-home"),
            ("CARGO_TARGET_DIR", "$WS/app/target"),
        ]),
    };
    let mut job = job;
    job.env.extend(rust_env());
    let (_, sup) = job.same_as_native(&[]);
    assert_eq!(
        sup.out.stdout, "2 + 3 = 5\ntest result: ok. 1 passed\n",
        "{}",
        sup.out
    );
}

/// go builds and tests a module with a package of its own, with its build
/// cache in the default place ($HOME/.cache/go-build) made writable by
/// SUPERVISOR_WRITABLE: the cache is really written.
#[test]
fn go_build_and_test_of_a_module() {
    need("go", "golang-go");
    let job = Job {
        files: vec![
            ("go.mod", "module example.org/hello\n\ngo 1.19\n".into()),
            (
                "main.go",
                "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.org/hello/greet\"\n)\n\n\
                 func main() { fmt.Println(greet.Hello(\"ci\")) }\n"
                    .into(),
            ),
            (
                "greet/greet.go",
                "package greet\n\nfunc Hello(n string) string { return \"hello, \" + n }\n".into(),
            ),
            (
                "greet/greet_test.go",
                "package greet\n\nimport \"testing\"\n\n\
                 func TestHello(t *testing.T) {\n\tif Hello(\"x\") != \"hello, x\" {\n\t\tt.Fatal(Hello(\"x\"))\n\t}\n}\n"
                    .into(),
            ),
        ],
        script: "go build -o hello . && ./hello && go test ./... | cut -f1,2".into(),
        env: env(&[
            ("GOPROXY", "off"),
            ("GOFLAGS", "-mod=mod"),
            ("CGO_ENABLED", "0"),
            ("SUPERVISOR_WRITABLE", "$HOME/.cache,$HOME/go"),
        ]),
    };
    let (_, sup) = job.same_as_native(&[]);
    assert_eq!(
        sup.out.stdout, "hello, ci\n?   \texample.org/hello\nok  \texample.org/hello/greet\n",
        "{}",
        sup.out
    );
    assert!(
        sup.home.join(".cache/go-build").is_dir(),
        "the build cache was not written"
    );
}

/// make -j2 builds a small C project with cc (two jobs at once: make's
/// jobserver pipe), then runs its test.
#[test]
fn make_j2_and_cc_of_a_c_project() {
    need("make", "make");
    need("cc", "gcc");
    let mut files = vec![(
        "Makefile",
        "CFLAGS = -O2 -Wall -Werror\nOBJS = main.o a.o b.o c.o d.o\n\
         all: prog\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\
         %.o: %.c lib.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\
         check: prog\n\t./prog > out.txt\n\tcat out.txt\n"
            .to_string(),
    )];
    files.push((
        "lib.h",
        "int fa(void);\nint fb(void);\nint fc(void);\nint fd(void);\n".into(),
    ));
    for (f, n) in [("a.c", 1), ("b.c", 2), ("c.c", 3), ("d.c", 4)] {
        let name = f.trim_end_matches(".c");
        files.push((
            f,
            format!("#include \"lib.h\"\nint f{name}(void) {{ return {n}; }}\n"),
        ));
    }
    files.push((
        "main.c",
        "#include <stdio.h>\n#include \"lib.h\"\n\
         int main(void) { printf(\"%d\\n\", fa() + fb() + fc() + fd()); return 0; }\n"
            .into(),
    ));
    let job = Job {
        files,
        script: "make -s -j2 check && ls *.o | wc -l".into(),
        env: vec![],
    };
    let (_, sup) = job.same_as_native(&[]);
    assert_eq!(sup.out.stdout, "10\n5\n", "{}", sup.out);
}

/// GNU tar packs a tree (modes, a setuid file, a symlink, a hard link, an
/// empty directory, times) and extracts it again, as root: the listing of
/// what was extracted is the same as natively, and the same as the tree.
#[test]
fn gnu_tar_create_and_extract_with_modes() {
    need("tar", "tar");
    let script = "\
        mkdir -p t/dir/sub t/empty && echo a > t/a && echo b > t/dir/b && echo x > t/x \
        && chmod 755 t/x && chmod 600 t/dir/b && chmod 4755 t/a && chmod 750 t/dir/sub \
        && chmod 1777 t/empty && ln -s ../a t/dir/link && ln t/a t/hard \
        && touch -h -d '2001-02-03 04:05:06' t/a t/x t/dir/b t/dir/link t/dir/sub t/empty t/dir t \
        && tar -cf t.tar t && mkdir out && tar -xpf t.tar -C out \
        && tar -tvf t.tar | awk '{print $1, $6}' | sort \
        && cd out && find t | sort | xargs stat -c '%A %h %Y %U %N' \
        && cmp t/a ../t/a && echo same";
    let job = Job {
        files: vec![],
        script: script.into(),
        env: vec![],
    };
    let (_, sup) = job.same_as_native(&[]);
    for want in [
        "-rwsr-xr-x 2 981173106 root 't/a'",
        "drwxrwxrwt 2 981173106 root 't/empty'",
        "lrwxrwxrwx 1 981173106 root 't/dir/link' -> '../a'",
        "-rw------- 1 981173106 root 't/dir/b'",
        "drwxr-x--- 2 981173106 root 't/dir/sub'",
    ] {
        assert!(
            sup.out.stdout.lines().any(|l| l == want),
            "no {want:?} in {}",
            sup.out
        );
    }
    assert!(sup.out.stdout.ends_with("same\n"), "{}", sup.out);
}

/// A PEP 503 "simple" index of one wheel on 127.0.0.1 (a thread of the
/// test); returns its port.  Serves until the test process ends.
fn serve_index(wheel: Vec<u8>, name: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, ctype, body) = if path == "/simple/greet/" {
                let html = format!(
                    "<!DOCTYPE html><html><body><a href=\"/files/{name}\">{name}</a></body></html>\n"
                );
                ("200 OK", "text/html", html.into_bytes())
            } else if path == format!("/files/{name}") {
                ("200 OK", "application/octet-stream", wheel.clone())
            } else {
                ("404 Not Found", "text/plain", b"not found\n".to_vec())
            };
            let head = format!(
                "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    port
}

/// A wheel of the pure-Python package `greet`, made with python3's zipfile.
fn greet_wheel(python: &str) -> Vec<u8> {
    let dir = tempdir();
    let out = dir.path().join("greet.whl");
    let script = r#"
import base64, hashlib, sys, zipfile
files = {
 "greet/__init__.py": "def hello(n):\n    return 'hello, ' + n\n",
 "greet-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: greet\nVersion: 1.0\n",
 "greet-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
rec = []
for n, c in files.items():
    d = base64.urlsafe_b64encode(hashlib.sha256(c.encode()).digest()).rstrip(b"=").decode()
    rec.append(f"{n},sha256={d},{len(c.encode())}")
rec.append("greet-1.0.dist-info/RECORD,,")
files["greet-1.0.dist-info/RECORD"] = "\n".join(rec) + "\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, c in files.items():
        z.writestr(n, c)
"#;
    let o = Cmd::native(&[python, "-c", script, out.to_str().unwrap()]).run();
    o.assert_code(0);
    std::fs::read(&out).unwrap()
}

/// python3 -m venv (with pip) and pip install from an index served on
/// loopback, then the package is imported.
#[test]
fn pip_install_from_an_index_on_loopback() {
    let python = "/usr/bin/python3";
    assert!(
        Path::new(python).is_file(),
        "{python} is needed (apt-get install python3 python3-venv; .ci/setup does)"
    );
    let port = serve_index(greet_wheel(python), "greet-1.0-py3-none-any.whl");
    let script = format!(
        "{python} -m venv v && v/bin/pip install --quiet --index-url http://127.0.0.1:{port}/simple/ greet \
         && v/bin/python -c 'import greet; print(greet.hello(\"ci\"))' \
         && v/bin/pip list --format=freeze | grep -i '^greet=='"
    );
    let job = Job {
        files: vec![],
        script,
        env: env(&[
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_CACHE_DIR", "$WS/.pip-cache"),
        ]),
    };
    let (_, sup) = job.same_as_native(&["/.netrc", "/etc/shadow", "/etc/gshadow"]);
    assert_eq!(sup.out.stdout, "hello, ci\ngreet==1.0\n", "{}", sup.out);
}

/// The variables ci.lua checks for a place under /tmp.
const CACHE_VARS: [&str; 13] = [
    "HOME",
    "XDG_CACHE_HOME",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "RUSTUP_HOME",
    "GOCACHE",
    "GOMODCACHE",
    "GOPATH",
    "npm_config_cache",
    "NPM_CONFIG_CACHE",
    "YARN_CACHE_FOLDER",
    "PIP_CACHE_DIR",
    "UV_CACHE_DIR",
];

/// Caches configured under /tmp (outside the workspace) would be written
/// to the job's private /tmp and lost: ci.lua says so, in one line on
/// stderr, naming each.  Inside a workspace under /tmp (which stays
/// visible), nothing is said.
#[test]
fn ci_lua_warns_of_caches_in_the_private_tmp() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    let home = dir_outside_tmp("warn-home");
    let base = || {
        let mut c = Cmd::supervised(Policy::example("ci"), &crate::util::busybox(&["true"]))
            .cwd(&ws)
            .env("SUPERVISOR_WRITABLE", "");
        for v in CACHE_VARS {
            c = c.env(v, ws.join(v.to_lowercase()));
        }
        c.env("HOME", &home)
    };
    // In the workspace: quiet.
    base().run().assert_clean();
    let o = base()
        .env("CARGO_HOME", "/tmp/cargo-home")
        .env("GOCACHE", "/tmp/go-build/")
        .env("npm_config_cache", "/tmp/npm")
        .env("PIP_CACHE_DIR", "/tmp")
        .env("SUPERVISOR_WRITABLE", "/tmp/w, /var/cache/x")
        .run();
    o.assert_code(0);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{o}");
    assert!(
        lines[0].starts_with("supervisor: ci.lua: warning: ") && lines[0].contains("lost"),
        "{o}"
    );
    for want in [
        "CARGO_HOME=/tmp/cargo-home",
        "GOCACHE=/tmp/go-build",
        "npm_config_cache=/tmp/npm",
        "PIP_CACHE_DIR=/tmp",
        "SUPERVISOR_WRITABLE=/tmp/w",
    ] {
        assert!(lines[0].contains(want), "no {want}: {o}");
    }
    assert!(!lines[0].contains("/var/cache/x"), "{o}");
    let _ = std::fs::remove_dir_all(&home);
}

/// `-v`: at the start, what ci.lua allows and what the Landlock backstop
/// refuses; then each denial on stderr as it is answered, one line with
/// the call, the path, the errno and the rule that decided; nothing for
/// what is allowed.
#[test]
fn verbose_prints_each_denial() {
    let ws_dir = tempdir();
    let ws = canon(&ws_dir);
    let home = dir_outside_tmp("verbose-home");
    std::fs::create_dir(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "KEY\n").unwrap();
    let key = home.join(".ssh/id_ed25519");
    let mut argv = crate::util::busybox(&["sh", "-c", "cat \"$1\"; echo ok > f; cat f", "sh"]);
    argv.push(key.into_os_string());
    let o = Cmd::supervised(Policy::example("ci"), &argv)
        .option("-v")
        .cwd(&ws)
        .env("HOME", &home)
        .env("SUPERVISOR_WRITABLE", "")
        .env("SUPERVISOR_ALLOW_HOSTS", "a.test, *.b.test")
        .run();
    o.assert_code(0);
    assert_eq!(o.stdout, "ok\n", "{o}");
    let h = home.display();
    let ours: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("supervisor: "))
        .collect();
    // At the start, what the policy allows and the Landlock backstop;
    // then the one denial.
    assert_eq!(ours.len(), 3, "{o}");
    assert_eq!(
        ours[0],
        format!(
            "supervisor: ci.lua: workspace {}; writable also none; hosts a.test,*.b.test; \
             a private /tmp and /dev/shm",
            ws.display()
        ),
        "{o}"
    );
    assert!(
        ours[1].starts_with("supervisor: Landlock backstop (init script): the program may not ")
            && ours[1].contains("write_file")
            && ours[1].contains("make_reg"),
        "{o}"
    );
    assert!(
        ours[2].starts_with(&format!(
            "supervisor: denied: open {h}/.ssh/id_ed25519: EACCES (rule "
        )) && ours[2].ends_with(&format!(" (deny read {h}/.ssh/))")),
        "{o}"
    );
    let _ = std::fs::remove_dir_all(&home);
}
