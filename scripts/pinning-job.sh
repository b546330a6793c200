#!/usr/bin/env bash
# The pinning job: build every crate of a list in record mode on a pinned
# toolchain, publish one new signed version of the index, pin it on the
# configured services, and print the IPNS name, the root CID and a summary.
# Run by .github/workflows/pin.yml, and by hand:
#
#   scripts/pinning-job.sh [LIST]        (default: index/crates.toml)
#
# Environment:
#   CARGO_IPFS                 the cargo-ipfs binary [default: cargo-ipfs on PATH]
#   CARGO_IPFS_STORE           the publisher's store [default: $CARGO_HOME/ipfs]
#   CARGO_IPFS_SIGNING_KEY_FILE  a key exported with `cargo ipfs key export`
#                              (the CI secret), imported as the index's key
#                              when the keystore lacks it
#   PINNING_TOOLCHAIN          overrides the list's toolchain ("" : the default)
#   PINNING_WORK               where the generated projects go [default: a temporary directory]
#   PINNING_SERVICES           comma-separated pinning services [default: every configured one]
#
# A crate that fails to build is reported and skipped. Nothing is
# published when the store fails its verification, and a version is
# published only when something was added: running it twice on the same
# list publishes nothing the second time. Exit status: 0 when everything
# built, was published (or there was nothing new) and was pinned; 1 when
# a crate failed or a pin failed; 2 when nothing could be published.
set -uo pipefail

LIST=${1:-index/crates.toml}
CARGO_IPFS=${CARGO_IPFS:-cargo-ipfs}
[ -f "$LIST" ] || { echo "pinning-job: no list at $LIST" >&2; exit 2; }
WORK=${PINNING_WORK:-$(mktemp -d)}
mkdir -p "$WORK"
STATUS=0

# The list, as shell-readable lines (python3's tomllib reads TOML).
read_list() {
    python3 - "$LIST" <<'PY'
import sys, tomllib, shlex
data = tomllib.load(open(sys.argv[1], "rb"))
print("INDEX=" + shlex.quote(data["index"]["name"]))
print("CHANNEL=" + shlex.quote(data.get("toolchain", {}).get("channel", "")))
for c in data.get("crate", []):
    for profile in c.get("profiles", ["dev"]):
        for target in c.get("targets", []) or [""]:
            fields = [c["name"], c["version"], c.get("kind", "lib"), ",".join(c.get("features", [])),
                      "1" if c.get("default-features", True) else "0", profile, target]
            if any("|" in f for f in fields):
                sys.exit(f"a field of crate {c['name']} holds '|'")
            print("BUILD|" + "|".join(fields))
PY
}
LINES=$(read_list) || { echo "pinning-job: $LIST is malformed" >&2; exit 2; }
eval "$(printf '%s\n' "$LINES" | grep -E '^(INDEX|CHANNEL)=')"
if [ -n "${PINNING_TOOLCHAIN+x}" ]; then CHANNEL=$PINNING_TOOLCHAIN; fi
if [ -n "$CHANNEL" ]; then export RUSTUP_TOOLCHAIN=$CHANNEL; fi
echo "pinning-job: index $INDEX, toolchain $(rustc --version 2>/dev/null || echo '?')"

STORE=${CARGO_IPFS_STORE:-${CARGO_HOME:-$HOME/.cargo}/ipfs}
export CARGO_IPFS_STORE=$STORE
if [ ! -f "$STORE/published.json" ] || ! python3 -c 'import json,sys; sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])) else 1)' "$STORE/published.json" "$INDEX"; then
    echo "pinning-job: the store $STORE does not publish index $INDEX; restore the job's store (its published.json carries the sequence), or create the index once with \`cargo ipfs index init --name $INDEX --key KEY\`" >&2
    exit 2
fi
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["ipns_key"])' "$STORE/published.json" "$INDEX")
if [ -n "${CARGO_IPFS_SIGNING_KEY_FILE:-}" ] && ! "$CARGO_IPFS" key list --json | grep -q "\"name\": *\"$KEY\""; then
    "$CARGO_IPFS" key import "$KEY" "$CARGO_IPFS_SIGNING_KEY_FILE" >/dev/null || { echo "pinning-job: cannot import the signing key" >&2; exit 2; }
fi

count_blocks() { find "$STORE/blocks" -type f ! -name '*.tmp*' 2>/dev/null | wc -l; }
size_blocks() { du -sb "$STORE/blocks" 2>/dev/null | cut -f1 || echo 0; }
count_journal() { [ -f "$STORE/journal.jsonl" ] && wc -l <"$STORE/journal.jsonl" || echo 0; }
BLOCKS0=$(count_blocks); BYTES0=$(size_blocks); UNITS0=$(count_journal)

BUILT=0; TOTAL=0; FAILED=()
while IFS='|' read -r _ NAME VERSION KIND FEATURES DEFAULTS PROFILE TARGET; do
    TOTAL=$((TOTAL + 1))
    what="$NAME $VERSION ($KIND, $PROFILE${TARGET:+, $TARGET}${FEATURES:+, features $FEATURES})"
    log="$WORK/$NAME-$VERSION-$PROFILE${TARGET:+-$TARGET}.log"
    args=()
    [ "$PROFILE" = release ] && args+=(--release)
    [ "$PROFILE" != release ] && [ "$PROFILE" != dev ] && args+=(--profile "$PROFILE")
    [ -n "$TARGET" ] && args+=(--target "$TARGET")
    if [ "$KIND" = tool ]; then
        iargs=(install --record "$NAME@$VERSION" --root "$WORK/tools" --locked --force)
        [ "$PROFILE" = dev ] && iargs+=(--debug)
        [ -n "$FEATURES" ] && iargs+=(--features "$FEATURES")
        [ "$DEFAULTS" = 0 ] && iargs+=(--no-default-features)
        [ -n "$TARGET" ] && iargs+=(--target "$TARGET")
        "$CARGO_IPFS" "${iargs[@]}" >"$log" 2>&1
    else
        dir="$WORK/$NAME-$VERSION"
        mkdir -p "$dir/src"
        : >"$dir/src/lib.rs"
        feats=""
        [ -n "$FEATURES" ] && feats=", features = [$(printf '"%s",' ${FEATURES//,/ } | sed 's/,$//')]"
        dflt=""
        [ "$DEFAULTS" = 0 ] && dflt=", default-features = false"
        cat >"$dir/Cargo.toml" <<TOML
[package]
name = "pinning-job-$NAME"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$NAME = { version = "=$VERSION"$feats$dflt }

[workspace]
TOML
        ( cd "$dir" && { [ -f Cargo.lock ] || cargo generate-lockfile; } && "$CARGO_IPFS" build --record --no-fetch "${args[@]}" ) >"$log" 2>&1
    fi
    if [ $? -eq 0 ]; then
        BUILT=$((BUILT + 1))
        echo "pinning-job: built $what"
    else
        FAILED+=("$what")
        STATUS=1
        echo "pinning-job: FAILED $what (skipped; the log: $log)" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
    fi
done < <(printf '%s\n' "$LINES" | grep '^BUILD|')

# Verification: every block of the store against its CID. A failure
# publishes nothing.
if ! "$CARGO_IPFS" block verify >"$WORK/verify.log" 2>&1; then
    echo "pinning-job: the store failed its verification; nothing is published:" >&2
    tail -n 20 "$WORK/verify.log" >&2
    exit 2
fi

PUBLISHED=$("$CARGO_IPFS" publish --name "$INDEX") || { echo "pinning-job: publish failed; nothing is published" >&2; exit 2; }
echo "$PUBLISHED"
IPNS=$("$CARGO_IPFS" key list --json | python3 -c 'import json,sys; print(next(k["ipns_base36"] for k in json.load(sys.stdin) if k["name"] == sys.argv[1]))' "$KEY")
ROOT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["head"])' "$STORE/published.json" "$INDEX")

PINS="no pinning service configured"
if [ -n "$("$CARGO_IPFS" pin remote service ls)" ]; then
    pargs=(pin remote add "$INDEX" --only-new)
    IFS=, read -ra chosen <<<"${PINNING_SERVICES:-}"
    for s in "${chosen[@]}"; do [ -n "$s" ] && pargs+=(--service "$s"); done
    if "$CARGO_IPFS" "${pargs[@]}"; then PINS="pinned"; else PINS="PIN FAILED"; STATUS=1; fi
fi

echo
echo "== pinning job summary"
echo "index:          $INDEX"
echo "IPNS name:      /ipns/$IPNS"
echo "root CID:       $ROOT"
echo "crates built:   $BUILT of $TOTAL builds"
echo "units recorded: $(( $(count_journal) - UNITS0 ))"
echo "bytes added:    $(( $(size_blocks) - BYTES0 ))"
echo "new blocks:     $(( $(count_blocks) - BLOCKS0 ))"
echo "pins:           $PINS"
for f in "${FAILED[@]}"; do echo "failed:         $f"; done
exit $STATUS
