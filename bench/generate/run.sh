#!/usr/bin/env bash
# Builds bellhop's generation benchmark, installs llama-cpp-python (compiled from source:
# several minutes on 2 cores) into .venv-bench, and runs bench/generate/run.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bash scripts/fetch-llm.sh
cargo build --release --locked -p bellhop-generate --example generate_bench
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
fi
.venv-bench/bin/python -c 'import llama_cpp' 2>/dev/null \
  || CMAKE_ARGS="-DGGML_NATIVE=ON" .venv-bench/bin/pip install --quiet llama-cpp-python==0.3.36
.venv-bench/bin/python bench/generate/run.py "$@"
