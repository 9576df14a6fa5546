#!/usr/bin/env bash
# Idle: as many connections as the server takes here (three quarters of the open-files
# limit: past that it refuses WebSockets with 503, docs/protocol.md "Connection limits"),
# held, then the server's RSS per connection.
# Usage: BACKEND=sqlite|postgres bench/scenarios/idle.sh [CONNECTIONS]
source "$(dirname "$0")/common.sh"
SCENARIO=idle
build
limit=$(ulimit -n)
connections=${1:-$((limit - (limit / 4 > 128 ? limit / 4 : 128)))}
start_server
bench idle --connections "$connections" --users 1000 --ramp 2000 --hold 15
server_log_tail
