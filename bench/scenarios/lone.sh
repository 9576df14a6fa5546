#!/usr/bin/env bash
# A lone message in a quiet room: one direct room, one sender, 5 sends/s, one message in
# flight at a time (window 1), so every message is a batch of its own. Ack p50 is then the
# cost of one commit (on SQLite's default `--sqlite-synchronous full`, mostly the disk's
# fsync) plus the trip through the server: nothing waits for a batch to fill.
# Usage: BACKEND=sqlite|postgres bench/scenarios/lone.sh [extra palaver-bench load flags]
source "$(dirname "$0")/common.sh"
SCENARIO=lone
build
start_server
bench load --kind direct --rooms 1 --room-size 2 --senders 1 --rate 5 --window 1 \
  --duration 10 --warmup 1 "$@"
server_log_tail
