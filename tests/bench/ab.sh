#!/usr/bin/env bash
# Before/after of Mentorhub builds or settings, interleaved: each repeat runs every
# variant once, in turn, through compare.sh (Mentorhub on one node only), so background
# load spreads over all of them; then the medians per variant (ab-summary.js).
#
#   bash tests/bench/ab.sh before=/path/to/old/bin after=/path/to/new/bin
#   bash tests/bench/ab.sh off=BIN delay1ms=BIN:MENTORHUB_COMMIT_DELAY_MICROS=1000
#
# A variant is NAME=DIR[:VAR=VALUE[,VAR=VALUE…]]; DIR holds `mentorhub` and `loadgen`
# (e.g. a copy of target/release). REPEATS (default 3); SCENARIOS (default both);
# PERSIST=1 adds persisted sends/s (PERSIST_STORES, default sqlite; "sqlite postgres"
# for both), KNEE=1 the knee (both off by default).
# Results: tests/bench/results/ab-<UTC stamp>/<variant>-<repeat>/ and summary.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=$PWD/tests/bench
[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
REPEATS=${REPEATS:-3}
AB=$BENCH/results/ab-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$AB"
for r in $(seq 1 "$REPEATS"); do
  for variant in "$@"; do
    name=${variant%%=*}; spec=${variant#*=}; dir=${spec%%:*}; envs=""
    [[ $spec == *:* ]] && envs=${spec#*:}
    echo "### repeat $r/$REPEATS: $name"
    (
      IFS=, read -ra pairs <<< "$envs"
      for kv in "${pairs[@]}"; do export "${kv?}"; done
      CONFIGS=mentorhub-1node KNEE_CONFIGS=mentorhub IDLE=0 KNEE=${KNEE:-0} PERSIST=${PERSIST:-0} \
        PERSIST_STORES=${PERSIST_STORES:-sqlite} REPEATS=1 BUILD=0 MH_BIN=$dir/mentorhub LOADGEN=$dir/loadgen \
        OUT=$AB/$name-$r bash "$BENCH/compare.sh" > "$AB/$name-$r.log" 2>&1
    ) || echo "   $name, repeat $r: failed (see $AB/$name-$r.log)"
  done
done
node "$BENCH/ab-summary.js" "$AB" "$@" | tee "$AB/summary.md"
