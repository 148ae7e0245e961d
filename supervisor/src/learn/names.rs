//! Paths as the generaliser sees them: their shape (depth, parent, hidden
//! components), where credentials live ([`secret`]), numbers that change
//! from run to run ([`unnumber`]), temporary names ([`temp_glob`]), and
//! patterns that match a path literally ([`literal`]).

pub(super) fn depth(p: &[u8]) -> usize {
    p.split(|&b| b == b'/').filter(|c| !c.is_empty()).count()
}

pub(super) fn parent(p: &[u8]) -> Option<&[u8]> {
    let p = p.strip_suffix(b"/").unwrap_or(p);
    let i = p.iter().rposition(|&b| b == b'/')?;
    Some(&p[..i + 1])
}

pub(super) fn hidden(dir: &[u8]) -> bool {
    dir.split(|&b| b == b'/').any(|c| c.first() == Some(&b'.'))
}

/// Under `dir/` (or `dir` itself)?
pub(super) fn under(p: &[u8], dir: &[u8]) -> bool {
    let d = dir.strip_suffix(b"/").unwrap_or(dir);
    p == d || (p.starts_with(d) && p.get(d.len()) == Some(&b'/'))
}

/// Where credentials live: never learnt, whatever the job did.  `home`
/// is `$HOME`.  Any path through a `.ssh`, `.gnupg`, `.aws`, `.azure`,
/// `.kube` or `.docker` directory counts, wherever it is.
pub fn secret(p: &[u8], home: Option<&[u8]>) -> bool {
    const DIRS: [&[u8]; 6] = [b".ssh", b".gnupg", b".aws", b".azure", b".kube", b".docker"];
    const HOME: [&[u8]; 9] = [
        b".config/gcloud",
        b".config/gh",
        b".netrc",
        b".git-credentials",
        b".npmrc",
        b".pypirc",
        b".cargo/credentials",
        b".cargo/credentials.toml",
        b".config/hub",
    ];
    let comps: Vec<&[u8]> = p.split(|&b| b == b'/').collect();
    if comps.iter().any(|c| DIRS.contains(c)) {
        return true;
    }
    // Agents holding keys: ssh-agent (`/tmp/ssh-XXXX/agent.N`), gpg-agent
    // and keyrings under /run/user; sockets that are root (docker,
    // containerd, podman).
    let agent = comps
        .windows(2)
        .any(|w| w[0].starts_with(b"ssh-") && w[1].starts_with(b"agent."));
    let run_user = p.starts_with(b"/run/user/")
        && comps
            .iter()
            .any(|c| *c == b"gnupg" || *c == b"keyring" || *c == b"podman");
    const ROOT_SOCKETS: [&[u8]; 3] = [b"docker.sock", b"containerd.sock", b"podman.sock"];
    if agent || run_user || comps.last().is_some_and(|c| ROOT_SOCKETS.contains(c)) {
        return true;
    }
    if let Some(h) = home {
        if let Some(rest) = p.strip_prefix(h).and_then(|r| r.strip_prefix(b"/")) {
            if HOME.iter().any(|s| under(rest, s)) {
                return true;
            }
        }
    }
    if p == b"/etc/shadow" || p == b"/etc/gshadow" || p.starts_with(b"/etc/ssh/ssh_host_") {
        return !p.ends_with(b".pub");
    }
    // /proc/<pid>/environ, /proc/<pid>/mem (and per thread).
    p.starts_with(b"/proc/") && matches!(comps.last(), Some(&b"environ") | Some(&b"mem"))
}

/// The explicit denials a policy without a base carries: learnt prefixes
/// can never reach the secrets.
pub(super) fn secret_rules(home: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"/tmp/ssh-*/".to_vec(),
        b"/run/user/*/gnupg/".to_vec(),
        b"/run/user/*/keyring/".to_vec(),
        b"/etc/shadow".to_vec(),
        b"/etc/gshadow".to_vec(),
        b"/etc/ssh/*_key".to_vec(),
        b"/proc/*/environ".to_vec(),
        b"/proc/*/mem".to_vec(),
        b"/proc/*/task/*/environ".to_vec(),
        b"/proc/*/task/*/mem".to_vec(),
    ];
    if let Some(h) = home {
        let h = literal(h);
        for s in [
            &b".ssh/"[..],
            b".gnupg/",
            b".aws/",
            b".azure/",
            b".kube/",
            b".docker/",
            b".config/gcloud/",
            b".config/gh/",
            b".netrc",
            b".git-credentials",
            b".npmrc",
            b".pypirc",
            b".cargo/credentials",
            b".cargo/credentials.toml",
        ] {
            let mut p = h.clone();
            p.push(b'/');
            p.extend_from_slice(s);
            v.push(p);
        }
    }
    v
}

/// Numbers that change from run to run: `/proc/1234/x` → `/proc/*/x`
/// (and `/proc/1234/task/1235/…`), `pipe:[12]` → `pipe:*`,
/// `socket:[12]` → `socket:*`, `/dev/pts/3` → `/dev/pts/*`.
pub(super) fn unnumber(p: &[u8]) -> Vec<u8> {
    for obj in [&b"pipe:["[..], b"socket:["] {
        if p.starts_with(obj) && p.ends_with(b"]") {
            let mut out = obj[..obj.len() - 1].to_vec();
            out.push(b'*');
            return out;
        }
    }
    if let Some(n) = p.strip_prefix(b"/dev/pts/") {
        if !n.is_empty() && n.iter().all(u8::is_ascii_digit) {
            return b"/dev/pts/*".to_vec();
        }
    }
    let Some(rest) = p.strip_prefix(b"/proc/") else {
        return p.to_vec();
    };
    let mut out = b"/proc".to_vec();
    let mut after_task = true; // the component after /proc counts as a pid
    for c in rest.split(|&b| b == b'/') {
        out.push(b'/');
        if after_task && !c.is_empty() && c.iter().all(u8::is_ascii_digit) {
            out.push(b'*');
        } else {
            out.extend_from_slice(c);
        }
        after_task = c == b"task";
    }
    out
}

/// Prefixes of temporary names that are not random: Python's `tmp`,
/// gcc's `cc`.
const TEMP_PREFIXES: [&[u8]; 2] = [b"tmp", b"cc"];

/// The glob of a temporary name, if it has a random part: before the
/// suffix (which may hold dots: `ccw1ycL2.cdtor.o`), a run of at least 6
/// letters, digits or `_` after a known prefix (`tmp`, `cc`), or after a
/// separator (`.`, `-`, start of the name) with a digit or capital in it
/// (not a word) — or, in a temporary directory (`in_temp`), of exactly 8
/// (Python's tempfile names, which may be all lowercase).  Only that part
/// becomes `*`: `/tmp/tmp.G3Wv7aB9xQ` → `/tmp/tmp.*`, `/tmp/tmpk3j_9x2q` →
/// `/tmp/tmp*`, `/tmp/ccAb12Cd.s` → `/tmp/cc*.s`.
pub fn temp_glob(p: &[u8], in_temp: bool) -> Option<Vec<u8>> {
    let dir = parent(p)?;
    let name = &p[dir.len()..];
    let name_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let random = |x: &[u8]| {
        x.len() >= 6
            && x.iter().all(name_char)
            && (x
                .iter()
                .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                || (in_temp && x.len() == 8))
    };
    let mut cuts: Vec<usize> = name
        .iter()
        .enumerate()
        .filter(|(i, &b)| b == b'.' && *i > 0)
        .map(|(i, _)| i)
        .collect();
    cuts.push(name.len());
    for cut in cuts {
        let start = name[..cut]
            .iter()
            .rposition(|b| !name_char(b))
            .map_or(0, |i| i + 1);
        let run = &name[start..cut];
        // A known prefix, then at least 6 characters of any kind.
        let known = TEMP_PREFIXES
            .iter()
            .find(|pre| run.starts_with(pre) && run.len() >= pre.len() + 6);
        // mktemp(1)'s template `tmp.XXXXXXXXXX`: random whatever it spells.
        let mktemp = name[..start].ends_with(b"tmp.") && run.len() >= 6;
        let from = match known {
            Some(pre) => start + pre.len(),
            None if mktemp || random(run) => start,
            None => continue,
        };
        let mut g = dir.to_vec();
        g.extend_from_slice(&name[..from]);
        g.push(b'*');
        g.extend_from_slice(&name[cut..]);
        return Some(g);
    }
    None
}

/// `p` as a pattern that matches just itself (docs/rules.md): `\`, `*`
/// and `?` escaped, `$` doubled.  Escaping keeps `/`, letters and digits,
/// so the folding and globbing below work on escaped paths alike.
pub fn literal(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for &b in p {
        match b {
            b'\\' | b'*' | b'?' => out.extend([b'\\', b]),
            b'$' => out.extend(b"$$"),
            b => out.push(b),
        }
    }
    out
}
