#!/usr/bin/env bash
# End to end on ripgrep 14.1.1 (release): machine A (the pinning CI job)
# records `cargo install` and publishes a signed index, then serves its store
# on loopback; other "machines" (their own CARGO_HOME, store, target dir and
# project path) resolve the index over HTTP, fetch and build. Reported as
# ratios in one run, next to kache and sccache with warm local caches on one
# machine (when on PATH):
#
#   - `cargo ipfs install ripgrep` on machine B, fetch included, against
#     kache's warm `cargo install` (target: at most 1.5x);
#   - a project of one's own (ripgrep's sources as a path project: the
#     ripgrep crate compiles, every registry dependency is fetched) with
#     `cargo ipfs build --release`, against its floor: the same build with
#     every dependency already compiled in the target directory (target:
#     at most 1.15x);
#   - `cargo ipfs fetch` from `serve` on loopback into an empty store, five
#     times (each into a new store, from the same server): bytes, throughput
#     with every block and artifact verified (target: at least 500 MB/s) and
#     the time from command start to the first artifact byte, as the median
#     of the five with their range, the first fetch (a fresh server) shown.
#
#   scripts/bench-e2e.sh            (about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
cargo build --release --locked --quiet --bin cargo-ipfs
bin=$PWD/target/release/cargo-ipfs
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
rg=ripgrep@14.1.1

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
ratio() { case "$1" in n/a|failed) echo "$1" ;; *) echo "scale=2; $1 / $2" | bc ;; esac; }

# timed LOG COMMAND...: runs COMMAND quietly, prints its seconds, or "failed"
# (with its last lines on stderr) so that one failure loses no other row.
# What earlier steps wrote is flushed first: the kernel writes dirty pages
# back 30 s after they were dirtied, which would otherwise land in a later
# step's measurement (machine A's build output, on a real second machine,
# would not be there at all).
timed() {
    local log=$1 t0; shift
    sync
    t0=$(now)
    if "$@" >"$log" 2>&1; then since "$t0"; else tail -5 "$log" >&2; echo failed; fi
}

for m in a b own fetch k s; do seed_home "$work/home-$m"; done
# Sources first, so that no timed build pays for downloads.
CARGO_HOME="$work/home-a" cargo install --locked --quiet "$rg" --root "$work/src-fetch" --debug \
    --target-dir "$work/src-fetch-target" >/dev/null 2>&1 || true
for m in b own fetch k s; do cp -r "$work/home-a/registry" "$work/home-$m/"; done

echo
echo "### ripgrep 14.1.1, release ($(nproc) cores)"
echo

# Machine A: record and publish.
export CARGO_IPFS_STORE=$work/store-a
publisher=$(CARGO_HOME="$work/home-a" "$bin" key gen ci)
CARGO_HOME="$work/home-a" "$bin" index init --name bench --key ci >/dev/null
record=$(timed "$work/record.log" env CARGO_HOME="$work/home-a" CARGO_TARGET_DIR="$work/t-a" \
    RUSTC_WRAPPER="$bin" CARGO_IPFS_MODE=record cargo install --locked "$rg" --root "$work/root-a" --force)
CARGO_HOME="$work/home-a" "$bin" publish --name bench >"$work/publish.log"
"$bin" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
[ -n "$url" ] || { echo "serve did not start" >&2; exit 1; }
unset CARGO_IPFS_STORE

machine() { # NAME: the environment of another machine that trusts A
    echo CARGO_HOME="$work/home-$1" CARGO_IPFS_STORE="$work/store-$1" CARGO_TARGET_DIR="$work/t-$1"
}
for m in b own; do env $(machine $m) "$bin" trust add bench "$publisher" >/dev/null; done

# Fetch throughput: every artifact the lockfile can use, into an empty store,
# five times over. A ~30 MB fetch takes well under a second, so one sample
# says little; the server is the same throughout, as a mirror's would be.
own_src=$(ls -d "$work"/home-a/registry/src/*/ripgrep-14.1.1)
mkdir -p "$work/projects/fetch" "$work/projects/own/deep/path"
cp -r "$own_src" "$work/projects/fetch/ripgrep"
cp -r "$own_src" "$work/projects/own/deep/path/ripgrep"
for i in 1 2 3 4 5; do
    rm -rf "$work/store-fetch" "$work/t-fetch"
    env $(machine fetch) "$bin" trust add bench "$publisher" >/dev/null
    sync
    t0=$(now)
    env $(machine fetch) "$bin" fetch --gateway "$url" --json \
        --manifest-path "$work/projects/fetch/ripgrep/Cargo.toml" >"$work/fetch-$i.json"
    since "$t0" >"$work/fetch-$i.wall"
done

# Machine B: `cargo ipfs install`, fetch included.
install=$(timed "$work/install.log" env $(machine b) "$bin" install --gateway "$url" --locked "$rg" \
    --root "$work/root-b" --force)

# A project of one's own on another machine: fetch, then build.
own=$(cd "$work/projects/own/deep/path/ripgrep" &&
    timed "$work/own.log" env $(machine own) "$bin" build --gateway "$url" --release --locked)
# Its floor: every dependency already compiled in the target directory.
(cd "$work/projects/own/deep/path/ripgrep" &&
    env CARGO_HOME="$work/home-own" CARGO_TARGET_DIR="$work/t-floor" cargo build --release --locked --quiet) \
    >/dev/null 2>&1
touch "$work/projects/own/deep/path/ripgrep/src/main.rs" "$work/projects/own/deep/path/ripgrep"/crates/core/*.rs 2>/dev/null || true
floor=$(cd "$work/projects/own/deep/path/ripgrep" &&
    timed "$work/floor.log" env CARGO_HOME="$work/home-own" CARGO_TARGET_DIR="$work/t-floor" cargo build --release --locked)

kache_warm=n/a; sccache_warm=n/a
if command -v kache >/dev/null; then
    export KACHE_CACHE_DIR=$work/kache
    timed "$work/k1.log" env CARGO_HOME="$work/home-k" CARGO_TARGET_DIR="$work/t-k1" RUSTC_WRAPPER=kache \
        cargo install --locked "$rg" --root "$work/root-k" --force >/dev/null
    kache_warm=$(timed "$work/k2.log" env CARGO_HOME="$work/home-k" CARGO_TARGET_DIR="$work/t-k2" \
        RUSTC_WRAPPER=kache cargo install --locked "$rg" --root "$work/root-k" --force)
    # Its daemon outlives the build and keeps writing into the cache.
    kache daemon stop >/dev/null 2>&1 || true
fi
if command -v sccache >/dev/null; then
    export SCCACHE_DIR=$work/sccache
    sccache --stop-server >/dev/null 2>&1 || true
    timed "$work/s1.log" env CARGO_HOME="$work/home-s" CARGO_TARGET_DIR="$work/t-s1" RUSTC_WRAPPER=sccache \
        cargo install --locked "$rg" --root "$work/root-s" --force >/dev/null
    sccache_warm=$(timed "$work/s2.log" env CARGO_HOME="$work/home-s" CARGO_TARGET_DIR="$work/t-s2" \
        RUSTC_WRAPPER=sccache cargo install --locked "$rg" --root "$work/root-s" --force)
    sccache --stop-server >/dev/null 2>&1 || true
fi

echo "| build | seconds | vs kache warm |"
echo "|---|---|---|"
echo "| A: \`cargo install\` recording (cold + recording) | $record | $(ratio "$record" "$kache_warm") |"
echo "| B: \`cargo ipfs install ripgrep\`, fetch included, other paths | $install | $(ratio "$install" "$kache_warm") |"
echo "| kache warm \`cargo install\`, fresh target dir, same paths | $kache_warm | 1.00 |"
echo "| sccache warm \`cargo install\`, fresh target dir, same paths | $sccache_warm | $(ratio "$sccache_warm" "$kache_warm") |"
echo
echo "| project of one's own (ripgrep sources as a path project) | seconds | vs floor |"
echo "|---|---|---|"
echo "| floor: dependencies already compiled in the target dir | $floor | 1.00 |"
echo "| \`cargo ipfs build --release\` on another machine, fetch included | $own | $(ratio "$own" "$floor") |"
echo
grep -h 'restored' "$work/install.log" "$work/own.log" | sed 's/^/    /' || true
python3 - "$work" <<'EOF'
import json, statistics, sys
work = sys.argv[1]
runs = []
for i in range(1, 6):
    s = json.load(open(f"{work}/fetch-{i}.json"))
    first = s["first_byte_ms"] or 0
    transfer = (s["download_ms"] - first) / 1000
    runs.append({"rate": s["bytes"] / 1e6 / transfer, "first": first, "unpack": s["unpack_ms"] / 1000,
                 "wall": float(open(f"{work}/fetch-{i}.wall").read())})
s = json.load(open(f"{work}/fetch-1.json"))
mb = s["bytes"] / 1e6
rates = ", ".join(f"{r['rate']:.0f}" for r in runs)
def median(key):
    return statistics.median(r[key] for r in runs)
def spread(key, fmt):
    return f"{min(r[key] for r in runs):{fmt}}-{max(r[key] for r in runs):{fmt}}"
print()
print(f"fetch from serve on loopback into an empty store, 5 times: {len(s['fetched'])} artifacts, {mb:.1f} MB, "
      f"{s['already_local']} already local, {len(s['missing'])} locked packages not in the index, "
      f"{len(s['failed'])} failed")
print(f"  throughput with verification, first byte to last block verified and stored: "
      f"median {median('rate'):.0f} MB/s, range {spread('rate', '.0f')} "
      f"(in order: {rates}; the first from a fresh server)")
print(f"  then unpacking for the wrapper (and the entries' sha256): median {median('unpack'):.3f} s; "
      f"whole command median {median('wall'):.2f} s ({mb / median('wall'):.0f} MB/s)")
print(f"  time from command start to the first artifact byte: median {median('first'):.0f} ms, "
      f"range {spread('first', '.0f')} ms")
EOF
