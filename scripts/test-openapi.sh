#!/usr/bin/env bash
# Issue 5's CI checks against the real server (`gerbang serve --demo`, SQLite, a free port):
#  1. openapi-spec-validator on the platform document and every demo version's document, and
#     every column typed with an example (scripts/openapi_check.py);
#  2. schemathesis on every GET operation of the platform document and of a version document,
#     with a developer key: no 5xx, no answer that contradicts the document;
#  3. /docs rendered by headless Chromium with every host but loopback unreachable; the DOM must
#     show the operations, and the screenshot is kept in target/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_BIN=$(bash scripts/venv.sh)
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build -p gateway --quiet
GERBANG="$TARGET/debug/gerbang"
ART="$TARGET/artifacts"
mkdir -p "$ART"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

GERBANG_DATABASE_URL="sqlite://$WORK/docs.db" \
GERBANG_TIERS__ANONYMOUS__PER_MINUTE=1000000 \
GERBANG_TIERS__FREE__PER_MINUTE=1000000 GERBANG_TIERS__FREE__PER_DAY=100000000 \
GERBANG_GUARDS__SIGNUPS_PER_HOUR=1000 \
  "$GERBANG" serve --demo --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 120); do
  curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log"; echo "FATAL: gerbang did not start" >&2; exit 1; }
  sleep 0.5
done
curl -fs "$BASE/healthz" >/dev/null || { echo "FATAL: gerbang is not answering" >&2; exit 1; }

echo "== OpenAPI documents: openapi-spec-validator"
"$VENV_BIN/python" scripts/openapi_check.py "$BASE" "$WORK" > "$WORK/check.out"
KEY=$(sed -n 1p "$WORK/check.out")
VERSION_DOC=$(sed -n 2p "$WORK/check.out")

echo "== schemathesis: GET operations, with a key"
export SCHEMATHESIS_HOOKS=""
for doc in /v1/openapi.json "$VERSION_DOC"; do
  "$VENV_BIN/st" run "$BASE$doc" --url "$BASE" \
    --include-method GET \
    --header "X-API-Key: $KEY" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples 40 --seed 5 --workers 2 \
    --request-timeout 30 --warnings off
done

echo "== /docs in headless Chromium (network blocked except loopback)"
bash scripts/ensure-chromium.sh
CHROMIUM=$(command -v chromium)
BLOCK=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$WORK/chrome"
  --proxy-server="http://127.0.0.1:9" --proxy-bypass-list="127.0.0.1"
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
  --virtual-time-budget=15000 --window-size=1280,1600)
for page in /docs /docs/dinas-pu/laporan-jalan; do
  name=$(echo "$page" | tr '/' '_')
  "$CHROMIUM" "${BLOCK[@]}" --dump-dom "$BASE$page" 2>/dev/null > "$WORK/dom$name.html"
  "$CHROMIUM" "${BLOCK[@]}" --screenshot="$ART/docs$name.png" "$BASE$page" >/dev/null 2>&1
  grep -q 'class="opblock' "$WORK/dom$name.html" || {
    echo "FATAL: $page did not render its operations" >&2; exit 1; }
  [ -s "$ART/docs$name.png" ] || { echo "FATAL: no screenshot of $page" >&2; exit 1; }
  echo "$page rendered ($(grep -o 'class="opblock ' "$WORK/dom$name.html" | wc -l) operations); screenshot $ART/docs$name.png"
done
grep -q 'Query records' "$WORK/dom_docs.html" || { echo "FATAL: /docs lacks the records operation" >&2; exit 1; }
echo "OpenAPI checks passed"
