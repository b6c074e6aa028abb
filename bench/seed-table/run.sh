#!/usr/bin/env bash
# The seed table: bellhop against the Python prototype (FastAPI, sentence-transformers,
# pgvector) on the same machine and queries. Sets up .venv-seed for the prototype, the model and
# PostgreSQL, then runs run.py; arguments go to run.py (--seconds 30, --configs, --help).
#
#   bash bench/seed-table/run.sh               # full run
#   bash bench/seed-table/run.sh --seconds 10  # shorter levels
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

[ -x target/release/bellhop ] || { echo "target/release/bellhop is missing: cargo build --release -p bellhop-cli" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
bash scripts/fetch-model.sh
bash scripts/fetch-postgres.sh >/dev/null

# The prototype's environment, rebuilt when requirements.txt changes.
venv=.venv-seed
requirements=bench/seed-table/prototype/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  echo "setting up $venv (sentence-transformers, torch, FastAPI, psycopg; a few GB)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

exec python3 bench/seed-table/run.py "$@"
