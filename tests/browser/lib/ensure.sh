# Sourced by run.sh and bench/first-load.sh (from tests/browser/): installs Chromium
# and the npm packages when missing, and checks that the mentorhub binary is built.
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
