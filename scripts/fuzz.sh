#!/usr/bin/env bash
# Coverage-guided fuzzing of every document reader with libFuzzer, through cargo-fuzz on the
# stable toolchain (`--sanitizer none`: Rust's own checks, no AddressSanitizer, which needs
# nightly). Each target starts from the demo hotel's files of its format and runs for
# SECONDS (default 10); a panic, an input taking over 10 s or a run past 2 GB is a failure,
# kept under fuzz/artifacts/TARGET/ for `cargo fuzz run --sanitizer none TARGET FILE` to
# replay.
#
#   scripts/fuzz.sh build                   # installs cargo-fuzz if needed, builds the targets
#   scripts/fuzz.sh run [SECONDS] [TARGET...]
#
# `run` builds first when needed; it prints one line per target with libFuzzer's executions
# and coverage, then a summary, and fails when any target found something.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
command="${1:?usage: fuzz.sh build | run [SECONDS] [TARGET...]}"
shift
# The instrumented build is its own: it cannot share the workspace's compiled crates. A
# target directory set from outside (a build cache) gets a folder of its own for it.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
fi
build_flags=(--sanitizer none --release --codegen-units 16)

build() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (a few minutes, once)" >&2
    # Lightly optimised: it only drives cargo and libFuzzer, and builds in half the time.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install cargo-fuzz --locked --version 0.13.2
  fi
  mkdir -p "$root/target"
  if ! cargo fuzz build "${build_flags[@]}" >"$root/target/fuzz-build.log" 2>&1; then
    tail -n 30 "$root/target/fuzz-build.log" >&2
    echo "the fuzz targets did not build" >&2
    exit 1
  fi
}

case "$command" in
  build)
    build
    exit 0
    ;;
  run) ;;
  *)
    echo "unknown command $command" >&2
    exit 2
    ;;
esac
seconds="${1:-10}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(read_text read_markdown read_html read_pdf read_csv read_json read_jsonl)
fi
build

extensions() {
  case "$1" in
    read_text) echo txt ;;
    read_markdown) echo md ;;
    read_html) echo html ;;
    read_pdf) echo pdf ;;
    read_csv) echo csv ;;
    read_json) echo json ;;
    read_jsonl) echo jsonl ;;
  esac
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
total_runs=0
failed=0
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  find "$root/examples/demo-hotel" -type f -name "*.$(extensions "$target")" -exec cp {} "$corpus/" \;
  log="$work/$target.log"
  if cargo fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=$((failed + 1))
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
  coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo 0)"
  total_runs=$((total_runs + ${runs:-0}))
  echo "fuzz $target: $status, ${runs:-0} executions in ${seconds} s, coverage $coverage edges"
  if [ "$status" = FAILED ]; then
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -n 12 >&2 || tail -n 30 "$log" >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $total_runs executions, $failed failed"
[ "$failed" -eq 0 ]
