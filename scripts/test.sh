#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetches the model files the tests read, checks
# formatting and lints, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/fetch-model.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
