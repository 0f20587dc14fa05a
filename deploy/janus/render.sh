#!/usr/bin/env sh
# Renders the Janus configuration templates in this directory into OUT_DIR, filling
# @NAME@ with the environment variable NAME; a line whose variable is empty or unset is
# dropped (optional settings). Then run: janus -F OUT_DIR -C OUT_DIR/janus.jcfg
#
#   JANUS_API_SECRET=… JANUS_WS_PORT=8188 JANUS_WS_IP=127.0.0.1 \
#     sh deploy/janus/render.sh /etc/mentorhub-janus
#
# Required: JANUS_API_SECRET (the same secret as Mentorhub's janus_secret).
# Defaults: JANUS_WS_PORT 8188, JANUS_WS_IP 127.0.0.1, JANUS_LIB_DIR the Debian path.
# Optional: JANUS_RTP_PORTS (e.g. 20000-20999), JANUS_PUBLIC_IP, JANUS_TURN_REST_API
# (Mentorhub's …/api/sfu/turn-credentials).
set -eu
out=${1:?usage: render.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
: "${JANUS_API_SECRET:?set JANUS_API_SECRET (Mentorhub's janus_secret)}"
export JANUS_WS_PORT="${JANUS_WS_PORT:-8188}"
export JANUS_WS_IP="${JANUS_WS_IP:-127.0.0.1}"
export JANUS_LIB_DIR="${JANUS_LIB_DIR:-/usr/lib/$(uname -m)-linux-gnu/janus}"
mkdir -p "$out"
export JANUS_CONFIG_DIR="$(cd "$out" && pwd)"
for template in "$here"/*.jcfg; do
  awk '
    {
      line = $0
      while (match(line, /@[A-Z0-9_]+@/)) {
        name = substr(line, RSTART + 1, RLENGTH - 2)
        value = ENVIRON[name]
        if (value == "") { line = ""; dropped = 1; break }
        line = substr(line, 1, RSTART - 1) value substr(line, RSTART + RLENGTH)
      }
      if (dropped) { dropped = 0; next }
      print line
    }' "$template" > "$out/$(basename "$template")"
done
chmod 600 "$out"/*.jcfg
