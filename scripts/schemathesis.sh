#!/usr/bin/env bash
# Property-based tests of the HTTP API: starts `bellhop serve` on a free loopback port over
# a temporary data directory with one small collection, and runs schemathesis against
# docs/openapi.json with every check (all are on unless tests/schemathesis/schemathesis.toml
# turns one off for one operation, saying why) and every phase, within a time bound. Fails on any
# failure: a 5xx, a status or body the document does not declare, valid data refused or
# invalid data accepted.
#
# Environment: BELLHOP_BIN (default target/debug/bellhop), SCHEMATHESIS_VENV (a virtual
# environment to install schemathesis into; default .venv-schemathesis), SCHEMATHESIS_MAX_TIME
# (seconds; default 240), SCHEMATHESIS_MAX_EXAMPLES (default 100).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${BELLHOP_BIN:-$PWD/target/debug/bellhop}"
venv="${SCHEMATHESIS_VENV:-.venv-schemathesis}"
max_time="${SCHEMATHESIS_MAX_TIME:-240}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"

if [ ! -x "$venv/bin/python" ]; then
  # CPython 3.11's parser can fail under hypothesis' deep recursion ("AST constructor
  # recursion depth mismatch"): a later Python where one is installed, pyenv's included.
  base_python=python3
  for candidate in python3.13 python3.12 \
    "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 \
    "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3; do
    if "$candidate" -c pass >/dev/null 2>&1; then
      base_python="$candidate"
      break
    fi
  done
  "$base_python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r tests/schemathesis/requirements.txt
python="$venv/bin/python"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key="bh-admin-$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
digest="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
cat >"$work/bellhop.toml" <<TOML
[[keys]]
name = "schemathesis"
sha256 = "$digest"
role = "admin"
TOML
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Only the config file and the flags configure the server under test.
env -u BELLHOP_LOG -u BELLHOP_MODEL -u BELLHOP_DATABASE_URL "$bin" serve \
  --config "$work/bellhop.toml" --addr "127.0.0.1:$port" --data-dir "$work/data" \
  --log warn 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "$base/ready" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    echo "bellhop serve exited before it was ready" >&2
    exit 1
  fi
  sleep 0.2
done

post() {
  curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "$2" "$base$1" >/dev/null
}
post /v1/collections '{"name": "hotel"}'
post /v1/collections/hotel/documents '{"documents": [
  {"id": "pool", "title": "Pool", "text": "The indoor pool is heated to 28 °C and opens from 07:00 to 22:00.", "metadata": {"area": "wellness", "floor": -1}},
  {"id": "checkin", "title": "Check-in", "text": "Check-in starts at 15:00. Check-out is until 11:00.", "metadata": {"area": "policies"}}
]}'

status=0
"$venv/bin/schemathesis" --config-file tests/schemathesis/schemathesis.toml run docs/openapi.json \
  --url "$base" \
  --header "Authorization: Bearer $key" \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --workers 2 \
  --seed 1 \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
