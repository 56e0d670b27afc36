#!/usr/bin/env bash
# The test command: lints, unit tests, then the integration suite on SQLite and on Postgres.
# Needs Postgres on 127.0.0.1:5432 (trust auth) and Redis on 127.0.0.1:6379 with redis-server on
# PATH; .ci/run starts them when they are down.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "FATAL: Redis is not reachable at 127.0.0.1:6379; the shared-limit tests cannot run" >&2
  exit 1
fi

echo "== unit tests and integration tests on SQLite"
cargo test --workspace

echo "== integration tests on Postgres (a fresh database per test)"
PG="${GERBANG_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
if ! psql "$PG/postgres" -Atc 'select 1' >/dev/null 2>&1; then
  echo "FATAL: Postgres is not reachable at $PG; the postgres backend cannot be tested" >&2
  exit 1
fi
GERBANG_TEST_BACKEND=postgres GERBANG_TEST_POSTGRES="$PG" cargo test -p gateway --test api

# Drop the per-test databases.
psql "$PG/postgres" -Atc "select datname from pg_database where datname like 'gerbang_test_%'" \
  | while read -r db; do psql "$PG/postgres" -qc "drop database if exists \"$db\"" >/dev/null; done

echo "== OpenAPI: validators, schemathesis and /docs in headless Chromium"
bash scripts/test-openapi.sh

echo "== the portal in headless Chromium"
bash scripts/test-portal.sh

echo "== CKAN, DCAT and Data Package clients from PyPI"
bash scripts/test-interop.sh
