#!/usr/bin/env bash
# Builds bellhop's benchmark binary, sets up sentence-transformers in .venv, and runs
# bench/embed.py. Extra arguments go to embed.py (e.g. --rounds 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/fetch-model.sh
cargo build --release --locked -p bellhop-embed --example embed_bench
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -c 'import sentence_transformers' 2>/dev/null \
  || .venv/bin/pip install --quiet sentence-transformers
.venv/bin/python bench/embed.py "$@"
