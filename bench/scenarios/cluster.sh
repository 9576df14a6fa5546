#!/usr/bin/env bash
# Multi-node: NODES (1, 2 or 3) PostgreSQL-backed Palaver nodes sharing a redis-server of
# this script's own, with nginx in front (deploy/nginx.conf, as the multi-node tests run it).
# The load generator connects through nginx, which spreads connections round robin over the
# nodes, so the members of the fan-out room and the two sides of most direct chats are on
# different nodes. Prints the load generator's JSON line, then one line with the nodes'
# summed CPU over the run (from /proc) and per committed message. On a small
# machine the nodes share its cores: compare CPU per message, and latency against NODES=1.
#
# Usage: NODES=1|2|3 [ROOMS=N] bench/scenarios/cluster.sh fanout|direct [RATE]
# (direct: ROOMS direct rooms, two clients each; 2,000 rooms, 4,000 clients, by default)
# Environment as common.sh (PG_URL_BASE, NO_BUILD, SERVER_BIN, BENCH_BIN), plus
# REDIS_PORT (default 28950), NGINX_PORT (default 28960), first node port PORT (28917).
PIN=${PIN:-0} # several nodes: every process uses every core
BACKEND=postgres
source "$(dirname "$0")/common.sh"
SCENARIO=cluster-${1:-fanout}
NODES=${NODES:-3}
REDIS_PORT=${REDIS_PORT:-28950}
NGINX_PORT=${NGINX_PORT:-28960}
NODE_PIDS=()
REDIS_PID=""
NGINX_PID=""

stop_cluster() {
  for pid in "${NODE_PIDS[@]}" "$NGINX_PID" "$REDIS_PID"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${NODE_PIDS[@]}" "$NGINX_PID" "$REDIS_PID"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  NODE_PIDS=()
  REDIS_PID=""
  NGINX_PID=""
  stop_server
}
trap stop_cluster EXIT

# Summed user+system CPU seconds of the nodes so far.
nodes_cpu() {
  local ticks=0 pid
  for pid in "${NODE_PIDS[@]}"; do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$ticks $(getconf CLK_TCK)" | awk '{printf "%.3f", $1 / $2}'
}

build
WORK_DIR=$(mktemp -d /tmp/palaver-cluster.XXXXXX)
PG_DB="palaver_bench_$$_$RANDOM"
psql "$PG_URL_BASE/postgres" -qc "CREATE DATABASE $PG_DB" >/dev/null
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  --loglevel warning >"$WORK_DIR/redis.log" 2>&1 &
REDIS_PID=$!
servers=""
for n in $(seq 1 "$NODES"); do
  port=$((PORT + n - 1))
  RUST_LOG=${RUST_LOG:-warn} "$SERVER_BIN" --bind "127.0.0.1:$port" \
    --database-url "$PG_URL_BASE/$PG_DB" --redis-url "redis://127.0.0.1:$REDIS_PORT" \
    --node-id "n$n" --admin-token "$ADMIN_TOKEN" --rate 1000000 --burst 1000000 \
    --max-connections-per-user 1000000 --max-connections-per-address 10000000 \
    --outbound-queue 4096 >"$WORK_DIR/n$n.out" 2>"$WORK_DIR/n$n.err" &
  NODE_PIDS+=($!)
  for _ in $(seq 1 300); do
    grep -q "palaver listening" "$WORK_DIR/n$n.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "palaver listening" "$WORK_DIR/n$n.out" || { cat "$WORK_DIR/n$n.err" >&2; exit 1; }
  servers+="        server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"$'\n'
done
# deploy/nginx.conf as shipped, with its host-specific lines replaced as the multi-node
# tests replace them (tests/common/services.rs): plain HTTP on NGINX_PORT, this run's nodes,
# paths under WORK_DIR, and a throw-away certificate (nginx loads the files it names).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj /CN=localhost -keyout "$WORK_DIR/key.pem" -out "$WORK_DIR/cert.pem" 2>/dev/null
printf '%s' "$servers" >"$WORK_DIR/servers"
temp_paths=""
for kind in client_body proxy fastcgi uwsgi scgi; do
  temp_paths+="    ${kind}_temp_path $WORK_DIR/$kind;"$'\n'
done
printf '%s' "$temp_paths" >"$WORK_DIR/temp_paths"
sed -e '/^user www-data;$/d' \
  -e "s|^pid /run/nginx.pid;|pid $WORK_DIR/nginx.pid;|" \
  -e "s|/var/log/nginx/|$WORK_DIR/|g" \
  -e "/^http {$/r $WORK_DIR/temp_paths" \
  -e "/^        server 127.0.0.1:8080 max_fails=1 fail_timeout=2s;$/{r $WORK_DIR/servers" -e 'd;}' \
  -e '/^        listen \[::\]:80;$/d' -e '/^        listen \[::\]:443 ssl reuseport;$/d' \
  -e "s|listen 80;|listen 127.0.0.1:$((NGINX_PORT + 1));|" \
  -e "s|listen 443 ssl reuseport;|listen 127.0.0.1:$NGINX_PORT reuseport;|" \
  -e "s|/etc/letsencrypt/live/chat.example.com/fullchain.pem|$WORK_DIR/cert.pem|" \
  -e "s|/etc/letsencrypt/live/chat.example.com/privkey.pem|$WORK_DIR/key.pem|" \
  "$ROOT/deploy/nginx.conf" >"$WORK_DIR/nginx.conf"
/usr/sbin/nginx -p "$WORK_DIR" -c "$WORK_DIR/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
sleep 0.5

case "${1:-fanout}" in
  fanout) flags=(--kind group --rooms 1 --room-size 1000 --senders 1 --rate 0 --window 32) ;;
  direct) flags=(--kind direct --rooms "${ROOMS:-2000}" --room-size 2 --senders 2 --rate "${2:-5000}" --window 16) ;;
  *) echo "usage: NODES=1|2|3 $0 fanout|direct [RATE]" >&2; exit 2 ;;
esac
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cpu_before=$(nodes_cpu)
line=$("$BENCH_BIN" --server "127.0.0.1:$NGINX_PORT" --admin-token "$ADMIN_TOKEN" \
  --label "$SCENARIO/nodes=$NODES" load "${flags[@]}" --duration 10 --warmup 3)
cpu_after=$(nodes_cpu)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "$line"
# The nodes' CPU covers the whole run (setup, warm-up and the measured window), so the
# per-message figure is an upper bound; the load generator's own latency and rate figures
# are over the measured window.
jq -c --argjson cpu "$(echo "$cpu_after $cpu_before" | awk '{printf "%.3f", $1 - $2}')" \
  --argjson nodes "$NODES" '{scenario: .label, nodes: $nodes, nodes_cpu_s_whole_run: $cpu,
    cpu_us_per_committed_message_whole_run:
      (if .messages_committed > 0 then $cpu * 1e6 / .messages_committed else null end),
    lost: .lost, duplicated: .duplicated, out_of_order: .out_of_order}' <<<"$line"
for n in $(seq 1 "$NODES"); do
  if [ -s "$WORK_DIR/n$n.err" ]; then echo "--- n$n log (last lines) ---" >&2; tail -n 5 "$WORK_DIR/n$n.err" >&2; fi
done
