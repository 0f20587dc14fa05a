#!/usr/bin/env bash
# The docker-compose topology without Docker, on loopback, from the built binary:
# Debian's redis-server and postgresql, two Mentorhub nodes, nginx in front.
#
#   deploy/local-cluster.sh start    # build first: cargo build --release -p mentorhub
#   deploy/local-cluster.sh chat     # scripted client: chats through nginx across both nodes
#   deploy/local-cluster.sh status
#   deploy/local-cluster.sh stop
#
# Ports (override with the variables): nginx $LB_PORT (8090), nodes $NODE_A_PORT (8091)
# and $NODE_B_PORT (8092), Redis $REDIS_PORT (6391); PostgreSQL is the machine's own
# cluster on 5432 (database mentorhub_local). State and logs: $LOCAL_CLUSTER_DIR.
# The nodes share one HS256 secret (as nodes behind a load balancer must), so there is
# no dev login: `deploy/local-cluster.sh token NAME ROLE` mints a token to paste into
# the web client's "sign in with a token" form.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

dir=${LOCAL_CLUSTER_DIR:-/tmp/mentorhub-local-cluster}
lb_port=${LB_PORT:-8090}
node_a_port=${NODE_A_PORT:-8091}
node_b_port=${NODE_B_PORT:-8092}
redis_port=${REDIS_PORT:-6391}
pg_url=${LOCAL_CLUSTER_PG:-postgres://postgres@127.0.0.1:5432}
database=mentorhub_local

log() { printf '[local-cluster] %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

binary() {
  if [ -n "${MENTORHUB_BIN:-}" ]; then echo "$MENTORHUB_BIN"; return; fi
  local target=${CARGO_TARGET_DIR:-$root/target}
  for candidate in "$target/release/mentorhub" "$target/debug/mentorhub"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  echo "no mentorhub binary: run 'cargo build --release -p mentorhub' or set MENTORHUB_BIN" >&2
  exit 1
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_port() { # port, what
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$2 did not start on port $1 (logs in $dir)"; exit 1
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

secrets() {
  mkdir -p "$dir"
  if [ ! -f "$dir/secrets.env" ]; then
    umask 077
    {
      echo "MENTORHUB_JWT_HS256_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n=+/')"
      echo "MENTORHUB_ENCRYPTION_KEYS=1:$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
      echo "MENTORHUB_TURN_SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '\n=+/')"
    } > "$dir/secrets.env"
  fi
}

start_redis() {
  have redis-server || apt_install redis-server redis-tools
  if running "$dir/redis.pid"; then return; fi
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  wait_port "$redis_port" redis
}

start_postgres() {
  bash scripts/ensure-services.sh
  if ! psql "$pg_url/postgres" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
    psql "$pg_url/postgres" -qc "CREATE DATABASE $database" >/dev/null
  fi
}

start_node() { # name, port
  local name=$1 port=$2 pidfile="$dir/$1.pid"
  if running "$pidfile"; then return; fi
  mkdir -p "$dir/$name"
  (
    set -a; . "$dir/secrets.env"; set +a
    export MENTORHUB_NODE_ID=$name
    export MENTORHUB_DATABASE_URL="$pg_url/$database"
    export MENTORHUB_REDIS_URL="redis://127.0.0.1:$redis_port"
    export MENTORHUB_REDIS_PREFIX=local
    export MENTORHUB_TURN_ENABLED=false
    export MENTORHUB_WEB_CLIENT_DIR="$root/web-client"
    exec "$(binary)" serve --listen "127.0.0.1:$port" --data-dir "$dir/$name"
  ) >"$dir/$name.log" 2>&1 &
  echo $! > "$pidfile"
  wait_port "$port" "$name"
}

start_nginx() {
  have nginx || apt_install nginx-light || apt_install nginx
  if running "$dir/nginx.pid"; then return; fi
  sed -e "s#server node-a:8080#server 127.0.0.1:$node_a_port#" \
      -e "s#server node-b:8080#server 127.0.0.1:$node_b_port#" \
      -e "s#listen 80;#listen 127.0.0.1:$lb_port;#" \
      -e "s#pid /tmp/nginx.pid;#pid $dir/nginx.pid;#" \
      -e "s#worker_processes auto;#worker_processes 1;\nerror_log $dir/nginx-error.log;#" \
      deploy/nginx.conf > "$dir/nginx.conf"
  # Temp paths inside the state dir so nothing outside it is touched.
  sed -i "s#^http {#http {\n    access_log $dir/nginx-access.log;\n    client_body_temp_path $dir/nginx-tmp/body;\n    proxy_temp_path $dir/nginx-tmp/proxy;\n    fastcgi_temp_path $dir/nginx-tmp/fastcgi;\n    uwsgi_temp_path $dir/nginx-tmp/uwsgi;\n    scgi_temp_path $dir/nginx-tmp/scgi;#" "$dir/nginx.conf"
  mkdir -p "$dir/nginx-tmp"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log"
  wait_port "$lb_port" nginx
}

mint() { # account, role: a one-hour token signed with the cluster's secret
  secrets
  (set -a; . "$dir/secrets.env"; set +a
   "$(binary)" token --sub "$1" --name "$1" --role "$2" --ttl 1h)
}

stop_pid() { # pidfile, name
  if running "$1"; then
    kill -TERM "$(cat "$1")" 2>/dev/null || true
    for _ in $(seq 1 100); do running "$1" || break; sleep 0.1; done
    if running "$1"; then kill -KILL "$(cat "$1")" 2>/dev/null || true; fi
    log "stopped $2"
  fi
  rm -f "$1"
}

case "${1:-}" in
  start)
    secrets
    start_redis
    start_postgres
    start_node node-a "$node_a_port"
    start_node node-b "$node_b_port"
    start_nginx
    log "up: http://127.0.0.1:$lb_port (nodes :$node_a_port :$node_b_port, redis :$redis_port, postgres $database)"
    ;;
  token)
    mint "${2:-demo-$RANDOM}" "${3:-mentee}"
    ;;
  chat)
    # Debian's python3 (where apt installs python3-websockets), not a venv's.
    py=/usr/bin/python3; [ -x "$py" ] || py=python3
    "$py" -c 'import websockets' 2>/dev/null || apt_install python3-websockets
    suffix=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export MENTOR_ACCOUNT="mentor-$suffix" MENTEE_ACCOUNT="mentee-$suffix"
    MENTOR_TOKEN=$(mint "$MENTOR_ACCOUNT" mentor) MENTEE_TOKEN=$(mint "$MENTEE_ACCOUNT" mentee)
    export MENTOR_TOKEN MENTEE_TOKEN
    "$py" deploy/chat-check.py "http://127.0.0.1:$lb_port"
    ;;
  status)
    for name in nginx node-a node-b redis; do
      if running "$dir/$name.pid"; then echo "$name: running (pid $(cat "$dir/$name.pid"))"; else echo "$name: stopped"; fi
    done
    for port in "$node_a_port" "$node_b_port"; do
      echo "readyz :$port $(curl -s "http://127.0.0.1:$port/readyz" || echo unreachable)"
    done
    ;;
  stop)
    stop_pid "$dir/nginx.pid" nginx
    stop_pid "$dir/node-a.pid" node-a
    stop_pid "$dir/node-b.pid" node-b
    stop_pid "$dir/redis.pid" redis
    if have psql; then psql "$pg_url/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true; fi
    log "down"
    ;;
  *)
    echo "usage: $0 start|chat|token [ACCOUNT ROLE]|status|stop" >&2
    exit 2
    ;;
esac
