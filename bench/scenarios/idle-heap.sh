#!/usr/bin/env bash
# Idle memory, broken down: runs the server under heaptrack, holds CONNECTIONS idle
# connections, stops the server, and prints heaptrack's peak consumers (the peak is while
# the connections are held). Needs heaptrack and heaptrack_print.
# Usage: BACKEND=sqlite|postgres bench/scenarios/idle-heap.sh [CONNECTIONS] [OUT_DIR]
source "$(dirname "$0")/common.sh"
SCENARIO=idle-heap
build
connections=${1:-2000}
out=${2:-/tmp/palaver-idle-heap}
mkdir -p "$out"
rm -f "$out"/heaptrack.*
REAL_SERVER_BIN=$SERVER_BIN
SERVER_BIN="$out/heaptracked-server.sh"
cat >"$SERVER_BIN" <<WRAP
#!/usr/bin/env bash
exec heaptrack -o "$out/heaptrack" "$REAL_SERVER_BIN" "\$@"
WRAP
chmod +x "$SERVER_BIN"
start_server
# SERVER_PID is heaptrack's script; the server is its child.
tracker=$SERVER_PID
SERVER_PID=$(pgrep -P "$tracker" -n)
bench idle --connections "$connections" --users 100 --ramp 500 --hold 10
kill -TERM "$SERVER_PID"
SERVER_PID=$tracker
# heaptrack writes its file once the server has exited.
for _ in $(seq 1 600); do
  kill -0 "$tracker" 2>/dev/null || break
  sleep 0.1
done
stop_server
file=$(ls "$out"/heaptrack.* | head -n 1)
heaptrack_print -f "$file" --print-peaks 1 --print-allocators 0 --print-temporary 0 \
  --print-leaks 0 --peak-limit 25 --sub-peak-limit 4 >"$out/peaks.txt" 2>/dev/null || true
echo "heaptrack data: $file; peak consumers: $out/peaks.txt" >&2
