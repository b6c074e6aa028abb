#!/usr/bin/env bash
# Builds bellhop's benchmark binary, sets up sentence-transformers with ONNX Runtime in .venv,
# exports the model to ONNX (f32 and int8, once), and runs bench/embed.py. Extra arguments go to
# embed.py (e.g. --rounds 5, --peers bellhop,onnx).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/fetch-model.sh
cargo build --release --locked -p bellhop-embed --example embed_bench
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The onnx extra needs optimum-onnx, which takes transformers below 4.58, and sentence-transformers 6
# takes transformers 5; without these bounds pip downloads release after release to find that out.
.venv/bin/python -c 'import sentence_transformers, optimum.onnxruntime' 2>/dev/null \
  || .venv/bin/pip install --quiet "sentence-transformers[onnx]<6" "transformers<4.58"
# The ONNX copy is made of the model embed.py is given.
model=models/all-MiniLM-L6-v2
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --model) model="${args[$((i + 1))]:-$model}" ;;
    --model=*) model="${args[$i]#--model=}" ;;
  esac
done
HF_HUB_OFFLINE=1 .venv/bin/python bench/onnx_export.py "$model"
.venv/bin/python bench/embed.py "$@"
