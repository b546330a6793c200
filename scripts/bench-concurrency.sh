#!/usr/bin/env bash
# Eight builds sharing one store at once (two of the same project), half of
# them recording, with a gc and a fetch running meanwhile, repeated: every
# run must pass (tests/concurrency.rs with CONCURRENT_BUILDS=8). Prints one
# line per run and the count that passed; exits 1 if any failed.
#
#   scripts/bench-concurrency.sh [RUNS] [BUILDS]     (default: 10 runs of 8 builds)
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
BUILDS=${2:-8}
cargo test --locked --test concurrency --no-run --quiet
passed=0
for run in $(seq 1 "$RUNS"); do
    start=$(date +%s)
    if CONCURRENT_BUILDS=$BUILDS cargo test --locked --quiet --test concurrency >/tmp/concurrency-$run.log 2>&1; then
        passed=$((passed + 1))
        echo "run $run: ok ($(( $(date +%s) - start )) s)"
    else
        echo "run $run: FAILED ($(( $(date +%s) - start )) s; log /tmp/concurrency-$run.log)"
    fi
done
echo "$passed of $RUNS runs of $BUILDS concurrent builds passed"
[ "$passed" -eq "$RUNS" ]
