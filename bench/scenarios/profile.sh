#!/usr/bin/env bash
# Where the server's CPU goes under load, for hosts without hardware perf counters: runs
# the server under valgrind's callgrind, starts collecting once every connection has
# joined (setup and the ramp are left out), runs a short load and prints the top functions
# by inclusive and by self cost. Under valgrind the server is ~50x slower and runs on one
# core, so only the shares matter, not the rates. (Instrumentation, not just collection, is
# switched on late: `callgrind_control -i on`.)
# Usage: BACKEND=sqlite|postgres bench/scenarios/profile.sh OUT_DIR [palaver-bench load flags]
# e.g.   bench/scenarios/profile.sh /tmp/prof-fanout --kind group --rooms 1 --room-size 200 \
#          --senders 1 --window 32
source "$(dirname "$0")/common.sh"
SCENARIO=profile
out=${1:?usage: profile.sh OUT_DIR [load flags]}
shift
build
mkdir -p "$out"
rm -f "$out"/callgrind.out.* "$out"/bench.err
SERVER_WRAP="valgrind --tool=callgrind --instr-atstart=no --fair-sched=yes
  --callgrind-out-file=$out/callgrind.out.%p"
START_TRIES=1200 STOP_TRIES=1200
start_server
touch "$out/bench.err"
bench load --rate 0 --duration 8 --warmup 2 --ramp 100 "$@" 2>"$out/bench.err" \
  >"$out/bench.json" &
bench_pid=$!
# Collect from the warm-up on: the bench prints "connected" when every connection joined.
for _ in $(seq 1 1200); do
  grep -q "^connected" "$out/bench.err" 2>/dev/null && break
  kill -0 "$bench_pid" 2>/dev/null || break
  sleep 0.1
done
callgrind_control -i on "$SERVER_PID" >/dev/null
wait "$bench_pid" || true
stop_server
file=$(ls "$out"/callgrind.out.* | head -n 1)
callgrind_annotate --inclusive=yes "$file" >"$out/inclusive.txt" 2>/dev/null || true
callgrind_annotate "$file" >"$out/self.txt" 2>/dev/null || true
cat "$out/bench.err" >&2
echo "callgrind data: $file; top functions: $out/inclusive.txt, $out/self.txt" >&2
