#!/usr/bin/env bash
# What Postgres alone needs to ingest the benchmark's record table, with no gateway in the way:
# the floor under `gerbang import`'s time on Postgres on this machine.
#
#   DB_URL=postgres://postgres@127.0.0.1:5432/gerbang_bench bash load-tests/pg_floor.sh
#
# The database must hold the benchmark dataset (`run.sh` leaves it loaded; or `gerbang import
# laporan_warga_1m.csv --agency bench --dataset laporan-warga --publish --index
# district,category,reported_at`). The script writes that version's table to a binary COPY file
# on the server (as the superuser), then, REPS times, does to a copy of it what the loader does
# (`catalog/src/records/pg_load.rs`), each step timed:
#
#   load      CREATE TABLE (same columns, collations, primary key) and a server-side
#             `COPY … FROM 'file' (FORMAT binary, FREEZE)` in one transaction: the rows as the
#             gateway sends them, read from a file instead of a socket, no parsing or encoding
#   indexing  the table's b-trees one after the other on one connection (maintenance_work_mem
#             256MB), its GIN index on another at the same time
#   analyse   ANALYZE
#
# and prints rows/s for the load alone and for the whole; then the GIN index's time when it is
# built alone. The gateway's import can only be slower than this: it also reads, parses, checks
# and encodes the CSV.
#
# Settings (environment): DB_URL (required), REPS [3], DUMP [/var/tmp/gerbang-floor.bin] (a path
# the Postgres server can write and read), AGENCY [bench] DATASET [laporan-warga] VERSION [1].
set -euo pipefail

if [ -z "${DB_URL:-}" ]; then
  sed -n '2,24p' "$0" >&2
  exit 2
fi
REPS="${REPS:-3}" DUMP="${DUMP:-/var/tmp/gerbang-floor.bin}"
AGENCY="${AGENCY:-bench}" DATASET="${DATASET:-laporan-warga}" VERSION="${VERSION:-1}"
FLOOR=floor_ingest
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

table="$(sql -c "SELECT v.table_name FROM versions v JOIN datasets d ON d.id = v.dataset_id
  JOIN agencies a ON a.id = d.agency_id
  WHERE a.slug = '$AGENCY' AND d.slug = '$DATASET' AND v.number = $VERSION")"
if [ -z "$table" ]; then
  echo "no version $AGENCY/$DATASET/$VERSION in $DB_URL: import the benchmark file first" >&2
  exit 1
fi
rows="$(sql -c "SELECT count(*) FROM \"$table\"")"
echo "table $table: $rows rows, $(sql -c "SELECT pg_size_pretty(pg_relation_size('\"$table\"'))") of heap"

# The index statements, renamed onto the copy; the GIN one apart.
btrees="$(sql -c "SELECT pg_get_indexdef(i.indexrelid) || ';'
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
  WHERE i.indrelid = '\"$table\"'::regclass AND NOT i.indisprimary AND am.amname = 'btree'" |
  sed "s/ON public\.$table /ON $FLOOR /; s/INDEX $table/INDEX ${FLOOR}/")"
gin="$(sql -c "SELECT pg_get_indexdef(i.indexrelid) || ';'
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
  WHERE i.indrelid = '\"$table\"'::regclass AND am.amname = 'gin'" |
  sed "s/ON public\.$table /ON $FLOOR /; s/INDEX $table/INDEX ${FLOOR}/")"
echo "indexes: $(printf '%s\n' "$btrees" | grep -c .) b-trees, $(printf '%s\n' "$gin" | grep -c .) GIN"

sql -c "COPY \"$table\" TO '$DUMP' (FORMAT binary)"
echo "binary COPY file: $DUMP"
trap 'sql -c "DROP TABLE IF EXISTS $FLOOR" >/dev/null 2>&1 || true' EXIT

tmp="$(mktemp -d)"
printf '%-4s %8s %10s %8s %8s %8s %12s %12s\n' rep load indexing b-trees GIN analyse "load rows/s" "rows/s"
for rep in $(seq "$REPS"); do
  sql -c "DROP TABLE IF EXISTS $FLOOR"
  t0="$(now)"
  sql <<SQL
BEGIN;
CREATE TABLE $FLOOR (LIKE "$table" INCLUDING DEFAULTS);
ALTER TABLE $FLOOR ADD PRIMARY KEY (_id);
COPY $FLOOR FROM '$DUMP' (FORMAT binary, FREEZE);
COMMIT;
SQL
  t1="$(now)"
  {
    { printf 'SET maintenance_work_mem = %s;\n' "'256MB'"; printf '%s\n' "$btrees"; } | sql
    now >"$tmp/btrees"
  } &
  b=$!
  if [ -n "$gin" ]; then printf '%s\n' "$gin" | sql; fi
  now >"$tmp/gin"
  wait "$b"
  t2="$(now)"
  sql -c "ANALYZE $FLOOR"
  t3="$(now)"
  printf '%-4s %7ss %9ss %7ss %7ss %7ss %12.0f %12.0f\n' "$rep" "$(secs "$t0" "$t1")" \
    "$(secs "$t1" "$t2")" "$(secs "$t1" "$(cat "$tmp/btrees")")" "$(secs "$t1" "$(cat "$tmp/gin")")" \
    "$(secs "$t2" "$t3")" \
    "$(awk -v n="$rows" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')" \
    "$(awk -v n="$rows" -v a="$t0" -v b="$t3" 'BEGIN { print n / (b - a) }')"
done
if [ -n "$gin" ]; then
  # The GIN index by itself, with nothing beside it: with the load, what the full-text index
  # alone costs an import (Postgres builds a GIN index in one process).
  sql -c "DROP INDEX $(printf '%s' "$gin" | sed -n 's/^CREATE INDEX \([^ ]*\) .*/\1/p')"
  t0="$(now)"
  printf '%s\n' "$gin" | sql
  echo "GIN alone: $(secs "$t0" "$(now)") s"
fi
rm -rf "$tmp"
rm -f "$DUMP" 2>/dev/null || echo "left $DUMP (the server's file) in place" >&2
