#!/usr/bin/env bash
# Runs each coverage-guided fuzz target (fuzz/fuzz_targets/) for a bounded
# time, resuming from its corpus (fuzz/corpus/<target>/, seeded from the
# fixtures), and prints each target's executions and coverage. Not part of
# `cargo test`; see docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 600 s, every target)
#
# cargo fuzz needs nightly features; on a machine with only the stable
# toolchain it runs under RUSTC_BOOTSTRAP=1, without a sanitizer (the code
# under test has no `unsafe` of its own; panics, overflows in debug
# assertions, hangs and runaway allocations are what is caught). A crash is
# saved in fuzz/artifacts/<target>/ and the script exits 1.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${1:-600}
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(ls fuzz_targets | sed 's/\.rs$//')
export RUSTC_BOOTSTRAP=1
seed_corpus() {
    local target=$1 dir=corpus/$1
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return
    case $target in
        car_decoder) find ../tests/fixtures/ipfs -name '*.car' -size -2M -exec cp {} "$dir/" \; ;;
        ipns_record) find ../tests/fixtures/ipfs -name '*.ipns-record' -exec cp {} "$dir/" \; ;;
        dep_info) printf 'target/debug/deps/a.rmeta: src/lib.rs\n\nsrc/lib.rs:\n\n# env-dep:CARGO_PKG_NAME=a\n' >"$dir/seed" ;;
        rustc_args) printf -- '--crate-name\0demo\0--edition=2021\0src/lib.rs\0--crate-type\0lib\0--emit=dep-info,metadata,link\0-C\0opt-level=3\0--out-dir\0/t' >"$dir/seed" ;;
        index_shard) printf '{"entries":[]}' >"$dir/seed" ;;
        *) printf 'seed' >"$dir/seed" ;;
    esac
}
STATUS=0
echo "target,seconds,runs,coverage,features,corpus,result"
for t in "${TARGETS[@]}"; do
    seed_corpus "$t"
    log=$(mktemp)
    if cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        STATUS=1
    fi
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(echo "$last" | sed -E 's/^#([0-9]+).*/\1/')
    cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | cut -d' ' -f2)
    ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | cut -d' ' -f2)
    corp=$(echo "$last" | grep -oE 'corp: [0-9]+' | cut -d' ' -f2)
    echo "$t,$SECONDS_PER_TARGET,${runs:-?},${cov:-?},${ft:-?},${corp:-?},$result"
    [ "$result" = ok ] || tail -n 30 "$log" >&2
    rm -f "$log"
done
exit $STATUS
