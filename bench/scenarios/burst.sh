#!/usr/bin/env bash
# Notifications: one message into a group of MEMBERS (default 10,000) offline members with a
# Web Push device each, at `all` level; the load generator's push service stand-in on
# loopback takes every request. Reports the time until the last notification is handed to
# it and the sender's ack latency meanwhile (steady sends into a direct room).
# Usage: [MEMBERS=N] BACKEND=sqlite|postgres bench/scenarios/burst.sh
source "$(dirname "$0")/common.sh"
SCENARIO=burst
build
start_server --push-insecure-endpoints
# A group's level is `mentions` by default: in the setup each member connects once and
# sets `all` with the `notify` command, then goes offline.
bench burst --members "${MEMBERS:-10000}"
server_log_tail
