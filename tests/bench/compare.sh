#!/usr/bin/env bash
# Mentorhub beside the peers in tests/bench/peers (Socket.IO, socketioxide, the Node ws
# floor, the Rust floor), interleaved in the same repeats, measured by the same
# generators; then the ratios against the performance targets (tests/bench/ratios.js,
# docs/PERFORMANCE.md).
#
#   bash tests/bench/compare.sh                      # everything, REPEATS=3, < 20 min of runs
#   QUICK=1 bash tests/bench/compare.sh              # smoke: every server and probe once, ~5 min
#   REPEATS=1 CONFIGS="mentorhub-1node rustfloor-1node" SCENARIOS=mentoring IDLE=0 KNEE=0 \
#     PERSIST=0 bash tests/bench/compare.sh          # a quick look at two configs
#
# Needs only this repository: the peers' sources and lock files are in tests/bench/peers;
# their npm packages are installed with `npm ci` there and the Rust peers are built with
# their own Cargo.lock (outside Mentorhub's workspace) on first use.
#
# Not part of scripts/test.sh. Results: tests/bench/results/<UTC stamp>/ (gitignored):
# load.jsonl (Node generator, 1×50 and 200×5), idle.jsonl, knee.jsonl, persist.jsonl,
# servers.log, env.txt, console.log, table.md.
#
# Mentorhub runs as deployed, not in --dev: every node trusts one HS256 secret, and the
# generators mint their clients' tokens with it (MENTORHUB_JWT_HS256_SECRET), as an
# identity provider would. One node = the embedded default (SQLite WAL, synchronous=FULL,
# message bodies encrypted with the key file in its data dir, in-process bus); two nodes =
# PostgreSQL (a fresh database per run, dropped after) + Redis. Every message is
# persisted and acked after commit. Settings changed from the defaults, and why:
# TURN off (calls are not measured; two nodes would share its UDP port) and a per-
# connection rate limit of 100/s (burst 200) so the knee's 32 msg/s per client is not
# refused (the limit is an abuse guard, its cost is the same either way), and no cap on
# connections per address (every generated client comes from 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/tests/bench

# QUICK=1: a smoke run that starts every server and every probe once with tiny loads, to
# check that everything builds and runs. Its figures are not measurements.
if [ "${QUICK:-0}" = 1 ]; then
  : "${REPEATS:=1}" "${SCENARIOS:=mentoring}" "${WARMUP:=1}" "${DURATION:=2}" "${DRAIN:=1}"
  : "${IDLE_N:=250}" "${KNEE_RATES:=1,2}" "${SIO_KNEE_RATES:=1}" "${PERSIST_PAIRS:=20}"
  : "${PERSIST_IN_FLIGHT:=2}"
fi
REPEATS=${REPEATS:-3}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-6}
DRAIN=${DRAIN:-2}
CONFIGS=${CONFIGS:-"mentorhub-1node sio-1node socketioxide-1node ws-1node rustfloor-1node mentorhub-2node-redis sio-2node-redis socketioxide-2node-redis ws-2node-redis rustfloor-2node-redis"}
SCENARIOS=${SCENARIOS:-"mentoring rooms200"}
IDLE=${IDLE:-1}                     # idle RSS per connection per server, in the first IDLE_REPEATS repeats
IDLE_REPEATS=${IDLE_REPEATS:-1}
IDLE_N=${IDLE_N:-5000}
IDLE_MH_N=${IDLE_MH_N:-$IDLE_N}     # Mentorhub's idle probe alone may hold more (the target is at 18,000)
IDLE_CONFIGS=${IDLE_CONFIGS:-"mentorhub sio socketioxide ws rustfloor"}
KNEE=${KNEE:-1}                     # saturation knee, once, after the repeats
KNEE_RATES=${KNEE_RATES:-"2,4,8,12,16,24,32"}
KNEE_CONFIGS=${KNEE_CONFIGS:-"mentorhub rustfloor sio"}
SIO_KNEE_RATES=${SIO_KNEE_RATES:-"2 4 6 8"}
PERSIST=${PERSIST:-1}               # closed-loop persisted sends/s, SQLite and PostgreSQL
PERSIST_PAIRS=${PERSIST_PAIRS:-250}
PERSIST_IN_FLIGHT=${PERSIST_IN_FLIGHT:-8}
PERSIST_STORES=${PERSIST_STORES:-"sqlite postgres"}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
REDIS_PORT=${REDIS_PORT:-6390}

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# PROFILE=debug builds and runs debug binaries (faster to build, for QUICK=1 smoke runs only).
PROFILE=${PROFILE:-release}
case $PROFILE in
  release) CARGO_PROFILE=(--release) ;;
  debug) CARGO_PROFILE=() ;;
  *) echo "PROFILE must be release or debug" >&2; exit 2 ;;
esac
PEERS=$BENCH/peers
SIO=$PEERS/socketio
# Both Rust peers build into one target dir (same dependency versions); gitignored.
PEERS_TARGET=${PEERS_TARGET:-$PEERS/target}
RFLOOR_BIN=$PEERS_TARGET/$PROFILE/rust-floor
SIOXIDE_BIN=$PEERS_TARGET/$PROFILE/socketioxide-peer
# MH_BIN / LOADGEN: another build of Mentorhub to measure (with BUILD=0), e.g. a
# before/after pair run in turn.
MH_BIN=${MH_BIN:-$CARGO_TARGET_DIR/$PROFILE/mentorhub}
LOADGEN=${LOADGEN:-$CARGO_TARGET_DIR/$PROFILE/loadgen}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BENCH/results/$STAMP}
mkdir -p "$OUT"
LOG=$OUT/servers.log
: > "$LOG"
exec > >(tee -a "$OUT/console.log") 2>&1

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# --- one-time set-up: the peers' packages and builds, Mentorhub's build -------------------
setup() {
  # The committed lock pins every npm package; installed once, never committed.
  [ -d "$SIO/node_modules" ] || (cd "$SIO" && npm ci --no-audit --no-fund)
  # The Rust peers are projects of their own (own Cargo.lock, excluded from the workspace).
  local all="$CONFIGS $IDLE_CONFIGS $KNEE_CONFIGS"
  if [[ $all == *rustfloor* ]]; then
    (cd "$PEERS/rust-floor" && CARGO_TARGET_DIR=$PEERS_TARGET cargo build "${CARGO_PROFILE[@]}" --locked)
  fi
  if [[ $all == *socketioxide* ]]; then
    (cd "$PEERS/socketioxide" && CARGO_TARGET_DIR=$PEERS_TARGET cargo build "${CARGO_PROFILE[@]}" --locked)
  fi
  if [ "${BUILD:-1}" = 1 ]; then cargo build "${CARGO_PROFILE[@]}" --locked --workspace --bins; fi
  command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
}

SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n=+/')
ENC_KEYS="1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
export MENTORHUB_JWT_HS256_SECRET=$SECRET   # servers verify with it, generators mint with it

STARTED=()
DBS=()
cleanup() {
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for d in "${DBS[@]:-}"; do [ -n "$d" ] && drop_db "$d"; done
  rm -rf "$OUT/data"
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
wait_ready() { # pid, port, what: a TCP accept (and the process alive)
  for _ in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || { echo "$3 exited (see $LOG)" >&2; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "$3 did not listen on $2" >&2; return 1
}
stop_pids() {
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done; done
}

REDIS_PID=""
need_redis() {
  [ -n "$REDIS_PID" ] && return 0
  port_free "$REDIS_PORT" || { echo "port $REDIS_PORT is in use" >&2; return 1; }
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --loglevel warning >>"$LOG" 2>&1 &
  REDIS_PID=$!
  STARTED+=("$REDIS_PID")
  wait_ready "$REDIS_PID" "$REDIS_PORT" redis
}
flush_redis() { redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1 || true; }

drop_db() { psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true; }
new_db() { # sets DB to the name of a fresh database
  DB="mh_bench_${STAMP,,}_$RANDOM"
  psql "$PG_URL/postgres" -qc "CREATE DATABASE $DB" >/dev/null
  DBS+=("$DB")
}

# start_mentorhub <port> <node id> [database name]: one node; no database = embedded
# SQLite in a fresh data dir; with a database: PostgreSQL + Redis. Appends to PIDS.
start_mentorhub() {
  local port=$1 node=$2 db=${3:-} dir=$OUT/data/$2-$RANDOM
  port_free "$port" || { echo "port $port is in use: not measuring someone else's server" >&2; return 1; }
  mkdir -p "$dir"
  (
    export MENTORHUB_NODE_ID=$node MENTORHUB_TURN_ENABLED=false \
      MENTORHUB_RATE_PER_SEC=100 MENTORHUB_RATE_BURST=200 MENTORHUB_MAX_CONNECTIONS_PER_ADDRESS=100000 \
      MENTORHUB_WEB_CLIENT_DIR="$ROOT/web-client"
    if [ -n "$db" ]; then
      export MENTORHUB_DATABASE_URL="$PG_URL/$db" MENTORHUB_ENCRYPTION_KEYS=$ENC_KEYS
      if [ "${MH_REDIS:-1}" = 1 ]; then
        export MENTORHUB_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" MENTORHUB_REDIS_PREFIX=bench
      fi
    fi
    exec "$MH_BIN" serve --listen "127.0.0.1:$port" --data-dir "$dir"
  ) >>"$LOG" 2>&1 &
  local pid=$!
  STARTED+=("$pid")
  wait_ready "$pid" "$port" "mentorhub $node" || return 1
  PIDS+=("$pid")
}

# start_peer <server> <port> [REDIS_URL]: as run-matrix.sh does (READY line). Appends to PIDS.
start_peer() {
  local srv=$1 port=$2 redis=${3:-}
  port_free "$port" || { echo "port $port is in use: not measuring someone else's server" >&2; return 1; }
  case $srv in
    sio)          ( cd "$SIO" && PORT=$port REDIS_URL=$redis exec node server.js ) >>"$LOG" 2>&1 & ;;
    ws)           ( cd "$PEERS/ws-floor" && PORT=$port REDIS_URL=$redis exec node server.js ) >>"$LOG" 2>&1 & ;;
    rustfloor)    ( PORT=$port REDIS_URL=$redis exec "$RFLOOR_BIN" ) >>"$LOG" 2>&1 & ;;
    socketioxide) ( PORT=$port REDIS_URL=$redis exec "$SIOXIDE_BIN" ) >>"$LOG" 2>&1 & ;;
  esac
  local pid=$!
  STARTED+=("$pid")
  for _ in $(seq 1 200); do
    if grep -q "READY pid=$pid " "$LOG"; then PIDS+=("$pid"); return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$srv on $port did not start" >&2; return 1
}

# start_config <config>: sets PIDS, URLS, PROTO (Node generator), AUX.
start_config() {
  local cfg=$1 srv=${1%%-*} shape=${1#*-} base
  PIDS=(); AUX=""
  case $srv in
    mentorhub) PROTO=file:$BENCH/driver.js; base=8180; scheme=http ;;
    sio) PROTO=socketio; base=3000; scheme=http ;;
    ws) PROTO=ws; base=3100; scheme=ws ;;
    rustfloor) PROTO=ws; base=3200; scheme=ws ;;
    socketioxide) PROTO=socketio; base=3300; scheme=http ;;
    *) echo "unknown config $cfg" >&2; return 1 ;;
  esac
  case $shape in
    1node)
      if [ "$srv" = mentorhub ]; then start_mentorhub $base node-a || return 1
      else start_peer "$srv" $base || return 1; fi
      URLS=$scheme://127.0.0.1:$base ;;
    2node-redis)
      need_redis || return 1; flush_redis
      if [ "$srv" = mentorhub ]; then
        new_db
        start_mentorhub $((base + 1)) node-a "$DB" || return 1
        start_mentorhub $((base + 2)) node-b "$DB" || return 1
      else
        start_peer "$srv" $((base + 1)) "redis://127.0.0.1:$REDIS_PORT" || return 1
        start_peer "$srv" $((base + 2)) "redis://127.0.0.1:$REDIS_PORT" || return 1
      fi
      AUX="redis=$REDIS_PID"
      URLS=$scheme://127.0.0.1:$((base + 1)),$scheme://127.0.0.1:$((base + 2)) ;;
    *) echo "unknown config $cfg" >&2; return 1 ;;
  esac
  sleep 0.5
}

stop_config() {
  stop_pids "${PIDS[@]:-}"
  for d in "${DBS[@]:-}"; do [ -n "$d" ] && drop_db "$d"; done
  DBS=()
  rm -rf "$OUT/data"
}

scenario_args() {
  case $1 in
    mentoring) echo "--clients 50 --rooms 1 --rate 2" ;;      # 1 room × 50 clients × 2 msg/s
    rooms200)  echo "--clients 1000 --rooms 200 --rate 1" ;;  # 200 rooms × 5 clients × 1 msg/s
  esac
}

# PostgreSQL does Mentorhub's store work in its own backend processes, outside the server
# PIDs: sample their cumulative CPU (every 0.25 s, backend list every second) so
# ratios.js can add the window's share, as Redis is added for every two-node config.
pg_sampler() { # database, file
  local tick; tick=$(getconf CLK_TCK) pids="" k=0
  while :; do
    if [ $((k % 4)) = 0 ]; then
      pids=$(psql "$PG_URL/postgres" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$1'" 2>/dev/null | tr '\n' ' ')
    fi
    k=$((k + 1))
    local sum=0
    for p in $pids; do
      [ -r "/proc/$p/stat" ] || continue
      sum=$((sum + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
    done
    echo "$(date +%s%3N) $(awk -v s="$sum" -v t="$tick" 'BEGIN{printf "%.3f", s / t}')" >> "$2"
    sleep 0.25
  done
}

# One Node-generator run: fresh server(s), the scenario, one JSON line in load.jsonl.
run_load() {
  local cfg=$1 sc=$2 sampler="" samples=""
  if ! start_config "$cfg"; then say "== $cfg / $sc: a server did not start"; stop_config; return 0; fi
  local spids; spids=$(IFS=,; echo "${PIDS[*]}")
  if [[ $cfg == mentorhub-2node* ]]; then
    samples=pg-$(date +%s%N).txt
    pg_sampler "$DB" "$OUT/$samples" &
    sampler=$!
    STARTED+=("$sampler")
  fi
  # shellcheck disable=SC2046
  if (cd "$SIO" && timeout 90 node loadgen.js --proto "$PROTO" --urls "$URLS" $(scenario_args "$sc") \
        --warmup "$WARMUP" --duration "$DURATION" --drain "$DRAIN" --hard-limit 85 \
        --server-pids "$spids" --aux-pids "$AUX" --label "$cfg/$sc" --out "$OUT/load.jsonl" >/dev/null); then
    tail -1 "$OUT/load.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   ${r.label}: ratio=${r.deliveryRatio} p50=${r.latencyMs.p50} p99=${r.latencyMs.p99} ms  server=${r.server.cpuUsPerDelivered} us/deliv (+aux ${r.serverPlusAuxCpuUsPerDelivered})  gen=${r.loadgen.cpuCoresBusy} other=${r.machine.otherProcsCoresAvg} cores`)})'
  else
    say "   $cfg / $sc: run failed"
  fi
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    local when; when=$(tail -1 "$OUT/load.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).when))')
    echo "{\"label\":\"$cfg/$sc\",\"when\":\"$when\",\"samples\":\"$samples\"}" >> "$OUT/pg-runs.jsonl"
  fi
  stop_config
}

# Idle memory: the peers with the shared idle.js (rooms of 5), Mentorhub with loadgen idle
# (authenticated, rooms of 5; its accounts and rooms are set up through the API *before*
# the baseline, so only the connections are counted); the Rust floor with both, to check
# that the two generators agree.
run_idle() {
  local srv=$1
  if ! start_config "$srv-1node"; then say "== idle $srv: did not start"; stop_config; return 0; fi
  sleep 1
  if [ "$srv" = mentorhub ] || [ "$srv" = rustfloor ]; then
    local proto=mentorhub; [ "$srv" = rustfloor ] && proto=ws-json
    local n=$IDLE_N; [ "$srv" = mentorhub ] && n=$IDLE_MH_N
    "$LOADGEN" idle --proto $proto --urls "$URLS" --clients "$n" --group-size 5 \
      --server-pids "${PIDS[0]}" --label "idle-$srv-loadgen" --out "$OUT/idle.jsonl" --hard-limit 120 >/dev/null \
      || say "   idle $srv (loadgen) failed"
  fi
  if [ "$srv" != mentorhub ]; then
    if [ "$srv" = rustfloor ]; then stop_config; start_config "$srv-1node" || return 0; sleep 1; fi
    (cd "$SIO" && timeout 90 node idle.js --proto "$PROTO" --urls "$URLS" --clients "$IDLE_N" \
      --server-pids "${PIDS[0]}" --label "idle-$srv" --out "$OUT/idle.jsonl" >/dev/null) || say "   idle $srv failed"
  fi
  tail -1 "$OUT/idle.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   ${r.label}: rss/conn=${r.rssKiBPerIdleClient} KiB baseline=${r.rssKiB.baseline} KiB cpu/connect=${r.serverCpuUsPerConnect} us`)})'
  stop_config
}

# The knee (200 rooms × 5, rate stepped up; pass = zero loss and p99 ≤ 50 ms): Mentorhub and
# the Rust floor with the Rust loadgen (the Node generator saturates first), Socket.IO with
# the Node generator as run-matrix.sh's probe does.
run_knee() {
  local srv=$1
  if [ "$srv" = sio ]; then
    local r
    for r in $SIO_KNEE_RATES; do
      start_config sio-1node || { stop_config; return 0; }
      (cd "$SIO" && timeout 60 node loadgen.js --proto socketio --urls "$URLS" --clients 1000 --rooms 200 \
        --rate "$r" --warmup 2 --duration 6 --drain 2 --server-pids "${PIDS[0]}" \
        --label "sio-1node/sat-rate$r" --out "$OUT/knee.jsonl" >/dev/null) || true
      stop_config
      tail -1 "$OUT/knee.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);const ok=r.deliveryRatio>=1&&r.latencyMs.p99<=50;console.log(`   ${r.label}: delivered/s=${r.deliveredPerSec} p99=${r.latencyMs.p99} ratio=${r.deliveryRatio} ${ok?"pass":"FAIL"}`);process.exit(ok?0:1)})' || break
    done
    return 0
  fi
  local proto=mentorhub; [ "$srv" = rustfloor ] && proto=ws-json
  start_config "$srv-1node" || { stop_config; return 0; }
  "$LOADGEN" knee --proto $proto --urls "$URLS" --rooms 200 --clients 1000 --rates "$KNEE_RATES" \
    --warmup 2 --duration 6 --drain 5 --server-pids "${PIDS[0]}" --label "$srv-1node" \
    --out "$OUT/knee.jsonl" --hard-limit 300 >/dev/null || true
  tail -1 "$OUT/knee.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   ${r.label}: knee=${r.kneeDeliveredPerSec} deliveries/s; steps ${r.steps.map(x=>`${x.rate}/s:${x.pass?"ok":"FAIL"}(${x.deliveredPerSec}, p99 ${x.p99})`).join(" ")}`)})'
  stop_config
}

# Persisted sends/s: pairs, closed loop (each client keeps N sends in flight; a send counts
# when its ack — sent after commit — arrives). SQLite (embedded) and PostgreSQL (one node).
run_persist() {
  local store=$1
  PIDS=()
  if [ "$store" = sqlite ]; then start_mentorhub 8180 node-a || { stop_config; return 0; }
  else new_db; MH_REDIS=0 start_mentorhub 8180 node-a "$DB" || { stop_config; return 0; }; fi
  "$LOADGEN" pairs --urls http://127.0.0.1:8180 --pairs "$PERSIST_PAIRS" --in-flight "$PERSIST_IN_FLIGHT" \
    --warmup 2 --duration 8 --drain 5 --server-pids "${PIDS[0]}" --label "persist-$store" \
    --out "$OUT/persist.jsonl" --hard-limit 120 >/dev/null || say "   persist $store: not exactly once (see persist.jsonl)"
  tail -1 "$OUT/persist.jsonl" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   ${r.label}: acked/s=${r.ackedPerSec} p99=${r.latencyMs.p99} ms server=${r.server.cpuCoresBusy} cores exactlyOnce=${r.exactlyOnce.exactlyOnce}`)})'
  stop_config
}

T0=$(date +%s)
say "set-up (peers' packages and builds, Mentorhub $PROFILE build)"
setup
{ echo "stamp=$STAMP"; echo "commit=$(git -C "$ROOT" rev-parse HEAD)$(git -C "$ROOT" diff --quiet || echo ' (dirty)')"
  uname -r; nproc; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo; node --version
  redis-server --version; psql --version; rustc --version
  echo "REPEATS=$REPEATS WARMUP=$WARMUP DURATION=$DURATION DRAIN=$DRAIN IDLE_N=$IDLE_N IDLE_MH_N=$IDLE_MH_N KNEE_RATES=$KNEE_RATES PROFILE=$PROFILE QUICK=${QUICK:-0}"
  echo "loadavg at start: $(cat /proc/loadavg)"; } > "$OUT/env.txt" 2>&1
say "results -> $OUT"
T1=$(date +%s)
for r in $(seq 1 "$REPEATS"); do
  say "### repeat $r/$REPEATS"
  for sc in $SCENARIOS; do
    for cfg in $CONFIGS; do run_load "$cfg" "$sc"; done
  done
  if [ "$IDLE" = 1 ] && [ "$r" -le "$IDLE_REPEATS" ]; then for s in $IDLE_CONFIGS; do run_idle "$s"; done; fi
done
if [ "$PERSIST" = 1 ]; then say "### persisted sends/s"; for s in $PERSIST_STORES; do run_persist "$s"; done; fi
if [ "$KNEE" = 1 ]; then say "### knee"; for s in $KNEE_CONFIGS; do run_knee "$s"; done; fi
T2=$(date +%s)
echo "measurement $((T2 - T1)) s, set-up $((T1 - T0)) s, load average at end: $(cat /proc/loadavg)" | tee -a "$OUT/env.txt"
node "$BENCH/ratios.js" "$OUT" | tee "$OUT/table.md"
