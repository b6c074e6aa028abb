#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetches the model files and PostgreSQL the tests use, checks
# formatting, lints and the dependency policy (cargo-deny), runs every test of the workspace,
# drives the server's OpenAI-compatible endpoints with the official openai Python client
# (tests/python), drives the guest widget in Chromium (scripts/browser-tests.sh), runs
# schemathesis against the HTTP API for a bounded time (scripts/schemathesis.sh), kills the
# server ten times while clients write to it, on each backend (tests/crash/crash_loop.py),
# fuzzes every document reader (scripts/fuzz.sh), then builds the bellhop Python package and
# runs its tests (crates/bellhop-py/tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Each phase is announced with the seconds since the start, so a slow run shows where it went.
step() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS" >&2; }

step "model files and PostgreSQL"

bash scripts/fetch-model.sh
# EmbeddingGemma-300M (1.2 GB, cached outside the clone): the multilingual model's parity tests.
bash scripts/fetch-model-gemma.sh
# all-mpnet-base-v2 (438 MB, cached likewise): the MPNet encoder's parity tests.
bash scripts/fetch-model-mpnet.sh
bash scripts/fetch-llm.sh
# PostgreSQL 18 with pgvector: the tests start and stop their own servers from it.
bash scripts/fetch-postgres.sh >/dev/null
step "format and the dependency policy"
cargo fmt --all -- --check
# The dependency policy (deny.toml): licenses, banned and duplicate crates, sources.
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "installing cargo-deny (a few minutes, once)" >&2
  # Lightly optimised: it checks one dependency graph in a second either way, and builds in
  # half the time of its release profile.
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    timeout 1800 cargo install cargo-deny --locked --version 0.20.2 ||
    echo "cargo-deny could not be installed: the dependency policy is NOT checked" >&2
fi
if command -v cargo-deny >/dev/null 2>&1; then
  cargo deny check licenses bans sources
fi
echo "cargo-deny: advisories are not checked (the advisory database cannot be fetched on this machine)"

step "cargo test, with clippy's lints"
# Clippy lints the workspace's crates while they are compiled for the tests, as
# `cargo clippy --all-targets -- -D warnings` would (clippy-driver wraps rustc for workspace
# members, which is how cargo-clippy runs it): the dependencies are compiled once, not first
# checked and then compiled again. Every cargo build below uses the same wrapper, so that it
# reuses these artifacts.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo test --workspace --locked

# The fuzz targets' instrumented build, at low priority while the HTTP-level tests below
# leave a core idle; they run at the end.
# Not linted: its own workspace, built with cargo-fuzz's instrumentation flags.
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS nice -n 19 bash scripts/fuzz.sh build &
fuzz_build=$!

# `cargo test --workspace` builds the CLI binary; build it if it is missing all the same.
bellhop_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/bellhop"
if [ ! -x "$bellhop_bin" ]; then
  cargo build -p bellhop-cli --locked
fi
step "openai client tests"
venv=.venv-tests
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r tests/python/requirements.txt
BELLHOP_BIN="$bellhop_bin" "$venv/bin/python" -m pytest -q tests/python
step "browser tests"
BELLHOP_BIN="$bellhop_bin" bash scripts/browser-tests.sh
step "schemathesis"
SCHEMATHESIS_MAX_TIME=120 BELLHOP_BIN="$bellhop_bin" bash scripts/schemathesis.sh
step "crash loops"
# Ten SIGKILLs of the server while clients write over HTTP, on the embedded store and on
# PostgreSQL (the database crashed too every third time); the 100-kill runs are in
# bench/RESULTS.md.
python3 tests/crash/crash_loop.py --bin "$bellhop_bin" --kills 10
python3 tests/crash/crash_loop.py --bin "$bellhop_bin" --kills 10 --postgres

step "Python package"
BELLHOP_VENV="$venv" bash crates/bellhop-py/scripts/develop.sh
BELLHOP_BIN="$bellhop_bin" "$venv/bin/python" -m pytest -q crates/bellhop-py/tests

step "fuzzing"
# Coverage-guided fuzzing of every reader, ten seconds each (cargo-fuzz on stable).
wait "$fuzz_build"
env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS bash scripts/fuzz.sh run 10
step "done"
