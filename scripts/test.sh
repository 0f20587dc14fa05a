#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs or starts what the tests need,
# then runs every Rust test (unit + end-to-end) and the browser tests.
# Usage: bash scripts/test.sh            (everything)
#        bash scripts/test.sh -- FILTER  (only Rust tests whose name contains FILTER)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

log() { printf '\n== %s\n' "$*"; }

# --- services the end-to-end tests talk to -------------------------------------------
bash scripts/ensure-services.sh

# --- the OpenID provider the sign-in tests run (npm oidc-provider, tests/oidc) ----------
if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
  log "npm ci (tests/oidc)"
  (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- the local push service the notification tests run (PyPI http-ece + py-vapid) ------
log "push receiver venv (tests/push-receiver)"
bash tests/push-receiver/install.sh >/dev/null
# --- the SMTP server the e-mail digest tests talk to (Python aiosmtpd, in a venv) -------
bash scripts/smtp-sink.sh

# --- Rust: formatting, lints, unit and end-to-end tests ------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "build (tests and binaries)"
cargo build --locked --workspace --all-targets
filter=()
if [ "${1:-}" = "--" ]; then shift; filter=("$@"); fi
if command -v cargo-nextest >/dev/null 2>&1; then
  log "cargo nextest run"
  cargo nextest run --workspace --locked --no-fail-fast "${filter[@]}"
else
  log "cargo test"
  cargo test --workspace --locked --no-fail-fast -- "${filter[@]}"
fi
# --- the REST API against its OpenAPI document (schemathesis, a real --dev server) ------
if [ "${#filter[@]}" -eq 0 ]; then
  log "schemathesis against /api/openapi.json"
  bash scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/mentorhub"
fi
# --- the web client in headless Chromium (after the Rust tests: it uses their build) ----
if [ "${#filter[@]}" -eq 0 ]; then
  log "browser tests (tests/browser)"
  bash tests/browser/run.sh
fi
log "local cluster: 2 nodes + Redis + PostgreSQL + nginx, a scripted chat through nginx"
MENTORHUB_BIN="$CARGO_TARGET_DIR/debug/mentorhub" bash deploy/local-cluster.sh start
trap 'bash deploy/local-cluster.sh stop >/dev/null 2>&1 || true' EXIT
bash deploy/local-cluster.sh chat
bash deploy/local-cluster.sh stop
trap - EXIT
log "all tests passed"
