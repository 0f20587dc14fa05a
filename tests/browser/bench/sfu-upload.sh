#!/usr/bin/env bash
# The group-call benchmark (see sfu-upload.mjs): upload bitrate per participant in a
# 6-person video call, mesh vs SFU (Janus), from getStats in Chromium with fake media,
# and the CPU of Janus and of Mentorhub per participant over the same window.
# Usage: cargo build -p mentorhub && bash tests/browser/bench/sfu-upload.sh [--seconds 30] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
. lib/ensure.sh
if [ ! -x /usr/bin/janus ]; then
  echo "janus is missing: run scripts/ensure-services.sh" >&2
  exit 1
fi
node bench/sfu-upload.mjs "$@"
