#!/usr/bin/env bash
# Build-script runs shared across machines, against kache's warm build on
# one machine, in one run. Two workloads:
#
#   - a C-heavy project (rusqlite with `bundled` and ring, debug): its build
#     scripts compile SQLite and ring's C and assembly;
#   - `cargo install --locked ripgrep@14.1.1` (release).
#
# Machine A (the pinning CI job) records and publishes a signed index and
# serves its store on loopback. Machine B (its own CARGO_HOME, store,
# target directory and project path) builds through publish -> serve ->
# fetch: with the fetch included (a fresh store each time), and with the
# store already filled by `cargo ipfs-fetch` (a fresh target directory
# each time). kache builds cold once, then warm on the same paths with a
# fresh target directory. Each warm number is the median of RUNS runs (a
# warm build is a fraction of a second here: single runs are noise). A
# logging `cc` first on PATH counts the C compiler calls on every machine.
#
#   scripts/bench-runs.sh [RUNS]      (RUNS=5; about 15 minutes on 2 cores)
#   KEEP_WORK=1 keeps the working directory (logs, stores) for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
runs=${1:-5}
cargo build --release --locked --quiet --bin cargo-ipfs --bin cargo-ipfs-launch
bin=$PWD/target/release/cargo-ipfs
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    command -v kache >/dev/null && kache daemon stop >/dev/null 2>&1 || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
ratio() { case "$1$2" in *n/a*|*failed*) echo n/a ;; *) echo "scale=2; $1 / $2" | bc ;; esac; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "failed"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# The C compiler shim: logs each call's arguments, then runs the real one.
# rustc links through `cc` too; only calls with `-c` compile.
real_cc=$(command -v cc)
mkdir -p "$work/shim"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >> "$CC_LOG"\nexec %s "$@"\n' "$real_cc" > "$work/shim/cc"
chmod +x "$work/shim/cc"
export PATH=$work/shim:$PATH
# Every source is downloaded before anything is timed; cargo stays offline.
export CARGO_NET_OFFLINE=true
calls() { if [ -f "$1" ]; then grep -c -E '(^| )-c( |$)' "$1" || true; else echo 0; fi; }

# timed LOG COMMAND...: seconds, or "failed" with the log's tail on stderr.
timed() {
    local log=$1 t0; shift
    sync
    t0=$(now)
    if "$@" >"$log" 2>&1; then echo "$(now) - $t0" | bc; else tail -5 "$log" >&2; echo failed; fi
}

# ---------------------------------------------------------------- C-heavy
cheavy_project "$work/chv"
(cd "$work/chv" && CARGO_NET_OFFLINE=false cargo generate-lockfile --quiet &&
    CARGO_NET_OFFLINE=false cargo fetch --locked --quiet)
for m in a b f k; do seed_home "$work/home-$m"; done

# project PATH: a copy of the project at another path, lockfile included.
project() { mkdir -p "$(dirname "$1")"; cp -r "$work/chv" "$1"; }
project "$work/a/src/cheavy"
export CARGO_IPFS_STORE=$work/store-a
publisher=$(CARGO_HOME="$work/home-a" "$bin" key gen ci)
CARGO_HOME="$work/home-a" "$bin" index init --name bench --key ci >/dev/null
cold=$(cd "$work/a/src/cheavy" && CC_LOG=$work/cc-a.log timed "$work/a.log" env CARGO_HOME="$work/home-a" \
    CARGO_TARGET_DIR="$work/t-a" "$bin" build --no-fetch --record --locked)
CARGO_HOME="$work/home-a" "$bin" publish --name bench >"$work/publish.log"
unset CARGO_IPFS_STORE
start_server "$work/store-a"

machine() { # NAME N: another machine's environment, run N
    echo CARGO_HOME="$work/home-$1" CARGO_IPFS_STORE="$work/store-$1-$2" CARGO_TARGET_DIR="$work/t-$1-$2" \
        CC_LOG="$work/cc-$1-$2.log"
}
project "$work/b/deeper/path/cheavy"
: >"$work/b.times"; : >"$work/f.times"; : >"$work/k.times"
for i in $(seq "$runs"); do
    env $(machine b "$i") "$bin" trust add bench "$publisher" >/dev/null
    (cd "$work/b/deeper/path/cheavy" &&
        timed "$work/b-$i.log" env $(machine b "$i") "$bin" build --gateway "$url" --locked) >>"$work/b.times"
done
# The store filled once by `cargo ipfs-fetch`, then builds in fresh target dirs.
env $(machine f 0) "$bin" trust add bench "$publisher" >/dev/null
(cd "$work/b/deeper/path/cheavy" && env $(machine f 0) "$bin" fetch --gateway "$url" --quiet)
for i in $(seq "$runs"); do
    (cd "$work/b/deeper/path/cheavy" && timed "$work/f-$i.log" env $(machine f 0) CARGO_TARGET_DIR="$work/t-f-$i" \
        CC_LOG="$work/cc-f-$i.log" "$bin" build --no-fetch --offline --locked) >>"$work/f.times"
done
kache_cold=n/a; kache_warm=n/a
if command -v kache >/dev/null; then
    export KACHE_CACHE_DIR=$work/kache
    project "$work/k/cheavy"
    kache_cold=$(cd "$work/k/cheavy" && CC_LOG=$work/cc-k-0.log timed "$work/k-0.log" env CARGO_HOME="$work/home-k" \
        CARGO_TARGET_DIR="$work/t-k-0" RUSTC_WRAPPER=kache cargo build --locked)
    for i in $(seq "$runs"); do
        (cd "$work/k/cheavy" && CC_LOG=$work/cc-k-$i.log timed "$work/k-$i.log" env CARGO_HOME="$work/home-k" \
            CARGO_TARGET_DIR="$work/t-k-$i" RUSTC_WRAPPER=kache cargo build --locked) >>"$work/k.times"
    done
    kache_warm=$(median <"$work/k.times")
    kache daemon stop >/dev/null 2>&1 || true
fi
stop_server
b=$(median <"$work/b.times"); f=$(median <"$work/f.times")
echo
echo "### C-heavy project (rusqlite bundled + ring, debug, $(nproc) cores, medians of $runs)"
echo
echo "| build | seconds (median) | runs | vs kache warm | C compiler calls |"
echo "|---|---|---|---|---|"
echo "| A: cold, recording | $cold | 1 | $(ratio "$cold" "$kache_warm") | $(calls "$work/cc-a.log") |"
echo "| B: \`cargo ipfs build\`, fetch included, other paths | $b | $(tr '\n' ' ' <"$work/b.times") | $(ratio "$b" "$kache_warm") | $(calls "$work/cc-b-1.log") |"
echo "| B: \`cargo ipfs build\`, store filled by \`cargo ipfs-fetch\` | $f | $(tr '\n' ' ' <"$work/f.times") | $(ratio "$f" "$kache_warm") | $(calls "$work/cc-f-1.log") |"
echo "| kache cold, one machine | $kache_cold | 1 | $(ratio "$kache_cold" "$kache_warm") | $(calls "$work/cc-k-0.log") |"
echo "| kache warm, fresh target dir, same paths | $kache_warm | $(tr '\n' ' ' <"$work/k.times") | 1.00 | $(calls "$work/cc-k-1.log") |"
grep -h 'restored' "$work/b-1.log" "$work/f-1.log" | sed 's/^/    /' || true

# ---------------------------------------------------------------- ripgrep
rg=ripgrep@14.1.1
for m in a2 b2 f2 k2; do seed_home "$work/home-$m"; done
# Sources first, so that no timed build pays for downloads.
CARGO_NET_OFFLINE=false CARGO_HOME="$work/home-a2" cargo install --locked --quiet "$rg" --root "$work/src-fetch" --debug \
    --target-dir "$work/src-fetch-target" >/dev/null 2>&1 || true
for m in b2 f2 k2; do cp -r "$work/home-a2/registry" "$work/home-$m/"; done
export CARGO_IPFS_STORE=$work/store-a2
publisher=$(CARGO_HOME="$work/home-a2" "$bin" key gen ci)
CARGO_HOME="$work/home-a2" "$bin" index init --name bench --key ci >/dev/null
rg_cold=$(CC_LOG=$work/cc-a2.log timed "$work/a2.log" env CARGO_HOME="$work/home-a2" CARGO_TARGET_DIR="$work/t-a2" \
    "$bin" install --record --offline --locked "$rg" --root "$work/root-a2" --force)
CARGO_HOME="$work/home-a2" "$bin" publish --name bench >"$work/publish2.log"
unset CARGO_IPFS_STORE
start_server "$work/store-a2"
: >"$work/b2.times"; : >"$work/f2.times"; : >"$work/k2.times"
for i in $(seq "$runs"); do
    env $(machine b2 "$i") "$bin" trust add bench "$publisher" >/dev/null
    timed "$work/b2-$i.log" env $(machine b2 "$i") "$bin" install --gateway "$url" --locked "$rg" \
        --root "$work/root-b2" --force >>"$work/b2.times"
done
env $(machine f2 0) "$bin" trust add bench "$publisher" >/dev/null
# The store filled by an earlier `cargo ipfs install` (`cargo ipfs-fetch`
# reads a lockfile, and the crate installed is not in its own).
env $(machine f2 0) "$bin" install --gateway "$url" --locked "$rg" --root "$work/root-f2" --force >/dev/null 2>&1
for i in $(seq "$runs"); do
    timed "$work/f2-$i.log" env $(machine f2 0) CARGO_TARGET_DIR="$work/t-f2-$i" CC_LOG="$work/cc-f2-$i.log" \
        "$bin" install --offline --locked "$rg" --root "$work/root-f2" --force >>"$work/f2.times"
done
rg_kache_warm=n/a
if command -v kache >/dev/null; then
    export KACHE_CACHE_DIR=$work/kache2
    CC_LOG=$work/cc-k2-0.log timed "$work/k2-0.log" env CARGO_HOME="$work/home-k2" CARGO_TARGET_DIR="$work/t-k2-0" \
        RUSTC_WRAPPER=kache cargo install --offline --locked "$rg" --root "$work/root-k2" --force >/dev/null
    for i in $(seq "$runs"); do
        CC_LOG=$work/cc-k2-$i.log timed "$work/k2-$i.log" env CARGO_HOME="$work/home-k2" \
            CARGO_TARGET_DIR="$work/t-k2-$i" RUSTC_WRAPPER=kache \
            cargo install --offline --locked "$rg" --root "$work/root-k2" --force >>"$work/k2.times"
    done
    rg_kache_warm=$(median <"$work/k2.times")
    kache daemon stop >/dev/null 2>&1 || true
fi
stop_server
b2=$(median <"$work/b2.times"); f2=$(median <"$work/f2.times")
echo
echo "### \`cargo install --locked ripgrep@14.1.1\` (release, medians of $runs)"
echo
echo "| build | seconds (median) | runs | vs kache warm | C compiler calls |"
echo "|---|---|---|---|---|"
echo "| A: cold, recording | $rg_cold | 1 | $(ratio "$rg_cold" "$rg_kache_warm") | $(calls "$work/cc-a2.log") |"
echo "| B: \`cargo ipfs install\`, fetch included, other paths | $b2 | $(tr '\n' ' ' <"$work/b2.times") | $(ratio "$b2" "$rg_kache_warm") | $(calls "$work/cc-b2-1.log") |"
echo "| B: \`cargo ipfs install\`, store filled by an earlier install | $f2 | $(tr '\n' ' ' <"$work/f2.times") | $(ratio "$f2" "$rg_kache_warm") | $(calls "$work/cc-f2-1.log") |"
echo "| kache warm, fresh target dir, same paths | $rg_kache_warm | $(tr '\n' ' ' <"$work/k2.times") | 1.00 | $(calls "$work/cc-k2-1.log") |"
grep -h 'restored' "$work/b2-1.log" "$work/f2-1.log" | sed 's/^/    /' || true

write_results runs "$(cat <<JSON
{"workloads": [
 {"name": "C-heavy project (rusqlite bundled + ring, debug)", "runs": $runs,
  "cold": $(num "$cold"), "fetch_included": $(num "$b"), "store_filled": $(num "$f"),
  "kache_cold": $(num "$kache_cold"), "kache_warm": $(num "$kache_warm"),
  "cc_calls": {"cold": $(calls "$work/cc-a.log"), "fetch_included": $(calls "$work/cc-b-1.log"), "store_filled": $(calls "$work/cc-f-1.log"), "kache_warm": $(calls "$work/cc-k-1.log")}},
 {"name": "cargo install --locked ripgrep@14.1.1 (release)", "runs": $runs,
  "cold": $(num "$rg_cold"), "fetch_included": $(num "$b2"), "store_filled": $(num "$f2"),
  "kache_cold": null, "kache_warm": $(num "$rg_kache_warm"),
  "cc_calls": {"cold": $(calls "$work/cc-a2.log"), "fetch_included": $(calls "$work/cc-b2-1.log"), "store_filled": $(calls "$work/cc-f2-1.log"), "kache_warm": $(calls "$work/cc-k2-1.log")}}
]}
JSON
)"
