#!/usr/bin/env bash
# Every scenario on both backends; JSON lines on stdout.
# Usage: bench/scenarios/all.sh
set -euo pipefail
dir=$(dirname "$0")
for backend in sqlite postgres; do
  for scenario in fanout groups direct idle storm lone; do
    BACKEND=$backend "$dir/$scenario.sh"
    export NO_BUILD=1
  done
  ROOMS=500 BACKEND=$backend "$dir/direct.sh"
done
