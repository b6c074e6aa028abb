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

bash scripts/fetch-model.sh
# EmbeddingGemma-300M (1.2 GB, cached outside the clone): the multilingual model's parity tests.
bash scripts/fetch-model-gemma.sh
# all-mpnet-base-v2 (438 MB, cached likewise): the MPNet encoder's parity tests.
bash scripts/fetch-model-mpnet.sh
bash scripts/fetch-llm.sh
# PostgreSQL 18 with pgvector: the tests start and stop their own servers from it.
bash scripts/fetch-postgres.sh >/dev/null
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The dependency policy (deny.toml): licenses, banned and duplicate crates, sources.
if ! command -v cargo-deny >/dev/null 2>&1; then
  echo "installing cargo-deny (a few minutes, once)" >&2
  timeout 1800 cargo install cargo-deny --locked --version 0.20.2 ||
    echo "cargo-deny could not be installed: the dependency policy is NOT checked" >&2
fi
if command -v cargo-deny >/dev/null 2>&1; then
  cargo deny check licenses bans sources
fi
echo "cargo-deny: advisories are not checked (the advisory database cannot be fetched on this machine)"
cargo test --workspace --locked

# The fuzz targets' instrumented build, at low priority while the HTTP-level tests below
# leave a core idle; they run at the end.
nice -n 19 bash scripts/fuzz.sh build &
fuzz_build=$!

# `cargo test --workspace` builds the CLI binary; build it if it is missing all the same.
bellhop_bin="$PWD/target/debug/bellhop"
if [ ! -x "$bellhop_bin" ]; then
  cargo build -p bellhop-cli --locked
fi
venv=.venv-tests
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r tests/python/requirements.txt
BELLHOP_BIN="$bellhop_bin" "$venv/bin/python" -m pytest -q tests/python
BELLHOP_BIN="$bellhop_bin" bash scripts/browser-tests.sh
SCHEMATHESIS_MAX_TIME=120 BELLHOP_BIN="$bellhop_bin" bash scripts/schemathesis.sh
# Ten SIGKILLs of the server while clients write over HTTP, on the embedded store and on
# PostgreSQL (the database crashed too every third time); the 100-kill runs are in
# bench/RESULTS.md.
python3 tests/crash/crash_loop.py --bin "$bellhop_bin" --kills 10
python3 tests/crash/crash_loop.py --bin "$bellhop_bin" --kills 10 --postgres

BELLHOP_VENV="$venv" bash crates/bellhop-py/scripts/develop.sh
BELLHOP_BIN="$bellhop_bin" "$venv/bin/python" -m pytest -q crates/bellhop-py/tests

# Coverage-guided fuzzing of every reader, ten seconds each (cargo-fuzz on stable).
wait "$fuzz_build"
bash scripts/fuzz.sh run 10
