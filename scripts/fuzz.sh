#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (nightly toolchain) for a while each. Not part of
# scripts/test.sh: crashes it finds become regression tests in the normal suite.
#
# Usage: bash scripts/fuzz.sh [-t SECONDS] [TARGET...]
#   -t SECONDS   time per target (default 60, or $FUZZ_SECONDS); 0 only replays the
#                seeds and the saved corpus (a quick check that nothing known crashes)
#   TARGET...    some targets only (default: every target; `-l` lists them)
# Environment: FUZZ_TOOLCHAIN (default nightly), CARGO_TARGET_DIR (default fuzz/target),
#   FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=4 -workers=4" or "-only_ascii=1").
#
# Each target starts from its committed seeds (fuzz/seeds/TARGET) and what earlier runs
# kept (fuzz/corpus/TARGET, not committed). A crashing input is saved in
# fuzz/artifacts/TARGET/; replay it with `cargo +nightly fuzz run TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds="${FUZZ_SECONDS:-60}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
list_only=false
while getopts "t:lh" opt; do
  case "$opt" in
    t) seconds="$OPTARG" ;;
    l) list_only=true ;;
    h) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: -t takes whole seconds, not '$seconds'" >&2; exit 2 ;;
esac

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs cargo-fuzz and the $toolchain toolchain:" >&2
  echo "  rustup toolchain install $toolchain && cargo install cargo-fuzz --locked" >&2
  exit 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/fuzz/target}"

all=$(cargo "+$toolchain" fuzz list)
if $list_only; then echo "$all"; exit 0; fi
if [ "$#" -gt 0 ]; then
  for target in "$@"; do
    grep -qx "$target" <<<"$all" || { echo "fuzz.sh: no target '$target' (have: $(echo $all))" >&2; exit 2; }
  done
  targets=("$@")
else
  mapfile -t targets <<<"$all"
fi

# Release with debug assertions and overflow checks: an overflow is a finding too.
echo "== building ${#targets[@]} target(s) with $toolchain"
for target in "${targets[@]}"; do
  cargo "+$toolchain" fuzz build --debug-assertions "$target"
done

crashed=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  if [ "$seconds" -eq 0 ]; then
    limit=(-runs=0)
    echo "== $target: replaying seeds and corpus"
  else
    limit=("-max_total_time=$seconds")
    echo "== $target: ${seconds}s"
  fi
  log="fuzz/artifacts/$target/last-run.log"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if cargo "+$toolchain" fuzz run --debug-assertions "$target" \
      "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_ARGS:-} \
      >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    echo "   ok: ${runs:-?} inputs run, corpus $corpus (+ $(find "fuzz/seeds/$target" -type f | wc -l) seeds)"
  else
    crashed+=("$target")
    echo "   CRASH: see $log" >&2
    grep -E '^(thread .* panicked|.*ERROR: libFuzzer|SUMMARY|.*Test unit written to)' "$log" | head -5 >&2 || true
  fi
done

if [ "${#crashed[@]}" -gt 0 ]; then
  echo "== ${#crashed[@]} of ${#targets[@]} target(s) crashed: ${crashed[*]}" >&2
  exit 1
fi
echo "== ${#targets[@]} target(s) ran without a crash"
