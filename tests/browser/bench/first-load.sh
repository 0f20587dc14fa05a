#!/usr/bin/env bash
# The first-load benchmark (see first-load.mjs): sign-in screen usable, cold and repeat,
# at 400 kbps / 400 ms and 150 kbps / 800 ms, Mentorhub beside plain file serving.
# Usage: cargo build -p mentorhub && bash tests/browser/bench/first-load.sh [--runs N] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
. lib/ensure.sh
node bench/first-load.mjs "$@"
