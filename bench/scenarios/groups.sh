#!/usr/bin/env bash
# Groups: 2,000 connections in 20 group rooms of 100. By default 10 senders per room, as
# fast as acks allow; pass e.g. `--rate 5000` for a fixed aggregate rate.
# Usage: BACKEND=sqlite|postgres bench/scenarios/groups.sh [extra palaver-bench load flags]
source "$(dirname "$0")/common.sh"
SCENARIO=groups
build
start_server
bench load --kind group --rooms 20 --room-size 100 --senders 10 --rate 0 --window 4 \
  --duration 10 --warmup 3 "$@"
server_log_tail
