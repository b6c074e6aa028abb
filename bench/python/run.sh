#!/usr/bin/env bash
# Installs sentence-transformers and a release build of the bellhop Python package into .venv,
# then runs bench/python/run.py. Extra arguments go to run.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/fetch-model.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -c 'import sentence_transformers' 2>/dev/null \
  || .venv/bin/pip install --quiet sentence-transformers
.venv/bin/pip install --quiet maturin==1.16.0 httpx
rm -rf target/python-wheels-release
.venv/bin/maturin build --locked --release -m crates/bellhop-py/Cargo.toml \
  --interpreter .venv/bin/python -o target/python-wheels-release
.venv/bin/pip install --quiet --force-reinstall --no-deps target/python-wheels-release/*.whl
RAYON_NUM_THREADS="${BENCH_THREADS:-2}" .venv/bin/python bench/python/run.py "$@"
