#!/usr/bin/env bash
# The worst hostile publisher the tests can make (tests/hostile_build.rs):
# every artifact of the demo project's signed index replaced by a harmful
# one. Prints the time of `cargo ipfs build` against that index as a ratio
# of the same build with no cache configured (the bar: at most 2x), and the
# peak memory of a fetch of that index (the bar: under 512 MiB).
# Usage: scripts/bench-hostile.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
cargo test --locked --test hostile_build --no-run >/dev/null 2>&1
for i in $(seq "$rounds"); do
    HOSTILE_BENCH=1 cargo test --locked --test hostile_build -- --nocapture 2>/dev/null | grep '^hostile-bench:'
done
