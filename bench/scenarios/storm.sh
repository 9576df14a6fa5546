#!/usr/bin/env bash
# Connect storm: authenticated connections (upgrade + hello) per second, in steps of
# doubling concurrency, until a step has failures.
# Usage: BACKEND=sqlite|postgres bench/scenarios/storm.sh [extra palaver-bench storm flags]
source "$(dirname "$0")/common.sh"
SCENARIO=storm
build
start_server
bench storm --per-step 8000 --users 1000 --start-concurrency 16 --max-concurrency 1024 "$@"
server_log_tail
