#!/usr/bin/env bash
# Shared by the scenario scripts: builds the release binaries, raises the open-files
# limit, starts a fresh server (fresh SQLite file or fresh PostgreSQL database) on
# loopback, and stops it and drops its database on exit.
#
# Environment: BACKEND=sqlite|postgres (default sqlite), PORT (default 28917),
# PG_URL_BASE (default postgres://postgres@127.0.0.1:5432), NO_BUILD=1 to skip the build,
# SERVER_ARGS for extra server flags, SERVER_BIN / BENCH_BIN to run copies of the binaries
# (so that a rebuild by someone else during a run does not change what is measured),
# START_TRIES / STOP_TRIES (tenths of a second to wait for the server to start / stop),
# SERVER_WRAP for a command the server runs under (e.g. `valgrind --tool=callgrind`; it
# must exec the server so that the pid stays the server's).
# PIN=1 (the default; the fan-out scenario sets 0) runs the server on SERVER_CPUS (default
# core 0) and the load generator on BENCH_CPUS (default core 1) with taskset, so that
# "sends/s on one server core" is a figure that transfers; PIN=0 lets both use every core.
# RULES=builtin turns the three built-in content rules on (docs/safety.md: contact_phone
# reject, contact_email mask, link flag, for users) with `PUT /admin/rules` once the server
# listens, so a scenario measures the send path with the rules checked.
# KEEP_STORE=1 keeps the store at exit (the SQLite folder, or the PostgreSQL database) and
# says where, to look into what a scenario filled (the search scenario's 1,000,000 messages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BACKEND=${BACKEND:-sqlite}
PORT=${PORT:-28917}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
ADMIN_TOKEN=bench
SERVER_BIN=${SERVER_BIN:-"$ROOT/target/release/palaver"}
BENCH_BIN=${BENCH_BIN:-"$ROOT/target/release/palaver-bench"}
SERVER_PID=""
PG_DB=""
PIN=${PIN:-1}
SERVER_CPUS=${SERVER_CPUS:-0}
BENCH_CPUS=${BENCH_CPUS:-1}
SERVER_PIN=()
BENCH_PIN=()
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null || { echo "PIN=1 needs taskset (util-linux)" >&2; exit 2; }
  SERVER_PIN=(taskset -c "$SERVER_CPUS")
  BENCH_PIN=(taskset -c "$BENCH_CPUS")
  echo "pinned: server on cpu $SERVER_CPUS, load generator on cpu $BENCH_CPUS" >&2
else
  echo "not pinned: server and load generator share every cpu" >&2
fi
WORK_DIR=""

# Both the server and the load generator inherit this: as many open files as allowed.
ulimit -n "$(ulimit -Hn)"

build() {
  if [ "${NO_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release -p palaver -p palaver-bench >&2)
  fi
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 "${STOP_TRIES:-150}"); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ "${KEEP_STORE:-0}" = 1 ]; then
    [ -n "$WORK_DIR" ] && echo "store kept: $WORK_DIR" >&2
    [ -n "$PG_DB" ] && echo "store kept: database $PG_DB" >&2
    PG_DB=""
    WORK_DIR=""
  fi
  if [ -n "$PG_DB" ]; then
    psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
    PG_DB=""
  fi
  if [ -n "$WORK_DIR" ]; then
    rm -rf "$WORK_DIR"
    WORK_DIR=""
  fi
}
trap stop_server EXIT

# start_server [extra server flags...]: a fresh database and server; sets SERVER_PID.
start_server() {
  stop_server
  WORK_DIR=$(mktemp -d /tmp/palaver-bench.XXXXXX)
  local url
  case "$BACKEND" in
    sqlite) url="sqlite://$WORK_DIR/palaver.db" ;;
    postgres)
      PG_DB="palaver_bench_$$_$RANDOM"
      psql "$PG_URL_BASE/postgres" -qc "CREATE DATABASE $PG_DB" >/dev/null
      url="$PG_URL_BASE/$PG_DB"
      ;;
    *) echo "BACKEND must be sqlite or postgres" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086 # SERVER_WRAP is a command line, split on purpose.
  RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" ${SERVER_WRAP:-} "$SERVER_BIN" --bind "127.0.0.1:$PORT" --database-url "$url" \
    --admin-token "$ADMIN_TOKEN" --rate 1000000 --burst 1000000 \
    --max-connections-per-user 1000000 --max-connections-per-address 10000000 ${SERVER_ARGS:-} "$@" \
    >"$WORK_DIR/server.out" 2>"$WORK_DIR/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 "${START_TRIES:-300}"); do
    if grep -q "palaver listening" "$WORK_DIR/server.out" 2>/dev/null; then
      put_rules
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$WORK_DIR/server.err" >&2
  exit 1
}

# put_rules: the content rules RULES names (none unless RULES=builtin).
put_rules() {
  case "${RULES:-none}" in
    none) ;;
    builtin)
      curl -sf -X PUT "http://127.0.0.1:$PORT/admin/rules" \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' \
        -d '{"rules":[{"id":"contact_phone","action":"reject","applies_to":"users"},
          {"id":"contact_email","action":"mask","applies_to":"users"},
          {"id":"link","action":"flag","applies_to":"users"}]}' >/dev/null \
        || { echo "PUT /admin/rules failed" >&2; exit 1; }
      echo "content rules: the three built-ins on" >&2
      ;;
    *) echo "RULES must be none or builtin" >&2; exit 2 ;;
  esac
}

# bench MODE [flags...]: runs the load generator against the server; prints its JSON line.
# The machine's load average (1, 5, 15 min) goes to stderr before and after.
bench() {
  local mode=$1
  shift
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "${BENCH_PIN[@]}" "$BENCH_BIN" --server "127.0.0.1:$PORT" --admin-token "$ADMIN_TOKEN" --pid "$SERVER_PID" \
    --label "${SCENARIO:-$mode}/$BACKEND" "$mode" "$@"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}

# Shows the server's warnings and errors of the run, if any.
server_log_tail() {
  if [ -n "$WORK_DIR" ] && [ -s "$WORK_DIR/server.err" ]; then
    echo "--- server log (last lines) ---" >&2
    tail -n 5 "$WORK_DIR/server.err" >&2
  fi
}
