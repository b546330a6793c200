#!/usr/bin/env bash
# The wrapper against a cold build and against sccache and kache, side by side
# in one run, as ratios. Each cached build runs in a fresh target directory;
# ours also with another CARGO_HOME path and project path ("another machine").
#
#   scripts/bench-wrapper.sh [ripgrep|demo]     (default: both)
#
# ripgrep: `cargo install --locked ripgrep@14.1.1` (release). demo: the test
# project with a proc-macro (tests/fixtures/projects/demo, debug build).
# Fully cached means the project's own crates too, as kache caches them: ours
# runs with CARGO_IPFS_LOCAL=1 (path crates cached in this store only).
# sccache and kache are used when on PATH (`cargo install --locked sccache`,
# `cargo install kache@2.0.0`). Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
cargo build --release --locked --quiet --bin cargo-ipfs
bin=$PWD/target/release/cargo-ipfs
projects=${1:-"ripgrep demo"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# build PROJECT CARGO_HOME TARGET_DIR PROJECT_DIR [wrapper env...]: prints the
# seconds taken, or "failed" (with the build's last lines on stderr) so that
# one peer's failure does not lose the other measurements.
build() {
    local project=$1 home=$2 target=$3 dir=$4; shift 4
    local t0 t1 ok=0
    t0=$(now)
    if [ "$project" = ripgrep ]; then
        env CARGO_HOME="$home" CARGO_TARGET_DIR="$target" "$@" \
            cargo install --locked --quiet ripgrep@14.1.1 --root "$target/root" --force >/dev/null 2>"$work/last.log" || ok=1
    else
        (cd "$dir" && env CARGO_HOME="$home" CARGO_TARGET_DIR="$target" "$@" cargo build --locked --quiet 2>"$work/last.log") || ok=1
    fi
    t1=$(now)
    if [ $ok = 0 ]; then echo "$t1 - $t0" | bc; else tail -3 "$work/last.log" >&2; echo failed; fi
}

setup_project() { # PROJECT DIR
    [ "$1" = demo ] && mkdir -p "$2" && cp -r tests/fixtures/projects/demo/. "$2/"
    mkdir -p "$2"
}

results=
for project in $projects; do
    for m in a b s k; do seed_home "$work/$project/home-$m"; done
    for m in a b s k; do setup_project "$project" "$work/$project/$m/src/demo"; done
    # Fetch sources first, so no build below pays for downloads.
    if [ "$project" = ripgrep ]; then
        CARGO_HOME="$work/$project/home-a" cargo install --locked --quiet ripgrep@14.1.1 --root "$work/rg-fetch" --debug --target-dir "$work/rg-fetch-target" >/dev/null 2>&1 || true
        for m in b s k; do cp -r "$work/$project/home-a/registry" "$work/$project/home-$m/"; done
    else
        for m in a b s k; do (cd "$work/$project/$m/src/demo" && CARGO_HOME="$work/$project/home-$m" cargo fetch --locked --quiet); done
    fi
    ratio() { case "$1" in n/a|failed) echo "$1" ;; *) echo "scale=2; $1 / $cold" | bc ;; esac; }
    row() { echo "| $1 | $2 | $(ratio "$2") |"; }
    echo
    echo "### $project ($(nproc) cores)"
    echo
    echo "| build | seconds | vs cold |"
    echo "|---|---|---|"
    store=$work/$project/store
    cold=$(build "$project" "$work/$project/home-a" "$work/$project/t-cold" "$work/$project/a/src/demo")
    echo "| cold, no wrapper | $cold | 1.00 |"
    record=$(build "$project" "$work/$project/home-a" "$work/$project/t-record" "$work/$project/a/src/demo" \
        RUSTC_WRAPPER="$bin" CARGO_IPFS_STORE="$store" CARGO_IPFS_MODE=record CARGO_IPFS_LOCAL=1)
    row "cargo-ipfs record (cold + recording)" "$record"
    CARGO_IPFS_STORE="$store" "$bin" stats --zero >/dev/null
    other=$(build "$project" "$work/$project/home-b" "$work/$project/t-other" "$work/$project/b/src/demo" \
        RUSTC_WRAPPER="$bin" CARGO_IPFS_STORE="$store" CARGO_IPFS_MODE=read CARGO_IPFS_LOCAL=1)
    hits=$(CARGO_IPFS_STORE="$store" "$bin" stats --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["hits"], s["misses"], round(s["hit_time_us"]/max(s["hits"],1)/1000, 2))')
    row "cargo-ipfs, fresh target dir, other CARGO_HOME and project path" "$other"
    registry_only=$(build "$project" "$work/$project/home-b" "$work/$project/t-other2" "$work/$project/b/src/demo" \
        RUSTC_WRAPPER="$bin" CARGO_IPFS_STORE="$store" CARGO_IPFS_MODE=read)
    row "cargo-ipfs as above, registry crates only (no CARGO_IPFS_LOCAL)" "$registry_only"
    sccache_warm=n/a; kache_warm=n/a
    if command -v sccache >/dev/null; then
        export SCCACHE_DIR=$work/$project/sccache
        sccache --stop-server >/dev/null 2>&1 || true
        build "$project" "$work/$project/home-s" "$work/$project/t-s1" "$work/$project/s/src/demo" RUSTC_WRAPPER=sccache >/dev/null
        sccache_warm=$(build "$project" "$work/$project/home-s" "$work/$project/t-s2" "$work/$project/s/src/demo" RUSTC_WRAPPER=sccache)
        sccache --stop-server >/dev/null 2>&1 || true
    fi
    row "sccache warm, fresh target dir, same paths" "$sccache_warm"
    if command -v kache >/dev/null; then
        export KACHE_CACHE_DIR=$work/$project/kache
        build "$project" "$work/$project/home-k" "$work/$project/t-k1" "$work/$project/k/src/demo" RUSTC_WRAPPER=kache >/dev/null
        kache_warm=$(build "$project" "$work/$project/home-k" "$work/$project/t-k2" "$work/$project/k/src/demo" RUSTC_WRAPPER=kache)
        # Its daemon outlives the build and keeps writing into the cache.
        kache daemon stop >/dev/null 2>&1 || true
    fi
    row "kache warm, fresh target dir, same paths" "$kache_warm"
    echo
    read -r h m per <<<"$hits"
    echo "cargo-ipfs on the other machine: $h hits, $m misses; wrapper time per hit $per ms."
    results="${results:+$results,}{\"project\": \"$project\", \"cold\": $(num "$cold"), \"record\": $(num "$record"), \"other_machine\": $(num "$other"), \"registry_only\": $(num "$registry_only"), \"sccache_warm\": $(num "$sccache_warm"), \"kache_warm\": $(num "$kache_warm"), \"hits\": $(num "$h"), \"misses\": $(num "$m"), \"ms_per_hit\": $(num "$per")}"
done
write_results wrapper "{\"projects\": [$results]}"
