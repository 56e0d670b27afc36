#!/usr/bin/env bash
# Contract test of the interoperability faces with the real clients from PyPI (ckanapi, rdflib,
# frictionless): builds the debug `gerbang`, serves the demo catalog on a free loopback port with a
# temporary SQLite database, runs scripts/interop_test.py against it, then stops the server.
# Fails (non-zero) on any mismatch. Usage: bash scripts/test-interop.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV_BIN=$(bash scripts/venv.sh)
cargo build --quiet -p gateway --bin gerbang
BIN="${CARGO_TARGET_DIR:-target}/debug/gerbang"

WORK=$(mktemp -d)
PORT=$("$VENV_BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
echo "== interoperability contract test against $URL"
# A generous anonymous tier: the test makes a few hundred calls in a few seconds.
GERBANG_DATABASE_URL="sqlite://$WORK/gerbang.db" GERBANG_TIERS__ANONYMOUS__PER_MINUTE=100000 \
  "$BIN" serve --demo --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
stop() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

# Wait until the server answers (the demo load takes a few seconds on a cold machine).
for _ in $(seq 1 600); do
  if "$VENV_BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$URL/healthz" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "FATAL: gerbang serve --demo exited:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.2
done

if ! PATH="$VENV_BIN:$PATH" "$VENV_BIN/python" scripts/interop_test.py "$URL"; then
  echo "--- server log (tail)" >&2
  tail -n 50 "$WORK/server.log" >&2
  exit 1
fi
