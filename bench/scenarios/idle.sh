#!/usr/bin/env bash
# Idle: as many connections as one process may open here (the hard open-files limit less
# a margin), held, then the server's RSS per connection.
# Usage: BACKEND=sqlite|postgres bench/scenarios/idle.sh [CONNECTIONS]
source "$(dirname "$0")/common.sh"
SCENARIO=idle
build
limit=$(ulimit -n)
connections=${1:-$((limit - 500))}
start_server
bench idle --connections "$connections" --users 1000 --ramp 2000 --hold 15
server_log_tail
