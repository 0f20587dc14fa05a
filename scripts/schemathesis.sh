#!/usr/bin/env bash
# Property-based tests of the REST API against the OpenAPI document it serves
# (schemathesis): a `--dev` server on a free port with a fresh SQLite data dir, a bearer
# token from the dev login holding every role, a bounded number of examples per
# operation. Fails on any 5xx and on any response its document does not allow.
# Usage: bash scripts/schemathesis.sh [path/to/mentorhub]   (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/mentorhub}"
version=4.32.5
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mentorhub/schemathesis-$version"
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  echo "installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

data=$(mktemp -d)
log="$data/server.log"
# The per-account budget is raised: the run measures handlers, not the rate limit.
MENTORHUB_TURN_ENABLED=false MENTORHUB_ACCOUNT_RATE_PER_SEC=1000 MENTORHUB_ACCOUNT_RATE_BURST=1000 \
  MENTORHUB_RATE_PER_SEC=1000 MENTORHUB_RATE_BURST=1000 \
  "$bin" serve --dev --listen 127.0.0.1:0 --data-dir "$data" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
addr=""
for _ in $(seq 300); do
  addr=$(sed -n 's|^mentorhub listening on http://||p' "$log" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "the server did not start"; cat "$log"; exit 1; }
base="http://$addr"
token=$(curl -sf -X POST -H 'content-type: application/json' \
  -d '{"name":"Schemathesis","roles":["mentee","mentor","coordinator","safeguarding"]}' \
  "$base/api/dev/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

status=0
# Run from the temporary dir: schemathesis keeps a cache in its working directory.
(cd "$data" && "$venv/bin/schemathesis" run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-150}" \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --workers 2 --no-color --suppress-health-check all --generation-database none \
  --report-dir "$data/report") 2>&1 | tee "$data/run.txt" || status=$?
# A run that tested nothing (a time budget spent before any case) also exits 0.
if [ "$status" -eq 0 ] && ! grep -Eq '^ *[1-9][0-9]* generated, ' "$data/run.txt"; then
  echo "schemathesis tested nothing"
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "---- server log (last 50 lines) ----"
  tail -n 50 "$log"
fi
exit "$status"
