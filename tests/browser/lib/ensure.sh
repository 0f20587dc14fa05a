# Sourced by run.sh and bench/first-load.sh (from tests/browser/): installs Chromium
# and the npm packages (these specs' and the test OpenID provider's) when missing, and
# checks that the mentorhub binary is built.
root=$(cd ../.. && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export MENTORHUB_BIN="${MENTORHUB_BIN:-$CARGO_TARGET_DIR/debug/mentorhub}"

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
# The push spec's desktop: a private D-Bus bus with a notification server (Python).
if [ ! -x /usr/bin/dbus-daemon ] || ! /usr/bin/python3 -c 'import dbus, gi' 2>/dev/null; then
  echo "== installing dbus-daemon, python3-dbus, python3-gi (Debian)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dbus-daemon python3-dbus python3-gi >/dev/null
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
  echo "== npm ci (tests/browser)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -d ../oidc/node_modules/oidc-provider ]; then
  echo "== npm ci (tests/oidc: the OpenID provider of the sign-in specs)"
  (cd ../oidc && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -x "$MENTORHUB_BIN" ]; then
  echo "mentorhub binary not found at $MENTORHUB_BIN: run 'cargo build -p mentorhub' first" >&2
  exit 1
fi
