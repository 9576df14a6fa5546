#!/usr/bin/env bash
# One benchmark round: every scenario, on both backends, for each of the given builds, one
# after the other on the same machine, with the same load generator. JSON lines on stdout,
# each with "build" (the directory's name) added; stderr has the tables and load averages.
# Usage: bench/scenarios/compare.sh BUILD_DIR... (each holding a release `palaver`; the load
#        generator is BENCH_BIN, default the first build's `palaver-bench`)
# Environment: BACKENDS (default "sqlite postgres"), SCENARIOS (default every one below).
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || { echo "usage: $0 BUILD_DIR..." >&2; exit 2; }
export NO_BUILD=1
export BENCH_BIN=${BENCH_BIN:-$1/palaver-bench}
scenarios=${SCENARIOS:-"fanout groups direct direct500 idle storm lone"}
for backend in ${BACKENDS:-sqlite postgres}; do
  for scenario in $scenarios; do
    for build in "$@"; do
      name=$(basename "$build")
      export SERVER_BIN=$build/palaver BACKEND=$backend
      echo "=== $scenario / $backend / $name" >&2
      case $scenario in
        # the targets: groups at a fixed 1,000 sends/s (100,000 deliveries/s);
        # 1:1 at 15,000 sends/s (PostgreSQL: 8,000), 10,000 and 1,000 connections
        groups) run=("$dir/groups.sh" --rate 1000) ;;
        direct) if [ "$backend" = sqlite ]; then run=("$dir/direct.sh" 15000); else run=("$dir/direct.sh" 8000); fi ;;
        direct500) if [ "$backend" = sqlite ]; then run=(env ROOMS=500 "$dir/direct.sh" 15000 20000);
                   else run=(env ROOMS=500 "$dir/direct.sh" 8000); fi ;;
        *) run=("$dir/$scenario.sh") ;;
      esac
      "${run[@]}" | jq -c --arg build "$name" '. + {build: $build}' || echo "{\"scenario\":\"$scenario\",\"backend\":\"$backend\",\"build\":\"$name\",\"failed\":true}"
    done
  done
done
