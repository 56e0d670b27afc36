#!/usr/bin/env bash
# Gerbang benchmark harness: one command from data generation to a markdown report.
#
#   bash load-tests/run.sh [--with-datasette]
#
# Runs the workloads of ../shared/bench/workloads.md (W1–W6) and a realistic mixed scenario against
# Gerbang on each backend in BACKENDS, the bare actix ceiling and (with --with-datasette) Datasette,
# checking every answer (load-tests/check.py, mixed.py) before timing it with wrk, with the server's
# CPU and peak RSS per workload, and writes target/bench/report-YYYYMMDD-HHMM.md. Planned at 12–15
# minutes on 2 cores with the defaults and --with-datasette. See load-tests/README.md for the knobs.
set -euo pipefail

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

Environment (defaults in brackets):
  ROWS [1m]                  data size for gen_data.py (100k, 1m, or an integer)
  BACKENDS [sqlite postgres] Gerbang backends to run; empty for none
  GERBANG_BIN [${CARGO_TARGET_DIR:-target}/release/gerbang]
  WITH_DATASETTE [0]         1 (or --with-datasette): also run Datasette on the same data
  COMPOSITE [district,category,reported_at]  one index over these fields for both Gerbang
                             (import --index) and Datasette (sqlite-utils create-index), as in
                             issue 2's tuned Datasette; empty: workloads.md's single-column ones
  WITH_BASELINE [1]          run the bare actix ceiling (BASELINE_BIN [next to GERBANG_BIN])
  WITH_MIXED [1]             run the mixed scenario on each backend (mixed.py + mixed.lua)
  MIXED_CACHE [on] MIXED_ANON_PER_MINUTE [60] MIXED_KEYS [8] MIXED_LINES [4000]
  MIXED_WEIGHTS [mixed.py's]  e.g. "anonymous=30,export=0"; MIXED_TIMEOUT [30s] (wrk --timeout)
  CACHE_MODES [off on]       run each backend with the response cache off, then on
  CACHE_OFF_ENV / CACHE_ON_ENV  env that turns the cache off/on [GERBANG_CACHE__ENABLED=false/true]
  W5_CACHE_ON [0]            1: time the export with the cache on too (exports are never cached)
  GERBANG_BENCH_ENV          extra server env [anonymous and free tiers lifted to 10^9/min]
  SERVER_CPU [0] LOAD_CPU [1]  taskset pinning of the server and of wrk/curl
  THREADS [2] CONNS [64] DURATION [4s] WARMUP [1s] REPS [3] DEEP_DURATION [3s] WRK_TIMEOUT [wrk's 2s]
  SLOW_MS [20] SLOW_CONNS [4] SLOW_TIMEOUT [30s]  a workload one request of which takes SLOW_MS
                             or more gets one run at SLOW_CONNS connections (timeout SLOW_TIMEOUT)
  EXPORT_REPS [3]            timed full exports (W5) per system, after the checker's
  TIME_FAILED [0]            1: time a workload even when its answer failed the check
  BENCH_DIR [target/bench]   where databases, raw output and reports go
  DATA_DIR [BENCH_DIR]       where the generated CSV is kept (and reused)
  SHARED_DIR [../shared]     where bench/gen_data.py lives
  PG_HOST [127.0.0.1] PG_PORT [5432] PG_USER [postgres] PG_DB [gerbang_bench] PG_URL [derived]
  SQLITE_URL [sqlite://BENCH_DIR/sqlite/bench.db]
  HEALTH_TIMEOUT [60]        seconds to wait for /healthz
EOF
}

for arg in "$@"; do
  case "$arg" in
    --with-datasette) WITH_DATASETTE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$REPO"

ROWS="${ROWS:-1m}"
BACKENDS="${BACKENDS-sqlite postgres}"
GERBANG_BIN="${GERBANG_BIN:-${CARGO_TARGET_DIR:-target}/release/gerbang}"
WITH_DATASETTE="${WITH_DATASETTE:-0}"
COMPOSITE="${COMPOSITE-district,category,reported_at}"
CACHE_MODES="${CACHE_MODES:-off on}"
CACHE_OFF_ENV="${CACHE_OFF_ENV:-GERBANG_CACHE__ENABLED=false}"
CACHE_ON_ENV="${CACHE_ON_ENV:-GERBANG_CACHE__ENABLED=true}"
W5_CACHE_ON="${W5_CACHE_ON:-0}"
WITH_MIXED="${WITH_MIXED:-1}"
MIXED_CACHE="${MIXED_CACHE:-on}"
MIXED_ANON_PER_MINUTE="${MIXED_ANON_PER_MINUTE:-60}"
MIXED_KEYS="${MIXED_KEYS:-8}"
MIXED_LINES="${MIXED_LINES:-4000}"
MIXED_WEIGHTS="${MIXED_WEIGHTS:-}"
MIXED_TIMEOUT="${MIXED_TIMEOUT:-30s}"
# the anonymous tier allows 60 requests a minute by default: lift it, or wrk measures 429s
GERBANG_BENCH_ENV="${GERBANG_BENCH_ENV-GERBANG_TIERS__ANONYMOUS__PER_MINUTE=1000000000 GERBANG_TIERS__FREE__PER_MINUTE=1000000000 GERBANG_TIERS__FREE__PER_DAY=1000000000000}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-64}"
# shorter than workloads.md's 10 s + 2 s so that the whole run fits in 15 minutes on 2 cores;
# DURATION=10s WARMUP=2s DEEP_DURATION=5s is the method of workloads.md (about 25 minutes)
DURATION="${DURATION:-4s}"
WARMUP="${WARMUP:-1s}"
REPS="${REPS:-3}"
DEEP_DURATION="${DEEP_DURATION:-3s}"
# full exports are long single requests (Datasette's takes over a minute at 1m rows): one is
# timed, after the checker's (which reads the whole export too, to check it)
EXPORT_REPS="${EXPORT_REPS:-3}"
WRK_TIMEOUT="${WRK_TIMEOUT:-}"
SLOW_MS="${SLOW_MS:-20}"
SLOW_CONNS="${SLOW_CONNS:-4}"
SLOW_TIMEOUT="${SLOW_TIMEOUT:-30s}"
TIME_FAILED="${TIME_FAILED:-0}"
HEALTH_TIMEOUT="${HEALTH_TIMEOUT:-60}"
SHARED_DIR="${SHARED_DIR:-../shared}"
BENCH_DIR="${BENCH_DIR:-target/bench}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
PG_DB="${PG_DB:-gerbang_bench}"
PG_URL="${PG_URL:-postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${PG_DB}}"

mkdir -p "$BENCH_DIR"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)"
SQLITE_URL="${SQLITE_URL:-sqlite://$BENCH_DIR/sqlite/bench.db}"
DATA_DIR="${DATA_DIR:-$BENCH_DIR}"
mkdir -p "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"
STAMP="$(date +%Y%m%d-%H%M)"
REPORT="$BENCH_DIR/report-$STAMP.md"
RUN_DIR="$BENCH_DIR/run-$(date +%Y%m%d-%H%M%S)"
RESULTS="$RUN_DIR/results.jsonl"
CSV="$DATA_DIR/laporan_warga_${ROWS}.csv"
CHECK=(python3 "$HERE/check.py")
REPORT_PY=(python3 "$HERE/report.py")
MIXED_PY=(python3 "$HERE/mixed.py")
RUSAGE=(python3 "$HERE/rusage.py")
CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
RUN_START=$SECONDS
GERBANG_PATH="/v1/datasets/bench/laporan-warga/versions/1"
mkdir -p "$RUN_DIR"
: >"$RESULTS"

SERVER_PID=""
EXPORT_PID=""
ANY_FAILED=0

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
add() { "${REPORT_PY[@]}" add "$@" >>"$RESULTS"; }
note() { log "note: $2"; add kind=note backend="$1" text="$2"; }
slug() { printf '%s' "$1" | tr -c 'A-Za-z0-9._-' '_'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# proc_kb PID FIELD: sets REPLY to a /proc/PID/status field in kB (0 when unreadable); no fork
proc_kb() {
  local k v rest
  REPLY=0
  [ -r "/proc/$1/status" ] || return 0
  while read -r k v rest; do
    if [ "$k" = "$2:" ]; then
      REPLY="$v"
      return 0
    fi
  done 2>/dev/null <"/proc/$1/status" || true
  return 0
}

# proc_ticks PID: sets REPLY to the CPU time (utime + stime, all threads) of PID in clock ticks
proc_ticks() {
  local line f
  REPLY=0
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
  # the command name (field 2) may hold spaces: count fields after its closing parenthesis
  read -r -a f <<<"${line##*) }"
  REPLY=$((f[11] + f[12]))
}

# reset_hwm PID: VmHWM := VmRSS (Linux >= 4.0), so VmHWM afterwards is the peak since now
reset_hwm() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

# secs_of 10s|2m|1h|500ms: seconds, for the time estimate
secs_of() {
  case "$1" in
    *ms) echo $((${1%ms} / 1000)) ;;
    *s) echo "${1%s}" ;;
    *m) echo $((${1%m} * 60)) ;;
    *h) echo $((${1%h} * 3600)) ;;
    *) echo "$1" ;;
  esac
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cleanup() {
  if [ -n "$EXPORT_PID" ]; then kill "$EXPORT_PID" 2>/dev/null || true; fi
  stop_server
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# start_server LOGFILE HEALTH_URL COMMAND...: start in the background, wait for HEALTH_URL
start_server() {
  local logf="$1" health="$2"
  shift 2
  "$@" >"$logf" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + HEALTH_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      log "the server exited during start-up; last lines of $logf:"
      tail -n 20 "$logf" >&2 || true
      return 1
    fi
    if curl -fsS -o /dev/null --max-time 2 "$health" 2>/dev/null; then
      return 0
    fi
    sleep 0.25
  done
  log "no answer from $health after ${HEALTH_TIMEOUT}s; last lines of $logf:"
  tail -n 20 "$logf" >&2 || true
  stop_server
  return 1
}

# wrk_series NAME DURATION REPS WRK_ARGS...: an unrecorded warm-up, then REPS recorded runs
# (outputs in $RUN_DIR/NAME.rN.txt, listed in WRK_FILES). Around the recorded runs, the server's
# CPU time (/proc/PID/stat) and peak RSS (VmHWM, reset first) go to WRK_PROC:
# "cpu_ticks clk_tck wall_s hwm_kb rss_kb hwm_reset". WRK_TIMEOUT_ONCE overrides WRK_TIMEOUT,
# WRK_CONNS_ONCE overrides CONNS.
WRK_FILES=()
WRK_PROC=""
wrk_series() {
  local name="$1" dur="$2" reps="$3" i
  shift 3
  local conns="${WRK_CONNS_ONCE:-$CONNS}"
  local threads=$((THREADS < conns ? THREADS : conns))
  local opts=(-t"$threads" -c"$conns" --latency) timeout="${WRK_TIMEOUT_ONCE:-$WRK_TIMEOUT}"
  if [ -n "$timeout" ]; then opts+=(--timeout "$timeout"); fi
  taskset -c "$LOAD_CPU" wrk "${opts[@]}" -d"$WARMUP" "$@" >"$RUN_DIR/$name.warmup.txt" 2>&1 ||
    log "wrk warm-up exited non-zero ($name)"
  local reset=0 c0 c1 t0 t1 hwm rss
  if reset_hwm "$SERVER_PID"; then reset=1; fi
  proc_ticks "$SERVER_PID"
  c0="$REPLY"
  t0="$(now)"
  WRK_FILES=()
  for ((i = 1; i <= reps; i++)); do
    taskset -c "$LOAD_CPU" wrk "${opts[@]}" -d"$dur" "$@" >"$RUN_DIR/$name.r$i.txt" 2>&1 ||
      log "wrk exited non-zero ($name run $i): $(tail -n 3 "$RUN_DIR/$name.r$i.txt" | tr '\n' ' ')"
    WRK_FILES+=("$RUN_DIR/$name.r$i.txt")
  done
  t1="$(now)"
  proc_ticks "$SERVER_PID"
  c1="$REPLY"
  proc_kb "$SERVER_PID" VmHWM
  hwm="$REPLY"
  proc_kb "$SERVER_PID" VmRSS
  rss="$REPLY"
  WRK_PROC="$RUN_DIR/$name.proc"
  echo "$((c1 - c0)) $CLK_TCK $(elapsed "$t0" "$t1") $hwm $rss $reset" >"$WRK_PROC"
}

# measure_export LABEL URL CHECK: W5, EXPORT_REPS sequential full exports, with the server's RSS
measure_export() {
  local label="$1" url="$2" chk="$3" s i
  s="$(slug "$label")"
  local samples="$RUN_DIR/$s.W5.samples"
  : >"$samples"
  for ((i = 1; i <= EXPORT_REPS; i++)); do
    local reset=0 rss0 hwm0 hwm1 peak c0
    # VmHWM afterwards is this export's peak
    if reset_hwm "$SERVER_PID"; then reset=1; fi
    proc_ticks "$SERVER_PID"
    c0="$REPLY"
    proc_kb "$SERVER_PID" VmRSS
    rss0="$REPLY"
    proc_kb "$SERVER_PID" VmHWM
    hwm0="$REPLY"
    peak="$rss0"
    taskset -c "$LOAD_CPU" curl -s -o /dev/null -w '%{size_download} %{time_total} %{http_code}' \
      "$url" >"$RUN_DIR/$s.W5.curl$i" &
    EXPORT_PID=$!
    while kill -0 "$EXPORT_PID" 2>/dev/null; do
      proc_kb "$SERVER_PID" VmRSS
      if ((REPLY > peak)); then peak="$REPLY"; fi
      sleep 0.05
    done
    wait "$EXPORT_PID" || log "curl exited non-zero (export run $i)"
    EXPORT_PID=""
    proc_kb "$SERVER_PID" VmHWM
    hwm1="$REPLY"
    proc_ticks "$SERVER_PID"
    echo "$(cat "$RUN_DIR/$s.W5.curl$i") $rss0 $peak $hwm0 $hwm1 $reset $((REPLY - c0)) $CLK_TCK" >>"$samples"
  done
  "${REPORT_PY[@]}" export --backend "$label" --check "$chk" "$samples" >>"$RESULTS"
}

# run_workloads TARGET LABEL BASE_URL: check, then time, W1..W6 and the deep-page ratio
run_workloads() {
  local target="$1" label="$2" base="$3" s wl chk path conns
  s="$(slug "$label")"
  for wl in W1 W2 W2c W3 W4 W5 W6; do
    conns="$CONNS"
    if [ "$wl" = W5 ] && [[ "$label" == *cache=on* ]] && [ "$W5_CACHE_ON" != 1 ]; then
      log "$label W5: skipped (whole-table exports are never cached: see cache=off; W5_CACHE_ON=1 runs it)"
      continue
    fi
    log "$label $wl: checking the answer"
    local cf="$RUN_DIR/$s.$wl.check.txt"
    if "${CHECK[@]}" "$wl" "$base" --rows "$N" --target "$target" >"$cf" 2>&1; then
      chk=ok
      cat "$cf" >&2
    else
      chk=FAILED
      ANY_FAILED=1
      cat "$cf" >&2
      log "!!!!! $label $wl: CHECK FAILED (message above); marked FAILED, going on"
      add kind=note backend="$label" text="$(grep -m 1 'CHECK FAILED' "$cf" | cut -c 1-400 || echo "$wl: checker crashed, see $cf")"
    fi
    add kind=check backend="$label" workload="$wl" check="$chk"
    if [ "$chk" != ok ] && [ "$TIME_FAILED" != 1 ]; then continue; fi
    path="$("${CHECK[@]}" --url "$wl" --rows "$N" --target "$target")"
    case "$wl" in
      W5)
        log "$label W5: timing $EXPORT_REPS full exports"
        measure_export "$label" "$base$path" "$chk"
        continue
        ;;
      W1)
        # the prefix without the id; the suffix after it (".json" for Datasette)
        local last="${path##*/}"
        log "$label W1: wrk, random id in 1..$N"
        wrk_series "$s.W1" "$DURATION" "$REPS" -s "$HERE/w1_random_id.lua" "$base${path%/*}/" \
          -- "$N" "${last##*[0-9]}"
        ;;
      *)
        # One request alone first: a workload that takes SLOW_MS or more would take CONNS times
        # that at CONNS connections on one core, past wrk's timeout, and measure nothing but
        # timeouts. It gets one run at SLOW_CONNS connections with SLOW_TIMEOUT instead.
        local probe
        probe="$(taskset -c "$LOAD_CPU" curl -s -o /dev/null -w '%{time_total}' --max-time 120 "$base$path" || echo 120)"
        if awk -v t="$probe" -v s="$SLOW_MS" 'BEGIN { exit !(t * 1000 >= s) }'; then
          log "$label $wl: one request took ${probe} s (>= ${SLOW_MS} ms): slow, 1 run at $SLOW_CONNS connections"
          WRK_CONNS_ONCE="$SLOW_CONNS" WRK_TIMEOUT_ONCE="$SLOW_TIMEOUT" \
            wrk_series "$s.$wl" "$DURATION" 1 "$base$path"
          conns="$SLOW_CONNS"
        else
          log "$label $wl: wrk $base$path"
          wrk_series "$s.$wl" "$DURATION" "$REPS" "$base$path"
        fi
        ;;
    esac
    "${REPORT_PY[@]}" wrk --backend "$label" --workload "$wl" --check "$chk" --proc "$WRK_PROC" \
      --conns "$conns" "${WRK_FILES[@]}" >>"$RESULTS"
  done

  local first deep first_file
  first="$("${CHECK[@]}" --url FIRST --rows "$N" --target "$target")"
  deep="$("${CHECK[@]}" --url DEEP --rows "$N" --target "$target")"
  log "$label: deep page vs first page, $DEEP_DURATION each"
  wrk_series "$s.FIRST" "$DEEP_DURATION" 1 "$base$first"
  first_file="${WRK_FILES[0]}"
  wrk_series "$s.DEEP" "$DEEP_DURATION" 1 "$base$deep"
  "${REPORT_PY[@]}" deep --backend "$label" --first-url "$first" --deep-url "$deep" \
    "$first_file" "${WRK_FILES[0]}" >>"$RESULTS" || note "$label" "deep/first comparison could not be read"
}

mark_all_failed() {
  local wl
  for wl in W1 W2 W2c W3 W4 W5 W6; do add kind=check backend="$1" workload="$wl" check=FAILED; done
  ANY_FAILED=1
}

run_gerbang_backend() {
  local backend="$1" db_url
  case "$backend" in
    sqlite)
      rm -rf "$BENCH_DIR/sqlite"
      mkdir -p "$BENCH_DIR/sqlite"
      db_url="$SQLITE_URL"
      ;;
    postgres)
      if ! command -v psql >/dev/null; then
        note "gerbang/postgres" "skipped: psql not installed"
        return 0
      fi
      log "postgres: fresh database $PG_DB"
      if ! PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres \
        -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >&2; then
        note "gerbang/postgres" "skipped: could not (re)create database $PG_DB on $PG_HOST:$PG_PORT"
        return 0
      fi
      db_url="$PG_URL"
      ;;
    *)
      note "gerbang/$backend" "skipped: unknown backend (use sqlite or postgres)"
      return 0
      ;;
  esac

  local ilog="$RUN_DIR/import-$backend.log" ru="$RUN_DIR/import-$backend.rusage" secs cpu rss st last phases
  GERBANG_DATABASE_URL="$db_url" "$GERBANG_BIN" migrate >"$RUN_DIR/migrate-$backend.log" 2>&1 ||
    log "'gerbang migrate' failed or does not exist (see $RUN_DIR/migrate-$backend.log); the import may migrate itself"
  if [ "$WITH_MIXED" = 1 ]; then seed_demo "$backend" "$db_url"; fi
  log "gerbang/$backend: importing $CSV"
  # the ingest logs each phase's time at info (the report shows them)
  if ! GERBANG_DATABASE_URL="$db_url" RUST_LOG="warn,catalog::records::ingest=info" \
    "${RUSAGE[@]}" "$ru" -- "$GERBANG_BIN" import "$CSV" \
    --agency bench --dataset laporan-warga --publish ${COMPOSITE:+--index "$COMPOSITE"} >"$ilog" 2>&1; then
    log "import failed; last lines of $ilog:"
    tr '\r' '\n' <"$ilog" | tail -n 20 >&2 || true
    note "gerbang/$backend" "import failed (see $ilog); no workloads run"
    mark_all_failed "gerbang/$backend"
    return 0
  fi
  read -r secs cpu rss st <"$ru"
  last="$(tr '\r' '\n' <"$ilog" | grep -v '^[[:space:]]*$' | tail -n 1 || true)"
  phases="$(tr '\r' '\n' <"$ilog" | sed -n 's/.*phase="\([^"]*\)" ms=\([0-9]*\).*/\1|\2/p' |
    awk -F'|' -v n="$N" '{printf "%s%s %.1f s", (NR > 1 ? ", " : ""), $1, $2 / 1000
      if ($1 == "loading" && $2 > 0) printf " (%.0f rows/s)", n / ($2 / 1000)} END {print ""}')"
  log "gerbang/$backend: imported $N rows in $secs s, CPU $cpu s, peak RSS $((rss / 1024)) MB ($last; $phases)"
  add kind=ingest backend="gerbang/$backend" rows="$N" seconds="$secs" cpu_s="$cpu" peak_rss_kb="$rss" \
    note="gerbang import (one process): $last; phases: $phases"

  local mode label port envs cache_var extra
  for mode in $CACHE_MODES; do
    label="gerbang/$backend cache=$mode"
    cache_var="CACHE_${mode^^}_ENV"
    envs=("GERBANG_DATABASE_URL=$db_url")
    read -r -a extra <<<"$GERBANG_BENCH_ENV ${!cache_var:-}"
    envs+=("${extra[@]}")
    port="${PORT:-$(free_port)}"
    log "$label: starting the server on 127.0.0.1:$port, CPU $SERVER_CPU (${envs[*]:1})"
    if ! start_server "$RUN_DIR/server-$(slug "$label").log" "http://127.0.0.1:$port/healthz" \
      env "${envs[@]}" taskset -c "$SERVER_CPU" "$GERBANG_BIN" serve --listen "127.0.0.1:$port"; then
      note "$label" "the server did not become healthy; no workloads run"
      mark_all_failed "$label"
      continue
    fi
    run_workloads gerbang "$label" "http://127.0.0.1:$port$GERBANG_PATH"
    if [ "$mode" = on ]; then run_w2_key "$label" "http://127.0.0.1:$port"; fi
    # the W2 answer's bytes, for the bare ceiling
    if [ ! -s "$RUN_DIR/w2-page.json" ]; then
      curl -s "http://127.0.0.1:$port$GERBANG_PATH$("${CHECK[@]}" --url W2 --rows "$N" --target gerbang)" \
        >"$RUN_DIR/w2-page.json" || true
    fi
    stop_server
  done
  if [ "$WITH_MIXED" = 1 ]; then run_mixed "$backend" "$db_url"; fi
}

# run_w2_key LABEL BASE: W2, hot, with a new developer's key in X-API-Key, so key verification
# and the key's own limiter run on every request (the free tier is lifted by GERBANG_BENCH_ENV)
run_w2_key() {
  local label="$1" base="$2" s key path code
  s="$(slug "$label")"
  key="$(curl -s -X POST "$base/v1/developers" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench-$RANDOM@contoh.id\",\"name\":\"bench\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"]["key"])' 2>/dev/null || true)"
  if [ -z "$key" ]; then
    note "$label" "W2key: could not register a developer; not run"
    return 0
  fi
  path="$GERBANG_PATH$("${CHECK[@]}" --url W2 --rows "$N" --target gerbang)"
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$base$path")"
  if [ "$code" != 200 ]; then
    note "$label" "W2key: answered $code; not run"
    add kind=check backend="$label" workload=W2key check=FAILED
    ANY_FAILED=1
    return 0
  fi
  log "$label W2key: wrk -H 'X-API-Key: gbk_…' $base$path"
  wrk_series "$s.W2key" "$DURATION" "$REPS" -H "X-API-Key: $key" "$base$path"
  "${REPORT_PY[@]}" wrk --backend "$label" --workload W2key --check ok --proc "$WRK_PROC" \
    --conns "$CONNS" "${WRK_FILES[@]}" >>"$RESULTS"
}

# seed_demo BACKEND DB_URL: `gerbang serve --demo` once on the fresh database (it seeds the demo
# agencies and datasets only while there is no agency), so the mixed scenario browses a catalog
# of several datasets, not only the benchmark's
seed_demo() {
  local port
  port="$(free_port)"
  log "gerbang/$1: seeding the demo catalog (serve --demo)"
  if start_server "$RUN_DIR/demo-$1.log" "http://127.0.0.1:$port/healthz" \
    env GERBANG_DATABASE_URL="$2" "$GERBANG_BIN" serve --demo --listen "127.0.0.1:$port"; then
    stop_server
  else
    note "gerbang/$1" "serve --demo failed (see $RUN_DIR/demo-$1.log): the mixed scenario browses the benchmark dataset only"
  fi
}

# run_mixed BACKEND DB_URL: the realistic mix (mixed.py draws and checks it, mixed.lua replays
# it) against a server whose anonymous tier is tight (MIXED_ANON_PER_MINUTE) while developer keys
# are not limited, so the 429s come from the anonymous share only; any other error is a failure
run_mixed() {
  local backend="$1" db_url="$2" label="gerbang/$1" port envs extra cache_var s chk summary
  s="$(slug "$label").MIXED"
  cache_var="CACHE_${MIXED_CACHE^^}_ENV"
  envs=("GERBANG_DATABASE_URL=$db_url" "GERBANG_TIERS__ANONYMOUS__PER_MINUTE=$MIXED_ANON_PER_MINUTE"
    GERBANG_TIERS__FREE__PER_MINUTE=1000000000 GERBANG_TIERS__FREE__PER_DAY=1000000000000
    GERBANG_GUARDS__SIGNUPS_PER_HOUR=1000000)
  read -r -a extra <<<"${!cache_var:-}"
  envs+=("${extra[@]}")
  port="${PORT:-$(free_port)}"
  log "$label mixed: starting the server on 127.0.0.1:$port, CPU $SERVER_CPU (${envs[*]:1})"
  if ! start_server "$RUN_DIR/server-$s.log" "http://127.0.0.1:$port/healthz" \
    env "${envs[@]}" taskset -c "$SERVER_CPU" "$GERBANG_BIN" serve --listen "127.0.0.1:$port"; then
    note "$label" "mixed: the server did not become healthy"
    add kind=check backend="$label" workload=MIXED check=FAILED
    ANY_FAILED=1
    return 0
  fi
  local plan="$RUN_DIR/$s.requests.tsv"
  log "$label mixed: registering $MIXED_KEYS developers, drawing $MIXED_LINES requests, checking each kind"
  if summary="$("${MIXED_PY[@]}" prepare "http://127.0.0.1:$port" --rows "$N" --out "$plan" \
    --keys "$MIXED_KEYS" --lines "$MIXED_LINES" --weights "$MIXED_WEIGHTS" 2>"$RUN_DIR/$s.check.txt")"; then
    chk=ok
    cat "$RUN_DIR/$s.check.txt" >&2
  else
    chk=FAILED
    ANY_FAILED=1
    cat "$RUN_DIR/$s.check.txt" >&2
    log "!!!!! $label mixed: CHECK FAILED (message above); marked FAILED, going on"
    add kind=note backend="$label" text="$(grep -m 1 'CHECK FAILED' "$RUN_DIR/$s.check.txt" | cut -c 1-400 || echo "mixed: see $RUN_DIR/$s.check.txt")"
  fi
  add kind=check backend="$label" workload=MIXED check="$chk"
  if [ "$chk" = ok ] || [ "$TIME_FAILED" = 1 ]; then
    add kind=mixmeta backend="$label" text="$summary" anon_per_minute="$MIXED_ANON_PER_MINUTE" cache="$MIXED_CACHE"
    log "$label mixed: wrk -s mixed.lua ($summary)"
    WRK_TIMEOUT_ONCE="$MIXED_TIMEOUT" wrk_series "$s" "$DURATION" "$REPS" -s "$HERE/mixed.lua" \
      "http://127.0.0.1:$port/" -- "$plan"
    if ! "${REPORT_PY[@]}" wrk --mixed --backend "$label" --workload MIXED --check "$chk" --proc "$WRK_PROC" \
      "${WRK_FILES[@]}" >>"$RESULTS"; then
      ANY_FAILED=1
      log "!!!!! $label mixed: answers other than 2xx and 429 (see the report)"
    fi
  fi
  stop_server
}

# The ceiling: actix-web answering the W2 page's bytes (/page) and a tiny JSON (/health) from
# memory, pinned like the servers. Ratios to it are the share of the machine a gateway keeps.
run_baseline() {
  local bin="${BASELINE_BIN:-$(dirname "$GERBANG_BIN")/gerbang-baseline}" port label="bare actix"
  if [ ! -x "$bin" ]; then
    note "$label" "skipped: no baseline binary at $bin (cargo build --release -p baseline)"
    return 0
  fi
  [ -s "$RUN_DIR/w2-page.json" ] || printf '{"data":[],"next_cursor":null}' >"$RUN_DIR/w2-page.json"
  port="$(free_port)"
  if ! start_server "$RUN_DIR/server-baseline.log" "http://127.0.0.1:$port/health" \
    taskset -c "$SERVER_CPU" "$bin" --listen "127.0.0.1:$port" --page "$RUN_DIR/w2-page.json"; then
    note "$label" "the baseline did not start"
    return 0
  fi
  local wl path
  for wl in W2 health; do
    path=/page
    [ "$wl" = health ] && path=/health
    log "$label $wl: wrk http://127.0.0.1:$port$path"
    wrk_series "baseline.$wl" "$DURATION" "$REPS" "http://127.0.0.1:$port$path"
    "${REPORT_PY[@]}" wrk --backend "$label" --workload "$wl" --check ok --proc "$WRK_PROC" \
      "${WRK_FILES[@]}" >>"$RESULTS"
  done
  stop_server
}

run_datasette() {
  local bin dir="$BENCH_DIR/datasette" label=datasette
  # the project's one virtualenv (scripts/requirements-ci.txt pins datasette and sqlite-utils)
  if ! bin="$(bash "$REPO/scripts/venv.sh")" || [ ! -x "$bin/datasette" ] || [ ! -x "$bin/sqlite-utils" ]; then
    note "$label" "skipped: no datasette / sqlite-utils from scripts/venv.sh (scripts/requirements-ci.txt; python3-venv)"
    mark_all_failed "$label"
    return 0
  fi
  DATASETTE_VERSION="$("$bin/datasette" --version 2>&1 | head -n 1); $("$bin/sqlite-utils" --version 2>&1 | head -n 1)"
  local db="$dir/laporan.db" ru="$RUN_DIR/import-datasette.rusage" c secs cpu rss ins
  rm -rf "$dir"
  mkdir -p "$dir"
  # sqlite-utils 3.x needs --detect-types; 4.x detects types by default and refuses the flag
  local detect=()
  local help
  help="$("$bin/sqlite-utils" insert --help)"
  if grep -qE '^[[:space:]]+(-d, )?--detect-types' <<<"$help"; then detect=(--detect-types); fi
  log "datasette: loading $CSV with sqlite-utils insert --csv ${detect[*]} --pk id"
  # each step through rusage.py: one line each (wall, CPU, peak RSS), summed below
  "${RUSAGE[@]}" "$ru" -- "$bin/sqlite-utils" insert "$db" laporan_warga "$CSV" --csv "${detect[@]}" --pk id >&2 ||
    log "sqlite-utils insert failed"
  local indexes=(district category status reported_at) composite=()
  for c in "${indexes[@]}"; do
    "${RUSAGE[@]}" "$ru" -- "$bin/sqlite-utils" create-index "$db" laporan_warga "$c" >&2
  done
  if [ -n "$COMPOSITE" ]; then
    IFS=, read -r -a composite <<<"$COMPOSITE"
    "${RUSAGE[@]}" "$ru" -- "$bin/sqlite-utils" create-index "$db" laporan_warga "${composite[@]}" >&2
  fi
  "${RUSAGE[@]}" "$ru" -- "$bin/sqlite-utils" enable-fts "$db" laporan_warga description >&2
  local sums
  sums="$(awk 'NR == 1 { ins = $1 } { w += $1; c += $2; if ($3 > m) m = $3 } END { printf "%.3f %.3f %d %.3f", w, c, m, ins }' "$ru")"
  read -r secs cpu rss ins <<<"$sums"
  add kind=ingest backend=datasette rows="$N" seconds="$secs" cpu_s="$cpu" peak_rss_kb="$rss" \
    note="sqlite-utils insert --csv${detect[*]:+ ${detect[*]}} --pk id ${ins} s, then ${#indexes[@]} indexes${COMPOSITE:+ + ($COMPOSITE)} + FTS $(awk -v a="$secs" -v b="$ins" 'BEGIN { printf "%.1f", a - b }') s"

  local port="${PORT:-$(free_port)}"
  log "datasette: serving on 127.0.0.1:$port, CPU $SERVER_CPU"
  # max_csv_mb 0: no 100 MB cap on the W5 stream; sql_time_limit_ms: no 1 s cap on W2c's count and W6
  if ! start_server "$RUN_DIR/server-datasette.log" "http://127.0.0.1:$port/-/versions.json" \
    taskset -c "$SERVER_CPU" "$bin/datasette" serve --immutable "$db" --host 127.0.0.1 --port "$port" \
    --setting suggest_facets off --setting default_facet_size 0 \
    --setting max_csv_mb 0 --setting sql_time_limit_ms 60000; then
    note "$label" "datasette did not start; no workloads run"
    mark_all_failed "$label"
    return 0
  fi
  run_workloads datasette "$label" "http://127.0.0.1:$port"
  stop_server
}

# ---------------------------------------------------------------- preflight

for tool in python3 curl taskset awk; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || die "wrk is missing; install it (apt-get install -y wrk) or run as root"
  log "installing wrk"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
  fi
fi
if [ -n "${BACKENDS// /}" ] && [ ! -x "$GERBANG_BIN" ]; then
  die "no Gerbang binary at $GERBANG_BIN (build it with 'cargo build --release', or set GERBANG_BIN)"
fi

N="$("${CHECK[@]}" --parse-rows "$ROWS")" || die "ROWS=$ROWS is not a row count"
NPROC="$(nproc)"
PINNING="server on CPU $SERVER_CPU, wrk and curl on CPU $LOAD_CPU (taskset -c); imports and data generation not pinned"
if ((NPROC < 2)); then
  LOAD_CPU="$SERVER_CPU"
  PINNING="only $NPROC CPU: server and load generator share CPU $SERVER_CPU (figures are pessimistic)"
  log "warning: $PINNING"
fi

if [ ! -s "$CSV" ]; then
  log "generating $CSV ($ROWS rows)"
  python3 "$SHARED_DIR/bench/gen_data.py" --rows "$ROWS" --out "$CSV" >&2
fi
log "data: $CSV ($N rows, $(du -h "$CSV" | cut -f1)); raw output in $RUN_DIR"

# what the timed part alone costs; imports, checks and exports come on top (README: an estimated
# 4–7 minutes at 1m rows with Datasette on 2 cores)
words() { local w=($1); echo "${#w[@]}"; }
NB="$(words "$BACKENDS")"
NM="$(words "$CACHE_MODES")"
SERIES=$((NB * NM * 6 + (WITH_MIXED == 1 ? NB : 0) + (WITH_DATASETTE == 1 ? 6 : 0) + (${WITH_BASELINE:-1} == 1 ? 2 : 0)))
DEEPS=$((NB * NM * 2 + (WITH_DATASETTE == 1 ? 2 : 0)))
WRK_SECONDS=$((SERIES * ($(secs_of "$WARMUP") + REPS * $(secs_of "$DURATION")) + DEEPS * ($(secs_of "$WARMUP") + $(secs_of "$DEEP_DURATION"))))
log "plan: $SERIES wrk series ($WARMUP warm-up + $REPS x $DURATION) and $DEEPS deep/first runs: $((WRK_SECONDS / 60)) min $((WRK_SECONDS % 60)) s of load, plus imports, checks and exports"

# ---------------------------------------------------------------- run

DATASETTE_VERSION=""
for backend in $BACKENDS; do
  run_gerbang_backend "$backend"
done
if [ "${WITH_BASELINE:-1}" = 1 ]; then
  run_baseline
fi
if [ "$WITH_DATASETTE" = 1 ]; then
  run_datasette
fi

# ---------------------------------------------------------------- report

GERBANG_VERSION=""
if [ -n "${BACKENDS// /}" ]; then
  GERBANG_VERSION="$GERBANG_BIN ($("$GERBANG_BIN" --version 2>/dev/null | head -n 1 || true))"
fi
WRK_DESC="taskset -c $LOAD_CPU wrk -t$THREADS -c$CONNS -d$DURATION --latency${WRK_TIMEOUT:+ --timeout $WRK_TIMEOUT}"
WRK_DESC="\`$WRK_DESC\`, unrecorded $WARMUP warm-up, $REPS repetitions, median; W1 with w1_random_id.lua; deep/first page $DEEP_DURATION each; W5 with curl, $EXPORT_REPS sequential exports; mixed with mixed.lua (--timeout $MIXED_TIMEOUT); a slow workload (one request alone $SLOW_MS ms or more) one run at $SLOW_CONNS connections, --timeout $SLOW_TIMEOUT"
RUN_SECONDS=$((SECONDS - RUN_START))
MIXED_DESC=""
if [ "$WITH_MIXED" = 1 ]; then
  MIXED_DESC="anonymous tier \`GERBANG_TIERS__ANONYMOUS__PER_MINUTE=$MIXED_ANON_PER_MINUTE\`, $MIXED_KEYS developer keys on an unlimited free tier, cache $MIXED_CACHE, $MIXED_LINES requests drawn by mixed.py${MIXED_WEIGHTS:+ (weights $MIXED_WEIGHTS)}, demo catalog seeded before the import"
fi
"${REPORT_PY[@]}" render "$RESULTS" \
  --meta "date=$(date -Is)" \
  --meta "uname=\`$(uname -a)\`" \
  --meta "nproc=$NPROC" \
  --meta "mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)" \
  --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)" \
  --meta "pinning=$PINNING" \
  --meta "rows=$N" \
  --meta "conns=$CONNS" \
  --meta "csv=\`$CSV\` ($(du -h "$CSV" | cut -f1))" \
  --meta "wrk=$WRK_DESC" \
  --meta "wrk_version=$(wrk -v 2>&1 | head -n 1 || true)" \
  --meta "gerbang=$GERBANG_VERSION" \
  --meta "server_env=\`${GERBANG_BENCH_ENV}\`; cache off: \`$CACHE_OFF_ENV\`, on: \`$CACHE_ON_ENV\`" \
  --meta "indexes=${COMPOSITE:+one over ($COMPOSITE) beside the single-column ones, for Gerbang (\`import --index\`) and Datasette (\`sqlite-utils create-index\`)}" \
  --meta "datasette=$DATASETTE_VERSION" \
  --meta "mixed=$MIXED_DESC" \
  --meta "run_time=$((RUN_SECONDS / 60)) min $((RUN_SECONDS % 60)) s for the whole run.sh (load alone planned at $((WRK_SECONDS / 60)) min $((WRK_SECONDS % 60)) s)" \
  --meta "raw=$RUN_DIR" >"$REPORT"

echo
cat "$REPORT"
echo
log "report written to $REPORT"
if [ "$ANY_FAILED" = 1 ]; then
  log "some checks FAILED: see the report"
  exit 1
fi
