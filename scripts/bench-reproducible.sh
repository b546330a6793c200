#!/usr/bin/env bash
# Reproducibility across machines: machine A (the pinning job) records a
# project's dependencies and publishes them; machine B (its own CARGO_HOME,
# store and project path) rebuilds the same lockfile from nothing with
# `cargo ipfs verify --rebuild` and compares every artifact with A's signed
# entry. Prints, per project, the share of A's artifacts B confirms byte
# for byte, the mismatches with the files that differ, and why the rest was
# not rebuilt. Two projects:
#
#   - ripgrep 14.1.1's own sources as a path project (release, its lockfile);
#   - a C-heavy project (rusqlite with `bundled` and ring, debug).
#
#   scripts/bench-reproducible.sh      (about 4 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
cargo build --release --locked --quiet --bin cargo-ipfs --bin cargo-ipfs-launch
bin=$PWD/target/release/cargo-ipfs
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# report NAME PROJECT_REL PROFILE_FLAG: A records and publishes, B verifies.
report() {
    local name=$1 rel=$2 flag=$3
    seed_home "$work/$name/home-a"
    seed_home "$work/$name/home-b"
    mkdir -p "$work/$name/a" "$work/$name/b/some/other/path"
    cp -r "$work/src/$rel" "$work/$name/a/project"
    cp -r "$work/src/$rel" "$work/$name/b/some/other/path/project"
    local a="CARGO_HOME=$work/$name/home-a CARGO_IPFS_STORE=$work/$name/store-a CARGO_TARGET_DIR=$work/$name/t-a"
    local b="CARGO_HOME=$work/$name/home-b CARGO_IPFS_STORE=$work/$name/store-b CARGO_TARGET_DIR=$work/$name/t-b"
    (cd "$work/$name/a/project" && env $a CARGO_NET_OFFLINE=false cargo fetch --locked --quiet)
    cp -r "$work/$name/home-a/registry" "$work/$name/home-b/"
    local key
    key=$(env $a "$bin" key gen ci)
    env $a "$bin" index init --name repro --key ci >/dev/null
    (cd "$work/$name/a/project" && env $a CARGO_NET_OFFLINE=true "$bin" build --no-fetch --record $flag --locked >"$work/$name/a.log" 2>&1)
    env $a "$bin" publish --name repro >/dev/null
    start_server "$work/$name/store-a"
    env $b "$bin" trust add repro "$key" >/dev/null
    local status=0
    (cd "$work/$name/b/some/other/path/project" && env $b CARGO_NET_OFFLINE=true \
        "$bin" verify --rebuild $flag --gateway "$url" --json >"$work/$name/report.json" 2>"$work/$name/verify.err") || status=$?
    stop_server
    python3 - "$name" "$work/$name/report.json" "$status" <<'PY'
import json, sys, collections
name, path, status = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
m, x, n = len(r["matched"]), len(r["mismatched"]), len(r["not_rebuilt"])
total = m + x + n
print(f"\n### {name}: {m} of {total} signed artifacts confirmed byte for byte ({100 * m / max(total, 1):.1f}%), exit status {status}\n")
print(f"- matched: {m} ({sum(1 for c in r['matched'] if c['kind'] == 'run')} of them build-script runs)")
print(f"- mismatched: {x}")
for c in r["mismatched"]:
    print(f"  - {c['name']} {c['version']} ({c['kind']}): " + "; ".join(c["differences"][:4]))
print(f"- not rebuilt here: {n}")
for reason, count in collections.Counter(e["reason"] for e in r["not_rebuilt"]).most_common():
    print(f"  - {count}: {reason}")
print(f"- rebuilt artifacts the index lacks: {r['not_in_index']}")
PY
}

# ---------------------------------------------------------------- sources
mkdir -p "$work/src"
crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/ripgrep-14.1.1.crate 2>/dev/null | head -1 || true)
if [ -z "$crate" ]; then
    crate=$work/ripgrep-14.1.1.crate
    curl -sSfL -o "$crate" https://static.crates.io/crates/ripgrep/ripgrep-14.1.1.crate
fi
tar xzf "$crate" -C "$work/src"
cheavy_project "$work/src/cheavy"
(cd "$work/src/cheavy" && CARGO_NET_OFFLINE=false cargo generate-lockfile --quiet)

echo "## Reproducibility across machines (\`scripts/bench-reproducible.sh\`, $(date -u +%F))"
report ripgrep ripgrep-14.1.1 --release
report c-heavy cheavy ""
