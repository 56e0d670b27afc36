#!/usr/bin/env bash
# Gerbang benchmark harness: one command from data generation to a markdown report.
#
#   bash load-tests/run.sh [--with-datasette]
#
# Runs the workloads of ../shared/bench/workloads.md (W1–W6) against Gerbang on each backend in
# BACKENDS, checking every answer (load-tests/check.py) before timing it with wrk, and writes
# target/bench/report-YYYYMMDD-HHMM.md. See load-tests/README.md for the knobs.
set -euo pipefail

usage() {
  sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

Environment (defaults in brackets):
  ROWS [1m]                  data size for gen_data.py (100k, 1m, or an integer)
  BACKENDS [sqlite postgres] Gerbang backends to run; empty for none
  GERBANG_BIN [target/release/gerbang]
  WITH_DATASETTE [0]         1 (or --with-datasette): also run Datasette on the same data
  WITH_BASELINE [1]          run the bare actix ceiling (BASELINE_BIN [next to GERBANG_BIN])
  CACHE_MODES [off on]       run each backend with the response cache off, then on
  CACHE_OFF_ENV / CACHE_ON_ENV  env that turns the cache off/on [GERBANG_CACHE__ENABLED=false/true]
  GERBANG_BENCH_ENV          extra server env [GERBANG_TIERS__ANONYMOUS__PER_MINUTE=1000000000]
  SERVER_CPU [0] LOAD_CPU [1]  taskset pinning of the server and of wrk/curl
  THREADS [2] CONNS [64] DURATION [10s] WARMUP [2s] REPS [3] DEEP_DURATION [5s] WRK_TIMEOUT [wrk's 2s]
  TIME_FAILED [0]            1: time a workload even when its answer failed the check
  BENCH_DIR [target/bench]   where data, databases, raw output and reports go
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
GERBANG_BIN="${GERBANG_BIN:-target/release/gerbang}"
WITH_DATASETTE="${WITH_DATASETTE:-0}"
CACHE_MODES="${CACHE_MODES:-off on}"
CACHE_OFF_ENV="${CACHE_OFF_ENV:-GERBANG_CACHE__ENABLED=false}"
CACHE_ON_ENV="${CACHE_ON_ENV:-GERBANG_CACHE__ENABLED=true}"
# the anonymous tier allows 60 requests a minute by default: lift it, or wrk measures 429s
GERBANG_BENCH_ENV="${GERBANG_BENCH_ENV-GERBANG_TIERS__ANONYMOUS__PER_MINUTE=1000000000}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
THREADS="${THREADS:-2}"
CONNS="${CONNS:-64}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
REPS="${REPS:-3}"
DEEP_DURATION="${DEEP_DURATION:-5s}"
WRK_TIMEOUT="${WRK_TIMEOUT:-}"
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
STAMP="$(date +%Y%m%d-%H%M)"
REPORT="$BENCH_DIR/report-$STAMP.md"
RUN_DIR="$BENCH_DIR/run-$(date +%Y%m%d-%H%M%S)"
RESULTS="$RUN_DIR/results.jsonl"
CSV="$BENCH_DIR/laporan_warga_${ROWS}.csv"
CHECK=(python3 "$HERE/check.py")
REPORT_PY=(python3 "$HERE/report.py")
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
# (outputs in $RUN_DIR/NAME.rN.txt, listed in WRK_FILES)
WRK_FILES=()
wrk_series() {
  local name="$1" dur="$2" reps="$3" i
  shift 3
  local opts=(-t"$THREADS" -c"$CONNS" --latency)
  if [ -n "$WRK_TIMEOUT" ]; then opts+=(--timeout "$WRK_TIMEOUT"); fi
  taskset -c "$LOAD_CPU" wrk "${opts[@]}" -d"$WARMUP" "$@" >"$RUN_DIR/$name.warmup.txt" 2>&1 ||
    log "wrk warm-up exited non-zero ($name)"
  WRK_FILES=()
  for ((i = 1; i <= reps; i++)); do
    taskset -c "$LOAD_CPU" wrk "${opts[@]}" -d"$dur" "$@" >"$RUN_DIR/$name.r$i.txt" 2>&1 ||
      log "wrk exited non-zero ($name run $i): $(tail -n 3 "$RUN_DIR/$name.r$i.txt" | tr '\n' ' ')"
    WRK_FILES+=("$RUN_DIR/$name.r$i.txt")
  done
}

# measure_export LABEL URL CHECK: W5, REPS sequential full exports, with the server's RSS
measure_export() {
  local label="$1" url="$2" chk="$3" s i
  s="$(slug "$label")"
  local samples="$RUN_DIR/$s.W5.samples"
  : >"$samples"
  for ((i = 1; i <= REPS; i++)); do
    local reset=0 rss0 hwm0 hwm1 peak
    # "5" resets VmHWM to the current RSS (Linux >= 4.0), so VmHWM afterwards is this export's peak
    if { echo 5 >"/proc/$SERVER_PID/clear_refs"; } 2>/dev/null; then reset=1; fi
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
    echo "$(cat "$RUN_DIR/$s.W5.curl$i") $rss0 $peak $hwm0 $hwm1 $reset" >>"$samples"
  done
  "${REPORT_PY[@]}" export --backend "$label" --check "$chk" "$samples" >>"$RESULTS"
}

# run_workloads TARGET LABEL BASE_URL: check, then time, W1..W6 and the deep-page ratio
run_workloads() {
  local target="$1" label="$2" base="$3" s wl chk path
  s="$(slug "$label")"
  for wl in W1 W2 W2c W3 W4 W5 W6; do
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
        log "$label W5: timing $REPS full exports"
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
        log "$label $wl: wrk $base$path"
        wrk_series "$s.$wl" "$DURATION" "$REPS" "$base$path"
        ;;
    esac
    "${REPORT_PY[@]}" wrk --backend "$label" --workload "$wl" --check "$chk" "${WRK_FILES[@]}" >>"$RESULTS"
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

  local ilog="$RUN_DIR/import-$backend.log" t0 t1 secs last
  GERBANG_DATABASE_URL="$db_url" "$GERBANG_BIN" migrate >"$RUN_DIR/migrate-$backend.log" 2>&1 ||
    log "'gerbang migrate' failed or does not exist (see $RUN_DIR/migrate-$backend.log); the import may migrate itself"
  log "gerbang/$backend: importing $CSV"
  t0="$(now)"
  if ! GERBANG_DATABASE_URL="$db_url" "$GERBANG_BIN" import "$CSV" --agency bench --dataset laporan-warga \
    --publish >"$ilog" 2>&1; then
    log "import failed; last lines of $ilog:"
    tr '\r' '\n' <"$ilog" | tail -n 20 >&2 || true
    note "gerbang/$backend" "import failed (see $ilog); no workloads run"
    mark_all_failed "gerbang/$backend"
    return 0
  fi
  t1="$(now)"
  secs="$(elapsed "$t0" "$t1")"
  last="$(tr '\r' '\n' <"$ilog" | grep -v '^[[:space:]]*$' | tail -n 1 || true)"
  log "gerbang/$backend: imported $N rows in $secs s ($last)"
  add kind=ingest backend="gerbang/$backend" rows="$N" seconds="$secs" note="gerbang import: $last"

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
    # the W2 answer's bytes, for the bare ceiling
    if [ ! -s "$RUN_DIR/w2-page.json" ]; then
      curl -s "http://127.0.0.1:$port$GERBANG_PATH$("${CHECK[@]}" --url W2 --rows "$N" --target gerbang)" \
        >"$RUN_DIR/w2-page.json" || true
    fi
    stop_server
  done
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
    "${REPORT_PY[@]}" wrk --backend "$label" --workload "$wl" --check ok "${WRK_FILES[@]}" >>"$RESULTS"
  done
  stop_server
}

run_datasette() {
  local venv="$BENCH_DIR/venv" dir="$BENCH_DIR/datasette" label=datasette
  if [ ! -x "$venv/bin/datasette" ] || [ ! -x "$venv/bin/sqlite-utils" ]; then
    log "datasette: installing datasette and sqlite-utils into $venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check datasette sqlite-utils ||
      die "pip install datasette sqlite-utils failed"
  fi
  DATASETTE_VERSION="$("$venv/bin/datasette" --version 2>&1 | head -n 1); $("$venv/bin/sqlite-utils" --version 2>&1 | head -n 1)"
  local db="$dir/laporan.db" t0 t1 t2 c
  rm -rf "$dir"
  mkdir -p "$dir"
  # sqlite-utils 3.x needs --detect-types; 4.x detects types by default and refuses the flag
  local detect=()
  local help
  help="$("$venv/bin/sqlite-utils" insert --help)"
  if grep -qE '^[[:space:]]+(-d, )?--detect-types' <<<"$help"; then detect=(--detect-types); fi
  log "datasette: loading $CSV with sqlite-utils insert --csv ${detect[*]} --pk id"
  t0="$(now)"
  "$venv/bin/sqlite-utils" insert "$db" laporan_warga "$CSV" --csv "${detect[@]}" --pk id >&2
  t1="$(now)"
  for c in district category status reported_at; do
    "$venv/bin/sqlite-utils" create-index "$db" laporan_warga "$c" >&2
  done
  "$venv/bin/sqlite-utils" enable-fts "$db" laporan_warga description >&2
  t2="$(now)"
  add kind=ingest backend=datasette rows="$N" seconds="$(elapsed "$t0" "$t2")" \
    note="sqlite-utils insert --csv --detect-types $(elapsed "$t0" "$t1") s, then 4 indexes + FTS $(elapsed "$t1" "$t2") s"

  local port="${PORT:-$(free_port)}"
  log "datasette: serving on 127.0.0.1:$port, CPU $SERVER_CPU"
  # max_csv_mb 0: no 100 MB cap on the W5 stream; sql_time_limit_ms: no 1 s cap on W2c's count and W6
  if ! start_server "$RUN_DIR/server-datasette.log" "http://127.0.0.1:$port/-/versions.json" \
    taskset -c "$SERVER_CPU" "$venv/bin/datasette" serve --immutable "$db" --host 127.0.0.1 --port "$port" \
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
WRK_DESC="\`$WRK_DESC\`, unrecorded $WARMUP warm-up, $REPS repetitions, median; W1 with w1_random_id.lua; deep/first page $DEEP_DURATION each; W5 with curl, $REPS sequential exports"
"${REPORT_PY[@]}" render "$RESULTS" \
  --meta "date=$(date -Is)" \
  --meta "uname=\`$(uname -a)\`" \
  --meta "nproc=$NPROC" \
  --meta "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || echo unknown)" \
  --meta "pinning=$PINNING" \
  --meta "rows=$N" \
  --meta "csv=\`$CSV\` ($(du -h "$CSV" | cut -f1))" \
  --meta "wrk=$WRK_DESC" \
  --meta "wrk_version=$(wrk -v 2>&1 | head -n 1 || true)" \
  --meta "gerbang=$GERBANG_VERSION" \
  --meta "server_env=\`${GERBANG_BENCH_ENV}\`; cache off: \`$CACHE_OFF_ENV\`, on: \`$CACHE_ON_ENV\`" \
  --meta "datasette=$DATASETTE_VERSION" \
  --meta "raw=$RUN_DIR" >"$REPORT"

echo
cat "$REPORT"
echo
log "report written to $REPORT"
if [ "$ANY_FAILED" = 1 ]; then
  log "some checks FAILED: see the report"
  exit 1
fi
