#!/usr/bin/env python3
"""Largest import cycle among the Rust modules of a crate's src/ (files as nodes, `crate::a::b` paths as edges).
(A copy of the workplace's shared/tools/import-cycles.py, run by `just lint` and CI: exit 1 when a cycle is over 3 files.)
Usage: import-cycles.py SRC_DIR...   Prints each strongly connected component of more than one file, largest first,
and last the size of the largest (0 when acyclic)."""
import os, re, sys
from collections import defaultdict

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        if '/tests' in root[len(src):]:
            continue
        for f in files:
            if not f.endswith('.rs') or f in ('tests.rs',):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'):
                rel = rel[:-1]
            mods[tuple(rel)] = p
    return mods

def edges(mods):
    g = defaultdict(set)
    pat = re.compile(r'\b(?:crate|super)((?:::[a-z_][a-z0-9_]*)+)')
    for m, p in mods.items():
        text = open(p, encoding='utf-8', errors='replace').read()
        text = re.sub(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{.*', '', text, flags=re.S)  # drop inline test modules
        # expand `crate::{a::b, c}` / `crate::x::{y, z}` into one path each
        def expand(m_):
            head, body = m_.group(1), m_.group(2)
            return ' '.join(f"{head}::{part.strip()}" for part in re.split(r',(?![^{]*})', body) if part.strip())
        for _ in range(3):
            text = re.sub(r'\b((?:crate|super)(?:::[a-z_][a-z0-9_]*)*)::\{([^{}]*)\}', expand, text)
        for mt in re.finditer(r'\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)', text):
            base = () if mt.group(1) == 'crate' else (m[:-1] if os.path.basename(p) not in ('mod.rs',) else m[:-1])
            parts = base + tuple(x for x in mt.group(2).split('::') if x)
            while parts and parts not in mods:
                parts = parts[:-1]
            if parts and parts != m:
                g[m].add(parts)
        # a module file using its own children (`use child::X`, `self::child`, `child::f()`) depends on them
        is_dir = os.path.basename(p) in ('mod.rs', 'lib.rs', 'main.rs')
        here = m if is_dir else m
        for child in [k for k in mods if len(k) == len(here) + 1 and k[:len(here)] == here]:
            if re.search(r'(?<![:\w])(?:self::)?' + child[-1] + r'::', text):
                g[m].add(child)
    return g

def sccs(nodes, g):
    idx, low, st, on, out, c = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in idx:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    for v in nodes:
        if v not in idx: visit(v)
    return out

biggest = 0
for src in sys.argv[1:]:
    mods = modules(src)
    comps = sorted((c for c in sccs(list(mods), edges(mods)) if len(c) > 1), key=len, reverse=True)
    for c in comps:
        print(f"{src}: cycle of {len(c)}: " + ", ".join('/'.join(x) or 'lib' for x in sorted(c)))
    biggest = max([biggest] + [len(c) for c in comps])
print(f"largest import cycle: {biggest} files")
sys.exit(0 if biggest <= 3 else 1)
