#!/usr/bin/env bash
# Installs the local push service's Python packages (PyPI `http-ece` and `py-vapid`) into
# a venv under ~/.cache/mentorhub, once; prints the venv's python. The e2e tests whose
# names contain `notify` start tests/push-receiver/receiver.py with it.
set -euo pipefail
ece=1.2.1
vapid=1.9.6
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mentorhub/push-receiver-$ece-$vapid"
if ! "$venv/bin/python" -c 'import http_ece, py_vapid' >/dev/null 2>&1; then
  echo "installing http-ece $ece and py-vapid $vapid into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "http-ece==$ece" "py-vapid==$vapid"
fi
echo "$venv/bin/python"
