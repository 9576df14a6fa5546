#!/usr/bin/env bash
# Direct chats: 10,000 connections in 5,000 direct rooms (ROOMS=500: 1,000 in 500), both
# sides sending at a fixed aggregate rate. Sweeps the rate upwards (fresh server each step)
# and reports the highest rate at which delivery p99 stays under 50 ms with nothing lost,
# duplicated or reordered.
# Usage: [ROOMS=N] BACKEND=sqlite|postgres bench/scenarios/direct.sh [RATE...]
source "$(dirname "$0")/common.sh"
SCENARIO=direct
ROOMS=${ROOMS:-5000}
build
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(5000 10000 20000 30000 40000 50000 60000 80000)
best=0
for rate in "${rates[@]}"; do
  start_server
  line=$(bench load --kind direct --rooms "$ROOMS" --room-size 2 --senders 2 --rate "$rate" \
    --window 16 --duration 10 --warmup 3)
  echo "$line"
  server_log_tail
  ok=$(jq -r '(.delivery_p99_ms // 1e9) < 50 and .lost == 0 and .duplicated == 0
    and .out_of_order == 0 and .connections_failed == 0
    and .acked_sends_per_s >= 0.95 * '"$rate" <<<"$line")
  if [ "$ok" = true ]; then
    best=$rate
  else
    echo "rate $rate misses (p99 < 50 ms, nothing lost, >= 95% acked); stopping" >&2
    break
  fi
done
echo "{\"scenario\":\"direct\",\"backend\":\"$BACKEND\",\"rooms\":$ROOMS,\"best_rate_p99_under_50ms\":$best}"
