#!/usr/bin/env bash
# A soak: two Mentorhub nodes on one PostgreSQL database and one Redis, a few hundred
# clients chatting slowly in pairs and rooms for an hour with churn (clean closes and
# dropped connections, each followed by a resume) and now and then a call rung and hung
# up. Every minute: each node's RSS (and its anonymous part), open files, async tasks and
# the delivery p99 (one JSON line, with the machine's load average). At the end: every
# member holds every event of its conversation exactly once, no node's RSS grew more than
# 10 % past its 5-minute value, no node's anonymous memory (RssAnon) grew more than 5 % over
# the second half of the run, and neither node logged an ERROR. Not part of the test command.
#
#   bash scripts/soak.sh                     # 60 minutes
#   SOAK_MINUTES=10 bash scripts/soak.sh     # shorter
#
# Settings (environment): SOAK_MINUTES (60), SOAK_PAIRS (100), SOAK_ROOMS (10),
# SOAK_ROOM_SIZE (8), SOAK_MESSAGES_PER_MINUTE (2), SOAK_SESSION_SECS (90),
# SOAK_CALLS_PER_MINUTE (2), SOAK_PROFILE (release; or debug), SOAK_DIR (results and
# logs; default a new directory under /tmp). Needs the services of
# scripts/ensure-services.sh (Redis on 6379, PostgreSQL on 5432); it creates its own
# database and Redis prefix and removes the database afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${SOAK_MINUTES:-60}
profile=${SOAK_PROFILE:-release}
dir=${SOAK_DIR:-$(mktemp -d /tmp/mentorhub-soak.XXXXXX)}
target=${CARGO_TARGET_DIR:-$(pwd)/target}
pg=${SOAK_PG:-postgres://postgres@127.0.0.1:5432}
stamp=$(date +%s)
database=mh_soak_$stamp
log() { printf '[soak] %s\n' "$*"; }

bash scripts/ensure-services.sh
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build "${flag[@]}" -p mentorhub --bin mentorhub
cargo build "${flag[@]}" -p mentorhub-tests --bin loadgen
bin=$target/$profile
mkdir -p "$dir"

psql "$pg/postgres" -qc "CREATE DATABASE $database" >/dev/null
secret=$(head -c 36 /dev/urandom | base64 | tr -d '/+=' | head -c 48)
key=$(head -c 32 /dev/urandom | base64)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

urls=()
for node in a b; do
  mkdir -p "$dir/data-$node"
  MENTORHUB_LISTEN=127.0.0.1:0 MENTORHUB_NODE_ID=soak-$node \
  MENTORHUB_DATABASE_URL=$pg/$database MENTORHUB_REDIS_URL=redis://127.0.0.1:6379 \
  MENTORHUB_REDIS_PREFIX=soak$stamp MENTORHUB_JWT_HS256_SECRET=$secret \
  MENTORHUB_ENCRYPTION_KEYS=1:$key MENTORHUB_TURN_ENABLED=false \
  MENTORHUB_LOG_FORMAT=json \
    "$bin/mentorhub" serve --data-dir "$dir/data-$node" >"$dir/node-$node.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 300); do
    addr=$(sed -n 's/^mentorhub listening on http:\/\///p' "$dir/node-$node.log" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { log "node $node did not start:"; tail -20 "$dir/node-$node.log"; exit 1; }
  urls+=("http://$addr")
  log "node $node on $addr (pid ${pids[-1]})"
done

log "running for $minutes minutes; results in $dir/soak.jsonl"
status=0
MENTORHUB_JWT_HS256_SECRET=$secret "$bin/loadgen" soak \
  --urls "$(IFS=,; echo "${urls[*]}")" --server-pids "$(IFS=,; echo "${pids[*]}")" \
  --minutes "$minutes" --pairs "${SOAK_PAIRS:-100}" --rooms "${SOAK_ROOMS:-10}" \
  --room-size "${SOAK_ROOM_SIZE:-8}" --messages-per-minute "${SOAK_MESSAGES_PER_MINUTE:-2}" \
  --session-secs "${SOAK_SESSION_SECS:-90}" --calls-per-minute "${SOAK_CALLS_PER_MINUTE:-2}" \
  --threads 1 --hard-limit $(( minutes * 60 + 900 )) --label "soak-$profile" \
  --out "$dir/soak.jsonl" 2>"$dir/loadgen.log" || status=$?

errors=$(cat "$dir"/node-*.log | grep -c '"level":"ERROR"' || true)
log "ERROR lines in the node logs: $errors"
[ "$errors" -eq 0 ] || { grep -h '"level":"ERROR"' "$dir"/node-*.log | head -20; status=4; }
tail -1 "$dir/soak.jsonl"
[ "$status" -eq 0 ] && log "pass" || log "FAIL (status $status; $dir)"
exit "$status"
