#!/usr/bin/env bash
# Makes (or refreshes) the Python virtualenv that the contract tests use for real clients and
# validators from PyPI (scripts/requirements-ci.txt), and prints its bin directory.
# Usage: VENV_BIN=$(bash scripts/venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GERBANG_VENV:-/var/tmp/gerbang-venv}"
REQ=scripts/requirements-ci.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "== python venv $VENV ($REQ)" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV/bin"
