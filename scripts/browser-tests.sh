#!/usr/bin/env bash
# The guest widget and the staff console in a real browser: Debian's Chromium driven by Playwright, with axe-core,
# against the real `bellhop serve --demo` (target/debug/bellhop, or $BELLHOP_BIN) on a free
# loopback port with a temporary data directory. Builds nothing; installs Chromium and the
# two npm packages when they are missing. BELLHOP_SCREENSHOTS=docs saves the screenshots the
# README shows.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${BELLHOP_BIN:-$PWD/target/debug/bellhop}"
if [ ! -x "$bin" ]; then
  echo "browser tests: $bin is missing; run cargo build first" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi
if [ -n "${BELLHOP_SCREENSHOTS:-}" ]; then
  BELLHOP_SCREENSHOTS="$(cd "$BELLHOP_SCREENSHOTS" && pwd)"
  export BELLHOP_SCREENSHOTS
fi
cd tests/browser
BELLHOP_BIN="$bin" node --test --test-concurrency=1 widget.test.mjs console.test.mjs
