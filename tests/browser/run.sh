#!/usr/bin/env bash
# Browser tests: the web client in headless Chromium (Debian's), driven by
# playwright-core, against a real `mentorhub serve --dev` each spec starts itself.
# Installs Chromium and the npm packages when they are missing.
# Usage: bash tests/browser/run.sh [spec-file…]   (expects target/debug/mentorhub built)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export MENTORHUB_BIN="${MENTORHUB_BIN:-$CARGO_TARGET_DIR/debug/mentorhub}"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  echo "== npm ci (tests/browser)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -x "$MENTORHUB_BIN" ]; then
  echo "mentorhub binary not found at $MENTORHUB_BIN: run 'cargo build -p mentorhub' first" >&2
  exit 1
fi
rm -rf artifacts
mkdir -p artifacts
if [ "$#" -gt 0 ]; then specs=("$@"); else specs=(specs/); fi
# One spec file at a time: each runs a server and two or three Chromium contexts,
# and the machine has two cores.
node --test --test-concurrency=1 "${specs[@]}"
echo "screenshots: tests/browser/artifacts/"
