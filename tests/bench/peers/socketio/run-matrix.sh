#!/usr/bin/env bash
# Runs the peer benchmark matrix on loopback, each run bounded (< 60 s), fresh server
# process(es) per run, configs interleaved within each repeat so background noise
# (e.g. a parallel cargo build) spreads over all of them.
#   bash run-matrix.sh                 # everything, REPEATS=3
#   REPEATS=5 ONLY="sio-1node ws-1node" SCENARIOS="mentoring" bash run-matrix.sh
#   IDLE=0 bash run-matrix.sh          # skip the 5,000 idle-connection memory runs
#   IDLE_CONFIGS="rustfloor socketioxide" bash run-matrix.sh
#   REPEATS=0 IDLE=0 SAT=1 bash run-matrix.sh   # only the saturation probe (see below)
# Servers: sio (server.js), ws (../ws-floor), rustfloor (../rust-floor), socketioxide
# (../socketioxide); the two Rust peers are built with `cargo build --release` first if
# their binary is missing. RUST_WORKERS=N sets tokio worker threads for both (default:
# one per core); config suffix -st runs the Rust peer on a single-threaded runtime.
# Results: results/<stamp>/load.jsonl, idle.jsonl, summary.md (node summarize.js).
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
FLOOR=$HERE/../ws-floor
RFLOOR=$HERE/../rust-floor
SIOXIDE=$HERE/../socketioxide
# Both Rust peers build into one target dir (same dependency versions), outside the sources.
PEERS_TARGET=${PEERS_TARGET:-$HERE/../target}
RFLOOR_BIN=$PEERS_TARGET/release/rust-floor
SIOXIDE_BIN=$PEERS_TARGET/release/socketioxide-peer

REPEATS=${REPEATS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
IDLE_N=${IDLE_N:-5000}
IDLE=${IDLE:-1}
REDIS_PORT=${REDIS_PORT:-6390}
ONLY=${ONLY:-"sio-1node sio-1node-redis sio-2node-redis ws-1node ws-1node-redis ws-2node-redis rustfloor-1node rustfloor-1node-redis rustfloor-2node-redis socketioxide-1node socketioxide-1node-redis socketioxide-2node-redis"}
IDLE_CONFIGS=${IDLE_CONFIGS:-"sio ws rustfloor socketioxide"}
RUST_WORKERS=${RUST_WORKERS:-0}
# Saturation probe (SAT=1): rooms200 shape (200 rooms x 5 clients), per-client rate stepped
# through SAT_RATES, each step a fresh server and a short window (~17 s per step); a
# server's steps stop after its first step with p99 > SAT_P99_MS or delivery ratio < 1
# (SAT_STOP=0: no early stop; SAT_SWEEPS=N: N sweeps).
SAT=${SAT:-0}
SAT_CONFIGS=${SAT_CONFIGS:-"sio-1node ws-1node rustfloor-1node socketioxide-1node"}
SAT_RATES=${SAT_RATES:-"1 2 4 8 12 16 24 32"}
SAT_P99_MS=${SAT_P99_MS:-50}
SAT_WARMUP=${SAT_WARMUP:-2}
SAT_DURATION=${SAT_DURATION:-10}
SAT_DRAIN=${SAT_DRAIN:-2}
SAT_STOP=${SAT_STOP:-1}       # 0: run every rate for every server (no early stop)
SAT_SWEEPS=${SAT_SWEEPS:-1}   # repeat the whole sweep; labels of sweep k >= 2 end in -s<k>
SAT_SWEEP0=${SAT_SWEEP0:-1}   # number of the first sweep (to add sweeps to an earlier run)
SCENARIOS=${SCENARIOS:-"mentoring rooms200"}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$HERE/results/$STAMP}
mkdir -p "$OUT"
LOG=$OUT/servers.log
: > "$LOG"

PIDS_STARTED=()
cleanup() {
  for p in "${PIDS_STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start_node <server> <port> [REDIS_URL] [WORKERS]: start one server process in the
# background (server: sio | ws | rustfloor | socketioxide), wait for its READY line,
# append its PID to the array PIDS (and to PIDS_STARTED for the exit trap)
start_node() {
  local srv=$1 port=$2 redis=${3:-} workers=${4:-$RUST_WORKERS}
  if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    echo "port $port is already in use: not measuring someone else's server" >&2; return 1
  fi
  case $srv in
    sio)          ( cd "$HERE" && PORT=$port REDIS_URL=$redis exec node server.js ) >>"$LOG" 2>&1 & ;;
    ws)           ( cd "$FLOOR" && PORT=$port REDIS_URL=$redis exec node server.js ) >>"$LOG" 2>&1 & ;;
    rustfloor)    ( PORT=$port REDIS_URL=$redis WORKERS=$workers exec "$RFLOOR_BIN" ) >>"$LOG" 2>&1 & ;;
    socketioxide) ( PORT=$port REDIS_URL=$redis WORKERS=$workers exec "$SIOXIDE_BIN" ) >>"$LOG" 2>&1 & ;;
    *) echo "unknown server $srv" >&2; return 1 ;;
  esac
  local pid=$!
  PIDS_STARTED+=("$pid")
  for _ in $(seq 1 100); do
    if grep -q "READY pid=$pid " "$LOG"; then PIDS+=("$pid"); return 0; fi
    sleep 0.1
  done
  echo "server on $port did not start" >&2; kill "$pid" 2>/dev/null || true; return 1
}
stop_pids() { for p in "$@"; do kill "$p" 2>/dev/null || true; done; for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done; }

REDIS_PID=""
need_redis() {
  [ -n "$REDIS_PID" ] && return 0
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --protected-mode yes --loglevel warning >>"$LOG" 2>&1 &
  REDIS_PID=$!
  PIDS_STARTED+=("$REDIS_PID")
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis did not start" >&2; return 1
}

ensure_built() { # build the Rust peers that the selected configs need, once, before any run
  local all="$ONLY $IDLE_CONFIGS ${SAT_CONFIGS:-}"
  if [[ $all == *rustfloor* && ! -x $RFLOOR_BIN ]]; then (cd "$RFLOOR" && CARGO_TARGET_DIR=$PEERS_TARGET cargo build --release --locked); fi
  if [[ $all == *socketioxide* && ! -x $SIOXIDE_BIN ]]; then (cd "$SIOXIDE" && CARGO_TARGET_DIR=$PEERS_TARGET cargo build --release --locked); fi
}

scenario_args() {
  case $1 in
    mentoring) echo "--clients 50 --rooms 1 --rate 2" ;;      # 1 room x 50 clients x 2 msg/s
    rooms200)  echo "--clients 1000 --rooms 200 --rate 1" ;;  # 200 rooms x 5 clients x 1 msg/s
    *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
}

run_load() { # run_load <config> <scenario> [load args] [warmup duration drain out-file]
  local cfg=$1 sc=$2 proto urls spids aux=""
  local largs=${3:-$(scenario_args "$sc")} wu=${4:-$WARMUP} du=${5:-$DURATION} dr=${6:-2} of=${7:-$OUT/load.jsonl}
  local R=redis://127.0.0.1:$REDIS_PORT
  PIDS=()
  # config = <server>-<1node|1node-redis|2node-redis>[-st]; -st: Rust peer on 1 thread
  local srv=${cfg%%-*} shape=${cfg#*-} w=$RUST_WORKERS
  if [[ $shape == *-st ]]; then shape=${shape%-st}; w=1; fi
  local p0 p1 p2
  case $srv in
    sio) proto=socketio; p0=3000; p1=3001; p2=3002 ;;
    ws) proto=ws; p0=3100; p1=3101; p2=3102 ;;
    rustfloor) proto=ws; p0=3200; p1=3201; p2=3202 ;;
    socketioxide) proto=socketio; p0=3300; p1=3301; p2=3302 ;;
    *) echo "unknown config $cfg" >&2; return 1 ;;
  esac
  local scheme=ws; [ "$proto" = socketio ] && scheme=http
  local ok=1
  case $shape in
    1node)       start_node "$srv" $p0 "" "$w" || ok=0; urls=$scheme://127.0.0.1:$p0 ;;
    1node-redis) need_redis || ok=0; start_node "$srv" $p0 "$R" "$w" || ok=0; urls=$scheme://127.0.0.1:$p0 ;;
    2node-redis) need_redis || ok=0; start_node "$srv" $p1 "$R" "$w" || ok=0; start_node "$srv" $p2 "$R" "$w" || ok=0
                 urls=$scheme://127.0.0.1:$p1,$scheme://127.0.0.1:$p2 ;;
    *) echo "unknown config $cfg" >&2; return 1 ;;
  esac
  if [ "$ok" != 1 ]; then
    echo "== $cfg / $sc  skipped: a server did not start"
    stop_pids "${PIDS[@]:-}"; return 1
  fi
  local pids=("${PIDS[@]}")
  if [[ $cfg == *redis* ]]; then aux="redis=$REDIS_PID"; fi
  spids=$(IFS=,; echo "${pids[*]}")
  sleep 1
  echo "== $cfg / $sc  (server pids $spids)"
  # shellcheck disable=SC2046
  local rc=0
  # shellcheck disable=SC2086
  timeout 60 node loadgen.js --proto "$proto" --urls "$urls" $largs \
    --warmup "$wu" --duration "$du" --drain "$dr" --server-pids "$spids" --aux-pids "$aux" \
    --label "$cfg/$sc" --out "$of" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   delivered/s=${r.deliveredPerSec} ratio=${r.deliveryRatio} p50=${r.latencyMs.p50}ms p99=${r.latencyMs.p99}ms server=${r.server.cpuUsPerDelivered}us/deliv (+aux ${r.serverPlusAuxCpuUsPerDelivered}) server-cores=${r.server.cpuCoresBusy} loadgen-cores=${r.loadgen.cpuCoresBusy} other-procs=${r.machine.otherProcsCoresAvg} cores`)})' \
    || { echo "   run failed"; rc=1; }
  stop_pids "${pids[@]}"
  return $rc
}

run_saturation() { # rate-major over SAT_CONFIGS, so noise spreads over all servers
  local f=$OUT/saturation.jsonl r cfg k
  for k in $(seq "$SAT_SWEEP0" $((SAT_SWEEP0 + SAT_SWEEPS - 1))); do
    local failed=" " suffix=""; [ "$k" -gt 1 ] && suffix="-s$k"
    echo "## sweep $k"
    for r in $SAT_RATES; do
      for cfg in $SAT_CONFIGS; do
        [[ $failed == *" $cfg "* ]] && continue
        local n0=0; [ -f "$f" ] && n0=$(wc -l < "$f")
        run_load "$cfg" "sat-rate$r$suffix" "--clients 1000 --rooms 200 --rate $r" \
          "$SAT_WARMUP" "$SAT_DURATION" "$SAT_DRAIN" "$f" || true
        local n1=0; [ -f "$f" ] && n1=$(wc -l < "$f")
        if [ "$n1" -le "$n0" ] || ! tail -1 "$f" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);process.exit(r.deliveryRatio>=1&&r.latencyMs.p99<=Number(process.argv[1])?0:1)})' "$SAT_P99_MS"; then
          echo "   -> $cfg fails at rate $r (p99 > ${SAT_P99_MS} ms, ratio < 1 or failed)"
          if [ "$SAT_STOP" = 1 ]; then failed+="$cfg "; fi
        fi
      done
    done
  done
  return 0
}

run_idle() { # run_idle <server>[-st]
  local cfg=$1 pid proto url srv=${1%-st} w=$RUST_WORKERS
  [[ $cfg == *-st ]] && w=1
  PIDS=()
  case $srv in
    sio) proto=socketio; start_node sio 3000 || return 1; url=http://127.0.0.1:3000 ;;
    ws)  proto=ws; start_node ws 3100 || return 1; url=ws://127.0.0.1:3100 ;;
    rustfloor) proto=ws; start_node rustfloor 3200 "" "$w" || return 1; url=ws://127.0.0.1:3200 ;;
    socketioxide) proto=socketio; start_node socketioxide 3300 "" "$w" || return 1; url=http://127.0.0.1:3300 ;;
    *) echo "unknown idle config $cfg" >&2; return 1 ;;
  esac
  pid=${PIDS[0]}
  sleep 2
  echo "== idle $cfg N=$IDLE_N (server pid $pid)"
  timeout 60 node idle.js --proto "$proto" --urls "$url" --clients "$IDLE_N" --server-pids "$pid" \
    --label "idle-$cfg-$IDLE_N" --out "$OUT/idle.jsonl" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(`   connected=${r.connected} rss/client=${r.rssKiBPerIdleClient}KiB baseline=${r.rssKiB.baseline}KiB cpu/connect=${r.serverCpuUsPerConnect}us`)})' \
    || echo "   run failed"
  stop_pids "$pid"
}

ensure_built
echo "results -> $OUT"
{ echo "stamp=$STAMP"; node --version; uname -r; nproc; grep MemTotal /proc/meminfo; redis-server --version
  rustc --version; echo "RUST_WORKERS=$RUST_WORKERS"
  for l in "$RFLOOR/Cargo.lock" "$SIOXIDE/Cargo.lock"; do
    awk '/^name = "(tokio|tokio-tungstenite|tungstenite|redis|dashmap|socketioxide|socketioxide-redis|engineioxide|axum|hyper)"$/{n=$3; getline; gsub(/"/, "", n); v=$3; gsub(/"/, "", v); print FILENAME": "n" "v}' "$l"
  done | sed "s|$HERE/../||"; } > "$OUT/env.txt" 2>&1 || true
for r in $(seq 1 "$REPEATS"); do
  echo "### repeat $r/$REPEATS"
  for sc in $SCENARIOS; do
    for cfg in $ONLY; do run_load "$cfg" "$sc" || true; done
  done
  if [ "$IDLE" = 1 ]; then for c in $IDLE_CONFIGS; do run_idle "$c" || echo "   idle $c failed"; done; fi
done
if [ "$SAT" = 1 ]; then echo "### saturation probe (rooms200 shape, rates $SAT_RATES)"; run_saturation; fi
node summarize.js "$OUT" | tee "$OUT/summary.md"
