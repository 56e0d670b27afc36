#!/usr/bin/env bash
# Browser tests of the portal: real headless Chromium (Debian's `chromium`) driven by
# playwright-core through the three flows in e2e/flows.mjs, against `gerbang serve --demo` on a
# free loopback port with a throwaway SQLite database. Screenshots go to
# target/portal-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

bash scripts/ensure-chromium.sh

BIN=$(cargo build -q -p gateway --bin gerbang --message-format=json \
  | grep -o '"executable":"[^"]*/gerbang"' | tail -n1 | cut -d'"' -f4)
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "FATAL: could not build the gerbang binary" >&2
  exit 1
fi

TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADMIN_PASSWORD="portal-e2e-$RANDOM$RANDOM"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# Only loopback: no Redis, no OIDC; a fresh database with the demo catalog.
env -u GERBANG_REDIS_URL \
  GERBANG_LISTEN="127.0.0.1:$PORT" \
  GERBANG_DATABASE_URL="sqlite://$TMP/gerbang.db?mode=rwc" \
  GERBANG_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$BIN" serve --demo >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FATAL: gerbang exited before answering /healthz" >&2
    cat "$TMP/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! curl -fsS "$BASE/healthz" >/dev/null; then
  echo "FATAL: gerbang did not answer /healthz within 60 s" >&2
  cat "$TMP/server.log" >&2
  exit 1
fi

(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p "$ROOT/target/portal-screenshots"
if ! PORTAL_URL="$BASE" GERBANG_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  SCREENSHOT_DIR="$ROOT/target/portal-screenshots" CHROMIUM=/usr/bin/chromium \
  node e2e/flows.mjs; then
  echo "== server log" >&2
  tail -n 50 "$TMP/server.log" >&2
  exit 1
fi
