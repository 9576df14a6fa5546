#!/usr/bin/env bash
# Search: MESSAGES (default 1,000,000) messages in ROOMS (default 1,000) direct rooms,
# written through the protocol, then QUERIES (default 400) `search` queries timed one
# after another by a member of every room. Reports the fill rate, the server's CPU per
# stored message (each commit also maintains the search index: SQLite FTS5 trigram,
# PostgreSQL pg_trgm GIN), the store's size, and search p50/p99.
# Usage: [MESSAGES=N] [ROOMS=N] [QUERIES=N] BACKEND=sqlite|postgres bench/scenarios/search.sh
source "$(dirname "$0")/common.sh"
SCENARIO=search
build
start_server
# A deployment's PostgreSQL has autovacuum on, which analyzes the filled tables within a
# minute; this machine's runs with it off, so the scenario does it before the queries.
after_fill=()
[ "$BACKEND" = postgres ] && after_fill=(--after-fill "psql '$PG_URL_BASE/$PG_DB' -qc ANALYZE")
bench search --rooms "${ROOMS:-1000}" --messages "${MESSAGES:-1000000}" --queries "${QUERIES:-400}" \
  "${after_fill[@]}"
case "$BACKEND" in
  sqlite) echo "store: $(du -sh "$WORK_DIR/palaver.db" | cut -f1) ($WORK_DIR/palaver.db)" >&2 ;;
  postgres) echo "store: $(psql "$PG_URL_BASE/$PG_DB" -Atc "SELECT pg_size_pretty(pg_database_size('$PG_DB'))")" >&2 ;;
esac
server_log_tail
