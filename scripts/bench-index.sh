#!/usr/bin/env bash
# Index scale: build an index of ENTRIES entries (default 1,000,000) on a disk
# store, then time 300 lookups and a one-crate update, counting blocks.
#
#   scripts/bench-index.sh [ENTRIES] [ENTRIES_PER_CRATE]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked --quiet --example index_bench -- "${1:-1000000}" "${2:-10}"
