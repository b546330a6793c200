#!/usr/bin/env bash
# Regenerates index/example/: a small signed index (three crates, two
# versions) as a CAR file, its IPNS record, its manifest and one shard for
# reading, and the trust entry a subscriber would add. The signing key is
# thrown away; versions stay valid for 100 years so the committed example
# keeps verifying.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin cargo-ipfs
bin=${CARGO_TARGET_DIR:-$PWD/target}/debug/cargo-ipfs
out=$PWD/index/example
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_IPFS_STORE=$work/store

ipns=$("$bin" key gen example-publisher)
"$bin" index init --name example --key example-publisher --lifetime-days 36500 >/dev/null
entry() { # name version key crate-type kind file
    printf '{"name":"%s","version":"%s","source":"registry+https://github.com/rust-lang/crates.io-index","checksum":"%s","key":"%s","cid":"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4","size":12,"unpacked_size":3072,"sha256":"a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447","outputs":[{"name":"%s","kind":"%s"}],"rustc":"1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860","target":"x86_64-unknown-linux-gnu","profile":{"debuginfo":"2","opt-level":"0"},"features":["default","std"],"crate_types":["%s"],"deps":{},"built_at":1800000000,"builder":"%s"}\n' \
        "$1" "$2" "$(printf '%s' "$1-$2" | sha256sum | cut -c1-64)" "$3" "$6" "$5" "$4" "$ipns"
}
{ entry itoa 1.0.11 "$(printf itoa | sha256sum | cut -c1-64)" lib rlib libitoa-0123456789abcdef.rlib
  entry serde 1.0.210 "$(printf serde | sha256sum | cut -c1-64)" lib rlib libserde-0123456789abcdef.rlib; } > "$work/v2.jsonl"
"$bin" index add --name example "$work/v2.jsonl" >/dev/null
entry serde_derive 1.0.210 "$(printf serde_derive | sha256sum | cut -c1-64)" proc-macro proc-macro libserde_derive-0123456789abcdef.so > "$work/v3.jsonl"
# A build-script run of serde (index format 3): no outputs, its pre-key and
# what it declared (here nothing but its build script).
printf '{"name":"serde","version":"1.0.210","source":"registry+https://github.com/rust-lang/crates.io-index","checksum":"%s","key":"%s","cid":"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4","size":12,"unpacked_size":3072,"sha256":"a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447","outputs":[],"rustc":"1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860","target":"x86_64-unknown-linux-gnu","profile":{},"features":[],"crate_types":[],"deps":{},"built_at":1800000000,"builder":"%s","run":{"pre_key":"%s","host":"x86_64-unknown-linux-gnu","names":{"env":[],"files":["/cargo-home/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.210/build.rs"],"tools":[]},"state":{"env":[],"files":[["/cargo-home/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.210/build.rs","%s"]],"tools":[]}}}\n' \
    "$(printf serde-1.0.210 | sha256sum | cut -c1-64)" "$(printf serde-run | sha256sum | cut -c1-64)" "$ipns" \
    "$(printf serde-pre-key | sha256sum | cut -c1-64)" "$(printf serde-build.rs | sha256sum | cut -c1-64)" >> "$work/v3.jsonl"
"$bin" index add --name example "$work/v3.jsonl" >/dev/null

root=$("$bin" index show example | awk '/^root:/ {print $2}')
rm -rf "$out" && mkdir -p "$out"
# The CAR holds the newest version and the older manifests (for `index log`).
"$bin" car export "$root" -o "$out/example.car"
cp "$work/store/ipns/$ipns.ipns-record" "$out/example.ipns-record"
chmod 644 "$out/example.ipns-record"
"$bin" cat "$root/manifest.json" > "$out/manifest.json" 2>/dev/null || "$bin" index show example --json > "$out/manifest.json"
"$bin" index show example --crate serde --json > "$out/shard-serde.json"
printf '{\n  "index": "example",\n  "root": "%s",\n  "keys": ["%s"],\n  "threshold": 1,\n  "ipns": "%s"\n}\n' "$root" "$ipns" "$ipns" > "$out/trust.json"
echo "wrote $out (root $root, ipns $ipns)"
