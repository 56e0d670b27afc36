#!/usr/bin/env bash
# Paired A/B runs of one workload: two gateway binaries take turns serving the same database, so
# that a change is measured against the binary before it on the same machine, minutes apart
# (this VM's noise is ±10-15 % between runs; alternating spreads it over both sides).
#
#   DB_URL=postgres://postgres@127.0.0.1:5432/gerbang_bench \
#     bash load-tests/pair.sh OLD_BIN NEW_BIN
#
# The database must hold the benchmark dataset (`run.sh` leaves it loaded, or `gerbang import
# laporan_warga_1m.csv --agency bench --dataset laporan-warga --publish --index
# district,category,reported_at`). Each round starts the server pinned to SERVER_CPU, checks that
# the first answer is a 200 (and shows its size), then runs wrk (pinned to LOAD_CPU) REPS times for DURATION after an
# unrecorded WARMUP, for each path in PATHS. The response cache is off.
#
# Settings (environment):
#   DB_URL          the database both binaries serve (required)
#   ROUNDS [2]      rounds; each runs OLD then NEW
#   PATHS [W2]      workload names: W1 W2 W2c W3 W4 W5 (URLs as in workloads.md; W5, the full
#                   CSV export, is timed with curl REPS times after the check's, in MB/s)
#   DURATION [6s] WARMUP [2s] REPS [3] CONNECTIONS [64] THREADS [1]
#   SERVER_CPU [0] LOAD_CPU [1] PORT [18080]
set -euo pipefail

if [ $# -ne 2 ] || [ -z "${DB_URL:-}" ]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
OLD="$1" NEW="$2"
ROUNDS="${ROUNDS:-2}" PATHS="${PATHS:-W2}"
DURATION="${DURATION:-6s}" WARMUP="${WARMUP:-2s}" REPS="${REPS:-3}"
CONNECTIONS="${CONNECTIONS:-64}" THREADS="${THREADS:-1}"
SERVER_CPU="${SERVER_CPU:-0}" LOAD_CPU="${LOAD_CPU:-1}" PORT="${PORT:-18080}"
BASE="http://127.0.0.1:$PORT/v1/datasets/bench/laporan-warga/versions/1"
W2='/records?district=eq.Balikpapan%20Utara&category=eq.banjir&order=reported_at.desc,id.desc&limit=100'

url() {
  case "$1" in
    W1) echo "$BASE/records/123456" ;;
    W2) echo "$BASE$W2" ;;
    W2c) echo "$BASE$W2&count=exact" ;;
    W3) echo "$BASE/records?id=gt.500000&order=id.asc&limit=100" ;;
    W4) echo "$BASE/records?q=banjir&order=id.asc&limit=100" ;;
    W5) echo "$BASE/records?format=csv" ;;
    *) echo "unknown workload $1 (W1 W2 W2c W3 W4 W5)" >&2; exit 2 ;;
  esac
}

pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT

serve() { # serve LABEL BIN
  local log
  log="$(mktemp)"
  GERBANG_DATABASE_URL="$DB_URL" GERBANG_CACHE__ENABLED=false \
    GERBANG_TIERS__ANONYMOUS__PER_MINUTE=1000000000 RUST_LOG=warn \
    taskset -c "$SERVER_CPU" "$2" serve --listen "127.0.0.1:$PORT" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$1: the server did not become healthy; its log:" >&2
  tail -n 20 "$log" >&2
  exit 1
}

for round in $(seq "$ROUNDS"); do
  for side in OLD NEW; do
    bin="$OLD"
    if [ "$side" = NEW ]; then bin="$NEW"; fi
    serve "$side" "$bin"
    for w in $PATHS; do
      u="$(url "$w")"
      read -r code size < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "$u")
      if [ "$code" != 200 ]; then
        echo "$side $w: HTTP $code from $u" >&2
        exit 1
      fi
      if [ "$w" = W5 ]; then
        runs=""
        for _ in $(seq "$REPS"); do
          runs="$runs $(taskset -c "$LOAD_CPU" curl -s -o /dev/null -w '%{size_download} %{time_total}' "$u" |
            awk '{ printf "%.1f", $1 / $2 / 1e6 }')"
        done
        echo "round $round $side $w ($size bytes): MB/s$runs"
        continue
      fi
      taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$u" >/dev/null
      runs=""
      for _ in $(seq "$REPS"); do
        out="$(taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$u")"
        if grep -q -E 'Non-2xx|Socket errors' <<<"$out"; then
          echo "$side $w: wrk saw errors:" >&2
          echo "$out" >&2
          exit 1
        fi
        runs="$runs $(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")"
      done
      echo "round $round $side $w ($size bytes): req/s$runs"
    done
    stop
  done
done
