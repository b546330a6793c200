#!/usr/bin/env bash
# Throughput of import, export and CAR read, as ratios to plain sha256 of the
# same bytes measured in the same run, plus peak memory of each step.
#
#   scripts/bench-import.sh [SIZE_MIB]      (default 1024)
#
# Needs GNU time (/usr/bin/time). Prints a Markdown table; docs/benchmarks.md
# keeps the last published numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
size_mib=${1:-1024}
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }

cargo build --release --locked --quiet --bin cargo-ipfs --example sha256sum
bin=target/release/cargo-ipfs
sha=target/release/examples/sha256sum
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file=$work/input.bin
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$file"
export CARGO_IPFS_STORE=$work/store

# run NAME CMD... : records seconds and peak RSS (KiB) of CMD into $work/NAME;
# its output goes to $work/NAME.out, or to /dev/null when OUT=null.
run() {
    local name=$1; shift
    local out="$work/$name.out"
    [ "${OUT:-}" = null ] && out=/dev/null
    sync
    /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$out"
}

run sha256 "$sha" "$file"
run sha256sum sha256sum "$file"
run add_hash "$bin" add --only-hash -Q "$file"
run add_v1_hash "$bin" add --only-hash -Q --profile unixfs-v1-2025 "$file"
run add_store "$bin" add -Q --profile unixfs-v1-2025 "$file"
cid=$(cat "$work/add_store.out")
OUT=null run export "$bin" cat "$cid"
"$bin" car export "$cid" -o "$work/out.car"
export CARGO_IPFS_STORE=$work/store2
run car_import "$bin" car import "$work/out.car"

base=$(cut -d' ' -f1 "$work/sha256.time")
row() {
    local label=$1 name=$2 secs rss
    secs=$(cut -d' ' -f1 "$work/$name.time")
    rss=$(cut -d' ' -f2 "$work/$name.time")
    awk -v l="$label" -v s="$secs" -v b="$base" -v m="$size_mib" -v r="$rss" \
        'BEGIN { t = (s > 0 ? m / s : 0); printf "| %s | %.2f | %.0f | %.2f | %.1f |\n", l, s, t, (b > 0 ? b / (s > 0 ? s : 0.01) : 0), r / 1024 }'
}
echo "input: ${size_mib} MiB of random bytes; $(nproc) cores; $(uname -m)"
echo
echo "| step | seconds | MiB/s | speed vs sha256 (same crate) | peak RSS MiB |"
echo "|---|---|---|---|---|"
row "sha256, sha2 crate (baseline)" sha256
row "sha256sum (coreutils)" sha256sum
row "add --only-hash (unixfs-v0-2015)" add_hash
row "add --only-hash (unixfs-v1-2025)" add_v1_hash
row "add to disk store (unixfs-v1-2025)" add_store
row "cat (export, verify every block)" export
row "car import (read, verify, store)" car_import

steps=
for pair in "sha256, sha2 crate (baseline):sha256" "sha256sum (coreutils):sha256sum" "add --only-hash (unixfs-v0-2015):add_hash" \
    "add --only-hash (unixfs-v1-2025):add_v1_hash" "add to disk store (unixfs-v1-2025):add_store" \
    "cat (export, verify every block):export" "car import (read, verify, store; what a fetch does):car_import"; do
    label=${pair%:*}; name=${pair##*:}
    read -r secs rss <"$work/$name.time"
    steps="${steps:+$steps,}{\"step\": \"$label\", \"seconds\": $secs, \"peak_rss_kib\": $rss}"
done
write_results import "{\"mib\": $size_mib, \"steps\": [$steps]}"
