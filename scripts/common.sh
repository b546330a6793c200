# Shared by the benchmark scripts (sourced after they `cd` to the
# repository root).

seed_home() { # DIR: a CARGO_HOME with this machine's registry index and .crate files
    mkdir -p "$1/registry"
    cp -r "${CARGO_HOME:-$HOME/.cargo}/registry/index" "${CARGO_HOME:-$HOME/.cargo}/registry/cache" "$1/registry/" 2>/dev/null || true
}

# start_server STORE: `cargo-ipfs serve` over STORE on loopback, in the
# background; sets `server` (its pid) and `url`. Uses `bin` and `work`.
start_server() {
    CARGO_IPFS_STORE=$1 "$bin" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
    server=$!
    for _ in $(seq 100); do grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    url=$(sed -n 's/^listening on //p' "$work/serve.out")
    [ -n "$url" ] || { echo "serve did not start" >&2; exit 1; }
}
stop_server() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=; }

cheavy_project() { # DIR: the C-heavy project (rusqlite with `bundled`, and ring), no lockfile yet
    mkdir -p "$1/src"
    cat > "$1/Cargo.toml" <<'TOML'
[package]
name = "cheavy"
version = "0.1.0"
edition = "2021"

[dependencies]
rusqlite = { version = "0.37", features = ["bundled"] }
ring = "0.17"
TOML
    cat > "$1/src/main.rs" <<'RS'
fn main() {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let n: i64 = db.query_row("select 6 * 7", [], |r| r.get(0)).unwrap();
    let d = ring::digest::digest(&ring::digest::SHA256, b"cheavy");
    println!("{n} {:02x}", d.as_ref()[0]);
}
RS
}

# write_results NAME JSON: the figures of a run, machine-readable, as
# docs/bench/NAME.json (or $BENCH_RESULTS/NAME.json), with the date, the
# commit and the machine; scripts/charts.py draws docs/charts/ from them.
write_results() {
    local dir=${BENCH_RESULTS:-docs/bench}
    mkdir -p "$dir"
    python3 - "$1" "$2" "$dir" <<'PY'
import datetime, json, os, platform, subprocess, sys
name, figures, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
record = {"script": name, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
          "commit": commit, "cores": os.cpu_count(), "arch": platform.machine(), "figures": figures}
with open(os.path.join(out, f"{name}.json"), "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")
print(f"figures written to {os.path.join(out, name + '.json')}", file=sys.stderr)
PY
}

# num VALUE: VALUE as a JSON number (bc's `.45` as 0.45), or null for n/a and failed.
num() { case "$1" in ''|n/a|failed) echo null ;; *) awk -v v="$1" 'BEGIN { printf "%.6g\n", v + 0 }' ;; esac; }
