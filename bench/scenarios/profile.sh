#!/usr/bin/env bash
# Where the server's CPU goes under load, for hosts without hardware perf counters: runs
# the server under valgrind's callgrind, counts from the moment every connection has
# joined (setup and the ramp are left out: `callgrind_control --zero`) to the moment the
# load generator has drained (`--dump`; its checks and the server's shutdown are left out), and prints the top
# functions by inclusive and by self cost. Under valgrind the server is ~50x slower and
# runs on one core, so only the shares and counts matter, not the rates. (Instrumentation
# is on from the start: switching it on late, `--instr-atstart=no` + `-i on`, stalls the
# server for seconds while valgrind re-translates its code, which fills the senders'
# windows and changes the workload.)
# It ends with one JSON line: the instructions (Ir, every thread, user space only) counted
# while the load ran, the messages committed (every one was sent in that window), and the
# instructions per send and per delivery (a message is delivered to each of its room's
# members: room_size deliveries), both including whatever the server did meanwhile (see
# BENCHMARKS.md round 5 for an idle baseline). A fixed --rate gives the same workload to
# every build; compare builds by these figures, not by rates.
# The count stops when the load generator says "drained" (every send acked and delivered),
# before it reads the rooms back through the admin API to check the run: those reads are not
# sends (until round 12 they were counted too).
# Usage: BACKEND=sqlite|postgres bench/scenarios/profile.sh OUT_DIR [palaver-bench load flags]
# e.g.   bench/scenarios/profile.sh /tmp/prof-fanout --kind group --rooms 1 --room-size 200 \
#          --senders 1 --window 32
source "$(dirname "$0")/common.sh"
SCENARIO=profile
out=${1:?usage: profile.sh OUT_DIR [load flags]}
shift
build
mkdir -p "$out"
rm -f "$out"/callgrind.out.* "$out"/bench.err "$out"/summary.json
SERVER_WRAP="valgrind --tool=callgrind --fair-sched=yes
  --callgrind-out-file=$out/callgrind.out.%p"
START_TRIES=1200 STOP_TRIES=1200
start_server
touch "$out/bench.err"
bench load --rate 0 --duration 8 --warmup 2 --ramp 100 "$@" 2>"$out/bench.err" \
  >"$out/bench.json" &
bench_pid=$!
# Count from the warm-up on: the bench prints "connected" when every connection joined.
for _ in $(seq 1 6000); do
  grep -q "^connected" "$out/bench.err" 2>/dev/null && break
  kill -0 "$bench_pid" 2>/dev/null || break
  sleep 0.02
done
callgrind_control --zero "$SERVER_PID" >/dev/null 2>&1
for _ in $(seq 1 30000); do
  grep -q "^drained" "$out/bench.err" 2>/dev/null && break
  kill -0 "$bench_pid" 2>/dev/null || break
  sleep 0.02
done
# The dump (callgrind.out.PID.1) holds what was counted since the zero.
callgrind_control --dump "$SERVER_PID" >/dev/null 2>&1
wait "$bench_pid" || true
stop_server
file=$(ls "$out"/callgrind.out.*.1 | head -n 1)
# `summary:` is the dump's total (callgrind_annotate's PROGRAM TOTALS).
instructions=$(sed -n 's/^summary: *//p' "$file" | head -n 1 | cut -d' ' -f1)
jq -c --argjson ir "${instructions:-0}" '{label: .label, kind, rooms, room_size, offered_rate,
  connections_made, lost, duplicated, out_of_order, send_errors, sends_skipped,
  messages: .messages_committed, deliveries: (.messages_committed * .room_size),
  instructions: $ir,
  instructions_per_send: (if .messages_committed > 0 then ($ir / .messages_committed | floor) else null end),
  instructions_per_delivery: (if .messages_committed > 0
    then ($ir / (.messages_committed * .room_size) | floor) else null end)}' "$out/bench.json" \
  | tee "$out/summary.json"
callgrind_annotate --inclusive=yes "$file" >"$out/inclusive.txt" 2>/dev/null || true
callgrind_annotate "$file" >"$out/self.txt" 2>/dev/null || true
cat "$out/bench.err" >&2
echo "callgrind data: $file; top functions: $out/inclusive.txt, $out/self.txt" >&2
