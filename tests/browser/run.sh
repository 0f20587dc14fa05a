#!/usr/bin/env bash
# Browser tests: the web client in headless Chromium (Debian's), driven by
# playwright-core, against a real `mentorhub serve --dev` each spec starts itself.
# Installs Chromium and the npm packages when they are missing.
# Usage: bash tests/browser/run.sh [spec-file…]   (expects target/debug/mentorhub built)
set -euo pipefail
cd "$(dirname "$0")"
. lib/ensure.sh
rm -rf artifacts
mkdir -p artifacts
if [ "$#" -gt 0 ]; then specs=("$@"); else specs=(specs/); fi
# One spec file at a time: each runs a server and two or three Chromium contexts,
# and the machine has two cores.
node --test --test-concurrency=1 "${specs[@]}"
echo "screenshots: tests/browser/artifacts/"
