#!/usr/bin/env bash
# Soak: MINUTES (default 30) of mixed traffic against the release server on a PostgreSQL of
# this script's own (initdb into a temporary directory, pg_ctl on a free loopback port: the
# machine's cluster on 5432 is never touched), restarting that PostgreSQL under the load
# (pg_ctl stop -m fast, PG_DOWN_SECS down, start) at each fraction of the run in RESTARTS.
# `palaver-bench soak` drives 100 direct rooms (32-byte bodies) and 10 groups of 20 (4,000-byte
# bodies) at 200 sends/s in all,
# with reconnects and slow consumers (see bench/src/soak.rs), samples the server's RSS and
# CPU every 30 s and checks every acked message against what each member received.
# Prints the load generator's JSON line, then one JSON line per PostgreSQL restart (Unix
# times, to set against the report's `disturbances`). The server's log and PostgreSQL's are
# kept in OUT_DIR.
#
# Usage: bench/scenarios/soak.sh [MINUTES] [extra palaver-bench soak flags]
# Environment as common.sh (NO_BUILD, SERVER_BIN, BENCH_BIN, PORT, PIN...), plus
# RESTARTS (default "0.4 0.7"; "" for none), PG_DOWN_SECS (default 10), PG_PORT (default: a
# free port), PG_BIN (default /usr/lib/postgresql/15/bin), OUT_DIR (default
# /tmp/palaver-soak-<time>). BACKEND=sqlite runs the same traffic on SQLite, without restarts.
BACKEND=${BACKEND:-postgres}
source "$(dirname "$0")/common.sh"
SCENARIO=soak
MINUTES=${1:-30}
shift || true
RESTARTS=${RESTARTS-0.4 0.7}
PG_DOWN_SECS=${PG_DOWN_SECS:-10}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
OUT_DIR=${OUT_DIR:-/tmp/palaver-soak-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT_DIR"
PG_DIR=""
BENCH_PID=""
# initdb and postgres refuse to run as root: then they run as the postgres user.
PG_AS=()
[ "$(id -u)" = 0 ] && PG_AS=(runuser -u postgres --)

pgctl() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" "$@"
}

start_pg() {
  pgctl -l "$PG_DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR" start >/dev/null
}

stop_soak() {
  if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
    kill -TERM "$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
  fi
  BENCH_PID=""
  if [ -n "$WORK_DIR" ] && [ -f "$WORK_DIR/server.err" ]; then
    cp "$WORK_DIR/server.err" "$OUT_DIR/server.err"
  fi
  stop_server
  if [ -n "$PG_DIR" ]; then
    [ -f "$PG_DIR/data/postmaster.pid" ] && pgctl -m fast -w stop >/dev/null 2>&1 || true
    cp "$PG_DIR/postgres.log" "$OUT_DIR/postgres.log" 2>/dev/null || true
    rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}
trap stop_soak EXIT

build
if [ "$BACKEND" = postgres ]; then
  PG_PORT=${PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  PG_DIR=$(mktemp -d /tmp/palaver-soak-pg.XXXXXX)
  [ ${#PG_AS[@]} -gt 0 ] && chown postgres "$PG_DIR"
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; exit 1; }
  start_pg
  PG_URL_BASE="postgres://postgres@127.0.0.1:$PG_PORT"
  echo "PostgreSQL of this run: $PG_URL_BASE (data in $PG_DIR)" >&2
else
  RESTARTS=""
fi
start_server
echo "server pid $SERVER_PID; logs kept in $OUT_DIR" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# exec, so that BENCH_PID is the load generator's own pid.
(exec "${BENCH_PIN[@]}" "$BENCH_BIN" --server "127.0.0.1:$PORT" --admin-token "$ADMIN_TOKEN" \
  --pid "$SERVER_PID" --label "soak/$BACKEND" soak --minutes "$MINUTES" "$@" \
  >"$OUT_DIR/bench.json" 2> >(tee "$OUT_DIR/bench.err" >&2)) &
BENCH_PID=$!
started=$(date +%s.%N)
restarts_json=()
for fraction in $RESTARTS; do
  at=$(awk -v s="$started" -v m="$MINUTES" -v f="$fraction" 'BEGIN { printf "%.3f", s + m * 60 * f }')
  while kill -0 "$BENCH_PID" 2>/dev/null && awk -v at="$at" -v now="$(date +%s.%N)" 'BEGIN { exit !(now < at) }'; do
    sleep 1
  done
  kill -0 "$BENCH_PID" 2>/dev/null || break
  stop_at=$(date +%s.%N)
  pgctl -m fast -w -t 60 stop >/dev/null
  stopped=$(date +%s.%N)
  sleep "$PG_DOWN_SECS"
  start_at=$(date +%s.%N)
  start_pg
  up=$(date +%s.%N)
  line=$(awk -v a="$stop_at" -v b="$stopped" -v c="$start_at" -v d="$up" -v f="$fraction" 'BEGIN {
    printf "{\"pg_restart_at_fraction\":%s,\"stop_unix\":%.3f,\"stop_took_s\":%.3f,\"start_unix\":%.3f,\"start_took_s\":%.3f,\"down_s\":%.3f}", f, a, b - a, c, d - c, d - a }')
  echo "PostgreSQL restarted: $line" >&2
  restarts_json+=("$line")
done
status=0
wait "$BENCH_PID" || status=$?
BENCH_PID=""
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cat "$OUT_DIR/bench.json"
for line in "${restarts_json[@]}"; do echo "$line"; done
printf '%s\n' "${restarts_json[@]}" >"$OUT_DIR/restarts.jsonl"
if [ -s "$WORK_DIR/server.err" ]; then
  echo "--- server log: $(grep -c ' WARN ' "$WORK_DIR/server.err" || true) WARN, $(grep -c ' ERROR ' "$WORK_DIR/server.err" || true) ERROR lines; last ones ---" >&2
  tail -n 8 "$WORK_DIR/server.err" >&2
fi
exit "$status"
