#!/usr/bin/env bash
# What the gate costs: the same tiny handler bare (`/healthz`, outside the gate), behind key auth
# + the in-process limiter (`/v1/status` with X-API-Key), and behind key auth + the Redis limiter.
#
#   bash load-tests/access.sh
#
# Server pinned to SERVER_CPU, wrk to LOAD_CPU (taskset). Writes a markdown table to stdout and to
# BENCH_DIR/access-YYYYMMDD-HHMM.md. Needs wrk, curl, python3 and, for the Redis row, Redis at
# REDIS_URL. Env: GERBANG_BIN [target/release/gerbang] THREADS [2] CONNS [64] DURATION [10s]
# REPS [3] SERVER_CPU [0] LOAD_CPU [1] REDIS_URL [a private redis-server on LOAD_CPU] BENCH_DIR
# [target/bench]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.."

GERBANG_BIN="${GERBANG_BIN:-target/release/gerbang}"
THREADS="${THREADS:-2}" CONNS="${CONNS:-64}" DURATION="${DURATION:-10s}" REPS="${REPS:-3}"
SERVER_CPU="${SERVER_CPU:-0}" LOAD_CPU="${LOAD_CPU:-1}"
# By default the Redis row uses a private redis-server pinned to LOAD_CPU, like a Redis on
# another machine: on 2 cores an unpinned Redis lands on the server's core half the time and
# its Lua work is charged to the gateway. REDIS_URL uses an existing Redis instead.
REDIS_URL="${REDIS_URL:-}"
BENCH_DIR="${BENCH_DIR:-target/bench}"
mkdir -p "$BENCH_DIR"
WORK="$(mktemp -d)"
SERVER_PID=""
REDIS_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -x "$GERBANG_BIN" ] || { echo "no binary at $GERBANG_BIN (cargo build --release)" >&2; exit 1; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start MODE: a fresh SQLite database, a free tier that never limits, optional Redis
start() {
  local mode="$1" p
  p="$(port)"
  local env=(GERBANG_DATABASE_URL="sqlite://$WORK/$mode.db"
    GERBANG_TIERS__FREE__PER_MINUTE=1000000000 GERBANG_TIERS__FREE__PER_DAY=100000000000
    GERBANG_GUARDS__SIGNUPS_PER_HOUR=1000 RUST_LOG=warn)
  if [ "$mode" = redis ]; then
    env+=(GERBANG_REDIS_URL="$REDIS_URL" GERBANG_REDIS_PREFIX="bench-$$-$RANDOM")
  fi
  env "${env[@]}" taskset -c "$SERVER_CPU" "$GERBANG_BIN" serve --listen "127.0.0.1:$p" \
    >"$WORK/$mode.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$p"
  for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
  if [ "$mode" = redis ]; then
    for _ in $(seq 1 50); do curl -s "$BASE/readyz" | grep -q '"redis":"ok"' && break; sleep 0.1; done
    curl -s "$BASE/readyz" | grep -q '"redis":"ok"' || { echo "Redis not reachable at $REDIS_URL" >&2; exit 1; }
  fi
  KEY="$(
    curl -s -X POST "$BASE/v1/developers" -H 'Content-Type: application/json' \
      -d "{\"email\":\"bench-$mode@contoh.id\",\"name\":\"bench\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"]["key"])')"
}

stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# measure LABEL URL [HEADER]: median req/s of REPS runs, with p50 and p99 of that run
declare -a ROWS
measure() {
  local label="$1" url="$2" hdr="${3:-}" args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
  [ -n "$hdr" ] && args+=(-H "$hdr")
  # check the answer first
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' ${hdr:+-H "$hdr"} "$url")"
  [ "$code" = 200 ] || { echo "$label: $url answered $code" >&2; exit 1; }
  taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNS" -d2s ${hdr:+-H "$hdr"} "$url" >/dev/null
  local runs=()
  for _ in $(seq 1 "$REPS"); do
    taskset -c "$LOAD_CPU" wrk "${args[@]}" "$url" >"$WORK/wrk.out"
    runs+=("$(python3 - "$WORK/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def lat(p):
    m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", t)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs = int(non2xx.group(1)) if non2xx else 0
print(f"{rps:.0f} {lat(50):.2f} {lat(99):.2f} {errs}")
PY
)")
  done
  ROWS+=("$label|$(printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p")")
}

REDIS_DESC="Redis at $REDIS_URL"
if [ -z "$REDIS_URL" ]; then
  command -v redis-server >/dev/null || { echo "redis-server is required (or set REDIS_URL)" >&2; exit 1; }
  rport="$(port)"
  taskset -c "$LOAD_CPU" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
    >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$rport"
  for _ in $(seq 1 50); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  REDIS_DESC="a private redis-server on CPU $LOAD_CPU"
fi

start local
measure "bare handler (/healthz, no gate)" "$BASE/healthz"
measure "key auth + in-process limiter (/v1/status)" "$BASE/v1/status" "X-API-Key: $KEY"
stop
start redis
measure "key auth + Redis limiter (/v1/status)" "$BASE/v1/status" "X-API-Key: $KEY"
stop

OUT="$BENCH_DIR/access-$(date +%Y%m%d-%H%M).md"
{
  echo "### Gate overhead — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m)"
  echo
  echo "wrk -t$THREADS -c$CONNS -d$DURATION, median of $REPS; server on CPU $SERVER_CPU, wrk on CPU $LOAD_CPU;"
  echo "$REDIS_DESC; the server logs at warn (no access log), so the rows differ by the gate alone."
  echo
  echo "| configuration | req/s | p50 ms | p99 ms | non-2xx | vs bare |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  bare=""
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label vals <<<"$row"
    read -r rps p50 p99 errs <<<"$vals"
    [ -z "$bare" ] && bare="$rps"
    ratio="$(python3 -c "print(f'{$rps / $bare * 100:.0f} %')")"
    echo "| $label | $rps | $p50 | $p99 | $errs | $ratio |"
  done
} | tee "$OUT"
