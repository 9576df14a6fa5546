#!/usr/bin/env bash
# Fan-out: one group room of 1,000 connections, one sender, as fast as acks allow.
# Usage: BACKEND=sqlite|postgres bench/scenarios/fanout.sh [extra palaver-bench load flags]
PIN=${PIN:-0} # the fan-out target is for the whole machine
source "$(dirname "$0")/common.sh"
SCENARIO=fanout
build
start_server --outbound-queue 4096
bench load --kind group --rooms 1 --room-size 1000 --senders 1 --rate 0 --window 32 \
  --duration 10 --warmup 3 "$@"
server_log_tail
