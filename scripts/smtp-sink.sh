#!/usr/bin/env bash
# Installs the SMTP server the e-mail digest tests talk to (Python aiosmtpd from PyPI) into
# a virtualenv under ~/.cache/mentorhub, once. The tests start it themselves
# (tests/smtp/sink.py); they look for it where this script puts it.
# Usage: bash scripts/smtp-sink.sh
set -euo pipefail
version=1.4.6
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mentorhub/aiosmtpd-$version"
if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "installing aiosmtpd $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "aiosmtpd==$version"
fi
