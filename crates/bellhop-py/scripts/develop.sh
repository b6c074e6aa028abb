#!/usr/bin/env bash
# Builds the bellhop Python package with the workspace's dev profile (dependencies are
# optimised, so it runs at release speed) and installs it into a virtualenv
# (default .venv-tests at the repository root, or $BELLHOP_VENV).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
venv=${BELLHOP_VENV:-.venv-tests}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r crates/bellhop-py/tests/requirements.txt
wheels=target/python-wheels
rm -rf "$wheels"
"$venv/bin/maturin" build --locked --profile dev -m crates/bellhop-py/Cargo.toml \
  --interpreter "$venv/bin/python" -o "$wheels"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$wheels"/*.whl
