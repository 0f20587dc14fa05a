#!/usr/bin/env bash
# Redis PUBLISH floor on loopback (physical-limit reference for the Redis fan-out path).
# For each subscriber setup (none / 2 x SUBSCRIBE / 2 x PSUBSCRIBE, i.e. "2 app nodes")
# and each client mode, runs redis-benchmark PUBLISH with a 150-byte payload and reports
# PUBLISH/s (redis-benchmark) and redis-server CPU-us per PUBLISH (/proc/PID/stat delta).
#   bash run.sh            REPEATS=3 N=200000 PORT=6391
# Everything on 127.0.0.1; each redis-benchmark call is bounded by `timeout 60`.
set -euo pipefail
cd "$(dirname "$0")"
PORT=${PORT:-6391}; N=${N:-200000}; REPEATS=${REPEATS:-3}
mkdir -p results
OUT=${OUT:-results/$(date -u +%Y%m%dT%H%M%SZ).tsv}
PAYLOAD=$(printf 'x%.0s' $(seq 1 150))
CLK=$(getconf CLK_TCK)

redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning \
  --client-output-buffer-limit "pubsub 0 0 0" >/dev/null 2>&1 &
RP=$!
SUBS=()
cleanup() { for p in "${SUBS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; kill "$RP" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

cpu_ticks() { awk '{print $14+$15}' "/proc/$RP/stat"; }

printf 'subs\tmode\trepeat\tpublish_per_s\tp50_ms\tredis_cpu_us_per_publish\tredis_cores_busy\tmachine_busy_cores\n' > "$OUT"
for subs in none sub2 psub2; do
  for p in "${SUBS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  SUBS=()
  case $subs in
    sub2)  for i in 1 2; do redis-cli -p "$PORT" subscribe room:1 >/dev/null & SUBS+=($!); done ;;
    psub2) for i in 1 2; do redis-cli -p "$PORT" psubscribe 'room:*' >/dev/null & SUBS+=($!); done ;;
  esac
  sleep 0.5
  for mode in "-c 50 -P 1" "-c 50 -P 16" "-c 2 -P 1"; do
    for r in $(seq 1 "$REPEATS"); do
      c0=$(cpu_ticks); s0=$(awk 'NR==1{b=$2+$3+$4+$7+$8+$9; print b}' /proc/stat); t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      line=$(timeout 60 redis-benchmark -p "$PORT" -n "$N" $mode -q PUBLISH room:1 "$PAYLOAD" 2>/dev/null | tr '\r' '\n' | grep -E 'requests per second' | tail -1)
      t1=$(date +%s.%N); c1=$(cpu_ticks); s1=$(awk 'NR==1{b=$2+$3+$4+$7+$8+$9; print b}' /proc/stat)
      rps=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
      p50=$(echo "$line" | sed -nE 's/.*p50=([0-9.]+) msec.*/\1/p')
      us=$(awk -v a="$c0" -v b="$c1" -v n="$N" -v k="$CLK" 'BEGIN{printf "%.2f", (b-a)/k*1e6/n}')
      cores=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" -v k="$CLK" 'BEGIN{printf "%.2f", (b-a)/k/(y-x)}')
      mb=$(awk -v a="$s0" -v b="$s1" -v x="$t0" -v y="$t1" -v k="$CLK" 'BEGIN{printf "%.2f", (b-a)/k/(y-x)}')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$subs" "$mode" "$r" "$rps" "${p50:-}" "$us" "$cores" "$mb" | tee -a "$OUT"
    done
  done
  echo "numsub room:1 = $(redis-cli -p "$PORT" pubsub numsub room:1 | tail -1), numpat = $(redis-cli -p "$PORT" pubsub numpat)"
done
echo "-> $OUT"
