#!/usr/bin/env bash
# The 1:1 send path with notifications: ROOMS (default 1,000) direct rooms whose receiver is
# never connected, one sender each, at RATE sends/s in all (default 2,500). Two runs on a
# fresh server each: the receivers without a device (every message is decided on and
# stored as a notification, none is sent), then with a Web Push device each at the load
# generator's push service stand-in (every notification is encrypted and sent). Compare
# ack latency and server CPU per send between the two, and with the direct scenario.
# Usage: [ROOMS=N] [RATE=N] BACKEND=sqlite|postgres bench/scenarios/notify.sh
source "$(dirname "$0")/common.sh"
SCENARIO=notify
ROOMS=${ROOMS:-1000}
RATE=${RATE:-2500}
build
for devices in "" --devices; do
  start_server --push-insecure-endpoints
  bench load --kind direct --rooms "$ROOMS" --room-size 1 --offline-members 1 --senders 1 \
    --rate "$RATE" --window 16 --duration 10 --warmup 3 $devices
  server_log_tail
done
