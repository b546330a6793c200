#!/usr/bin/env python3
"""`cargo ipfs serve` under a bounded load on loopback.

    python3 scripts/bench-serve.py [--clients 64] [--seconds 20] [--bin PATH]

Adds files of 64 KiB to 6 MiB (seeded random bytes) to a new store and
serves it, then for each server (`serve`, `serve --no-explorer` and
`serve --hash-on-read`):

- baseline: one client (and the probe) asking for blocks and CARs in
  the same proportions, without the slow and disconnecting ones, for at
  most 10 s;
- load: CLIENTS threads for SECONDS, each in a loop: 70 % blocks
  (`?format=raw`), 20 % whole CARs, 5 % slow readers (16 KiB every 50 ms,
  for at most 2 s), 5 % clients that close the connection mid-stream; and
  a probe asking for one block on a new connection every 200 ms.

Every block received is hashed against its CID, every CAR's blocks too.
It prints requests per second (blocks and whole CARs answered), p50 and
p99 latency, answers by status,
the probe's slowest answer, and the server's memory (VmRSS before, VmHWM
after), with ratios against the baseline of the same run. Then one block
is made to rot on disk and both servers are loaded again: `--hash-on-read`
must never send its bytes (the exit status is 1 if it does); the plain
server sends them as stored and the clients' check refuses them.

The clients are Python threads on the same 2 cores as the server, so
requests per second under load measure client and server together.
"""

import argparse
import base64
import hashlib
import http.client
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAW, DAG_PB, SHA2_256 = 0x55, 0x70, 0x12


def varint(buf, i):
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def cid_string(cid_bytes):
    return "b" + base64.b32encode(cid_bytes).decode().rstrip("=").lower()


def parse_cid(buf, i):
    """A CID at `i`: (its bytes as CIDv1, multihash code, digest, end)."""
    start = i
    if buf[i:i + 2] == b"\x12\x20":  # CIDv0: a bare sha2-256 multihash of dag-pb
        return bytes([1, DAG_PB]) + buf[i:i + 34], SHA2_256, buf[i + 2:i + 34], i + 34
    version, i = varint(buf, i)
    if version != 1:
        raise ValueError(f"CID version {version}")
    _codec, i = varint(buf, i)
    code, i = varint(buf, i)
    length, i = varint(buf, i)
    return buf[start:i + length], code, buf[i:i + length], i + length


def car_blocks(body):
    """The (CID bytes, code, digest, data) of a CARv1 stream; raises on a torn one."""
    header_len, i = varint(body, 0)
    i += header_len
    out = []
    while i < len(body):
        length, j = varint(body, i)
        end = j + length
        if end > len(body):
            raise ValueError("torn CAR")
        cid, code, digest, k = parse_cid(body, j)
        out.append((cid, code, digest, body[k:end]))
        i = end
    return out


def valid(code, digest, data):
    return code != SHA2_256 or hashlib.sha256(data).digest() == digest


def mem(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []
        self.status = {}
        self.bad = 0
        self.requests = 0
        self.bytes = 0

    def add(self, status, latency=None, size=0, bad=False):
        with self.lock:
            self.requests += 1
            self.status[status] = self.status.get(status, 0) + 1
            self.bytes += size
            self.bad += bad
            if latency is not None:
                self.latencies.append(latency)


def get(conn, path, accept):
    conn.request("GET", path, headers={"Accept": accept})
    return conn.getresponse()


def block_request(conn, blocks, stats, rng):
    cid, code, digest = rng.choice(blocks)
    started = time.monotonic()
    reply = get(conn, f"/ipfs/{cid_string(cid)}?format=raw", "application/vnd.ipld.raw")
    body = reply.read()
    stats.add(reply.status, time.monotonic() - started, len(body), reply.status == 200 and not valid(code, digest, body))


def car_request(conn, roots, stats, rng):
    root = rng.choice(roots)
    started = time.monotonic()
    reply = get(conn, f"/ipfs/{root}?format=car", "application/vnd.ipld.car")
    body = reply.read()
    bad = False
    if reply.status == 200:
        try:
            bad = any(not valid(code, digest, data) for _, code, digest, data in car_blocks(body))
        except (ValueError, IndexError):
            pass  # a stream cut off is a refusal the client sees, not bad bytes
    stats.add(reply.status, time.monotonic() - started, len(body), bad)


def hostile_request(address, roots, stats, rng, slow):
    conn = http.client.HTTPConnection(*address, timeout=15)
    try:
        reply = get(conn, f"/ipfs/{rng.choice(roots)}?format=car", "application/vnd.ipld.car")
        deadline = time.monotonic() + (2 if slow else 0)
        read = reply.read(16 * 1024 if slow else 10 * 1024)
        while slow and read and time.monotonic() < deadline:
            time.sleep(0.05)
            read = reply.read(16 * 1024)
        stats.add("slow" if slow else "cut")
    except OSError as e:
        stats.add(type(e).__name__)
    finally:
        conn.close()


def client(address, roots, blocks, stats, stop, seed, hostile=True):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(*address, timeout=15)
    while not stop.is_set():
        pick = rng.random() * (1 if hostile else 0.9)
        try:
            if pick < 0.70:
                block_request(conn, blocks, stats, rng)
            elif pick < 0.90:
                car_request(conn, roots, stats, rng)
            else:
                hostile_request(address, roots, stats, rng, slow=pick < 0.95)
        except (OSError, http.client.HTTPException) as e:
            stats.add(type(e).__name__)
            conn.close()
            conn = http.client.HTTPConnection(*address, timeout=15)
    conn.close()


def probe(address, blocks, stop, slowest):
    rng = random.Random(7)
    while not stop.wait(0.2):
        conn = http.client.HTTPConnection(*address, timeout=15)
        started = time.monotonic()
        try:
            cid, _, _ = rng.choice(blocks)
            reply = get(conn, f"/ipfs/{cid_string(cid)}?format=raw", "application/vnd.ipld.raw")
            reply.read()
            status = reply.status
        except (OSError, http.client.HTTPException) as e:
            status = type(e).__name__
        slowest.append((time.monotonic() - started, status))
        conn.close()


def p(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Server:
    def __init__(self, binary, store, flags):
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--read-only"] + flags,
            env=dict(os.environ, CARGO_IPFS_STORE=store), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        match = re.match(r"listening on http://([\d.]+):(\d+)", line)
        if not match:
            raise SystemExit(f"serve did not start: {line!r}")
        self.address = (match.group(1), int(match.group(2)))

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def load(server, roots, blocks, clients, seconds, hostile=True):
    stats, stop, slowest, peak = Stats(), threading.Event(), [], [0]
    threads = [threading.Thread(target=client, args=(server.address, roots, blocks, stats, stop, i, hostile))
               for i in range(clients)]
    threads.append(threading.Thread(target=probe, args=(server.address, blocks, stop, slowest)))
    started = time.monotonic()
    for t in threads:
        t.start()
    while time.monotonic() - started < seconds:
        peak[0] = max(peak[0], mem(server.proc.pid, "VmRSS"))
        time.sleep(0.1)
    stop.set()
    elapsed = time.monotonic() - started
    for t in threads:
        t.join(60)
    return stats, elapsed, slowest, peak[0]


def add_files(binary, store, work):
    rng = random.Random(42)
    roots = []
    for i, size in enumerate([64 << 10, 256 << 10, 1 << 20, 3 << 20, 6 << 20, 100 << 10, 2 << 20, 512 << 10]):
        path = os.path.join(work, f"file{i}")
        with open(path, "wb") as f:
            f.write(rng.randbytes(size))
        out = subprocess.run([binary, "add", "-Q", path], env=dict(os.environ, CARGO_IPFS_STORE=store),
                             capture_output=True, text=True, check=True)
        roots.append(out.stdout.strip())
    return roots


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "cargo-ipfs"))
    opts = parser.parse_args()
    if not os.path.exists(opts.bin):
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "cargo-ipfs"], cwd=ROOT, check=True)

    work = tempfile.mkdtemp(prefix="bench-serve-")
    failed = False
    try:
        store = os.path.join(work, "store")
        roots = add_files(opts.bin, store, work)
        listing = Server(opts.bin, store, [])
        blocks = []
        for root in roots:
            conn = http.client.HTTPConnection(*listing.address, timeout=30)
            body = get(conn, f"/ipfs/{root}?format=car", "application/vnd.ipld.car").read()
            blocks += [(cid, code, digest) for cid, code, digest, _ in car_blocks(body)]
            conn.close()
        listing.stop()
        print(f"{len(roots)} files, {len(blocks)} blocks; {opts.clients} clients for {opts.seconds:.0f} s per server")

        results, figures = {}, {"clients": opts.clients, "seconds": opts.seconds, "servers": [], "rotten": []}
        configs = [("serve", []), ("serve --no-explorer", ["--no-explorer"]), ("serve --hash-on-read", ["--hash-on-read"])]
        for name, flags in configs:
            server = Server(opts.bin, store, flags)
            idle = mem(server.proc.pid, "VmRSS")
            base, base_time, _, _ = load(server, roots, blocks, 1, min(opts.seconds, 10), hostile=False)
            stats, elapsed, slowest, peak_rss = load(server, roots, blocks, opts.clients, opts.seconds)
            hwm = mem(server.proc.pid, "VmHWM")
            server.stop()
            rps, base_rps = len(stats.latencies) / elapsed, len(base.latencies) / base_time
            worst = max(slowest, default=(float("nan"), None))
            results[name] = rps
            print(f"\n{name}")
            print(f"  baseline (1 client):   {base_rps:8.0f} req/s, p50 {p(base.latencies, .5) * 1e3:6.1f} ms, "
                  f"p99 {p(base.latencies, .99) * 1e3:6.1f} ms, {base.bytes >> 20} MiB")
            print(f"  load ({opts.clients} clients): {rps:8.0f} req/s, p50 {p(stats.latencies, .5) * 1e3:6.1f} ms, "
                  f"p99 {p(stats.latencies, .99) * 1e3:6.1f} ms, {stats.bytes >> 20} MiB")
            print(f"  answers: {dict(sorted((str(k), v) for k, v in stats.status.items()))}")
            print(f"  probe: {len(slowest)} requests, slowest {worst[0] * 1e3:.0f} ms "
                  f"({sum(1 for _, s in slowest if s == 200)} answered 200)")
            print(f"  memory: {idle >> 20} MiB idle, {peak_rss >> 20} MiB peak sampled, {hwm >> 20} MiB VmHWM")
            print(f"  ratios: req/s {rps / base_rps:.2f}x baseline, p99 {p(stats.latencies, .99) / p(base.latencies, .99):.1f}x "
                  f"baseline, peak memory {hwm / idle:.2f}x idle")
            figures["servers"].append({
                "server": name, "baseline_rps": base_rps, "load_rps": rps,
                "baseline_p50_ms": p(base.latencies, .5) * 1e3, "baseline_p99_ms": p(base.latencies, .99) * 1e3,
                "load_p50_ms": p(stats.latencies, .5) * 1e3, "load_p99_ms": p(stats.latencies, .99) * 1e3,
                "answers": {str(k): v for k, v in stats.status.items()}, "probe_slowest_ms": worst[0] * 1e3,
                "idle_rss": idle, "peak_rss": hwm, "bad_blocks": stats.bad + base.bad})
            if stats.bad or base.bad:
                print(f"  blocks that failed their hash: {stats.bad + base.bad}")
                failed = True
        print(f"\nexplorer on: {results['serve'] / results['serve --no-explorer']:.2f}x the requests per second of --no-explorer")
        print(f"hash on read: {results['serve --hash-on-read'] / results['serve']:.2f}x the requests per second")

        # One block rots on disk: only the plain server may send its bytes.
        rotten = os.path.join(work, "rotten")
        shutil.copytree(store, rotten)
        cid, code, digest = blocks[len(blocks) // 2]
        multihash = cid[-(len(digest) + 2):]
        name = base64.b32encode(multihash).decode().rstrip("=")
        path = os.path.join(rotten, "blocks", name[-3:-1], name)
        with open(path, "r+b") as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 1]))
        for label, flags in [("serve", []), ("serve --hash-on-read", ["--hash-on-read"])]:
            server = Server(opts.bin, rotten, flags)
            stats, _, _, _ = load(server, roots, [(cid, code, digest)] * 3 + blocks, min(opts.clients, 16), 3)
            server.stop()
            print(f"rotten block, {label}: {stats.requests} requests, {stats.bad} answers with bytes that fail their hash")
            figures["rotten"].append({"server": label, "requests": stats.requests, "bad": stats.bad})
            if flags and stats.bad:
                failed = True
            if not flags and not stats.bad:
                print("  (the plain server sent no rotten bytes: the rot was not reached)")
        write_results("serve", figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


def write_results(name, figures):
    """The figures as docs/bench/NAME.json, as scripts/common.sh's write_results."""
    import datetime
    import json
    import platform
    out = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "docs", "bench"))
    os.makedirs(out, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    record = {"script": name, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "commit": commit, "cores": os.cpu_count(), "arch": platform.machine(), "figures": figures}
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
