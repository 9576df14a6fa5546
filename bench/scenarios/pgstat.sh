#!/usr/bin/env bash
# PostgreSQL's side of the 1:1 path (issue 24, item 2): what PostgreSQL does per send. A
# PostgreSQL of this script's own (initdb into a temporary directory, a free loopback port,
# `pg_stat_statements` loaded, pinned to PG_CPUS: by default the load generator's core, the
# server keeping its own), then the direct scenario (ROOMS rooms, default 500: 1,000
# connections) at each RATE (default 2500 5000), a fresh server and database each. Per run,
# one JSON line: the load generator's figures, then PostgreSQL's over the whole run (setup
# and warm-up included, so per message it divides by every message committed): its CPU
# (user + system of all its processes, from /proc) per message and per commit, commits
# (`xact_commit`), WAL bytes, records and fsyncs per commit (`pg_stat_wal`), and the
# statements that took most of its time and those called most (`pg_stat_statements`: calls
# per message, mean and total ms, rows per call).
# Usage: [ROOMS=N] [PG_CPUS=1] [PG_BIN=/usr/lib/postgresql/15/bin] bench/scenarios/pgstat.sh [RATE...]
BACKEND=postgres
source "$(dirname "$0")/common.sh"
SCENARIO=pgstat
ROOMS=${ROOMS:-500}
PG_CPUS=${PG_CPUS:-$BENCH_CPUS}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PG_BIN/initdb" ] || { echo "no initdb under PG_BIN=$PG_BIN" >&2; exit 2; }
command -v jq >/dev/null || { echo "this scenario needs jq" >&2; exit 2; }

# initdb and postgres refuse to run as root: then they run as the postgres user.
PG_AS=()
[ "$(id -u)" = 0 ] && PG_AS=(runuser -u postgres --)
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PG_DIR=$(mktemp -d /tmp/palaver-pgstat.XXXXXX)
[ ${#PG_AS[@]} -gt 0 ] && chown postgres "$PG_DIR"

pgctl() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" "$@"
}

stop_all() {
  stop_server
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    pgctl -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
}
trap stop_all EXIT

"${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >"$PG_DIR/initdb.log" 2>&1 ||
  { cat "$PG_DIR/initdb.log" >&2; exit 1; }
taskset -c "$PG_CPUS" "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c max_connections=200" \
  start >/dev/null
PG_URL_BASE="postgres://postgres@127.0.0.1:$PG_PORT"
psql "$PG_URL_BASE/postgres" -qc "CREATE EXTENSION pg_stat_statements" >/dev/null
POSTMASTER=$(head -n 1 "$PG_DIR/data/postmaster.pid")
echo "PostgreSQL of this run: $PG_URL_BASE (pid $POSTMASTER, cpu $PG_CPUS, data in $PG_DIR)" >&2

# CPU seconds (user + system) of the postmaster and every process it started.
pg_cpu_s() {
  local ticks
  ticks=$(getconf CLK_TCK)
  {
    echo "$POSTMASTER"
    pgrep -P "$POSTMASTER" || true
  } | while read -r pid; do
    # Fields 14 and 15 (utime, stime), after the command name in parentheses.
    sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}'
  done | awk -v t="$ticks" '{s += $1} END {printf "%.3f", s / t}'
}

pg_counters() {
  psql "$PG_URL_BASE/postgres" -At -c "SELECT json_build_object(
      'xact_commit', (SELECT sum(xact_commit) FROM pg_stat_database),
      'wal_records', wal_records, 'wal_fpi', wal_fpi, 'wal_bytes', wal_bytes,
      'wal_write', wal_write, 'wal_sync', wal_sync) FROM pg_stat_wal"
}

rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(2500 5000)
for rate in "${rates[@]}"; do
  start_server
  psql "$PG_URL_BASE/postgres" -qAt -c "SELECT pg_stat_statements_reset()" >/dev/null
  before_cpu=$(pg_cpu_s)
  before=$(pg_counters)
  line=$(bench load --kind direct --rooms "$ROOMS" --room-size 2 --senders 2 --rate "$rate" \
    --window 16 --duration 10 --warmup 3)
  after_cpu=$(pg_cpu_s)
  after=$(pg_counters)
  top_statements() {
    psql "$PG_URL_BASE/postgres" -At -c "SELECT coalesce(json_agg(s), '[]') FROM (
      SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query, calls,
        round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
        round(rows::numeric / greatest(calls, 1), 2) AS rows_per_call
      FROM pg_stat_statements ORDER BY $1 DESC LIMIT 12) s"
  }
  top=$(top_statements total_exec_time)
  busiest=$(top_statements calls)
  server_log_tail
  jq -c --argjson before "$before" --argjson after "$after" --argjson top "$top" --argjson busiest "$busiest" \
    --arg cpu "$(awk -v a="$after_cpu" -v b="$before_cpu" 'BEGIN {printf "%.3f", a - b}')" '
    (.messages_committed // 0) as $m
    | (($after.xact_commit - $before.xact_commit)) as $commits
    | ($cpu | tonumber) as $cpu
    | . + {pg: {
        cpu_s: $cpu,
        commits: $commits,
        cpu_us_per_message: (if $m > 0 then ($cpu * 1e6 / $m | round) else null end),
        cpu_us_per_commit: (if $commits > 0 then ($cpu * 1e6 / $commits | round) else null end),
        wal_bytes_per_commit: (if $commits > 0 then (($after.wal_bytes - $before.wal_bytes) / $commits | round) else null end),
        wal_records_per_commit: (if $commits > 0 then (($after.wal_records - $before.wal_records) * 100 / $commits | round / 100) else null end),
        wal_syncs: ($after.wal_sync - $before.wal_sync),
        top_statements: [ $top[] | . + {calls_per_message: (if $m > 0 then (.calls * 1000 / $m | round / 1000) else null end)} ],
        most_called: [ $busiest[] | . + {calls_per_message: (if $m > 0 then (.calls * 1000 / $m | round / 1000) else null end)} ]
      }}' <<<"$line"
done
