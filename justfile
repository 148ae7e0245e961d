# supervisor: build, test, lint, bench, demo.  `just --list` shows the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Build the supervisor (release).
build:
    cargo build --release --workspace

# The whole test suite: unit tests and the integration tests (real
# seccomp filters, real static and dynamic programs).
test:
    cargo test --workspace --no-fail-fast

# Formatting, clippy (warnings as errors), and the layering: no import
# cycle over 3 files among any crate's modules.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    python3 tools/import-cycles.py bpf/src init-script/src kernel/src libc-service/src rules/src supervisor/src

# Demo: a static busybox under example policies.
demo: build
    bash .ci/demo

# Benchmarks (writes BENCHMARKS.md).
bench: build
    bash bench/run

# A/B of the per-call CPU cost: OLD binary against the current build.
bench-ab OLD: build
    bash bench/ab {{OLD}} target/release/supervisor
